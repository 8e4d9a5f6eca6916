"""bfloat16 and float16 parameters in adamant.torch: float32 state, rounding to nearest even, master weights,
stochastic rounding, state dicts, and groups mixing dtypes.

The references are adamant's own float32 runs (whose agreement with torch.optim the other files check) and
torch's float32 -> bfloat16/float16 conversion, which rounds to nearest even: a half-precision step must be
exactly the float32 rule applied to the widened values, then rounded.
"""

import io
import re

import pytest
import torch

import adamant.torch as at
from conftest import ALGORITHMS

HALF = [torch.bfloat16, torch.float16]
HALF_IDS = ["bfloat16", "float16"]
HALF_DTYPES = pytest.mark.parametrize("dtype", HALF, ids=HALF_IDS)

# Options under which each algorithm makes progress on the regression below in a few dozen steps.
TRAIN_OPTIONS = {
    "Adam": dict(lr=0.05), "AdamW": dict(lr=0.05), "Adamax": dict(lr=0.05), "NAdam": dict(lr=0.05),
    "RAdam": dict(lr=0.05), "Adagrad": dict(lr=0.2), "RMSprop": dict(lr=0.01),
    "Adadelta": dict(lr=1.0, eps=1e-3), "SGD": dict(lr=0.02, momentum=0.9), "Lion": dict(lr=0.05),
}

# Options exercising the optional paths (weight decay, amsgrad, momentum, centered, nesterov).
BITWISE_OPTIONS = {
    "Adam": dict(lr=1e-2, weight_decay=0.05, amsgrad=True),
    "NAdam": dict(lr=1e-2, weight_decay=0.01, decoupled_weight_decay=True),
    "RMSprop": dict(lr=1e-2, momentum=0.9, centered=True, weight_decay=0.01),
    "SGD": dict(lr=5e-2, momentum=0.9, nesterov=True, weight_decay=0.01),
}


def bits(t):
    """The bit patterns of `t` as integers (same strides), for exact comparisons (NaN == NaN, -0 != 0)."""
    return t.view({2: torch.int16, 4: torch.int32, 8: torch.int64}[t.element_size()])


def assert_bitwise(actual, expected, what):
    assert actual.dtype == expected.dtype, f"{what}: dtype {actual.dtype} != {expected.dtype}"
    assert actual.shape == expected.shape, what
    same = bits(actual.detach()) == bits(expected.detach())
    assert bool(same.all()), (f"{what}: {int((~same).sum())} of {same.numel()} elements differ, e.g. "
                              f"{actual.detach()[~same][:4].tolist()} vs {expected.detach()[~same][:4].tolist()}")


def copy_as(p, dtype):
    """A leaf of `dtype` with p's values (converted by torch: nearest even) and strides."""
    out = torch.empty_strided(p.shape, p.stride(), dtype=dtype)
    out.copy_(p.detach())
    return out.requires_grad_()


def half_params(dtype, gen):
    """A contiguous matrix, a transposed one (dense, not contiguous), a vector and a 0-d tensor."""
    shapes = [(31, 17), (5,), ()]
    params = [(torch.randn(s, generator=gen) * 2) for s in shapes]
    params.insert(1, torch.randn(9, 13, generator=gen).t())
    return [copy_as(p, dtype) for p in params]


def half_grads(params, steps, gen):
    """Per step, gradients of each parameter's dtype with magnitudes from 1e-3 to 10."""
    out = []
    for _ in range(steps):
        row = []
        for p in params:
            scale = 10.0 ** (torch.rand((), generator=gen).item() * 4 - 3)
            row.append((torch.randn(p.shape, generator=gen) * scale).to(p.dtype))
        out.append(row)
    return out


# ---------------------------------------------------------------------------------------------------
# Training, state dtypes.


