"""state_dtype: bfloat16 optimizer state in the drop-ins. Each step equals the float32 step taken from the
same (widened) state, with the new state rounded to nearest even as tensor.to(torch.bfloat16) rounds."""

import pytest
import torch

import adamant.torch as at
from conftest import ALGORITHMS, steps_from_the_values_held

# Options under which each algorithm keeps every buffer it has.
FULL = {"Adam": {"amsgrad": True, "weight_decay": 0.01}, "AdamW": {}, "Adamax": {}, "NAdam": {}, "RAdam": {},
        "Adagrad": {"initial_accumulator_value": 0.1}, "RMSprop": {"momentum": 0.9, "centered": True},
        "Adadelta": {}, "SGD": {"lr": 0.1, "momentum": 0.9, "nesterov": True}, "Lion": {}}


def _params(dtype, seed=0):
    torch.manual_seed(seed)
    return [torch.nn.Parameter(torch.randn(300, dtype=torch.float32).to(dtype)),
            torch.nn.Parameter(torch.randn(7, 5, dtype=torch.float32).to(dtype))]


def _grads(params, step):
    g = torch.Generator().manual_seed(100 + step)
    for p in params:
        p.grad = torch.randn(p.shape, generator=g).to(p.dtype)


def _widened(state):
    return {k: (v.float() if isinstance(v, torch.Tensor) and v.dtype is torch.bfloat16 else v.clone())
            for k, v in state.items()}


@pytest.mark.parametrize("dtype", [torch.float32, torch.bfloat16, torch.float16])
@pytest.mark.parametrize("algorithm", ALGORITHMS)
def test_bfloat16_state_is_the_float32_step_rounded(algorithm, dtype):
    cls = getattr(at, algorithm)
    params, ref_params = _params(dtype), _params(dtype)
    opt = cls(params, state_dtype="bfloat16", **FULL[algorithm])
    ref = cls(ref_params, **FULL[algorithm])
    for step in steps_from_the_values_held(opt, ref, params, ref_params, _grads, _widened):
        for p, q in zip(params, ref_params):
            assert torch.equal(p.detach().view(torch.int16 if dtype is not torch.float32 else torch.int32),
                               q.detach().view(torch.int16 if dtype is not torch.float32 else torch.int32))
            for name, value in opt.state[p].items():
                if not isinstance(value, torch.Tensor) or value.dim() == 0:
                    continue
                assert value.dtype is torch.bfloat16, name
                expected = ref.state[q][name].to(torch.bfloat16)
                assert torch.equal(value.view(torch.int16), expected.view(torch.int16)), (name, step)


def test_state_dtype_per_buffer_and_what_keeps_its_own():
    w = torch.nn.Parameter(torch.randn(10))
    d = torch.nn.Parameter(torch.randn(4, dtype=torch.float64))
    c = torch.nn.Parameter(torch.randn(3, dtype=torch.complex64))
    opt = at.Adam([w, d, c], state_dtype={"exp_avg_sq": "bfloat16"})
    for p in (w, d, c):
        p.grad = torch.ones_like(p)
    opt.step()
    assert opt.state[w]["exp_avg"].dtype is torch.float32
    assert opt.state[w]["exp_avg_sq"].dtype is torch.bfloat16
    # float64 and complex parameters keep their own state dtype.
    assert opt.state[d]["exp_avg_sq"].dtype is torch.float64
    assert opt.state[c]["exp_avg_sq"].dtype is torch.complex64
    assert opt.defaults["state_dtype"] == {"exp_avg_sq": "bfloat16"}
    assert at.SGD([w]).defaults["state_dtype"] == "float32"


@pytest.mark.parametrize("value, error, message", [
    ("int4", ValueError, r"^Invalid state_dtype: 'int4' \(expected 'float32', 'bfloat16', 'bfloat16_stochastic' or "
                         r"'int8', or a dict of them by state name\)$"),
    ("float64", ValueError, r"^Invalid state_dtype: 'float64'"),
    ({"exp_inf": "bfloat16"}, ValueError, r"^Invalid state_dtype: 'exp_inf' is not state of adamant.torch.Adam "
                                          r"\(its state: exp_avg, exp_avg_sq, max_exp_avg_sq\)$"),
    ({"exp_avg": "bf16"}, ValueError, r"^Invalid state_dtype: 'bf16' for 'exp_avg'"),
    (torch.bfloat16, TypeError, r"^state_dtype must be a str or a dict, got dtype$"),
])
def test_invalid_state_dtype(value, error, message):
    with pytest.raises(error, match=message):
        at.Adam([torch.nn.Parameter(torch.zeros(2))], state_dtype=value)


def test_a_group_changed_by_hand_is_checked_before_anything_changes():
    p = torch.nn.Parameter(torch.zeros(3))
    p.grad = torch.ones(3)
    opt = at.Adam([p])
    opt.param_groups[0]["state_dtype"] = "int4"
    with pytest.raises(ValueError, match="^Invalid state_dtype: 'int4'"):
        opt.step()
    assert not opt.state[p] and torch.equal(p.detach(), torch.zeros(3))


