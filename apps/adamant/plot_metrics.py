#!/usr/bin/python3
"""Draws the curves of an `adamant train` run: plot_metrics.py METRICS_CSV OUT_PNG [TITLE].

Left: training and validation loss per epoch (log scale, as the Adam paper plots training cost). Right:
validation accuracy. Uses Debian's python3-matplotlib without a display.
"""
import csv
import os
import sys

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402


def save_png(fig, path):
    """Writes `fig` beside `path` and renames it over it: a reader never sees half a PNG."""
    tmp = f"{path}.tmp-{os.getpid()}"
    fig.savefig(tmp, dpi=100, format="png")
    os.replace(tmp, path)


def main(argv):
    if len(argv) not in (3, 4):
        print(__doc__.strip().splitlines()[0], file=sys.stderr)
        return 2
    with open(argv[1], newline="") as f:
        rows = list(csv.DictReader(f))
    if not rows:
        print(f"{argv[1]} has no rows", file=sys.stderr)
        return 1
    epoch = [int(r["epoch"]) for r in rows]
    fig, (left, right) = plt.subplots(1, 2, figsize=(10, 4))
    left.plot(epoch, [float(r["train_loss"]) for r in rows], marker="o", label="training")
    left.plot(epoch, [float(r["val_loss"]) for r in rows], marker="o", label="validation")
    left.set_yscale("log")
    left.set_xlabel("epoch")
    left.set_ylabel("cross-entropy loss")
    left.legend()
    left.grid(True, which="both", alpha=0.3)
    right.plot(epoch, [float(r["val_accuracy"]) for r in rows], marker="o", color="tab:green")
    right.set_xlabel("epoch")
    right.set_ylabel("validation accuracy")
    right.grid(True, alpha=0.3)
    if len(argv) == 4:
        fig.suptitle(argv[3])
    fig.tight_layout()
    save_png(fig, argv[2])
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
