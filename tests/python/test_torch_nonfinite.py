"""Non-finite gradients and loss scaling in adamant.torch: nonfinite="propagate" | "skip" | "raise",
last_step_skipped, step(grad_scale=..., found_inf=...) and the attributes current PyTorch's GradScaler sets."""

import copy
import re

import pytest
import torch

import adamant.torch as at
from conftest import (ALGORITHMS, RTOL, assert_same_state, clone_params, default_reference, make_params,
                      make_reference)

NAN, INF = float("nan"), float("inf")
# Options that create every state buffer.
OPTIONS = {"Adam": {"amsgrad": True}, "AdamW": {"amsgrad": True}, "RMSprop": {"momentum": 0.5, "centered": True},
           "SGD": {"momentum": 0.9, "nesterov": True}, "Adagrad": {"lr_decay": 0.01}}
# torch 1.13's SGD has no default lr.
REFERENCE_OPTIONS = {"SGD": {"lr": 1e-3}}


def _params(dtype=torch.float32, seed=0):
    gen = torch.Generator().manual_seed(seed)
    return [p.requires_grad_() for p in make_params(dtype, gen)]


def _grads(params, step, scale=1.0):
    gen = torch.Generator().manual_seed(100 + step)
    return [torch.randn(p.shape, dtype=p.dtype, generator=gen) * scale for p in params]


def _set(params, grads):
    for p, g in zip(params, grads):
        p.grad = g.clone()


def _groups(params):
    """Two param groups, the second with its own lr."""
    return [{"params": params[::2]}, {"params": params[1::2], "lr": 3e-3}]


def _snapshot(opt, params):
    """Parameters, gradients and the state dict, deep-copied."""
    return ([p.detach().clone() for p in params], [None if p.grad is None else p.grad.clone() for p in params],
            copy.deepcopy(opt.state_dict()))


def _bits(t):
    return t.detach().reshape(-1).contiguous().view(torch.uint8)


def _equal(a, b):
    """Bitwise equality of nested tensors, lists and dicts."""
    if isinstance(a, torch.Tensor):
        return (isinstance(b, torch.Tensor) and a.dtype == b.dtype and a.shape == b.shape
                and torch.equal(_bits(a), _bits(b)))
    if isinstance(a, dict):
        return isinstance(b, dict) and a.keys() == b.keys() and all(_equal(a[k], b[k]) for k in a)
    if isinstance(a, (list, tuple)):
        return len(a) == len(b) and all(_equal(x, y) for x, y in zip(a, b))
    return a == b


# (parameter index, element, value): the NaN or inf sits in different tensors of different groups.
BAD = [(4, 17, NAN), (3, 0, INF), (8, 5, -INF), (0, 0, NAN)]


def _poison(params, index, element, value):
    params[index].grad.view(-1)[element] = value  # _grads makes contiguous gradients


@pytest.mark.parametrize("algorithm", ALGORITHMS)
@pytest.mark.parametrize("bad", BAD, ids=lambda b: f"p{b[0]}-{b[2]}")
def test_skip_changes_nothing_and_the_next_step_proceeds(algorithm, bad):
    options = OPTIONS.get(algorithm, {})
    params = _params()
    twin = clone_params(params)
    opt = getattr(at, algorithm)(_groups(params), nonfinite="skip", **options)
    ref = getattr(at, algorithm)(_groups(twin), **options)
    assert opt.nonfinite == "skip" and not opt.last_step_skipped
    for k in range(2):
        _set(params, _grads(params, k))
        _set(twin, _grads(twin, k))
        opt.step()
        ref.step()
        assert not opt.last_step_skipped
    _set(params, _grads(params, 2))
    _poison(params, *bad)
    before = _snapshot(opt, params)
    opt.step()
    assert opt.last_step_skipped
    assert _equal(_snapshot(opt, params), before), "a skipped step changed something"
    # The next finite step is the one an optimizer that never saw the bad step takes: bitwise.
    _set(params, _grads(params, 3))
    _set(twin, _grads(twin, 3))
    opt.step()
    ref.step()
    assert not opt.last_step_skipped
    assert _equal([p.detach() for p in params], [p.detach() for p in twin])
    assert _equal(opt.state_dict()["state"], ref.state_dict()["state"])


