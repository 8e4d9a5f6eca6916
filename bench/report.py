#!/usr/bin/python3
"""Merges the rows of adamant_bench and torch_optim_bench.py into one table and one CSV.

For every row: GB/s by the catalog's byte model, the ratio to the same-pattern probe of its layout
(same shape and threads), the ratio to the triad, and for adamant the speedup over the fastest peer
(libtorch, torch.optim for-loop or foreach) on the same algorithm, dtypes, shape and threads, and for
a non-finite policy variant what the policy costs against the default policy timed alternately with
it; then the performance targets of the fused-kernels and robustness issues, each marked met or not.
"""
import argparse
import csv
import math
import os
import subprocess
import sys

PEERS = ("libtorch", "torch-forloop", "torch-foreach")
IMPL_ORDER = ("triad", "probe", "adamant") + PEERS
EXTRA_COLUMNS = ["probe_ms", "vs_probe", "triad_gbps", "vs_triad", "best_peer", "best_peer_ms", "speedup_vs_peer",
                 "policy_cost"]


def shape_key(shape):
    order = ["1x10M", "1x50M", "100x100k", "10000x1k"]
    return (order.index(shape) if shape in order else len(order), shape)


def number(text):
    return float(text) if text not in ("", None) else math.nan


def load(catalog_path, row_paths):
    with open(catalog_path, newline="") as f:
        catalog = list(csv.DictReader(f))
    rows = []
    for path in row_paths:
        with open(path, newline="") as f:
            rows.extend(csv.DictReader(f))
    for r in rows:
        r["ms"] = number(r["ms_median"])
        r["threads"] = int(r["threads"])
    return catalog, rows


def annotate(catalog, rows):
    """Adds EXTRA_COLUMNS to each row (empty where they do not apply)."""
    layout = {(v["name"], v["dtypes"]): v["layout"] for v in catalog}
    probe = {(r["algorithm"], r["dtypes"], r["shape"], r["threads"]): r["ms"] for r in rows if r["impl"] == "probe"}
    triad = {(r["shape"], r["threads"]): number(r["gbps"]) for r in rows if r["impl"] == "triad"}
    peers = {}
    for r in rows:
        if r["impl"] in PEERS and not math.isnan(r["ms"]):
            key = (r["algorithm"], r["dtypes"], r["shape"], r["threads"])
            if key not in peers or r["ms"] < peers[key][1]:
                peers[key] = (r["impl"], r["ms"])
    for r in rows:
        for c in EXTRA_COLUMNS:
            r[c] = ""
        ms, where = r["ms"], (r["shape"], r["threads"])
        if math.isnan(ms):
            continue
        if r["impl"] == "probe":
            p = ms
        elif r.get("paired_probe_ms"):  # adamant: the probe timed alternately with it
            p = number(r["paired_probe_ms"])
        else:
            p = probe.get((layout.get((r["algorithm"], r["dtypes"]), ""), r["dtypes"]) + where, math.nan)
        if not math.isnan(p):
            r["probe_ms"], r["vs_probe"] = f"{p:.4f}", f"{p / ms:.3f}"
        if where in triad and r["impl"] != "triad":
            r["triad_gbps"], r["vs_triad"] = f"{triad[where]:.3f}", f"{number(r['gbps']) / triad[where]:.3f}"
        if r.get("paired_default_ms"):  # a non-finite policy: its step against the default policy's
            r["policy_cost"] = f"{ms / number(r['paired_default_ms']) - 1:.3f}"
        peer = peers.get((r["algorithm"], r["dtypes"]) + where)
        if r["impl"] == "adamant" and peer:
            r["best_peer"], r["best_peer_ms"], r["speedup_vs_peer"] = peer[0], f"{peer[1]:.4f}", f"{peer[1] / ms:.2f}"


