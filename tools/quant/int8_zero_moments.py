#!/usr/bin/python3
"""Why int8 Adam can diverge: per step, the elements whose exp_avg_sq is stored as 0 while their exp_avg is
not (their update is exp_avg / (0 + eps)), and the largest update, for the MLP of
`adamant compare --experiment state-precision` (784-512-512-10, dropout 0.2, Fashion-MNIST, Adam lr 1e-3,
state_dtype="int8").

    PYTHONPATH=build/python tools/quant/int8_zero_moments.py [--seeds 1 2] [--steps 40]

It prints a line every 10 steps and stops a seed at its first update larger than 1 or non-finite loss.
"""
import argparse
import gzip

import numpy as np
import torch

import adamant.torch as at
from adamant.torch import _base

DATA = "/usr/share/datasets/fashion-mnist"


def load(name, offset):
    with gzip.open(f"{DATA}/{name}", "rb") as f:
        return np.frombuffer(f.read(), np.uint8, offset=offset)


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--seeds", type=int, nargs="+", default=[1, 2])
    ap.add_argument("--steps", type=int, default=40)
    args = ap.parse_args()
    torch.set_num_threads(1)
    x = torch.tensor(load("train-images-idx3-ubyte.gz", 16).reshape(-1, 784)[:10000], dtype=torch.float32) / 255
    y = torch.tensor(load("train-labels-idx1-ubyte.gz", 8)[:10000].astype(np.int64))
    for seed in args.seeds:
        torch.manual_seed(seed)
        model = torch.nn.Sequential(torch.nn.Linear(784, 512), torch.nn.ReLU(), torch.nn.Dropout(0.2),
                                    torch.nn.Linear(512, 512), torch.nn.ReLU(), torch.nn.Dropout(0.2),
                                    torch.nn.Linear(512, 10))
        opt = at.Adam(model.parameters(), lr=1e-3, state_dtype="int8")
        perm = torch.randperm(10000)
        for step in range(1, args.steps + 1):
            idx = perm[(step - 1) * 128 % 9984:][:128]
            loss = torch.nn.functional.cross_entropy(model(x[idx]), y[idx])
            opt.zero_grad()
            loss.backward()
            before = [p.detach().clone() for p in model.parameters()]
            opt.step()
            largest = max((p.detach() - q).abs().max().item() for p, q in zip(model.parameters(), before))
            zero_v = 0
            for p in model.parameters():
                s = opt.state[p]
                if s["exp_avg_sq"].dtype is torch.uint8:
                    v = _base.dequantized(s["exp_avg_sq"], s["exp_avg_sq_absmax"], False)
                    m = _base.dequantized(s["exp_avg"], s["exp_avg_absmax"], True)
                    zero_v += int(((v == 0) & (m != 0)).sum())
            stop = not torch.isfinite(loss) or largest > 1
            if step % 10 == 0 or step <= 3 or stop:
                print(f"seed {seed} step {step:3d}  loss {loss.item():8.4f}  largest |update| {largest:9.3g} "
                      f"(lr 1e-3)  elements with exp_avg_sq 0 and exp_avg not: {zero_v}")
            if stop:
                break


if __name__ == "__main__":
    main()
