"""State dicts: torch.optim (1.13) -> adamant.torch -> torch.optim, and adamant -> adamant through copies.

A state dict saved by one side loads into the other, which continues the same trajectory. For NAdam the
continuation is compared with RefNAdam (current PyTorch) since 1.13's NAdam follows its buggy rule.
"""

import copy
import io
import pickle

import pytest
import torch

import adamant.torch as at
from conftest import (ALGORITHMS, REFERENCES, assert_same_state, in_torch, build, clone_params, default_reference, make_grads,
                      make_params, make_reference, set_grads)

DTYPES = pytest.mark.parametrize("dtype", [torch.float32, torch.float64], ids=["float32", "float64"])

# Options torch 1.13 knows, chosen so that every state tensor exists (amsgrad, momentum, centered).
CONFIGS = {
    "Adam": (dict(lr=1e-2, betas=(0.8, 0.99), weight_decay=0.01, amsgrad=True), [dict(lr=0.1, amsgrad=False)]),
    "AdamW": (dict(lr=1e-2, amsgrad=True), [dict(weight_decay=0.1, maximize=True)]),
    "Adamax": (dict(lr=1e-2, weight_decay=0.01), [dict(betas=(0.5, 0.9), maximize=True)]),
    "NAdam": (dict(lr=1e-2, weight_decay=0.01), [dict(momentum_decay=1e-2)]),
    "RAdam": (dict(lr=1e-2, betas=(0.9, 0.99)), [dict(weight_decay=0.1)]),
    "Adagrad": (dict(lr=1e-1, lr_decay=0.01, initial_accumulator_value=0.1), [dict(weight_decay=0.1)]),
    "RMSprop": (dict(lr=1e-2, momentum=0.9, centered=True), [dict(momentum=0.0, centered=False, alpha=0.9)]),
    "Adadelta": (dict(lr=0.5, rho=0.8), [dict(weight_decay=0.1, maximize=True)]),
    "SGD": (dict(lr=1e-2, momentum=0.9, nesterov=True), [dict(momentum=0.0, nesterov=False, weight_decay=0.1)]),
    "Lion": (dict(lr=1e-3, betas=(0.95, 0.98), weight_decay=0.1), [dict(lr=1e-2, maximize=True)]),
}
FIRST, THEN = 10, 10


def torch_factory(algorithm):
    """torch.optim's class, or the transcription of the reference for an algorithm torch lacks (Lion)."""
    cls = getattr(torch.optim, algorithm) if in_torch(algorithm) else REFERENCES[algorithm]
    return lambda groups, **o: make_reference(cls, groups, **o)


def reference_factory(algorithm):
    return lambda groups, **o: make_reference(default_reference(algorithm), groups, **o)


def configured(algorithm, dtype, seed=0):
    ctor, groups = CONFIGS[algorithm]
    gen = torch.Generator().manual_seed(seed)
    init = make_params(dtype, gen)
    return ctor, groups, init, make_grads(init, FIRST + THEN, gen)


def run(opt, params, grads):
    for row in grads:
        set_grads(params, row)
        opt.step()


def continue_both(a, pa, b, pb, grads, what):
    for step, row in enumerate(grads):
        set_grads(pa, row)
        set_grads(pb, row)
        a.step()
        b.step()
        assert_same_state(a, b, pa, pb, f"{what}, step {FIRST + step + 1}")


@DTYPES
@pytest.mark.parametrize("algorithm", ALGORITHMS)
def test_torch_to_adamant(algorithm, dtype):
    ctor, groups, init, grads = configured(algorithm, dtype)
    ps = clone_params(init)
    source = build(torch_factory(algorithm), ps, ctor, groups, n_groups=2)
    run(source, ps, grads[:FIRST])
    saved = source.state_dict()

    pa, pr = clone_params(ps), clone_params(ps)
    opt = build(getattr(at, algorithm), pa, ctor, groups, n_groups=2)
    opt.load_state_dict(saved)
    ref = build(reference_factory(algorithm), pr, ctor, groups, n_groups=2)
    ref.load_state_dict(saved)
    for group in opt.param_groups:  # options torch 1.13 does not save get their defaults
        assert set(opt.defaults) <= set(group), sorted(set(opt.defaults) - set(group))
    continue_both(opt, pa, ref, pr, grads[FIRST:], f"{algorithm}: torch 1.13 -> adamant")
    for state in opt.state.values():  # torch's layout, in current PyTorch's types
        if "step" in state:
            assert state["step"].dtype == torch.float32 and state["step"].dim() == 0


@DTYPES
@pytest.mark.parametrize("algorithm", ALGORITHMS)
def test_adamant_to_torch(algorithm, dtype):
    ctor, groups, init, grads = configured(algorithm, dtype)
    pa, pr = clone_params(init), clone_params(init)
    opt = build(getattr(at, algorithm), pa, ctor, groups, n_groups=2)
    ref = build(reference_factory(algorithm), pr, ctor, groups, n_groups=2)
    run(opt, pa, grads[:FIRST])
    run(ref, pr, grads[:FIRST])

    # torch 1.13 continues from adamant's state as from the reference's.
    p1, p2 = clone_params(pa), clone_params(pr)
    t1 = build(torch_factory(algorithm), p1, ctor, groups, n_groups=2)
    t1.load_state_dict(opt.state_dict())
    t2 = build(torch_factory(algorithm), p2, ctor, groups, n_groups=2)
    t2.load_state_dict(ref.state_dict())
    continue_both(t1, p1, t2, p2, grads[FIRST:], f"{algorithm}: adamant -> torch 1.13")
    if algorithm != "NAdam":  # and adamant itself goes on the same way
        run(opt, pa, grads[FIRST:])
        assert_same_state(opt, t1, pa, p1, f"{algorithm}: adamant vs torch from adamant's state")