def sort_rows(catalog, rows):
    order = {}
    for i, v in enumerate(catalog):
        order.setdefault((v["name"], v["dtypes"]), i)
    layouts = []  # (layout, dtypes) in catalog order
    for v in catalog:
        if (v["layout"], v["dtypes"]) not in layouts:
            layouts.append((v["layout"], v["dtypes"]))

    def key(r):
        impl = IMPL_ORDER.index(r["impl"])
        if r["impl"] in ("triad", "probe"):  # the references first, then each variant with its peers
            key = (r["algorithm"], r["dtypes"])
            within = (0, impl, layouts.index(key) if key in layouts else 99)
        else:
            within = (1, order.get((r["algorithm"], r["dtypes"]), 99), impl)
        return (shape_key(r["shape"]), r["threads"], within)
    return sorted(rows, key=key)


def text_table(header, body, markdown=False):
    if markdown:
        lines = ["| " + " | ".join(header) + " |", "|" + "|".join("---" for _ in header) + "|"]
        return lines + ["| " + " | ".join(row) + " |" for row in body]
    widths = [max(len(str(x)) for x in col) for col in zip(header, *body)]
    numeric = [all(_looks_numeric(row[i]) for row in body) for i in range(len(header))]
    def fmt(row):
        return "  ".join(str(x).rjust(w) if n else str(x).ljust(w) for x, w, n in zip(row, widths, numeric)).rstrip()
    return [fmt(header), fmt(["-" * w for w in widths])] + [fmt(row) for row in body]


def _looks_numeric(x):
    try:
        float(str(x).rstrip("x"))
        return True
    except ValueError:
        return str(x) in ("n/a", "-", "")


def byte_model_table(catalog, rows, markdown):
    present = {(r["algorithm"], r["dtypes"]) for r in rows}
    body = [[v["name"], v["dtypes"], v["options"], v["state"] or "-", v["bytes_per_param"]]
            for v in catalog if (v["name"], v["dtypes"]) in present]
    return text_table(["algorithm", "param/grad/state", "options", "fp32 state (read+written)", "B/param"], body,
                      markdown)


def results_table(rows, markdown):
    body = []
    for r in rows:
        na = math.isnan(r["ms"])
        body.append([
            r["impl"], r["algorithm"], r["dtypes"], r["shape"], str(r["threads"]), f"{r['warmup']}+{r['reps']}",
            "n/a" if na else f"{r['ms']:.2f}", "n/a" if na else f"{number(r['gbps']):.2f}", r["bytes_per_param"],
            f"{float(r['vs_probe']):.2f}" if r["vs_probe"] else "-",
            f"{float(r['vs_triad']):.2f}" if r["vs_triad"] else "-",
            f"{r['speedup_vs_peer']}x" if r["speedup_vs_peer"] else "-",
            r["best_peer"] or "-", r["note"],
        ])
    return text_table(["impl", "algorithm", "dtypes", "shape", "thr", "steps", "ms/step", "GB/s", "B/param", "/probe",
                       "/triad", "vs peer", "best peer", "note"], body, markdown)


def state_memory_table(catalog, rows, markdown):
    """adamant per variant: the state it holds per parameter (state_nbytes() / elements) and how far one step
    raised the resident memory (its temporaries), on each shape at the most threads."""
    adamant = [r for r in rows if r["impl"] == "adamant" and r.get("state_bytes_per_param")]
    shapes = sorted({r["shape"] for r in adamant}, key=shape_key)
    most = {s: max(r["threads"] for r in adamant if r["shape"] == s) for s in shapes}
    cells = {(r["algorithm"], r["dtypes"], r["shape"]): r for r in adamant if r["threads"] == most[r["shape"]]}
    body = []
    for v in catalog:
        line = [v["name"], v["dtypes"]]
        found = [cells.get((v["name"], v["dtypes"], s)) for s in shapes]
        if not any(found):
            continue
        for r in found:
            line.append("n/a" if r is None else f"{number(r['state_bytes_per_param']):.3f} B, +"
                        + ("n/a" if not r.get("step_peak_mib") else f"{number(r['step_peak_mib']):.1f} MiB"))
        body.append(line)
    return text_table(["algorithm", "dtypes"] + [f"{s} t={most[s]}" for s in shapes], body, markdown)


