#!/usr/bin/python3
"""Figures of `adamant compare`, laid out like the papers': plot_compare.py KIND OUT_PNG TITLE CSV...

curves   CSV (optimizer,epoch,train_loss,...) and ITERATIONS_CSV (optimizer,iteration,loss): training cost
         against iterations over the first epochs (left) and against epochs (right), log scale (Kingma & Ba,
         Figures 1-3).
bias     CSV (beta1,beta2,lr,bias_correction,epochs,train_loss): loss against log10(step size), a panel per
         (beta1, budget), a line per beta2, solid with bias correction and dashed without (Figure 4).
amsgrad  CSV (setting,method,t,x,average_regret): x_t and R_t/t against t per setting (Reddi et al., Figure 1).
heatmap  CSV (method,lr,weight_decay,val_loss,val_error): validation error over (lr, weight decay) per method
         (Loshchilov & Hutter, Figure 2).
precision CSV (network,optimizer,state_dtype,seed,epoch,...,val_accuracy) and UPDATES_CSV (network,optimizer,
         state_dtype,step,relative_difference): per network, validation accuracy against epochs (the mean over
         seeds; a colour per optimizer, a line style per state dtype) and the relative difference of the
         updates with bfloat16 and int8 state along the float32 run.
"""
import csv
import math
import sys
from collections import defaultdict

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402

from plot_metrics import save_png  # noqa: E402  (shipped beside this script)


def rows(path):
    with open(path, newline="") as f:
        return list(csv.DictReader(f))


def number(text):
    try:
        v = float(text)
    except ValueError:
        return math.nan  # "diverged"
    return v