@pytest.mark.parametrize("master_weights", [False, True], ids=["rounded", "master"])
@HALF_DTYPES
@pytest.mark.parametrize("algorithm", ALGORITHMS)
def test_half_precision_trains(algorithm, dtype, master_weights):
    """A least-squares fit in bfloat16/float16 parameters: the loss falls; the state is float32."""
    gen = torch.Generator().manual_seed(1)
    x = torch.randn(64, 8, generator=gen)
    y = x @ torch.randn(8, 1, generator=gen) + 0.5
    w = torch.zeros(8, 1, dtype=dtype, requires_grad=True)
    b = torch.zeros(1, dtype=dtype, requires_grad=True)
    opt = getattr(at, algorithm)([w, b], master_weights=master_weights, **TRAIN_OPTIONS[algorithm])

    def loss_fn():
        return torch.nn.functional.mse_loss(x @ w.float() + b.float(), y)  # computed in float32

    first = loss_fn().item()
    for _ in range(40):
        opt.zero_grad()
        loss = loss_fn()
        loss.backward()
        assert w.grad.dtype == dtype
        opt.step()
    last = loss_fn().item()
    assert last < 0.5 * first, f"{algorithm} {dtype}: loss {first} -> {last}"
    for p in (w, b):
        assert p.dtype == dtype
        state = opt.state[p]
        assert ("master_param" in state) == master_weights
        for key, value in state.items():
            if key == "mu_product":
                assert value.dtype == torch.float64
            elif isinstance(value, torch.Tensor):
                assert value.dtype == torch.float32, (key, value.dtype)
                if key != "step":
                    assert value.shape == p.shape and value.stride() == p.stride(), key


# ---------------------------------------------------------------------------------------------------
# Bitwise: a half-precision step is the float32 step from the widened values, rounded to nearest even.


def _one_float32_step(algorithm, options, p, g, state_before):
    """adamant's float32 rule, one step, from p and g widened and the given (float32) state."""
    q = copy_as(p, torch.float32)
    q.grad = g.float()
    ref = getattr(at, algorithm)([q], **options)
    ref.state[q] = {k: v.clone() for k, v in state_before.items()}
    ref.step()
    return q.detach(), ref.state[q]


@HALF_DTYPES
@pytest.mark.parametrize("algorithm", list(BITWISE_OPTIONS))
def test_step_is_the_float32_rule_rounded_to_nearest_even(algorithm, dtype):
    options = BITWISE_OPTIONS[algorithm]
    gen = torch.Generator().manual_seed(2)
    params = half_params(dtype, gen)
    init = [p.detach().clone() for p in params]
    opt = getattr(at, algorithm)(params, **options)
    for step, row in enumerate(half_grads(params, 12, gen)):
        before = [(p.detach().clone(), {k: v.clone() for k, v in opt.state[p].items()}) for p in params]
        for p, g in zip(params, row):
            p.grad = g
        opt.step()
        for i, (p, g, (p0, s0)) in enumerate(zip(params, row, before)):
            q, ref_state = _one_float32_step(algorithm, options, p0, g, s0)
            what = f"{algorithm} {dtype} step {step + 1} param {i}"
            assert_bitwise(p, q.to(dtype), what)  # torch's conversion: nearest even
            state = opt.state[p]
            assert state.keys() == ref_state.keys(), what
            for key, value in ref_state.items():
                if key == "step":
                    assert state[key].item() == value.item()
                else:
                    assert_bitwise(state[key], value, f"{what}: {key}")
    moved = sum(int((bits(p.detach()) != bits(p0)).sum()) for p, p0 in zip(params, init))
    assert moved > 0.75 * sum(p.numel() for p in params)  # the comparison is not vacuous


# ---------------------------------------------------------------------------------------------------
# Master weights.


@HALF_DTYPES
@pytest.mark.parametrize("algorithm", ["Adam", "NAdam", "Adagrad", "SGD"])
def test_master_weights_follow_the_float32_trajectory(algorithm, dtype):
    """state['master_param'] is, bit for bit, a float32 parameter started from the widened half values and
    given the widened half gradients; the half parameter is its rounding to nearest even at every step."""
    options = BITWISE_OPTIONS.get(algorithm, dict(lr=0.1, lr_decay=0.01, weight_decay=0.01))
    gen = torch.Generator().manual_seed(3)
    params = half_params(dtype, gen)
    floats = [copy_as(p, torch.float32) for p in params]
    opt = getattr(at, algorithm)(params, master_weights=True, **options)
    ref = getattr(at, algorithm)(floats, **options)
    lo_bits_seen = False
    for step, row in enumerate(half_grads(params, 15, gen)):
        for p, q, g in zip(params, floats, row):
            p.grad = g
            q.grad = g.float()
        opt.step()
        ref.step()
        for i, (p, q) in enumerate(zip(params, floats)):
            what = f"{algorithm} {dtype} step {step + 1} param {i}"
            master = opt.state[p]["master_param"]
            assert master.dtype == torch.float32 and master.stride() == p.stride(), what
            assert_bitwise(master, q, f"{what}: master")
            assert_bitwise(p, q.to(dtype), f"{what}: param")
            for key, value in ref.state[q].items():
                if isinstance(value, torch.Tensor) and value.dim():
                    assert_bitwise(opt.state[p][key], value, f"{what}: {key}")
            # The master copy holds bits the half parameter cannot (else the test would not tell them apart).
            lo_bits_seen |= bool((master != p.float()).any())
    assert lo_bits_seen


