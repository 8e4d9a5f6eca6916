"""adamant.torch's optimizers against torch.optim (1.13) and transcriptions of current PyTorch.

Random configurations (seeded): three param groups with different options, parameters of odd shapes
and layouts, gradients missing on some steps, float32 and float64, 32 steps; parameters and every state
tensor are compared after each step. Tolerances: see conftest.RTOL.
"""

import random

import pytest
import torch

import adamant.torch as at
from conftest import (ALGORITHMS, OPTIONS, TORCH_113_OPTIONS, RefNAdam, assert_close, assert_same_state, build,
                      clone_params, make_grads, make_params, make_reference, reference_class, set_grads)

STEPS = 32
SEEDS = range(3)


# ---------------------------------------------------------------------------------------------------
# Configurations: option samplers per algorithm. `extended` adds options torch 1.13 lacks.


def _betas(r):
    return (r.choice([0.0, 0.5, 0.9, 0.95]), r.choice([0.9, 0.99, 0.999, 0.9999]))


def _sample(algorithm, r, extended):
    lr = r.choice([1e-3, 1e-2, 0.1])
    wd = r.choice([0.0, 0.0, 1e-2, 0.1])
    if algorithm in ("Adam", "AdamW"):
        o = dict(lr=lr, betas=_betas(r), eps=r.choice([1e-8, 1e-6, 1e-3]), weight_decay=wd,
                 amsgrad=r.random() < 0.5, maximize=r.random() < 0.5)
        if extended and algorithm == "Adam":
            o.update(decoupled_weight_decay=r.random() < 0.5, bias_correction=r.random() < 0.5,
                     eps_mode=r.choice(["pytorch", "tensorflow"]))
    elif algorithm == "Adamax":
        o = dict(lr=lr, betas=_betas(r), eps=r.choice([1e-8, 1e-3]), weight_decay=wd, maximize=r.random() < 0.5)
    elif algorithm == "NAdam":
        o = dict(lr=lr, betas=_betas(r), eps=r.choice([1e-8, 1e-6]), weight_decay=wd,
                 momentum_decay=r.choice([4e-3, 1e-2, 0.0]))
        if extended:
            o.update(decoupled_weight_decay=r.random() < 0.5, maximize=r.random() < 0.5)
    elif algorithm == "RAdam":
        o = dict(lr=lr, betas=_betas(r), eps=r.choice([1e-8, 1e-6]), weight_decay=wd)
        if extended:
            o.update(decoupled_weight_decay=r.random() < 0.5, maximize=r.random() < 0.5)
    elif algorithm == "Adagrad":
        # initial_accumulator_value only in the constructor: torch 1.13 ignores a group's own value.
        o = dict(lr=lr, lr_decay=r.choice([0.0, 1e-2, 0.5]), weight_decay=wd, eps=r.choice([1e-10, 1e-6]),
                 maximize=r.random() < 0.5)
    elif algorithm == "RMSprop":
        o = dict(lr=r.choice([1e-3, 1e-2]), alpha=r.choice([0.5, 0.9, 0.99]), eps=r.choice([1e-8, 1e-4]),
                 weight_decay=wd, momentum=r.choice([0.0, 0.5, 0.9]), centered=r.random() < 0.5,
                 maximize=r.random() < 0.5)
    elif algorithm == "Adadelta":
        o = dict(lr=r.choice([1.0, 0.5]), rho=r.choice([0.5, 0.9, 0.95]), eps=r.choice([1e-6, 1e-4]),
                 weight_decay=wd, maximize=r.random() < 0.5)
    elif algorithm == "SGD":
        nesterov = r.random() < 0.3
        momentum = r.choice([0.5, 0.9]) if nesterov else r.choice([0.0, 0.5, 0.9])
        o = dict(lr=lr, momentum=momentum, dampening=0.0 if nesterov else r.choice([0.0, 0.1]), weight_decay=wd,
                 nesterov=nesterov, maximize=r.random() < 0.5)
    elif algorithm == "Lion":
        o = dict(lr=r.choice([1e-4, 1e-3, 1e-2]), betas=_betas(r), weight_decay=r.choice([0.0, 0.0, 0.1, 1.0]),
                 maximize=r.random() < 0.5)
    else:
        raise AssertionError(algorithm)
    return o


def configuration(algorithm, seed, extended):
    """(constructor options, [options of groups 1 and 2]): group 0 takes the constructor's."""
    r = random.Random(f"{algorithm}/{seed}/{extended}")
    ctor = _sample(algorithm, r, extended)
    if algorithm == "Adagrad":
        ctor["initial_accumulator_value"] = r.choice([0.0, 0.1])
    groups = []
    for _ in range(2):
        o = _sample(algorithm, r, extended)
        keep = r.sample(sorted(o), k=r.randint(1, len(o)))  # each group overrides some options
        groups.append({k: o[k] for k in keep})
        if algorithm == "SGD" and groups[-1].get("nesterov", ctor["nesterov"]):
            groups[-1].update(nesterov=o["nesterov"], momentum=o["momentum"], dampening=o["dampening"])
    return ctor, groups


def _variants(algorithm):
    return [False, True] if algorithm in ("Adam", "NAdam", "RAdam") else [False]


CASES = [(a, e) for a in ALGORITHMS for e in _variants(a)]