def curves(title, curves_csv, iterations_csv):
    fig, (left, right) = plt.subplots(1, 2, figsize=(11, 4.2))
    by_opt = defaultdict(list)
    for r in rows(iterations_csv):
        by_opt[r["optimizer"]].append((int(r["iteration"]), number(r["loss"])))
    for i, (name, points) in enumerate(by_opt.items()):
        color = f"C{i}"
        xs, ys = [p[0] for p in points], [p[1] for p in points]
        left.plot(xs, ys, color=color, linewidth=0.5, alpha=0.3)
        # A moving average over ~1% of the iterations, so the curves can be told apart.
        w = max(1, len(ys) // 100)
        smooth = [sum(ys[max(0, j - w + 1):j + 1]) / len(ys[max(0, j - w + 1):j + 1]) for j in range(len(ys))]
        left.plot(xs, smooth, color=color, linewidth=1.2, label=name)
    left.set_xlabel("iterations (first epochs)")
    left.set_title("per iteration")
    by_opt = defaultdict(list)
    lrs = {}
    for r in rows(curves_csv):
        by_opt[r["optimizer"]].append((int(r["epoch"]), number(r["train_loss"])))
        lrs[r["optimizer"]] = r["lr"]
    for i, (name, points) in enumerate(by_opt.items()):
        right.plot([p[0] for p in points], [p[1] for p in points], marker="o", markersize=3,
                   color=f"C{i}", label=f"{name} (lr {lrs[name]})")
    right.set_xlabel("epochs")
    right.set_title("per epoch")
    for ax in (left, right):
        ax.set_yscale("log")
        ax.set_ylabel("training cost")
        ax.grid(True, which="both", alpha=0.3)
        ax.legend(fontsize=8)
    fig.suptitle(title)
    return fig


def bias(title, path):
    data = rows(path)
    beta1s = sorted({r["beta1"] for r in data}, key=float)
    budgets = sorted({int(r["epochs"]) for r in data})
    beta2s = sorted({r["beta2"] for r in data}, key=float)
    fig, axes = plt.subplots(len(budgets), len(beta1s), figsize=(5 * len(beta1s), 3.6 * len(budgets)), squeeze=False)
    colors = dict(zip(beta2s, ["tab:blue", "tab:orange", "tab:green", "tab:red"]))
    finite = [number(r["train_loss"]) for r in data if math.isfinite(number(r["train_loss"]))]
    ceiling = max(finite) * 1.2 if finite else 10.0
    for i, budget in enumerate(budgets):
        for j, beta1 in enumerate(beta1s):
            ax = axes[i][j]
            for beta2 in beta2s:
                for corrected, style in (("1", "-"), ("0", "--")):
                    pts = sorted((math.log10(float(r["lr"])), min(number(r["train_loss"]), ceiling)
                                  if math.isfinite(number(r["train_loss"])) else ceiling)
                                 for r in data if r["beta1"] == beta1 and r["beta2"] == beta2
                                 and r["bias_correction"] == corrected and int(r["epochs"]) == budget)
                    ax.plot([p[0] for p in pts], [p[1] for p in pts], style, marker="o", markersize=3,
                            color=colors[beta2],
                            label=f"beta2={beta2} {'corrected' if corrected == '1' else 'uncorrected'}")
            ax.set_title(f"beta1={beta1}, after {budget} epoch(s)")
            ax.set_xlabel("log10(step size)")
            ax.set_ylabel("training loss")
            ax.set_yscale("log")
            ax.grid(True, which="both", alpha=0.3)
    axes[0][0].legend(fontsize=7)
    fig.suptitle(title + " (diverged runs drawn at the top)")
    return fig


def amsgrad(title, path):
    data = rows(path)
    settings = list(dict.fromkeys(r["setting"] for r in data))
    fig, axes = plt.subplots(len(settings), 2, figsize=(11, 3.6 * len(settings)), squeeze=False)
    for i, setting in enumerate(settings):
        for method, color in (("Adam", "tab:red"), ("AMSGrad", "tab:blue")):
            pts = [(int(r["t"]), float(r["x"]), float(r["average_regret"])) for r in data
                   if r["setting"] == setting and r["method"] == method]
            axes[i][0].plot([p[0] for p in pts], [p[1] for p in pts], color=color, label=method)
            axes[i][1].plot([p[0] for p in pts], [p[2] for p in pts], color=color, label=method)
        axes[i][0].set_ylabel("x_t")
        axes[i][1].set_ylabel("R_t / t")
        axes[i][1].set_yscale("symlog", linthresh=0.01)
        for ax in axes[i]:
            ax.set_xscale("log")
            ax.set_xlabel("t")
            ax.set_title(setting, fontsize=9)
            ax.grid(True, alpha=0.3)
            ax.legend(fontsize=8)
    fig.suptitle(title)
    return fig


def heatmap(title, path):
    data = rows(path)
    methods = list(dict.fromkeys(r["method"] for r in data))
    lrs = sorted({float(r["lr"]) for r in data})
    wds = sorted({float(r["weight_decay"]) for r in data})
    fig, axes = plt.subplots(1, len(methods), figsize=(5.5 * len(methods), 4.2), squeeze=False)
    values = [number(r["val_error"]) for r in data if math.isfinite(number(r["val_error"]))]
    vmin, vmax = (min(values), max(values)) if values else (0, 1)
    for ax, method in zip(axes[0], methods):
        grid = [[math.nan] * len(lrs) for _ in wds]
        for r in data:
            if r["method"] == method:
                grid[wds.index(float(r["weight_decay"]))][lrs.index(float(r["lr"]))] = number(r["val_error"])
        image = ax.imshow(grid, origin="lower", cmap="viridis_r", vmin=vmin, vmax=vmax, aspect="auto")
        for y, row in enumerate(grid):
            for x, v in enumerate(row):
                ax.text(x, y, "-" if not math.isfinite(v) else f"{v:.3f}", ha="center", va="center", fontsize=7,
                        color="white")
        ax.set_xticks(range(len(lrs)), [f"{v:g}" for v in lrs])
        ax.set_yticks(range(len(wds)), [f"{v:g}" for v in wds])
        ax.set_xlabel("learning rate")
        ax.set_ylabel("weight decay")
        ax.set_title(method)
        fig.colorbar(image, ax=ax, label="validation error")
    fig.suptitle(title)
    return fig


def precision(title, curves_csv, updates_csv):
    data, diffs = rows(curves_csv), rows(updates_csv)
    networks = list(dict.fromkeys(r["network"] for r in data))
    optimizers = list(dict.fromkeys(r["optimizer"] for r in data))
    colors = dict(zip(optimizers, ("tab:blue", "tab:red", "tab:green", "tab:purple")))
    styles = {"float32": "-", "bfloat16": "--", "int8": ":"}
    fig, axes = plt.subplots(len(networks), 2, figsize=(11, 3.8 * len(networks)), squeeze=False)
    for i, network in enumerate(networks):
        left, right = axes[i]
        for optimizer in optimizers:
            for dtype, style in styles.items():
                by_epoch = defaultdict(list)
                for r in data:
                    if r["network"] == network and r["optimizer"] == optimizer and r["state_dtype"] == dtype:
                        by_epoch[int(r["epoch"])].append(number(r["val_accuracy"]))
                if by_epoch:
                    epochs = sorted(by_epoch)
                    left.plot(epochs, [sum(by_epoch[e]) / len(by_epoch[e]) for e in epochs], style,
                              color=colors[optimizer], label=f"{optimizer} {dtype}")
                pts = [(int(r["step"]), number(r["relative_difference"])) for r in diffs
                       if r["network"] == network and r["optimizer"] == optimizer and r["state_dtype"] == dtype]
                if pts:
                    right.plot([p[0] for p in pts], [max(p[1], 1e-8) for p in pts], style, color=colors[optimizer],
                               label=f"{optimizer} {dtype}", linewidth=0.8)
        left.set_xlabel("epoch")
        left.set_ylabel("validation accuracy (mean over seeds)")
        right.set_xlabel("step of the float32 run")
        right.set_ylabel("||u' - u|| / ||u||")
        right.set_yscale("log")
        for ax, what in ((left, "accuracy"), (right, "update difference against float32 state")):
            ax.set_title(f"{network}: {what}", fontsize=9)
            ax.grid(True, alpha=0.3)
            ax.legend(fontsize=7)
    fig.suptitle(title)
    return fig


def main(argv):
    kinds = {"curves": (curves, 2), "bias": (bias, 1), "amsgrad": (amsgrad, 1), "heatmap": (heatmap, 1),
             "precision": (precision, 2)}
    if len(argv) < 4 or argv[1] not in kinds or len(argv) != 4 + kinds[argv[1]][1]:
        print(__doc__.strip().splitlines()[0], file=sys.stderr)
        return 2
    draw, _ = kinds[argv[1]]
    fig = draw(argv[3], *argv[4:])
    fig.tight_layout()
    save_png(fig, argv[2])
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