def test_master_weights_switched_off_and_on():
    p = torch.full((6,), 1.0, dtype=torch.bfloat16, requires_grad=True)
    opt = at.SGD([p], lr=1e-3, master_weights=True)
    p.grad = torch.full((6,), -1.0, dtype=torch.bfloat16)
    opt.step()
    master = opt.state[p]["master_param"]
    assert torch.equal(master, torch.full((6,), 1.0) + torch.tensor(1e-3))  # 1 + 1e-3 in float32
    assert torch.equal(p.detach(), torch.ones(6, dtype=torch.bfloat16))  # 1.001 rounds back to 1 in bfloat16
    opt.param_groups[0]["master_weights"] = False
    opt.step()
    assert "master_param" not in opt.state[p]  # dropped: would be stale once the parameter moves alone
    opt.param_groups[0]["master_weights"] = True
    with torch.no_grad():
        p.fill_(2.0)
    opt.step()
    assert torch.equal(opt.state[p]["master_param"], torch.full((6,), 2.0) + torch.tensor(1e-3))  # a fresh copy


def test_float_params_ignore_the_precision_options():
    """float32 and float64 parameters: no master copy, no stochastic rounding, the plain trajectory."""
    gen = torch.Generator().manual_seed(4)
    for dtype in (torch.float32, torch.float64):
        init = [torch.randn(40, 3, dtype=dtype, generator=gen)]
        grads = [torch.randn(40, 3, dtype=dtype, generator=gen) for _ in range(5)]
        plain, mixed = [copy_as(init[0], dtype)], [copy_as(init[0], dtype)]
        a = at.Adam(plain, lr=1e-2)
        b = at.Adam(mixed, lr=1e-2, master_weights=True, stochastic_rounding=True, seed=7)
        for g in grads:
            plain[0].grad, mixed[0].grad = g.clone(), g.clone()
            a.step()
            b.step()
        assert_bitwise(mixed[0], plain[0], str(dtype))
        assert "master_param" not in b.state[mixed[0]]


# ---------------------------------------------------------------------------------------------------
# Stochastic rounding.


def _stochastic_run(seed, steps=20, rounding=True, algorithm="Adam"):
    gen = torch.Generator().manual_seed(5)
    params = half_params(torch.bfloat16, gen)
    opt = getattr(at, algorithm)(params, lr=1e-3, stochastic_rounding=rounding, seed=seed)
    for row in half_grads(params, steps, gen):
        for p, g in zip(params, row):
            p.grad = g
        opt.step()
    return [p.detach() for p in params]


@pytest.mark.parametrize("algorithm", ["Adam", "SGD"])
def test_stochastic_rounding_is_reproducible(algorithm):
    a = _stochastic_run(11, algorithm=algorithm)
    b = _stochastic_run(11, algorithm=algorithm)
    c = _stochastic_run(12, algorithm=algorithm)
    nearest = _stochastic_run(11, rounding=False, algorithm=algorithm)
    for x, y in zip(a, b):
        assert_bitwise(x, y, "same seed")
    assert any(not torch.equal(x, z) for x, z in zip(a, c)), "another seed gave the same run"
    assert any(not torch.equal(x, z) for x, z in zip(a, nearest)), "stochastic rounding rounded to nearest"


def test_seed_accepts_any_int():
    """Seeds are taken modulo 2^64 (negative and huge ints are fine); -1 and 2^64 - 1 are the same seed."""
    a = _stochastic_run(-1, steps=3)
    b = _stochastic_run(2**64 - 1, steps=3)
    c = _stochastic_run(2**70 + 5, steps=3)
    for x, y in zip(a, b):
        assert_bitwise(x, y, "seed -1 vs 2^64 - 1")
    assert all(torch.isfinite(x.float()).all() for x in c)


