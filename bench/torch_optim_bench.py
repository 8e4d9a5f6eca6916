#!/usr/bin/python3
"""PyTorch's torch.optim as a peer of adamant: the for-loop (foreach=False) and foreach (foreach=True)
implementations of every catalog variant, fp32, timed the way adamant_bench times its cases.

Reads the variants and their options from the catalog that `adamant_bench --catalog` writes, and writes
CSV rows with adamant_bench's columns (bench/report.py reads both). Run with Debian's /usr/bin/python3.
"""
import argparse
import csv
import functools
import gc
import os
import statistics
import sys
import time

import torch

IMPLS = {"torch-forloop": False, "torch-foreach": True}
COLUMNS = ["impl", "algorithm", "dtypes", "shape", "tensors", "numel", "threads", "warmup", "reps",
           "ms_median", "ms_min", "ms_max", "bytes_per_param", "gbps", "paired_probe_ms", "paired_default_ms", "note",
           "state_bytes_per_param", "step_peak_mib"]
DEFAULT_SHAPES = ["1x10M", "1x50M", "100x100k", "10000x1k"]


def parse_count(text, whole):
    scale = {"k": 1000, "M": 1000000}.get(text[-1:], 1)
    digits = text[:-1] if scale != 1 else text
    if not digits.isdigit() or int(digits) <= 0:
        raise ValueError(f"bad shape '{whole}' (want e.g. 1x10M, 100x100k, 10000x1k)")
    return int(digits) * scale


def parse_shape(text):
    """'100x100k' -> (100, 100000)."""
    tensors, sep, numel = text.partition("x")
    if not sep:
        raise ValueError(f"bad shape '{text}' (want e.g. 1x10M, 100x100k, 10000x1k)")
    return parse_count(tensors, text), parse_count(numel, text)


def parse_options(text):
    """'lr=1e-3 momentum=0.9 amsgrad=true' -> keyword arguments for torch.optim."""
    kwargs = {}
    for entry in text.replace(";", " ").split():
        key, _, value = entry.partition("=")
        if value in ("true", "false"):
            kwargs[key] = value == "true"
        elif "," in value:
            kwargs[key] = tuple(float(v) for v in value.split(","))
        else:
            kwargs[key] = float(value)
    return kwargs


def skip_to_step(opt, step):
    """Sets every parameter's step counter (a tensor in torch 1.13) as adamant_bench does."""
    for state in opt.state.values():
        if torch.is_tensor(state.get("step")):
            state["step"].fill_(step)
        else:
            state["step"] = step


def time_steps(step, policy, after_first_step=None):
    """As adamant_bench's TimeSteps (timing.h): a slow first step (>= max_seconds / 2) means 1 warm-up
    step and at least 2 timed ones (1 if it took 3 * max_seconds or more). Returns (warm-up steps, times
    in ms)."""
    warmup = max(policy.warmup, 1) if after_first_step else policy.warmup
    min_reps, max_reps, max_seconds = policy.min_reps, policy.max_reps, policy.max_seconds
    i = 0
    while i < warmup:
        start = time.perf_counter()
        step()
        seconds = time.perf_counter() - start
        if i == 0 and after_first_step:
            after_first_step()
        if i == 0 and policy.adaptive and seconds >= max_seconds / 2:
            warmup, min_reps = 1, min(min_reps, 1 if seconds >= 3 * max_seconds else 2)
        i += 1
    times = []
    while len(times) < max_reps:
        start = time.perf_counter()
        step()
        times.append((time.perf_counter() - start) * 1e3)
        if len(times) >= min_reps and sum(times) >= 1e3 * max_seconds:
            break
    return warmup, times


def run_case(impl, variant, shape, threads, policy):
    tensors, numel = parse_shape(shape)
    cls = getattr(torch.optim, variant["torch_class"], None)
    if cls is None:  # an algorithm this torch does not have (torch 1.13 has no Lion)
        return {
            "impl": impl, "algorithm": variant["name"], "dtypes": variant["dtypes"], "shape": shape,
            "tensors": tensors, "numel": numel, "threads": threads, "warmup": 0, "reps": 0, "ms_median": "",
            "ms_min": "", "ms_max": "", "bytes_per_param": int(variant["bytes_per_param"]), "gbps": "",
            "paired_probe_ms": "", "note": f"n/a: torch {torch.__version__} has no torch.optim.{variant['torch_class']}",
        }
    torch.set_num_threads(threads)
    params = []
    for _ in range(tensors):
        p = torch.nn.Parameter(torch.empty(numel).uniform_(-1, 1))
        p.grad = torch.empty(numel).uniform_(-1, 1)
        params.append(p)
    opt = cls(params, foreach=IMPLS[impl], **parse_options(variant["options"]))
    skip = int(variant["skip_to_step"])
    warmup, times = time_steps(opt.step, policy, functools.partial(skip_to_step, opt, skip) if skip else None)
    del opt, params
    gc.collect()
    median = statistics.median(times)
    bytes_per_param = int(variant["bytes_per_param"])
    note = "" if torch.get_num_threads() == threads else f"torch.get_num_threads() = {torch.get_num_threads()}"
    return {
        "impl": impl, "algorithm": variant["name"], "dtypes": variant["dtypes"], "shape": shape,
        "tensors": tensors, "numel": numel, "threads": threads, "warmup": warmup, "reps": len(times),
        "ms_median": f"{median:.4f}", "ms_min": f"{min(times):.4f}", "ms_max": f"{max(times):.4f}",
        "bytes_per_param": bytes_per_param, "gbps": f"{bytes_per_param * tensors * numel / (median * 1e-3) / 1e9:.3f}",
        "paired_probe_ms": "", "note": note,
    }