def summary_table(catalog, rows, markdown):
    """adamant per variant (rows) and shape/threads (columns): ratio to the probe / speedup over best peer."""
    adamant = [r for r in rows if r["impl"] == "adamant"]
    columns = sorted({(r["shape"], r["threads"]) for r in adamant}, key=lambda c: (shape_key(c[0]), c[1]))
    cells = {(r["algorithm"], r["dtypes"], r["shape"], r["threads"]): r for r in adamant}
    body = []
    for v in catalog:
        if not any((v["name"], v["dtypes"]) + c in cells for c in columns):
            continue
        line = [v["name"], v["dtypes"]]
        for c in columns:
            r = cells.get((v["name"], v["dtypes"]) + c)
            if r is None or math.isnan(r["ms"]):
                line.append("n/a")
            else:
                probe = f"{float(r['vs_probe']):.2f}" if r["vs_probe"] else "-"
                line.append(probe + " / " + (f"{float(r['speedup_vs_peer']):.1f}x" if r["speedup_vs_peer"] else "-"))
        body.append(line)
    return text_table(["algorithm", "dtypes"] + [f"{s} t={t}" for s, t in columns], body, markdown)


def targets(catalog, rows):
    """The fused-kernels issue's targets: (description, [(case, value, met)])."""
    def find(impl, alg, dtypes, shape):
        return [r for r in rows if r["impl"] == impl and r["algorithm"] == alg and r["dtypes"] == dtypes
                and r["shape"] == shape]

    checks = []
    def ratio_check(title, alg, dtypes, shape, column, goal, at_most=False):
        found = find("adamant", alg, dtypes, shape)
        cases = []
        for r in sorted(found, key=lambda r: r["threads"]):
            value = number(r[column])
            cases.append((f"t={r['threads']}", value,
                          not math.isnan(value) and (value <= goal if at_most else value >= goal)))
        if cases:
            checks.append((title, alg, dtypes, shape, goal, column, cases))

    fp32, bf16, bf16_state, int8_state = "fp32/fp32/fp32", "bf16/bf16/fp32", "fp32/fp32/bf16", "fp32/fp32/int8"
    for shape in ("1x10M", "1x50M"):
        ratio_check("fp32 Adam >= 0.90 of probe", "adam", fp32, shape, "vs_probe", 0.90)
    ratio_check("fp32 Adam >= 0.80 of probe", "adam", fp32, "10000x1k", "vs_probe", 0.80)
    for v in catalog:
        if v["default"] == "1" and v["dtypes"] == fp32 and v["name"] != "adam" and not v["nonfinite"]:
            ratio_check("other algorithms >= 0.85 of probe", v["name"], fp32, "1x10M", "vs_probe", 0.85)
    for v in catalog:
        if v["default"] == "1" and v["dtypes"] == bf16:
            ratio_check("bf16 params >= 0.85 of probe", v["name"], bf16, "1x10M", "vs_probe", 0.85)
    # The lean-state issue: bf16 state at >= 0.85 of a probe that moves the same bytes.
    for v in catalog:
        if v["default"] == "1" and v["dtypes"] == bf16_state:
            ratio_check("bf16 state >= 0.85 of probe", v["name"], bf16_state, "1x10M", "vs_probe", 0.85)
        if v["default"] == "1" and v["dtypes"] == int8_state:
            ratio_check("int8 state >= 0.85 of probe", v["name"], int8_state, "1x10M", "vs_probe", 0.85)
    # ... and the int8 AdamW step at most 0.7 of the float32 AdamW step's time.
    full = {r["threads"]: number(r["ms"]) for r in find("adamant", "adamw", fp32, "1x50M")}
    lean = {r["threads"]: number(r["ms"]) for r in find("adamant", "adamw-int8state", int8_state, "1x50M")}
    cases = [(f"t={t}", lean[t] / full[t], lean[t] / full[t] <= 0.7) for t in sorted(lean) if t in full]
    if cases:
        checks.append(("int8 AdamW step <= 0.7 of fp32 AdamW's time", "adamw-int8state", int8_state, "1x50M", 0.7,
                       "time_ratio", cases))
    # The issue's peers (DeepSpeed, ensmallen, libtorch, torch.optim) are Adam's; the other algorithms'
    # speedups are in the table above, with what their traffic allows (summary: peer / probe).
    ratio_check(">= 5x the best peer", "adam", fp32, "1x10M", "speedup_vs_peer", 5.0)
    # The robustness issue: the non-finite check of skip and raise costs at most 5% of a step.
    for v in catalog:
        if v["default"] == "1" and v["nonfinite"]:
            for shape in sorted({r["shape"] for r in rows}, key=shape_key):
                ratio_check("non-finite check costs <= 5%", v["name"], v["dtypes"], shape, "policy_cost", 0.05,
                            at_most=True)
    return checks