# (dtype, per-step update): well below half the spacing at 1.5 (bfloat16: 2^-7; float16: 2^-10).
TINY = [(torch.bfloat16, 1e-4), (torch.float16, 1e-5)]


@pytest.mark.parametrize("dtype,delta", TINY, ids=HALF_IDS)
@pytest.mark.parametrize("algorithm", ["SGD", "Adam"])
def test_stochastic_rounding_moves_where_nearest_is_stuck(algorithm, dtype, delta):
    """Updates far below half the spacing: rounding to nearest never moves the parameter; stochastic
    rounding moves it up with probability delta / spacing per step, so that after N steps its mean has
    moved by N·delta, and with fresh random bits at each step (SGD has no step count: the optimizer's step
    counter keys it) ever more elements have moved."""
    n, steps = 4096, 60
    results = {}
    for rounding in (False, True):
        p = torch.full((n,), 1.5, dtype=dtype, requires_grad=True)
        opt = getattr(at, algorithm)([p], lr=delta, stochastic_rounding=rounding, seed=3)
        moved_after = []
        for _ in range(steps):
            p.grad = torch.full((n,), -1.0, dtype=dtype)  # Adam: a constant gradient steps by ~lr
            opt.step()
            moved_after.append(int((p.detach() != 1.5).sum()))
        results[rounding] = (p.detach().double() - 1.5, moved_after)
    stuck, _ = results[False]
    assert torch.equal(stuck, torch.zeros(n, dtype=torch.float64)), "nearest rounding moved"
    displacement, moved_after = results[True]
    expected = steps * delta
    assert abs(displacement.mean().item() - expected) < 0.1 * expected, (displacement.mean().item(), expected)
    assert (displacement >= 0).all()
    # Fresh bits each step: the first step moves ~delta/spacing of the elements (1.3% or 1%), sixty steps
    # about half of them. Reusing the first step's bits would move the same few elements again and again.
    assert moved_after[0] < 0.03 * n and moved_after[-1] > 10 * max(moved_after[0], 1), moved_after[::10]


def test_groups_draw_different_bits():
    """Two groups with the same seed, values and gradients still round independently (the group index is
    mixed into the seed; each group is a separate call, whose tensors restart at position 0)."""
    a = torch.full((2048,), 1.5, dtype=torch.bfloat16, requires_grad=True)
    b = torch.full((2048,), 1.5, dtype=torch.bfloat16, requires_grad=True)
    opt = at.SGD([{"params": [a]}, {"params": [b]}], lr=2e-3, stochastic_rounding=True, seed=0)
    a.grad = torch.full((2048,), -1.0, dtype=torch.bfloat16)
    b.grad = a.grad.clone()
    opt.step()
    assert 0 < int((a.detach() != 1.5).sum()) < 2048
    assert not torch.equal(a.detach(), b.detach())


def test_stochastic_resume_repeats_the_uninterrupted_run():
    """The optimizer's step count is saved (state_dict()['adamant_step_count']) and restored, so that a
    resumed stochastic run draws the same bits: here SGD without momentum, which has no other state."""
    gen = torch.Generator().manual_seed(6)
    params = half_params(torch.bfloat16, gen)
    grads = half_grads(params, 10, gen)

    def make(ps):
        return at.SGD([{"params": ps[:2]}, {"params": ps[2:], "seed": 99}], lr=1e-3, stochastic_rounding=True, seed=5)

    opt = make(params)
    for row in grads[:5]:
        for p, g in zip(params, row):
            p.grad = g
        opt.step()
    saved = opt.state_dict()
    assert saved["adamant_step_count"] == 5
    resumed_params = [copy_as(p, p.dtype) for p in params]
    resumed = make(resumed_params)
    resumed.load_state_dict(_through_torch_save(saved))
    fresh_params = [copy_as(p, p.dtype) for p in params]
    fresh = make(fresh_params)  # the same values, but at step count 0
    for row in grads[5:]:
        for ps, o in ((params, opt), (resumed_params, resumed), (fresh_params, fresh)):
            for p, g in zip(ps, row):
                p.grad = g
            o.step()
    for i, (p, r) in enumerate(zip(params, resumed_params)):
        assert_bitwise(r, p, f"param {i}")
    assert any(not torch.equal(p, f) for p, f in zip(params, fresh_params))


