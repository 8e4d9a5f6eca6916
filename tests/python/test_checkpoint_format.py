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
SIZES = {"F64": 8, "F32": 4, "I64": 8}


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


@pytest.mark.parametrize("path", VALID, ids=[p.name for p in VALID])
def test_state_matches_the_parameters_described(path):
    _, _, header, data = read(path)
    meta = header["__metadata__"]
    algorithm = meta["algorithm"]
    for name, e in header.items():
        if name == "__metadata__":
            continue
        _, g, i, key = name.split(".", 3)
        numel = int(meta[f"param.{g}.{i}.numel"])
        begin, stop = e["data_offsets"]
        if key == "step":
            assert algorithm != "sgd" and e["dtype"] == "I64" and e["shape"] == []
            assert np.frombuffer(data[begin:stop], "<i8")[0] == int(meta["steps_taken"])  # every param stepped
        elif key == "mu_product":
            assert algorithm == "nadam" and e["dtype"] == "F64"
            assert 0.0 < np.frombuffer(data[begin:stop], "<f8")[0] < 1.0
        else:
            want = "F64" if meta[f"param.{g}.{i}.dtype"] == "float64" else "F32"
            assert e["dtype"] == want and e["shape"] == [numel], name
