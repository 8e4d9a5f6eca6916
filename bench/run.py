#!/usr/bin/python3
"""make bench: runs adamant_bench (adamant, libtorch, probe, triad), then torch_optim_bench.py (PyTorch's
for-loop and foreach), then report.py, which prints one table and writes one CSV.

Usage: bench/run.py [--build-dir build-bench] [--quick] [--impl LIST] [--alg LIST] [--dtype LIST]
                    [--shape LIST] [--threads LIST] [--warmup N] [--min-reps N] [--reps N] [--max-seconds S]
Filters and repetition flags go to both programs; see `adamant_bench --help`.
"""
import argparse
import os
import subprocess
import sys
import time

HERE = os.path.dirname(os.path.abspath(__file__))
CPP_IMPLS = ("adamant", "libtorch", "probe", "triad")
TORCH_IMPLS = ("torch-forloop", "torch-foreach")


def source_version():
    """`git describe` of the tree measured ("abc1234", "abc1234-dirty"), or "unknown"."""
    try:
        out = subprocess.run(["git", "-C", HERE, "describe", "--always", "--dirty"], capture_output=True, text=True)
        return out.stdout.strip() or "unknown"
    except OSError:
        return "unknown"


def main(argv):
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--build-dir", default="build-bench", help="where adamant_bench was built (default build-bench)")
    ap.add_argument("--python", default="/usr/bin/python3", help="the Python with torch (default /usr/bin/python3)")
    ap.add_argument("--quick", action="store_true", help="one shape (1x10M), fewer steps")
    ap.add_argument("--impl", default="", help=",".join(CPP_IMPLS + TORCH_IMPLS) + " (default: all)")
    for flag in ("--alg", "--dtype", "--shape", "--threads", "--warmup", "--min-reps", "--reps", "--max-seconds"):
        ap.add_argument(flag, default=None)
    args = ap.parse_args(argv)

    impls = [i for i in args.impl.split(",") if i] or list(CPP_IMPLS + TORCH_IMPLS)
    for i in impls:
        if i not in CPP_IMPLS + TORCH_IMPLS:
            ap.error(f"--impl: unknown '{i}' (valid: {', '.join(CPP_IMPLS + TORCH_IMPLS)})")
    shared = ["--quick"] if args.quick else []
    for flag in ("alg", "shape", "threads", "warmup", "min_reps", "reps", "max_seconds"):
        value = getattr(args, flag)
        if value is not None:
            shared.append(f"--{flag.replace('_', '-')}={value}")

    build = args.build_dir
    binary = os.path.join(build, "bench", "adamant_bench")
    catalog = os.path.join(build, "bench-catalog.csv")
    cpp_csv, torch_csv = os.path.join(build, "bench-cpp.csv"), os.path.join(build, "bench-torch.csv")
    for stale in (cpp_csv, torch_csv):
        if os.path.exists(stale):
            os.remove(stale)
    start = time.monotonic()
    load_start = os.getloadavg()[0]
    failed = []

    subprocess.run([binary, f"--catalog={catalog}"], check=True)
    cpp = [i for i in impls if i in CPP_IMPLS]
    if cpp:
        dtype = [f"--dtype={args.dtype}"] if args.dtype else []
        print(f"bench: {binary} ({', '.join(cpp)})", file=sys.stderr, flush=True)
        if subprocess.run([binary, f"--impl={','.join(cpp)}", f"--csv={cpp_csv}"] + dtype + shared).returncode:
            failed.append("adamant_bench")
    torch_impls = [i for i in impls if i in TORCH_IMPLS]
    if torch_impls and (not args.dtype or "fp32" in args.dtype.split(",")):
        print(f"bench: torch_optim_bench.py ({', '.join(torch_impls)})", file=sys.stderr, flush=True)
        script = os.path.join(HERE, "torch_optim_bench.py")
        command = [args.python, script, f"--catalog={catalog}", f"--impl={','.join(torch_impls)}",
                   f"--csv={torch_csv}"] + shared
        if subprocess.run(command).returncode:
            failed.append("torch_optim_bench.py")

    inputs = [p for p in (cpp_csv, torch_csv) if os.path.exists(p)]
    if not inputs:
        sys.exit("bench: no results")
    # A busy machine slows some cases by an order of magnitude: the report says how busy it was, and what
    # it measured.
    context = (f"load average (1 min): {load_start:.1f} at the start, {os.getloadavg()[0]:.1f} at the end; "
               f"cases ran for {time.monotonic() - start:.0f} s; source: {source_version()}")
    subprocess.run([args.python, os.path.join(HERE, "report.py"), f"--catalog={catalog}",
                    f"--csv={os.path.join(build, 'bench.csv')}", f"--markdown={os.path.join(build, 'bench.md')}",
                    f"--context={context}"] + inputs, check=True)
    print(f"bench: {time.monotonic() - start:.0f} s", file=sys.stderr)
    if failed:
        sys.exit(f"bench: {' and '.join(failed)} reported failures (see above)")


if __name__ == "__main__":
    main(sys.argv[1:])