def split(text):
    return [s for s in text.split(",") if s]


def main(argv):
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--catalog", required=True, help="the CSV from `adamant_bench --catalog PATH`")
    ap.add_argument("--csv", default="-", help="where the rows go (default: stdout); progress goes to stderr")
    ap.add_argument("--impl", default=",".join(IMPLS), help="torch-forloop,torch-foreach")
    ap.add_argument("--alg", default="", help="catalog names (default: the catalog's default set)")
    ap.add_argument("--shape", default=None, help="TENSORSxNUMEL list (default: " + ",".join(DEFAULT_SHAPES) + ")")
    ap.add_argument("--threads", default=None, help="thread counts (default: 1 and the available CPUs)")
    ap.add_argument("--quick", action="store_true", help="shape 1x10M, warm-up 1, 2 to 3 timed steps")
    ap.add_argument("--warmup", type=int, default=None, help="untimed steps (default 2)")
    ap.add_argument("--min-reps", type=int, default=None, help="timed steps, at least (default 3)")
    ap.add_argument("--reps", type=int, default=None, help="timed steps, at most")
    ap.add_argument("--max-seconds", type=float, default=None,
                    help="stop timing a case after min-reps once its timed steps took this long (default 0.5); "
                         "unless --warmup or --min-reps is given, a case whose first step takes half that or "
                         "more gets 1 warm-up step and at least 2 timed steps")
    args = ap.parse_args(argv)

    policy = argparse.Namespace(warmup=2, min_reps=3, max_reps=30, max_seconds=0.5, adaptive=True)
    if args.quick:
        policy = argparse.Namespace(warmup=1, min_reps=2, max_reps=3, max_seconds=0.2, adaptive=True)
    if args.warmup is not None or args.min_reps is not None:
        policy.adaptive = False
    for name, value in [("warmup", args.warmup), ("min_reps", args.min_reps), ("max_reps", args.reps),
                        ("max_seconds", args.max_seconds)]:
        if value is not None:
            setattr(policy, name, value)
    policy.min_reps = min(policy.min_reps, policy.max_reps)
    shapes = split(args.shape) if args.shape else (["1x10M"] if args.quick else DEFAULT_SHAPES)
    for s in shapes:
        parse_shape(s)
    cpus = len(os.sched_getaffinity(0))
    threads = [int(t) for t in split(args.threads)] if args.threads else ([1, cpus] if cpus > 1 else [1])
    impls = split(args.impl)
    for i in impls:
        if i not in IMPLS:
            ap.error(f"--impl: unknown '{i}' (valid: {', '.join(IMPLS)})")

    with open(args.catalog, newline="") as f:
        catalog = list(csv.DictReader(f))
    names = split(args.alg)
    for n in names:
        if n not in {v["name"] for v in catalog}:
            ap.error(f"--alg: unknown '{n}' (see the catalog)")
    # torch.optim is benchmarked in fp32 only, and has no non-finite policies.
    variants = [v for v in catalog if (v["name"] in names if names else v["default"] == "1")
                and v["dtypes"] == "fp32/fp32/fp32" and not v["nonfinite"]]

    out = sys.stdout if args.csv == "-" else open(args.csv, "w", newline="")
    writer = csv.DictWriter(out, fieldnames=COLUMNS)
    writer.writeheader()
    cases = [(s, t, v, i) for s in shapes for t in threads for v in variants for i in impls]
    start = time.perf_counter()
    for k, (shape, t, variant, impl) in enumerate(cases, 1):
        row = run_case(impl, variant, shape, t, policy)
        writer.writerow(row)
        out.flush()
        timing = (f"{float(row['ms_median']):9.3f} ms {float(row['gbps']):6.1f} GB/s" if row["ms_median"]
                  else f"{'n/a':>9s}")
        print(f"[{k:3d}/{len(cases)} {time.perf_counter() - start:5.0f}s] {impl:13s} {variant['name']:16s} "
              f"{shape:9s} t={t:<2d} {timing}" + (f"  ({row['note']})" if row["note"] else ""),
              file=sys.stderr, flush=True)
    if out is not sys.stdout:
        out.close()


if __name__ == "__main__":
    main(sys.argv[1:])