# ---------------------------------------------------------------------------------------------------
# State dicts.


def _through_torch_save(state_dict):
    buffer = io.BytesIO()
    torch.save(state_dict, buffer)
    buffer.seek(0)
    return torch.load(buffer)


@pytest.mark.parametrize("algorithm", ["Adam", "NAdam", "RMSprop", "SGD"])
def test_master_weights_state_dict_round_trip(algorithm):
    """save -> load into a fresh optimizer -> continue: bitwise the uninterrupted run. torch's
    load_state_dict casts floating state to the parameter's dtype (bfloat16 here); adamant restores the
    float32 state and master copies from the state dict."""
    options = BITWISE_OPTIONS[algorithm]
    gen = torch.Generator().manual_seed(7)
    params = half_params(torch.bfloat16, gen)
    grads = half_grads(params, 12, gen)
    opt = getattr(at, algorithm)(params, master_weights=True, **options)
    for row in grads[:6]:
        for p, g in zip(params, row):
            p.grad = g
        opt.step()
    saved = _through_torch_save(opt.state_dict())
    assert all(s["master_param"].dtype == torch.float32 for s in saved["state"].values())

    resumed_params = [copy_as(p, p.dtype) for p in params]
    resumed = getattr(at, algorithm)(resumed_params, master_weights=True, **options)
    resumed.load_state_dict(saved)
    for p in resumed_params:
        for key, value in resumed.state[p].items():
            if isinstance(value, torch.Tensor) and value.dim():
                assert value.dtype == torch.float32, (key, value.dtype)
    for row in grads[6:]:
        for ps, o in ((params, opt), (resumed_params, resumed)):
            for p, g in zip(ps, row):
                p.grad = g
            o.step()
    for i, (p, r) in enumerate(zip(params, resumed_params)):
        assert_bitwise(r, p, f"{algorithm} param {i}")
        for key, value in opt.state[p].items():
            if key == "step":
                assert resumed.state[r][key].item() == value.item()
            elif key == "mu_product":
                assert resumed.state[r][key].dtype == torch.float64 and resumed.state[r][key].item() == value.item()
            else:
                assert_bitwise(resumed.state[r][key], value, f"{algorithm} param {i}: {key}")


def test_half_state_is_widened_once():
    """bfloat16 state (torch.optim's, or set by hand) is converted to float32 on the next step and stored
    back; the step then uses the converted values."""
    p = torch.randn(4, 5).to(torch.bfloat16).requires_grad_()
    source = torch.optim.Adam([p], lr=1e-2, foreach=False)  # torch keeps bfloat16 state
    for _ in range(3):
        p.grad = torch.randn(4, 5).to(torch.bfloat16)
        source.step()
    saved = source.state_dict()
    assert saved["state"][0]["exp_avg"].dtype == torch.bfloat16
    opt = at.Adam([p], lr=1e-2)
    opt.load_state_dict(saved)
    state = opt.state[p]
    assert state["exp_avg"].dtype == torch.float32  # restored as float32 from the state dict
    state["exp_avg_sq"] = state["exp_avg_sq"].to(torch.bfloat16)  # as if set by hand
    expected_avg_sq = state["exp_avg_sq"].float()
    p.grad = torch.zeros(4, 5, dtype=torch.bfloat16)
    opt.step()
    assert state["exp_avg_sq"].dtype == torch.float32 and state["step"].item() == 4
    assert torch.equal(state["exp_avg_sq"], expected_avg_sq * 0.999)  # v = 0.999 v + 0.001 * 0²
    converted = state["exp_avg_sq"]
    opt.step()
    assert opt.state[p]["exp_avg_sq"] is converted  # converted once, then used in place


