#!/usr/bin/env python3
"""Checks that every symbol a kernel object defines lies in its target's namespace.

Each kernel source is compiled once per SIMD target (avx512, avx2, baseline) with that target's
instructions. A function all copies define under one name (an inline helper outside
adamant::kernels::<target>, say) is a weak symbol in each object; the linker keeps one of them for all,
and if it keeps the AVX-512 copy the program dies with SIGILL on machines without AVX-512, only there.
Everything per target therefore lives in the target's namespace (src/kernels/target.h, loop.h,
step-inl.h, ops.h): this fails for every defined symbol of an object that is not in it.

Usage: check_symbols.py --nm NM --target avx512|avx2|baseline OBJECT...
"""

import argparse
import re
import subprocess
import sys


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--nm", default="nm")
    parser.add_argument("--target", required=True)
    parser.add_argument("objects", nargs="+")
    args = parser.parse_args()
    # Mangled: a name in adamant::kernels::<target> (_ZN, const member _ZNK), an entity local to a function
    # there (_ZZN), or a guard variable of one (_ZGV).
    inside = re.compile(r"^_Z(GV)?Z?NK?7adamant7kernels%d%s" % (len(args.target), re.escape(args.target)))
    failures, total = [], 0
    for path in args.objects:
        out = subprocess.run([args.nm, "--defined-only", "--extern-only", path], check=True, capture_output=True,
                             text=True).stdout
        for line in out.splitlines():
            parts = line.split()
            if len(parts) < 3:
                continue
            kind, name = parts[1], parts[2]
            total += 1
            if not inside.match(name):
                demangled = subprocess.run(["c++filt", name], check=True, capture_output=True, text=True).stdout.strip()
                failures.append(f"{path}: {kind} {demangled[:300]}")
    for f in failures:
        print(f, file=sys.stderr)
    print(f"{args.target}: {total - len(failures)} of {total} defined symbols in adamant::kernels::{args.target}")
    return 1 if failures or total == 0 else 0


if __name__ == "__main__":
    sys.exit(main())