@pytest.mark.parametrize("algorithm", ALGORITHMS)
def test_skip_on_the_first_step_creates_no_state(algorithm):
    """No state appears (Adagrad's, made by its constructor as in torch, stays as it was)."""
    params = _params()
    opt = getattr(at, algorithm)(params, nonfinite="skip", **OPTIONS.get(algorithm, {}))
    empty = copy.deepcopy(opt.state_dict())
    assert algorithm == "Adagrad" or not empty["state"]
    _set(params, _grads(params, 0))
    _poison(params, 3, 1, NAN)
    opt.step()
    assert opt.last_step_skipped
    assert _equal(opt.state_dict(), empty)
    assert opt.state_dict()["adamant_step_count"] == 0


@pytest.mark.parametrize("algorithm", ALGORITHMS)
@pytest.mark.parametrize("bad", BAD, ids=lambda b: f"p{b[0]}-{b[2]}")
def test_raise_names_group_and_parameter_and_changes_nothing(algorithm, bad):
    params = _params()
    groups = _groups(params)
    opt = getattr(at, algorithm)(groups, nonfinite="raise", **OPTIONS.get(algorithm, {}))
    _set(params, _grads(params, 0))
    opt.step()
    _set(params, _grads(params, 1))
    _poison(params, *bad)
    before = _snapshot(opt, params)
    index = bad[0]
    gi, i = index % 2, index // 2  # _groups: even indices in group 0, odd in group 1
    p = params[index]
    message = (f"adamant.torch.{algorithm}: the gradient of parameter {i} of param group {gi} (shape "
               f"{tuple(p.shape)}) is not finite (it holds a NaN or an infinity); the step was refused and "
               f"nothing changed (nonfinite='raise')")
    with pytest.raises(RuntimeError, match=f"^{re.escape(message)}$"):
        opt.step()
    assert _equal(_snapshot(opt, params), before)
    assert not opt.last_step_skipped


@pytest.mark.parametrize("algorithm", ALGORITHMS)
@pytest.mark.parametrize("dtype", [torch.float32, torch.float64])
def test_propagate_matches_pytorch(algorithm, dtype):
    """The default: a NaN or inf gradient goes into the parameters as in torch.optim (1.13's for-loop
    implementation; RefNAdam for NAdam): the same elements are non-finite, the others agree as usual. A
    non-finite element may be NaN here and inf in 1.13: adamant follows current PyTorch's lerp_ for the
    first moment, which turns an infinite exp_avg into NaN where 1.13's mul_().add_() keeps it infinite."""
    params = _params(dtype)
    twin = clone_params(params)
    opt = getattr(at, algorithm)(params)
    assert opt.nonfinite == "propagate"
    ref = make_reference(default_reference(algorithm), twin, **REFERENCE_OPTIONS.get(algorithm, {}))
    for k in range(3):
        _set(params, _grads(params, k))
        _set(twin, _grads(twin, k))
        if k == 1:
            _poison(params, 4, 17, NAN)
            _poison(twin, 4, 17, NAN)
            _poison(params, 3, 2, INF)
            _poison(twin, 3, 2, INF)
        opt.step()
        ref.step()
        assert not opt.last_step_skipped
    for p, q in zip(params, twin):
        p, q = p.detach(), q.detach()
        finite = torch.isfinite(q)
        assert torch.equal(torch.isfinite(p), finite)
        scale = q[finite].abs().max().item() if finite.any() else 1.0
        torch.testing.assert_close(p[finite], q[finite], rtol=RTOL[dtype], atol=RTOL[dtype] * scale)
    assert torch.isnan(params[4].detach().view(-1)[17])
    if algorithm == "Lion":  # its step is lr * sign(...): an infinite gradient stays in the momentum
        assert not torch.isfinite(opt.state[params[3]]["exp_avg"].view(-1)[2])
    else:
        assert not torch.isfinite(params[3].detach().view(-1)[2])


