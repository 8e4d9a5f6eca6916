"""A refused step changes nothing; autograd sees the update; duplicate and overlapping parameters; the
group dict and option types torch.optim accepts (docs/reliability.md)."""

import copy
import warnings

import pytest
import torch

import adamant.torch as at
from adamant import _adamant
from conftest import ALGORITHMS, REFERENCES, in_torch

# Options that create every state buffer; torch 1.13's SGD has no default lr.
OPTIONS = {"Adam": {"amsgrad": True}, "AdamW": {"amsgrad": True}, "RMSprop": {"momentum": 0.5, "centered": True},
           "SGD": {"lr": 0.1, "momentum": 0.9}, "Adagrad": {"lr_decay": 0.01}}
# Two state buffers of the same shape as the parameter (the first two of the algorithm's, which OPTIONS
# switch on), or one and None.
BUFFERS = {cls.__name__: (tuple(_adamant.state_names(name)) + (None,))[:2] for name, cls in at._base.DROP_INS.items()}
HAS_STEP = [a for a in ALGORITHMS if a != "SGD"]


def _bits(t):
    return t.detach().reshape(-1).contiguous().view(torch.uint8).clone()


def _snapshot(opt, params):
    """Every byte of every parameter and state tensor, the state's other values, the step count."""
    state = {i: {k: _bits(v) if isinstance(v, torch.Tensor) else copy.deepcopy(v)
                 for k, v in opt.state.get(p, {}).items()} for i, p in enumerate(params)}
    return [_bits(p) for p in params], state, opt.state_dict()["adamant_step_count"]


def _same(a, b):
    if isinstance(a, torch.Tensor):
        return isinstance(b, torch.Tensor) and a.shape == b.shape and torch.equal(a, b)
    if isinstance(a, dict):
        return a.keys() == b.keys() and all(_same(a[k], b[k]) for k in a)
    if isinstance(a, (list, tuple)):
        return len(a) == len(b) and all(_same(x, y) for x, y in zip(a, b))
    return a == b


def _setup(algorithm, dtype=torch.float32, **extra):
    """Three groups of two parameters, stepped once; then a fresh parameter in group 0 (no state yet)."""
    gen = torch.Generator().manual_seed(0)
    params = [torch.randn(4, 5, generator=gen).to(dtype).requires_grad_() for _ in range(6)]
    opt = getattr(at, algorithm)([{"params": params[0:2]}, {"params": params[2:4]}, {"params": params[4:6]}],
                                 **OPTIONS.get(algorithm, {}), **extra)
    for p in params:
        p.grad = torch.randn(p.shape, generator=gen).to(dtype)
    opt.step()
    fresh = torch.randn(4, 5, generator=gen).to(dtype).requires_grad_()
    opt.param_groups[0]["params"].append(fresh)
    params.append(fresh)
    for p in params:
        p.grad = torch.randn(p.shape, generator=gen).to(dtype)
    return opt, params


def _fault_step(state, value):
    state["step"] = torch.tensor(float(value))


FAULTS = {
    "step -5": lambda opt, p, a: _fault_step(opt.state[p], -5),
    "step 0.5": lambda opt, p, a: _fault_step(opt.state[p], 0.5),
    "step 2**63": lambda opt, p, a: _fault_step(opt.state[p], 2.0 ** 63),
    "state buffers aliased": lambda opt, p, a: opt.state[p].__setitem__(BUFFERS[a][1], opt.state[p][BUFFERS[a][0]]),
    "gradient aliases state": lambda opt, p, a: setattr(p, "grad", opt.state[p][BUFFERS[a][0]]),
}


def _faults(algorithm):
    out = []
    for name in FAULTS:
        if name.startswith("step") and algorithm not in HAS_STEP:
            continue
        if name == "state buffers aliased" and BUFFERS[algorithm][1] is None:
            continue
        out.append(name)
    return out


@pytest.mark.parametrize("algorithm,fault", [(a, f) for a in ALGORITHMS for f in _faults(a)])
def test_a_fault_in_the_last_group_changes_nothing(algorithm, fault):
    opt, params = _setup(algorithm)
    FAULTS[fault](opt, params[5], algorithm)  # the last parameter of the last group
    before = _snapshot(opt, params)
    with pytest.raises((RuntimeError, ValueError)) as info:
        opt.step()
    assert "param group 2" in str(info.value) and "parameter 1" in str(info.value), str(info.value)
    assert "\n" not in str(info.value)
    assert _same(_snapshot(opt, params), before), fault
    assert params[6] not in opt.state or not opt.state[params[6]]  # no state made for the fresh parameter


@pytest.mark.parametrize("algorithm", ["Adam", "SGD", "RMSprop"])
def test_a_master_copy_aliasing_state_changes_nothing(algorithm):
    opt, params = _setup(algorithm, torch.bfloat16, master_weights=True)
    state = opt.state[params[5]]
    state["master_param"] = state[BUFFERS[algorithm][0]]
    before = _snapshot(opt, params)
    with pytest.raises((RuntimeError, ValueError)) as info:
        opt.step()
    assert "param group 2" in str(info.value), str(info.value)
    assert _same(_snapshot(opt, params), before)


