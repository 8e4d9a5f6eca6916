"""Minimal safetensors reader/writer (no third-party package needed).

Layout: 8-byte little-endian unsigned header length N, N bytes of UTF-8 JSON,
then the raw little-endian tensor data. The JSON maps each tensor name to
``{"dtype", "shape", "data_offsets": [begin, end]}`` (offsets relative to the
start of the data section, contiguous, in file order) and holds a
``"__metadata__"`` string-to-string map. As the reference implementation does,
the header is padded with spaces so that the data section starts at a multiple
of 8 bytes. Output is deterministic: tensors keep the given order and the JSON
is written compactly with keys in insertion order.
"""

import json
import struct

import numpy as np

DTYPES = {"F32": np.dtype("<f4"), "F64": np.dtype("<f8"), "U8": np.dtype("u1"), "I64": np.dtype("<i8")}
_CODES = {(v.kind, v.itemsize): k for k, v in DTYPES.items()}


def dumps(tensors, metadata):
    """Bytes of a safetensors file holding ``tensors`` (name -> numpy array, in
    order) and ``metadata`` (str -> str)."""
    header = {"__metadata__": {str(k): str(v) for k, v in metadata.items()}}
    chunks, offset = [], 0
    for name, array in tensors.items():
        array = np.asarray(array)
        code = _CODES.get((array.dtype.kind, array.dtype.itemsize))
        if code is None:
            raise TypeError(f"{name}: unsupported dtype {array.dtype}")
        data = np.ascontiguousarray(array, dtype=DTYPES[code]).tobytes()
        header[name] = {"dtype": code, "shape": list(array.shape), "data_offsets": [offset, offset + len(data)]}
        chunks.append(data)
        offset += len(data)
    text = json.dumps(header, separators=(",", ":"), ensure_ascii=True).encode("utf-8")
    text += b" " * (-(8 + len(text)) % 8)
    return struct.pack("<Q", len(text)) + text + b"".join(chunks)


def write(path, tensors, metadata):
    data = dumps(tensors, metadata)
    with open(path, "wb") as f:
        f.write(data)
    return data


def loads(data):
    """(tensors: name -> numpy array, metadata: dict) from safetensors bytes;
    checks that the offsets are contiguous, in order and cover the data."""
    if len(data) < 8:
        raise ValueError("truncated safetensors file")
    (n,) = struct.unpack("<Q", data[:8])
    if 8 + n > len(data):
        raise ValueError("header length beyond end of file")
    header = json.loads(data[8:8 + n].decode("utf-8"))
    metadata = header.pop("__metadata__", {})
    body = data[8 + n:]
    tensors, expected = {}, 0
    for name, info in header.items():
        dtype = DTYPES[info["dtype"]]
        begin, end = info["data_offsets"]
        count = 1
        for d in info["shape"]:
            count *= d
        if begin != expected or end - begin != count * dtype.itemsize or end > len(body):
            raise ValueError(f"{name}: bad data_offsets {info['data_offsets']}")
        tensors[name] = np.frombuffer(body, dtype=dtype, count=count, offset=begin).reshape(info["shape"])
        expected = end
    if expected != len(body):
        raise ValueError("data section has trailing bytes")
    return tensors, metadata


def read(path):
    with open(path, "rb") as f:
        return loads(f.read())
