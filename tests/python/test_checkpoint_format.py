"""The committed checkpoints (fuzz/corpus, written by the C++ library) read with Python's json, struct and
zlib alone, following docs/checkpoint-format.md: an independent check of the layout and the checksum."""

import json
import pathlib
import struct
import zlib

import numpy as np
import pytest

CORPUS = pathlib.Path(__file__).resolve().parents[2] / "fuzz" / "corpus"
VALID = sorted(p for p in CORPUS.glob("*.safetensors") if not p.name.startswith("damaged_"))
SIZES = {"F64": 8, "F32": 4, "I64": 8, "BF16": 2, "U8": 1}


def read(path):
    b = path.read_bytes()
    n = struct.unpack("<Q", b[:8])[0]
    return b, n, json.loads(b[8:8 + n]), b[8 + n:]


def test_there_are_checkpoints_of_every_algorithm():
    names = {p.name.split(".")[0] for p in VALID}
    assert {"adam", "adamw", "adamax", "nadam", "radam", "adagrad", "rmsprop", "adadelta", "sgd"} <= names


@pytest.mark.parametrize("path", VALID, ids=[p.name for p in VALID])
def test_layout_and_checksum(path):
    b, n, header, data = read(path)
    assert (8 + n) % 8 == 0
    assert b[8:8 + n].rstrip(b" ") == json.dumps(header, sort_keys=True, separators=(",", ":")).encode()
    meta = header["__metadata__"]
    stored = meta.pop("checksum")
    canonical = json.dumps(header, sort_keys=True, separators=(",", ":"), ensure_ascii=False).encode()
    assert stored == "crc32:%08x" % zlib.crc32(data, zlib.crc32(canonical))
    assert meta["format"] == "adamant.optimizer_state" and meta["format_version"] == "1"
    assert all(isinstance(v, str) for v in meta.values())
    # The tensors tile the data section, each aligned to its element size.
    end = 0
    for name, e in sorted(((k, v) for k, v in header.items() if k != "__metadata__"),
                          key=lambda kv: kv[1]["data_offsets"]):
        begin, stop = e["data_offsets"]
        assert begin == end, name
        assert (8 + n + begin) % SIZES[e["dtype"]] == 0, name
        assert stop - begin == SIZES[e["dtype"]] * int(np.prod(e["shape"], dtype=np.int64)), name
        end = stop
    assert end == len(data)


def state_numel(meta, g, i):
    """The elements of parameter i of group g that its state covers: all of them, or those inside the
    group's range (group.<g>.range.begin/end) of the group's concatenated elements."""
    numel = int(meta[f"param.{g}.{i}.numel"])
    if f"group.{g}.range.begin" not in meta:
        return numel
    start = sum(int(meta[f"param.{g}.{j}.numel"]) for j in range(int(i)))
    lo = max(int(meta[f"group.{g}.range.begin"]), start)
    hi = min(int(meta[f"group.{g}.range.end"]), start + numel)
    return max(hi - lo, 0)


def stored_as(state_dtype, key):
    """The dtype the state_dtype option's text gives buffer `key` (docs/algorithms.md, State storage)."""
    every = "float32"
    for item in state_dtype.split(","):
        name, _, dtype = item.strip().rpartition(":")
        if not name:
            every = dtype
        elif name.strip() == key:
            return dtype.strip()
    return every


@pytest.mark.parametrize("path", VALID, ids=[p.name for p in VALID])
def test_state_matches_the_parameters_described(path):
    _, _, header, data = read(path)
    meta = header["__metadata__"]
    algorithm = meta["algorithm"]
    # Every parameter stepped steps_taken times, but in the seeds whose steps were set to the largest a
    # state may hold (the next step must fit an int64).
    steps = (1 << 63) - 2 if "_largest_step" in path.name else int(meta["steps_taken"])
    for name, e in header.items():
        if name == "__metadata__":
            continue
        _, g, i, key = name.split(".", 3)
        numel = state_numel(meta, g, i)
        begin, stop = e["data_offsets"]
        if key == "step":
            assert algorithm != "sgd" and e["dtype"] == "I64" and e["shape"] == []
            assert np.frombuffer(data[begin:stop], "<i8")[0] == steps
        elif key == "mu_product":
            assert algorithm == "nadam" and e["dtype"] == "F64"
            assert 0.0 < np.frombuffer(data[begin:stop], "<f8")[0] < 1.0
        elif key.endswith("_absmax"):
            # The block maxima of an int8 buffer, which is there as U8: one float32 per 256 elements.
            assert header[name[:-len("_absmax")]]["dtype"] == "U8", name
            assert e["dtype"] == "F32" and e["shape"] == [-(-numel // 256)], name
            assert all(np.frombuffer(data[begin:stop], "<f4") >= 0), name
        else:
            want = "F64" if meta[f"param.{g}.{i}.dtype"] == "float64" else "F32"
            stored = stored_as(meta.get(f"group.{g}.option.state_dtype", "float32"), key)
            whole = int(meta[f"param.{g}.{i}.numel"])
            if want == "F32" and key != "master_param" and stored == "bfloat16":
                want = "BF16"
            if want == "F32" and key != "master_param" and stored == "int8" and \
                    whole >= max(int(meta.get(f"group.{g}.option.min_quant_size", "4096")), 1):
                want = "U8"
                assert name + "_absmax" in header, name
            assert e["dtype"] == want and e["shape"] == [numel], name