@pytest.mark.parametrize("algorithm", ALGORITHMS)
def test_the_version_counter_is_bumped_as_by_torch(algorithm):
    results = []
    # torch's own class, or the transcription of the reference for an algorithm torch lacks (Lion).
    for cls in (getattr(torch.optim, algorithm) if in_torch(algorithm) else REFERENCES[algorithm], getattr(at, algorithm)):
        w = torch.nn.Parameter(torch.randn(3))
        o = cls([w], **({"lr": 0.1} if algorithm == "SGD" else {}))
        y = (w ** 3).sum()
        w.grad = torch.ones(3)
        version = w._version
        o.step()
        assert w._version > version
        with pytest.raises(RuntimeError, match="modified by an inplace operation"):
            y.backward()
        results.append(cls.__name__)
    assert len(results) == 2


@pytest.mark.parametrize("algorithm", ["SGD", "Adam", "Adagrad", "RMSprop", "Adadelta", "Adamax", "RAdam"])
def test_a_tensor_listed_twice_steps_as_torch(algorithm):
    options = OPTIONS.get(algorithm, {})
    out = []
    for module in (torch.optim, at):
        w = torch.nn.Parameter(torch.tensor([1.0, -2.0, 0.5]))
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # torch warns about the duplicate
            o = getattr(module, algorithm)([w, w], **options)
        for _ in range(3):
            w.grad = torch.tensor([0.3, -0.7, 1.1])
            o.step()
        out.append(w.detach().clone())
    torch.testing.assert_close(out[1], out[0], rtol=2e-6, atol=1e-7)


def test_a_tensor_listed_twice_is_a_tensor_stepped_twice():
    """NAdam here follows current PyTorch, not 1.13: compare with a twin stepped twice by hand."""
    w = torch.nn.Parameter(torch.tensor([1.0, -2.0, 0.5]))
    v = torch.nn.Parameter(w.detach().clone())
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        o = at.NAdam([w, w])
    twin = at.NAdam([v])
    for _ in range(2):
        w.grad = torch.tensor([0.3, -0.7, 1.1])
        v.grad = w.grad.clone()
        o.step()
        twin.step()
        twin.step()
    assert torch.equal(w.detach(), v.detach())
    assert torch.equal(o.state[w]["exp_avg"], twin.state[v]["exp_avg"])


@pytest.mark.parametrize("views", ["halves overlap", "across groups"])
def test_overlapping_views_are_refused_and_nothing_changes(views):
    base = torch.randn(10)
    a, b = base[0:6], base[4:10]
    a.grad, b.grad = torch.ones(6), torch.ones(6)
    groups = [a, b] if views == "halves overlap" else [{"params": [a]}, {"params": [b], "lr": 0.5}]
    opt = at.SGD(groups, lr=0.1)
    before = base.clone()
    with pytest.raises(RuntimeError, match="share memory"):
        opt.step()
    assert torch.equal(base, before) and not opt.state


def test_disjoint_views_of_one_storage_are_fine():
    base = torch.zeros(10)
    a, b = base[0:5], base[5:10]
    a.grad, b.grad = torch.ones(5), torch.full((5,), 2.0)
    at.SGD([a, b], lr=0.1).step()
    assert torch.equal(base, torch.tensor([-0.1] * 5 + [-0.2] * 5))


def test_betas_may_be_a_tensor_as_in_torch():
    out = []
    for module in (torch.optim, at):
        w = torch.nn.Parameter(torch.tensor([1.0, -2.0]))
        o = module.Adam([w], betas=torch.tensor([0.9, 0.99]))
        w.grad = torch.tensor([0.5, 0.25])
        o.step()
        out.append(w.detach().clone())
    torch.testing.assert_close(out[1], out[0])


@pytest.mark.parametrize("algorithm", ALGORITHMS)
def test_a_deleted_group_key_raises_key_error_as_torch(algorithm):
    w = torch.nn.Parameter(torch.ones(2))
    w.grad = torch.ones(2)
    o = getattr(at, algorithm)([w], **({"lr": 0.1} if algorithm == "SGD" else {}))
    del o.param_groups[0]["lr"]
    with pytest.raises(KeyError):
        o.step()
    assert torch.equal(w.detach(), torch.ones(2))


def test_an_adam_state_dict_does_not_make_sgd_momentum_plain_sgd():
    w = torch.nn.Parameter(torch.ones(2))
    w.grad = torch.ones(2)
    adam = at.Adam([w])
    adam.step()
    sgd = at.SGD([w], lr=0.1, momentum=0.9)
    sgd.load_state_dict(adam.state_dict())  # torch copies the group dicts: 'momentum' is gone
    before = w.detach().clone()
    with pytest.raises(KeyError):
        sgd.step()
    assert torch.equal(w.detach(), before)
