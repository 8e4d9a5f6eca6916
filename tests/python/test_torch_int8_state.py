"""state_dtype="int8": block-wise 8-bit optimizer state in the drop-ins (docs/algorithms.md, "int8 state").
Each step equals the float32 step taken from the dequantized state, with the new state quantized block by
block (the C++ tests check that quantization against the spec line by line); the state dict holds uint8
codes under PyTorch's names and float32 block maxima under "<name>_absmax"; full-precision state dicts load
both ways."""

import pytest
import torch

import adamant.torch as at
from adamant.torch import _base
from conftest import ALGORITHMS, steps_from_the_values_held

# Options under which each algorithm keeps every buffer int8 state can (centered RMSprop refuses it).
FULL = {"Adam": {"amsgrad": True, "weight_decay": 0.01}, "AdamW": {}, "Adamax": {}, "NAdam": {}, "RAdam": {},
        "Adagrad": {"initial_accumulator_value": 0.1}, "RMSprop": {"momentum": 0.9}, "Adadelta": {},
        "SGD": {"lr": 0.1, "momentum": 0.9, "nesterov": True}, "Lion": {}}


def _params(dtype, seed=0):
    torch.manual_seed(seed)
    return [torch.nn.Parameter(torch.randn(1000, dtype=torch.float32).to(dtype)),
            torch.nn.Parameter(torch.randn(7, 5, dtype=torch.float32).to(dtype))]


def _grads(params, step):
    g = torch.Generator().manual_seed(100 + step)
    for p in params:
        p.grad = (torch.randn(p.shape, generator=g) * 10 ** -(step % 3)).to(p.dtype)


def _dequantized(state):
    """The state as float32 values: int8 codes dequantized, block maxima dropped."""
    out = {}
    for name, value in state.items():
        if name.endswith("_absmax"):
            continue
        if isinstance(value, torch.Tensor) and value.dtype is torch.uint8:
            value = _base.dequantized(value, state[name + "_absmax"], _base._SIGNED[name])
        out[name] = value.clone() if isinstance(value, torch.Tensor) else value
    return out


def _bits(t):
    return t.detach().view(torch.int32 if t.dtype is torch.float32 else torch.int16)


@pytest.mark.parametrize("dtype", [torch.float32, torch.bfloat16, torch.float16])
@pytest.mark.parametrize("algorithm", ALGORITHMS)
def test_int8_state_is_the_float32_step_on_the_dequantized_state_requantized(algorithm, dtype):
    cls = getattr(at, algorithm)
    params, ref_params = _params(dtype), _params(dtype)
    opt = cls(params, state_dtype="int8", min_quant_size=0, **FULL[algorithm])
    ref = cls(ref_params, **FULL[algorithm])
    for step in steps_from_the_values_held(opt, ref, params, ref_params, _grads, _dequantized):
        for p, q in zip(params, ref_params):
            assert torch.equal(_bits(p), _bits(q))
            for name, value in opt.state[p].items():
                if not isinstance(value, torch.Tensor) or name in ("step", "mu_product") or name.endswith("_absmax"):
                    continue
                assert value.dtype is torch.uint8 and value.shape == p.shape, name
                codes, absmax = _base.quantized(ref.state[q][name].float().contiguous(), _base._SIGNED[name])
                assert torch.equal(value, codes), (name, step)
                assert torch.equal(opt.state[p][name + "_absmax"].view(torch.int32), absmax.view(torch.int32))


def test_state_dict_layout_and_min_quant_size():
    big, small = torch.nn.Parameter(torch.randn(64, 80)), torch.nn.Parameter(torch.randn(4095))
    opt = at.Adam8bit([big, small])
    assert opt.defaults["state_dtype"] == "int8" and opt.defaults["min_quant_size"] == 4096
    big.grad, small.grad = torch.randn_like(big), torch.randn_like(small)
    opt.step()
    state = opt.state_dict()["state"]
    assert {k: (v.dtype, tuple(v.shape)) for k, v in state[0].items()} == {
        "step": (torch.float32, ()), "exp_avg": (torch.uint8, (64, 80)), "exp_avg_absmax": (torch.float32, (20,)),
        "exp_avg_sq": (torch.uint8, (64, 80)), "exp_avg_sq_absmax": (torch.float32, (20,))}
    assert {k: v.dtype for k, v in state[1].items() if k != "step"} == {"exp_avg": torch.float32,
                                                                         "exp_avg_sq": torch.float32}
    assert opt.state_nbytes() == 2 * 5120 + 2 * 4 * 20 + 8 * 4095
    # Per buffer, and the threshold as an option.
    opt = at.Adam([big, small], state_dtype={"exp_avg": "int8", "exp_avg_sq": "bfloat16"}, min_quant_size=100)
    opt.step()
    assert [opt.state[small][k].dtype for k in ("exp_avg", "exp_avg_absmax", "exp_avg_sq")] == [
        torch.uint8, torch.float32, torch.bfloat16]


@pytest.mark.parametrize("cls, name", [(at.Adam8bit, "Adam8bit"), (at.AdamW8bit, "AdamW8bit"),
                                       (at.Lion8bit, "Lion8bit")])
def test_bitsandbytes_names(cls, name):
    w = torch.nn.Parameter(torch.randn(5000))
    opt = cls([w], lr=1e-3)
    assert cls.__name__ == name and isinstance(opt, torch.optim.Optimizer)
    w.grad = torch.randn_like(w)
    opt.step()
    assert opt.state[w]["exp_avg"].dtype is torch.uint8
    with pytest.raises(ValueError, match=f"adamant.torch.{name}: .* int8 state is for contiguous parameters"):
        strided = torch.randn(5000, 2)[:, 0]  # a leaf strided with gaps: its runs would cut the blocks
        strided.grad = torch.randn(5000)
        cls([strided]).step()
    assert "weight_decay" in cls([w]).defaults