def test_float64_and_float32_state_keep_their_dtype_on_load():
    """The restore applies to half-precision parameters only: float32/float64 parameters load as torch does."""
    p32 = torch.randn(3, requires_grad=True)
    p64 = torch.randn(3, dtype=torch.float64, requires_grad=True)
    opt = at.Adam([p32, p64])
    p32.grad, p64.grad = torch.ones(3), torch.ones(3, dtype=torch.float64)
    opt.step()
    saved = opt.state_dict()
    saved["state"][0]["exp_avg"] = saved["state"][0]["exp_avg"].double()
    saved["state"][1]["exp_avg"] = saved["state"][1]["exp_avg"].float()
    opt.load_state_dict(saved)
    assert opt.state[p32]["exp_avg"].dtype == torch.float32
    assert opt.state[p64]["exp_avg"].dtype == torch.float64


# ---------------------------------------------------------------------------------------------------
# Mixed dtypes in one group, errors.


def test_mixed_dtypes_in_one_group():
    """float32, bfloat16 and float64 parameters in one group, with master weights: each follows its own
    dtype's trajectory (float32/float64 exactly as alone, bfloat16 as its master copy's rounding)."""
    gen = torch.Generator().manual_seed(8)
    base = [torch.randn(7, 5, generator=gen), torch.randn(11, generator=gen), torch.randn(3, 4, generator=gen)]
    dtypes = [torch.float32, torch.bfloat16, torch.float64]
    params = [copy_as(b, d) for b, d in zip(base, dtypes)]
    alone = [copy_as(p, p.dtype if p.dtype is not torch.bfloat16 else torch.float32) for p in params]
    options = dict(lr=1e-2, weight_decay=0.01)
    opt = at.AdamW(params, master_weights=True, **options)
    refs = [at.AdamW([q], **options) for q in alone]
    for step in range(10):
        for p, q in zip(params, alone):
            g = torch.randn(p.shape, generator=gen).to(p.dtype)
            p.grad, q.grad = g, g.to(q.dtype)
        opt.step()
        for r in refs:
            r.step()
        for p, q, d in zip(params, alone, dtypes):
            what = f"{d} step {step + 1}"
            if d is torch.bfloat16:
                assert_bitwise(opt.state[p]["master_param"], q, what)
                assert_bitwise(p, q.to(d), what)
            else:
                assert_bitwise(p, q, what)
                assert "master_param" not in opt.state[p]
    state_dtypes = {d: opt.state[p]["exp_avg"].dtype for p, d in zip(params, dtypes)}
    assert state_dtypes == {torch.float32: torch.float32, torch.bfloat16: torch.float32, torch.float64: torch.float64}


BAD_OPTIONS = [
    ("master_weights", "yes", "master_weights must be a bool, got str"),
    ("master_weights", 1, "master_weights must be a bool, got int"),
    ("stochastic_rounding", None, "stochastic_rounding must be a bool, got NoneType"),
    ("seed", 1.5, "seed must be an int, got float"),
    ("seed", True, "seed must be an int, got bool"),
    ("seed", "0", "seed must be an int, got str"),
]


@pytest.mark.parametrize("algorithm", ["Adam", "SGD", "RMSprop"])
@pytest.mark.parametrize("key,value,message", BAD_OPTIONS, ids=[f"{k}-{v!r}" for k, v, _ in BAD_OPTIONS])
def test_precision_option_types(algorithm, key, value, message):
    cls = getattr(at, algorithm)
    p = torch.zeros(3, dtype=torch.bfloat16, requires_grad=True)
    with pytest.raises(TypeError, match=f"^{message}$"):
        cls([p], **{key: value})
    opt = cls([p])
    with pytest.raises(TypeError, match=f"^{message}$"):
        opt.add_param_group({"params": [torch.zeros(2, requires_grad=True)], key: value})
    opt.param_groups[0][key] = value  # edited before a step: refused before anything changes
    p.grad = torch.ones(3, dtype=torch.bfloat16)
    with pytest.raises(TypeError, match=f"^{message}$"):
        opt.step()
    assert torch.equal(p.detach(), torch.zeros(3, dtype=torch.bfloat16)) and not opt.state.get(p)


@HALF_DTYPES
def test_grad_must_have_the_param_dtype(dtype):
    p = torch.zeros(3, requires_grad=True)
    p.grad = torch.ones(3)
    p.data = torch.zeros(3, dtype=dtype)  # torch checks the gradient's dtype on assignment only
    opt = at.Adam([p])
    message = (f"adamant.torch.Adam: the gradient of parameter 0 of param group 0 (shape (3,)) has dtype "
               f"torch.float32, but the parameter has dtype {dtype}")
    with pytest.raises(TypeError, match=f"^{re.escape(message)}$"):
        opt.step()
    assert torch.equal(p.detach(), torch.zeros(3, dtype=dtype))