def test_configurations_cover_every_option():
    """The seeds used cover both values of every flag and a non-zero value of every decay option."""
    for algorithm, extended in CASES:
        seen = {}
        for seed in SEEDS:
            ctor, groups = configuration(algorithm, seed, extended)
            for o in [ctor] + groups:
                for k, v in o.items():
                    seen.setdefault(k, set()).add(v)
        options = OPTIONS[algorithm] | ({"decoupled_weight_decay", "maximize"} if extended else set())
        if extended and algorithm == "Adam":
            options |= {"bias_correction", "eps_mode"}
        for k in options:
            values = seen.get(k, set())
            if k in ("amsgrad", "maximize", "centered", "nesterov", "decoupled_weight_decay", "bias_correction"):
                assert values == {False, True}, (algorithm, extended, k, values)
            elif k == "eps_mode":
                assert values == {"pytorch", "tensorflow"}, (algorithm, k, values)
            elif k in ("weight_decay", "momentum", "lr_decay", "momentum_decay", "initial_accumulator_value",
                       "dampening"):
                assert any(v != 0 for v in values) and any(v == 0 for v in values), (algorithm, k, values)
            else:
                assert len(values) > 1, (algorithm, extended, k, values)


# ---------------------------------------------------------------------------------------------------


@pytest.mark.parametrize("seed", SEEDS)
@pytest.mark.parametrize("dtype", [torch.float32, torch.float64], ids=["float32", "float64"])
@pytest.mark.parametrize("algorithm,extended", CASES, ids=[f"{a}{'-extended' if e else ''}" for a, e in CASES])
def test_matches_reference(algorithm, extended, dtype, seed):
    ctor, groups = configuration(algorithm, seed, extended)
    ref_cls = reference_class(algorithm, [ctor] + groups)
    gen = torch.Generator().manual_seed(seed)
    init = make_params(dtype, gen)
    grads = make_grads(init, STEPS, gen)

    pa, pr = clone_params(init), clone_params(init)
    opt = build(getattr(at, algorithm), pa, ctor, groups)
    ref = build(lambda g, **o: make_reference(ref_cls, g, **o), pr, ctor, groups)
    ptrs = [p.data_ptr() for p in pa]
    scales = {}
    for step, row in enumerate(grads):
        set_grads(pa, row)
        set_grads(pr, row)
        opt.step()
        ref.step()
        assert_same_state(opt, ref, pa, pr, f"{algorithm} ({ref_cls.__name__}) {ctor} {groups} step {step + 1}",
                          scales=scales)
    assert [p.data_ptr() for p in pa] == ptrs, "parameters were replaced, not updated in place"
    assert [p.stride() for p in pa] == [p.stride() for p in init]


def test_nadam_differs_from_torch_113():
    """torch 1.13's NAdam computes mu_product_next = mu_product * mu * mu_next (mu counted twice); current
    PyTorch, adamant and RefNAdam use mu_product * mu_next. The trajectories visibly differ."""
    gen = torch.Generator().manual_seed(0)
    init = [torch.randn(20, dtype=torch.float64, generator=gen)]
    grads = [[torch.randn(20, dtype=torch.float64, generator=gen)] for _ in range(10)]
    pt, pr, pa = clone_params(init), clone_params(init), clone_params(init)
    torch_113 = torch.optim.NAdam(pt, lr=1e-2, foreach=False)
    ref = RefNAdam(pr, lr=1e-2)
    opt = at.NAdam(pa, lr=1e-2)
    for row in grads:
        for ps in (pt, pr, pa):
            set_grads(ps, row)
        torch_113.step()
        ref.step()
        opt.step()
    assert_close(pa[0].detach(), pr[0].detach(), "adamant vs current PyTorch")
    difference = (pt[0] - pr[0]).abs().max().item()
    assert difference > 1e-4, f"torch 1.13's NAdam no longer differs ({difference}): was its bug fixed?"


def test_adam_decoupled_weight_decay_is_adamw():
    gen = torch.Generator().manual_seed(1)
    init = [torch.randn(4, 5, generator=gen), torch.randn(3, generator=gen)]
    grads = [[torch.randn(p.shape, generator=gen) for p in init] for _ in range(STEPS)]
    p1, p2, p3 = clone_params(init), clone_params(init), clone_params(init)
    options = dict(lr=1e-2, betas=(0.8, 0.99), weight_decay=0.1, amsgrad=True)
    adam = at.Adam(p1, decoupled_weight_decay=True, **options)
    adamw = at.AdamW(p2, **options)
    torch_adamw = torch.optim.AdamW(p3, foreach=False, **options)
    for row in grads:
        for ps in (p1, p2, p3):
            set_grads(ps, row)
        adam.step()
        adamw.step()
        torch_adamw.step()
    for a, b, c in zip(p1, p2, p3):
        assert torch.equal(a, b)
        assert_close(a.detach(), c.detach(), "Adam(decoupled_weight_decay=True) vs torch.optim.AdamW")


@pytest.mark.parametrize("algorithm", ALGORITHMS)
def test_mixed_dtypes_in_one_group(algorithm):
    """float32 and float64 parameters side by side in one group."""
    gen = torch.Generator().manual_seed(2)
    init = [torch.randn(10, generator=gen), torch.randn(3, 3, dtype=torch.float64, generator=gen)]
    grads = [[torch.randn(p.shape, dtype=p.dtype, generator=gen) for p in init] for _ in range(10)]
    pa, pr = clone_params(init), clone_params(init)
    opt = getattr(at, algorithm)(pa, lr=1e-2)
    ref = make_reference(reference_class(algorithm, [{"lr": 0}]), pr, lr=1e-2)
    for row in grads:
        set_grads(pa, row)
        set_grads(pr, row)
        opt.step()
        ref.step()
    assert_same_state(opt, ref, pa, pr, algorithm)