def test_resume_from_a_state_dict_is_bitwise():
    a, b = _params(torch.float32), _params(torch.float32)
    first = at.AdamW8bit(a, min_quant_size=256)
    for step in (1, 2):
        _grads(a, step)
        first.step()
    second = at.AdamW8bit(b, min_quant_size=256)
    second.load_state_dict(first.state_dict())
    with torch.no_grad():
        for p, q in zip(a, b):
            q.copy_(p)
    for step in (3, 4):
        _grads(a, step)
        _grads(b, step)
        first.step()
        second.step()
    for p, q in zip(a, b):
        assert torch.equal(_bits(p), _bits(q))
        for name, value in first.state[p].items():
            assert torch.equal(value, second.state[q][name]), name


def test_full_precision_state_dicts_load_both_ways():
    params, ref_params = _params(torch.float32), _params(torch.float32)
    torch_opt = torch.optim.Adam(params, lr=1e-2)
    for step in (1, 2):
        _grads(params, step)
        torch_opt.step()
    full = torch_opt.state_dict()
    # Into int8 state: quantized at the next step, which then steps from the quantized values.
    opt = at.Adam8bit(params, lr=1e-2, min_quant_size=0)
    opt.load_state_dict(full)
    assert opt.param_groups[0]["state_dtype"] == "int8"  # torch's groups have none: the optimizer's is kept
    ref = at.Adam(ref_params, lr=1e-2)
    with torch.no_grad():
        for p, q in zip(params, ref_params):
            q.copy_(p)
    for p, q in zip(params, ref_params):
        s = torch_opt.state[p]
        quantized = {}
        for name in ("exp_avg", "exp_avg_sq"):
            quantized[name], quantized[name + "_absmax"] = _base.quantized(s[name].contiguous(), _base._SIGNED[name])
        ref.state[q] = {"step": s["step"].clone(), **_dequantized(quantized)}
    _grads(params, 3)
    _grads(ref_params, 3)
    opt.step()
    ref.step()
    for p, q in zip(params, ref_params):
        assert opt.state[p]["exp_avg"].dtype is torch.uint8
        assert torch.equal(_bits(p), _bits(q))
    # Out of int8 state: dequantized, for torch.optim (and for float32 adamant optimizers).
    back = at.dequantized_state_dict(opt)
    assert all(k in ("step", "exp_avg", "exp_avg_sq") for s in back["state"].values() for k in s)
    assert all("state_dtype" not in g and "min_quant_size" not in g for g in back["param_groups"])
    torch_again = torch.optim.Adam(ref_params, lr=1e-2)
    torch_again.load_state_dict(back)
    for p, q in zip(params, ref_params):
        expected = _dequantized(opt.state[p])
        for name in ("exp_avg", "exp_avg_sq"):
            assert torch_again.state[q][name].dtype is torch.float32
            assert torch.equal(torch_again.state[q][name], expected[name]), name
    assert opt.state_dict()["state"][0]["exp_avg"].dtype is torch.uint8  # the optimizer's own is untouched


def test_switching_a_group_away_from_int8_dequantizes_its_state():
    w = torch.nn.Parameter(torch.randn(5000))
    opt = at.Adam([w], state_dtype="int8")
    w.grad = torch.randn_like(w)
    opt.step()
    held = _dequantized(opt.state[w])
    opt.param_groups[0]["state_dtype"] = "float32"
    ref_w = torch.nn.Parameter(w.detach().clone())
    ref = at.Adam([ref_w])
    ref.state[ref_w] = held
    w.grad = torch.randn_like(w)
    ref_w.grad = w.grad.clone()
    opt.step()
    ref.step()
    assert set(opt.state[w]) == {"step", "exp_avg", "exp_avg_sq"}
    assert opt.state[w]["exp_avg"].dtype is torch.float32
    assert torch.equal(w, ref_w)


@pytest.mark.parametrize("options, error, message", [
    ({"state_dtype": "int4"}, ValueError, "Invalid state_dtype: 'int4' \\(expected 'float32', 'bfloat16', "
                                          "'bfloat16_stochastic' or 'int8'"),
    ({"min_quant_size": -1}, ValueError, "Invalid min_quant_size value: -1"),
    ({"min_quant_size": 1.5}, TypeError, "min_quant_size must be an int, got float"),
])
def test_invalid_options(options, error, message):
    with pytest.raises(error, match=message):
        at.Adam([torch.nn.Parameter(torch.randn(3))], **options)


def test_centered_rmsprop_refuses_int8_state():
    with pytest.raises(ValueError, match="Invalid state_dtype for centered RMSprop"):
        at.RMSprop([torch.nn.Parameter(torch.randn(3))], centered=True, state_dtype={"grad_avg": "int8"})
    at.RMSprop([torch.nn.Parameter(torch.randn(3))], centered=True, state_dtype="bfloat16")


def test_codes_without_their_block_maxima_are_refused_and_nothing_changes():
    w = torch.nn.Parameter(torch.randn(5000))
    opt = at.Adam8bit([w])
    w.grad = torch.randn_like(w)
    opt.step()
    del opt.state[w]["exp_avg_absmax"]
    before = w.detach().clone()
    with pytest.raises(RuntimeError, match="state 'exp_avg' is int8 \\(torch.uint8 codes\\) but its block maxima "
                                           "'exp_avg_absmax' are missing"):
        opt.step()
    assert torch.equal(w, before)
