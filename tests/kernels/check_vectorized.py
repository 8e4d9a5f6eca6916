#!/usr/bin/env python3
"""Checks that the compiler vectorized every element loop of the kernels, for one SIMD target.

Each instantiation of kernels::Loop (src/kernels/loop.h) is its own function: one variant (storage,
rounding, loss scaling) of one algorithm in one mode. A loop GCC left scalar still computes the right bits,
so the kernel tests cannot see it; only its speed shows it (bf16 Adam once ran at 3.9 instead of 0.5 ns
per element in cache). This disassembles the target's kernel objects and fails for every Loop function
without packed floating-point arithmetic in the target's vector registers.

The baseline target is not checked: without FMA instructions std::fma is a library call and its loops
stay scalar by design (docs/design.md, "SIMD and dispatch").

Usage: check_vectorized.py --objdump OBJDUMP --target avx512|avx2 OBJECT...
"""

import argparse
import os
import re
import subprocess
import sys

# Packed single or double arithmetic (add, sub, mul, div, sqrt, min, max, fused multiply-adds) on the
# registers of the target's widest vectors: AVX-512 zmm, AVX2 ymm.
PACKED = {
    "avx512": re.compile(r"\tv(add|sub|mul|div|sqrt|max|min|f[n]?m(add|sub)\d*)p[sd]\s.*%zmm"),
    "avx2": re.compile(r"\tv(add|sub|mul|div|sqrt|max|min|f[n]?m(add|sub)\d*)p[sd]\s.*%ymm"),
}

# The algorithms of the one list (include/adamant/algorithms.h): the object of each (CMake generates a
# source per algorithm, named after it) must hold Loop functions; grads.cc has loops of its own.
LIST = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..", "include", "adamant", "algorithms.h")
ALGORITHMS = re.findall(r'[ \t(]X\(([A-Za-z0-9]+), "([a-z0-9_]+)"\)', open(LIST).read())
ALGORITHM_NAMES = [name for _, name in ALGORITHMS]

FUNCTION = re.compile(r"^[0-9a-f]+ <(.*)>:$")


def loop_functions(objdump, path, target):
    """(name, instruction lines) of every kernels::Loop instantiation in the object file."""
    out = subprocess.run([objdump, "-d", "--no-show-raw-insn", "-C", path], check=True, capture_output=True,
                         text=True).stdout
    functions, name, body = [], None, []
    for line in out.splitlines():
        m = FUNCTION.match(line)
        if m:
            if name is not None:
                functions.append((name, body))
            name, body = m.group(1), []
        elif name is not None:
            body.append(line)
    if name is not None:
        functions.append((name, body))
    return [(n, b) for n, b in functions if n.startswith(f"void adamant::kernels::{target}::Loop<")]


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--objdump", default="objdump")
    parser.add_argument("--target", required=True, choices=sorted(PACKED))
    parser.add_argument("objects", nargs="+")
    args = parser.parse_args()
    packed = PACKED[args.target]
    failures, total, scalar = [], 0, 0
    for path in args.objects:
        source = os.path.basename(path).split(".")[0]
        loops = loop_functions(args.objdump, path, args.target)
        if source in ALGORITHM_NAMES and not loops:
            failures.append(f"{path}: no kernels::Loop function (inlined?): its loops cannot be checked")
        for name, body in loops:
            total += 1
            if not any(packed.search(line) for line in body):
                scalar += 1
                failures.append(f"{path}: not vectorized for {args.target}: {name[:400]}")
    for f in failures:
        print(f, file=sys.stderr)
    print(f"{args.target}: {total - scalar} of {total} element loops vectorized")
    missing = sorted(set(ALGORITHM_NAMES) - {os.path.basename(p).split(".")[0] for p in args.objects})
    if missing:
        print(f"no object for the algorithms {missing}: each must be checked", file=sys.stderr)
    return 1 if failures or missing or total == 0 else 0


if __name__ == "__main__":
    sys.exit(main())