def test_nonfinite_is_validated_like_pytorchs_options():
    message = "Invalid nonfinite value: 'ignore' (expected 'propagate', 'skip' or 'raise')"
    for algorithm in ALGORITHMS:
        with pytest.raises(ValueError, match=f"^{re.escape(message)}$"):
            getattr(at, algorithm)(_params(), nonfinite="ignore")
    opt = at.Adam(_params())
    with pytest.raises(ValueError, match=re.escape("Invalid nonfinite value: None")):
        opt.nonfinite = None
    opt.nonfinite = "raise"
    assert opt.nonfinite == "raise"
    assert "nonfinite" not in opt.defaults and "nonfinite" not in opt.param_groups[0]


def test_nonfinite_and_last_step_skipped_survive_pickling():
    params = _params()
    opt = at.Adam(params, nonfinite="skip")
    _set(params, _grads(params, 0))
    _poison(params, 0, 0, NAN)
    opt.step()
    clone = copy.deepcopy(opt)
    assert clone.nonfinite == "skip" and clone.last_step_skipped


# --- loss scaling -------------------------------------------------------------------------------------------


@pytest.mark.parametrize("algorithm", ALGORITHMS)
@pytest.mark.parametrize("dtype", [torch.float32, torch.float64])
@pytest.mark.parametrize("scale", [3.0, 1024.0])
def test_grad_scale_equals_gradients_divided_by_hand(algorithm, dtype, scale):
    """step(grad_scale=s) is, bit for bit, step() on the gradients divided by s in their dtype (as
    PyTorch's fused CPU kernels: grad / grad_scale), and leaves p.grad holding those quotients."""
    options = OPTIONS.get(algorithm, {})
    params = _params(dtype)
    twin = clone_params(params)
    opt = getattr(at, algorithm)(_groups(params), **options)
    ref = getattr(at, algorithm)(_groups(twin), **options)
    for k in range(3):
        scaled = _grads(params, k, scale)
        _set(params, scaled)
        _set(twin, [g / torch.tensor(scale, dtype=dtype) for g in scaled])
        opt.step(grad_scale=scale if k != 1 else torch.tensor(scale))
        ref.step()
        assert _equal([p.detach() for p in params], [p.detach() for p in twin])
        assert _equal([p.grad for p in params], [p.grad for p in twin]), "unscaled gradients written back"
        assert _equal(opt.state_dict()["state"], ref.state_dict()["state"])


@pytest.mark.parametrize("algorithm", ["Adam", "AdamW", "SGD", "Adagrad"])
def test_grad_scale_agrees_with_torch_on_unscaled_gradients(algorithm):
    """PyTorch 1.13 has no fused CPU optimizers; its for-loop step on gradients divided by the scale is
    the closest reference: it agrees to within the usual tolerance (conftest.RTOL)."""
    params = _params()
    twin = clone_params(params)
    opt = getattr(at, algorithm)(params)
    ref = make_reference(default_reference(algorithm), twin, **REFERENCE_OPTIONS.get(algorithm, {}))
    for k in range(3):
        scaled = _grads(params, k, 65536.0)
        _set(params, scaled)
        _set(twin, [g / 65536.0 for g in scaled])
        opt.step(grad_scale=torch.tensor(65536.0))
        ref.step()
    assert_same_state(opt, ref, params, twin, algorithm)


def test_grad_scale_writes_back_through_copies():
    """A gradient laid out differently from its parameter is read through a copy; the unscaled values
    still reach p.grad."""
    p = torch.randn(4, 3, requires_grad=True)
    g = torch.randn(3, 4).t()  # not p's layout
    p.grad = g.clone().t().contiguous().t()
    assert not p.grad.is_contiguous()
    expected = p.grad / 4.0
    opt = at.Adam([p])
    opt.step(grad_scale=4.0)
    assert torch.equal(p.grad, expected)