def _pickle(d):
    return pickle.loads(pickle.dumps(d))


def _torch_save(d):
    buffer = io.BytesIO()
    torch.save(d, buffer)
    buffer.seek(0)
    return torch.load(buffer)


@pytest.mark.parametrize("copy_fn", [copy.deepcopy, _pickle, _torch_save], ids=["deepcopy", "pickle", "torch.save"])
@pytest.mark.parametrize("algorithm", ALGORITHMS)
def test_resume_repeats_the_uninterrupted_run(algorithm, copy_fn):
    """adamant -> copy of the state dict -> adamant: bitwise the run that was never interrupted."""
    ctor, groups, init, grads = configured(algorithm, torch.float32)
    pa = clone_params(init)
    opt = build(getattr(at, algorithm), pa, ctor, groups, n_groups=2)
    run(opt, pa, grads[:FIRST])
    saved = copy_fn(opt.state_dict())

    pb = clone_params(pa)
    resumed = build(getattr(at, algorithm), pb, ctor, groups, n_groups=2)
    resumed.load_state_dict(saved)
    run(opt, pa, grads[FIRST:])
    run(resumed, pb, grads[FIRST:])
    assert_same_state(resumed, opt, pb, pa, f"{algorithm} resumed", rtol=0)
    if algorithm == "NAdam":
        for state in resumed.state.values():
            assert state["mu_product"].dtype == torch.float64


def test_nadam_accepts_float32_mu_product():
    """torch saves mu_product as float32; adamant reads it and keeps float64 from then on."""
    p = torch.zeros(3, requires_grad=True)
    opt = at.NAdam([p])
    p.grad = torch.ones(3)
    opt.step()
    saved = opt.state_dict()
    saved["state"][0]["mu_product"] = saved["state"][0]["mu_product"].float()
    opt.load_state_dict(saved)
    mu = opt.state[p]["mu_product"]
    assert mu.dtype == torch.float64 and mu.item() == saved["state"][0]["mu_product"].item()
    opt.state[p]["mu_product"] = saved["state"][0]["mu_product"]  # also when set by hand
    opt.step()
    assert opt.state[p]["mu_product"].dtype == torch.float64 and opt.state[p]["step"].item() == 2


def test_state_dict_layout_matches_torch():
    """Same keys, shapes and dtypes as torch.optim's state dict (step: float32 0-dim tensor)."""
    for algorithm in ALGORITHMS:
        ctor, groups, init, grads = configured(algorithm, torch.float32)
        pa, pt = clone_params(init), clone_params(init)
        opt = build(getattr(at, algorithm), pa, ctor, groups, n_groups=2)
        ref = build(torch_factory(algorithm), pt, ctor, groups, n_groups=2)
        run(opt, pa, grads[:3])
        run(ref, pt, grads[:3])
        mine, theirs = opt.state_dict(), ref.state_dict()
        assert [g["params"] for g in mine["param_groups"]] == [g["params"] for g in theirs["param_groups"]]
        for group_mine, group_theirs in zip(mine["param_groups"], theirs["param_groups"]):
            for key in group_theirs:
                if key not in ("foreach", "fused", "differentiable", "capturable"):
                    assert group_mine[key] == group_theirs[key], (algorithm, key)
        theirs_state = {k: {n: v for n, v in s.items() if v is not None} for k, s in theirs["state"].items()}
        assert mine["state"].keys() == {k for k, s in theirs_state.items() if s}, algorithm
        for index, state in mine["state"].items():
            assert state.keys() == theirs_state[index].keys(), (algorithm, index)
            for key, value in state.items():
                if key == "step":
                    assert value.dtype == torch.float32 and value.dim() == 0
                elif key == "mu_product":
                    assert value.dtype == torch.float64 and value.dim() == 0
                else:
                    assert value.dtype == theirs_state[index][key].dtype
                    assert value.shape == theirs_state[index][key].shape
                    assert value.stride() == theirs_state[index][key].stride(), (algorithm, key)


def test_rmsprop_and_adadelta_accept_int_steps():
    """torch 1.13's RMSprop and Adadelta store `step` as a Python int; adamant converts it to a tensor."""
    for algorithm in ("RMSprop", "Adadelta"):
        p = torch.zeros(4, requires_grad=True)
        source = getattr(torch.optim, algorithm)([p])
        p.grad = torch.ones(4)
        source.step()
        saved = source.state_dict()
        assert isinstance(saved["state"][0]["step"], int)
        opt = getattr(at, algorithm)([p])
        opt.load_state_dict(saved)
        opt.step()
        assert isinstance(opt.state[p]["step"], torch.Tensor) and opt.state[p]["step"].item() == 2