def test_state_dicts_both_ways():
    params, again = _params(torch.float32), _params(torch.float32)
    opt = at.AdamW(params, state_dtype="bfloat16")
    _grads(params, 1)
    opt.step()
    saved = opt.state_dict()
    assert saved["state"][0]["exp_avg"].dtype is torch.bfloat16
    resumed = at.AdamW(again, state_dtype="bfloat16")
    resumed.load_state_dict(saved)
    for p, q in zip(params, again):
        q.data.copy_(p.data)
    for step in (2, 3):
        _grads(params, step)
        _grads(again, step)
        opt.step()
        resumed.step()
    for p, q in zip(params, again):
        assert torch.equal(p, q)
        assert torch.equal(opt.state[p]["exp_avg_sq"].view(torch.int16), resumed.state[q]["exp_avg_sq"].view(torch.int16))

    # A full-precision state dict (torch.optim's) loads into a bfloat16 group, which rounds it at its next
    # step, and a bfloat16 state dict into torch.optim, which keeps the state at the parameter's dtype.
    ps, qs = _params(torch.float32), _params(torch.float32)
    reference = torch.optim.AdamW(ps)
    _grads(ps, 1)
    reference.step()
    lean = at.AdamW(qs, state_dtype="bfloat16")
    lean.load_state_dict(reference.state_dict())
    for p, q in zip(ps, qs):
        q.data.copy_(p.data)
    _grads(qs, 2)
    lean.step()
    assert all(lean.state[q]["exp_avg"].dtype is torch.bfloat16 for q in qs)
    back = torch.optim.AdamW(_params(torch.float32))
    back.load_state_dict(lean.state_dict())
    assert all(s["exp_avg"].dtype is torch.float32 for s in back.state.values())


def test_switching_a_group_to_bfloat16_converts_its_state_at_the_next_step():
    # Unlike the C++ optimizers, which refuse a buffer of another dtype, the drop-ins convert state tensors
    # that do not fit (as they convert a loaded state dict's): the float32 state is rounded, then stepped.
    p = torch.nn.Parameter(torch.randn(50))
    q = torch.nn.Parameter(p.detach().clone())
    opt, ref = at.Adam([p]), at.Adam([q])
    _grads([p], 1)
    _grads([q], 1)
    opt.step()
    ref.step()
    opt.param_groups[0]["state_dtype"] = "bfloat16"
    ref.state[q] = {k: (v.to(torch.bfloat16).float() if v.dim() else v.clone()) for k, v in opt.state[p].items()}
    _grads([p], 2)
    _grads([q], 2)
    opt.step()
    ref.step()
    assert torch.equal(p, q)
    assert opt.state[p]["exp_avg"].dtype is torch.bfloat16
    assert torch.equal(opt.state[p]["exp_avg"], ref.state[q]["exp_avg"].to(torch.bfloat16))


@pytest.mark.parametrize("algorithm", ["Adam", "SGD", "Lion"])
def test_stochastic_rounding_of_the_state(algorithm):
    # Each stored value is a bfloat16 neighbour of the float32 state the same step gives; a run is
    # reproducible for a seed (SGD, which keeps no step, draws new bits each step from the optimizer's count).
    def run(seed):
        params, ref_params = _params(torch.float32), _params(torch.float32)
        opt = getattr(at, algorithm)(params, state_dtype="bfloat16_stochastic", seed=seed, **FULL[algorithm])
        ref = getattr(at, algorithm)(ref_params, **FULL[algorithm])
        states = []
        for step in range(1, 4):
            _grads(params, step)
            _grads(ref_params, step)
            for p, q in zip(params, ref_params):
                if p in opt.state:
                    ref.state[q] = _widened(opt.state[p])
            opt.step()
            ref.step()
            for p, q in zip(params, ref_params):
                assert torch.equal(p, q)
                for name, value in opt.state[p].items():
                    if not isinstance(value, torch.Tensor) or value.dim() == 0:
                        continue
                    bits = ref.state[q][name].view(torch.int32)
                    down = torch.bitwise_right_shift(bits, 16).to(torch.int16)
                    got = value.view(torch.int16)
                    exact = torch.bitwise_and(bits, 0xFFFF) == 0
                    assert torch.all(torch.where(exact, got == down, (got == down) | (got == down + 1))), name
                    states.append(got.clone())
        return states

    a, b, c = run(1), run(1), run(2)
    assert all(torch.equal(x, y) for x, y in zip(a, b))
    assert not all(torch.equal(x, y) for x, y in zip(a, c))


def test_state_nbytes_counts_what_is_held():
    w = torch.nn.Parameter(torch.randn(100))
    h = torch.nn.Parameter(torch.randn(10).to(torch.bfloat16))
    for state_dtype, per_element in (("float32", 8), ("bfloat16", 4), ({"exp_avg": "bfloat16"}, 6)):
        opt = at.Adam([w, h], state_dtype=state_dtype, master_weights=True)
        assert opt.state_nbytes() == 0
        w.grad, h.grad = torch.ones_like(w), torch.ones_like(h)
        opt.step()
        # 110 elements of state per buffer pair, and h's float32 master copy (40 bytes).
        assert opt.state_nbytes() == 110 * per_element + 40, state_dtype