def test_grad_scale_one_is_the_plain_step():
    params = _params()
    twin = clone_params(params)
    opt, ref = at.Adam(params), at.Adam(twin)
    _set(params, _grads(params, 0))
    _set(twin, _grads(twin, 0))
    grads = [p.grad for p in params]
    opt.step(grad_scale=1.0)
    ref.step()
    assert _equal([p.detach() for p in params], [p.detach() for p in twin])
    assert all(p.grad is g for p, g in zip(params, grads))


@pytest.mark.parametrize("algorithm", ALGORITHMS)
def test_found_inf_skips_the_step(algorithm):
    params = _params()
    twin = clone_params(params)
    opt = getattr(at, algorithm)(_groups(params), **OPTIONS.get(algorithm, {}))
    ref = getattr(at, algorithm)(_groups(twin), **OPTIONS.get(algorithm, {}))
    _set(params, _grads(params, 0))
    _set(twin, _grads(twin, 0))
    opt.step()
    ref.step()
    _set(params, _grads(params, 1))
    before = _snapshot(opt, params)
    opt.step(grad_scale=8.0, found_inf=torch.tensor(1.0))
    assert opt.last_step_skipped
    assert _equal(_snapshot(opt, params), before)  # the gradients stay scaled
    _set(params, _grads(params, 2))
    _set(twin, _grads(twin, 2))
    opt.step(found_inf=0.0)
    ref.step()
    assert not opt.last_step_skipped
    assert _equal([p.detach() for p in params], [p.detach() for p in twin])


def test_gradscaler_attributes():
    """Current PyTorch's GradScaler sets `grad_scale` and `found_inf` on an optimizer with
    `_step_supports_amp_scaling` and calls step(); adamant reads them when step() is given none."""
    assert at.Adam._step_supports_amp_scaling
    params = _params()
    twin = clone_params(params)
    opt, ref = at.Adam(params), at.Adam(twin)
    _set(params, _grads(params, 0))
    _set(twin, _grads(twin, 0))
    opt.grad_scale, opt.found_inf = torch.tensor(16.0), torch.tensor(0.0)
    opt.step()
    ref.step(grad_scale=16.0)
    assert _equal([p.detach() for p in params], [p.detach() for p in twin])
    opt.found_inf = torch.tensor(1.0)
    before = _snapshot(opt, params)
    opt.step()
    assert opt.last_step_skipped and _equal(_snapshot(opt, params), before)
    del opt.grad_scale, opt.found_inf
    opt.step()
    assert not opt.last_step_skipped


def test_skip_checks_the_unscaled_gradients():
    """With a scale below 1 a finite gradient can overflow once unscaled: skip checks the quotient."""
    p = torch.zeros(5, requires_grad=True)
    opt = at.Adam([p], nonfinite="skip")
    p.grad = torch.tensor([1.0, 3e38, 0.0, 0.0, 0.0])
    opt.step(grad_scale=0.5)
    assert opt.last_step_skipped and torch.equal(p.detach(), torch.zeros(5))
    opt.step(grad_scale=2.0)
    assert not opt.last_step_skipped


@pytest.mark.parametrize("value,message", [
    (0.0, "Invalid grad_scale value: 0.0 (it must be finite and > 0)"),
    (-1.0, "Invalid grad_scale value: -1.0 (it must be finite and > 0)"),
    (INF, "Invalid grad_scale value: inf (it must be finite and > 0)"),
    (NAN, "Invalid grad_scale value: nan (it must be finite and > 0)"),
    (torch.ones(2), "grad_scale must be a number or a 1-element tensor, got a tensor of shape (2,)"),
])
def test_invalid_grad_scale(value, message):
    params = _params()
    opt = at.Adam(params)
    _set(params, _grads(params, 0))
    before = _snapshot(opt, params)
    with pytest.raises(ValueError, match=f"^{re.escape(message)}$"):
        opt.step(grad_scale=value)
    assert _equal(_snapshot(opt, params), before)
    with pytest.raises(TypeError, match="^found_inf must be a number or a 1-element tensor, got str$"):
        opt.step(found_inf="yes")