def targets_table(checks, markdown):
    body = []
    for title, alg, dtypes, shape, goal, column, cases in checks:
        shown = (lambda v: f"{100 * v:+.0f}%") if column == "policy_cost" else (lambda v: f"{v:.2f}")
        values = ", ".join(f"{c}: " + ("n/a" if math.isnan(v) else shown(v)) for c, v, _ in cases)
        met = sum(ok for _, _, ok in cases)
        if all(math.isnan(v) for _, v, _ in cases):
            verdict = "n/a"
        else:
            verdict = "yes" if met == len(cases) else ("partly" if met else "no")
        body.append([title, f"{alg} {dtypes.split('/')[0]}", shape, values, verdict])
    return text_table(["target", "case", "shape", "adamant (per thread count)", "met"], body, markdown)


def machine():
    model = "unknown CPU"
    try:
        out = subprocess.run(["lscpu"], capture_output=True, text=True, check=False).stdout
        for line in out.splitlines():
            if line.startswith("Model name:"):
                model = line.split(":", 1)[1].strip()
    except OSError:
        pass
    return f"{model}, {len(os.sched_getaffinity(0))} CPUs available"


def main(argv):
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--catalog", required=True)
    ap.add_argument("--csv", required=True, help="the combined CSV to write")
    ap.add_argument("--markdown", help="also write the tables as Markdown here")
    ap.add_argument("--context", action="append", default=[], help="a line to print under Machine")
    ap.add_argument("rows", nargs="+", help="CSV files from adamant_bench and torch_optim_bench.py")
    args = ap.parse_args(argv)

    catalog, rows = load(args.catalog, args.rows)
    annotate(catalog, rows)
    rows = sort_rows(catalog, rows)
    with open(args.csv, "w", newline="") as f:
        columns = [c for c in rows[0] if c != "ms"] if rows else []
        writer = csv.DictWriter(f, fieldnames=columns, extrasaction="ignore")
        writer.writeheader()
        writer.writerows(rows)

    checks = targets(catalog, rows)
    sections = [
        ("Machine", [machine()] + args.context),
        ("Byte model (bytes moved per parameter per step; GB/s = B/param x elements / median step time)",
         None),
        ("adamant at a glance (ratio to its probe / speedup over the fastest peer)", None),
        ("Results (steps = warm-up + timed; median ms/step; /probe = probe time / time, for adamant the probe "
         "stepped alternately with it, for the peers the probe row; vs peer = fastest peer's time / adamant's)",
         None),
        ("State memory (state_nbytes() per parameter; + how far one step raised the resident memory)", None),
        ("Targets", None),
    ]
    for markdown in (False, True) if args.markdown else (False,):
        out = []
        for title, lines in sections:
            if lines is None:
                if title.startswith("Byte"):
                    lines = byte_model_table(catalog, rows, markdown)
                elif title.startswith("Results"):
                    lines = results_table(rows, markdown)
                elif title.startswith("adamant at"):
                    lines = summary_table(catalog, rows, markdown)
                elif title.startswith("State memory"):
                    lines = state_memory_table(catalog, rows, markdown)
                else:
                    lines = targets_table(checks, markdown)
            out += [("### " if markdown else "== ") + title, ""] + lines + [""]
        if markdown:
            with open(args.markdown, "w") as f:
                f.write("\n".join(out))
        else:
            print("\n".join(out))
    print(f"combined CSV: {args.csv}" + (f"\nMarkdown: {args.markdown}" if args.markdown else ""))


if __name__ == "__main__":
    main(sys.argv[1:])