def test_signature_has_the_precision_options():
    import inspect
    for algorithm in ALGORITHMS:
        params = inspect.signature(getattr(at, algorithm)).parameters
        for name, default in (("master_weights", False), ("stochastic_rounding", False), ("seed", 0)):
            assert params[name].default == default and params[name].kind is inspect.Parameter.KEYWORD_ONLY
        opt = getattr(at, algorithm)([torch.zeros(1, requires_grad=True)], master_weights=True, seed=3)
        assert opt.param_groups[0]["master_weights"] is True and opt.param_groups[0]["seed"] == 3
        assert opt.param_groups[0]["stochastic_rounding"] is False


def test_extension_tuples():
    """adamant._adamant directly: the dtype names, the master pointer last in each tuple, the precision
    read from the group dict."""
    from adamant import _adamant
    g = torch.full((4,), -1.0, dtype=torch.bfloat16)
    for name in ("bfloat16", "torch.bfloat16"):
        p = torch.ones(4, dtype=torch.bfloat16)
        master = p.float()
        _adamant.sgd({"lr": 1e-3}, [(p.data_ptr(), g.data_ptr(), 4, name, 0, False, master.data_ptr())])
        assert torch.equal(master, torch.ones(4) + torch.tensor(1e-3)) and torch.equal(p, torch.ones(4, dtype=p.dtype))
    p = torch.ones(4, dtype=torch.float16)
    ones = torch.ones(4, dtype=torch.float16)
    _adamant.sgd({"lr": 1.0}, [(p.data_ptr(), ones.data_ptr(), 4, "torch.float16", 0, False, 0)])
    assert torch.equal(p, torch.zeros(4, dtype=torch.float16))  # p - 1·1
    # A gradient aliasing its parameter is refused by the C++ functional layer too.
    with pytest.raises(ValueError, match=re.escape("sgd: tensor 0: param data and grad overlap in memory (the same "
                                                   "pointer): each must be a buffer of its own")):
        _adamant.sgd({"lr": 1.0}, [(ones.data_ptr(), ones.data_ptr(), 4, "float16", 0, False, 0)])
    assert torch.equal(ones, torch.ones(4, dtype=torch.float16))
    item = (p.data_ptr(), p.data_ptr(), 4, "float16", 0, False)
    with pytest.raises(ValueError, match=re.escape("expected a tuple (param, grad, numel, dtype, momentum_buffer, "
                                                   "momentum_buffer_initialized, master), got 6 items")):
        _adamant.sgd({"lr": 1.0}, [item])
    with pytest.raises(TypeError, match="^seed must be an int, got float$"):
        _adamant.sgd({"lr": 1.0, "stochastic_rounding": True, "seed": 1.0}, [item + (0,)])
    q = torch.ones(4)
    with pytest.raises(ValueError, match="master weights are for bfloat16 and float16 parameters, not float32"):
        _adamant.sgd({"lr": 1.0}, [(q.data_ptr(), q.data_ptr(), 4, "float32", 0, False, q.data_ptr())])
    assert torch.equal(q, torch.ones(4))


def test_stream_seed_is_the_cpp_optimizers_formula():
    """The drop-ins' stochastic-rounding seed is the C++ optimizers' (adamant::StreamSeed): splitmix64's
    finalizer of seed ^ mix(steps ^ mix(group)), so a seeded run draws the same bits in either front end
    and in every version."""
    from adamant.torch._base import stream_seed

    mask = (1 << 64) - 1

    def mix(x):
        x = (x + 0x9E3779B97F4A7C15) & mask
        x = ((x ^ (x >> 30)) * 0xBF58476D1CE4E5B9) & mask
        x = ((x ^ (x >> 27)) * 0x94D049BB133111EB) & mask
        return x ^ (x >> 31)

    for seed, steps, group in [(0, 0, 0), (1234, 7, 2), (mask, 1 << 40, 5), (-1, 3, 1)]:
        assert stream_seed(seed, steps, group) == mix((seed & mask) ^ mix(steps ^ mix(group)))
