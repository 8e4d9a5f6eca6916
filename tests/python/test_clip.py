"""adamant.clip_grad_norm_ and adamant.clip_grad_value_ against torch.nn.utils, and their independence of
the number of threads."""

import os
import re
import subprocess
import sys
from pathlib import Path

import pytest
import torch

import adamant

INF = float("inf")


def _params(dtype=torch.float32, seed=0, empty=True):
    """Odd sizes around the C++'s 65536-element blocks, a 0-d one, an empty one (not with `empty=False`:
    torch 1.13's max norm fails on it), gradients of varied scale and layout (a transposed gradient is
    dense; a strided slice is not)."""
    gen = torch.Generator().manual_seed(seed)
    shapes = [(200003,), (256, 256), (65537,), (), (0,) if empty else (1,), (7, 3), (3, 4)]
    params = [torch.zeros(s, dtype=dtype, requires_grad=True) for s in shapes]
    for k, p in enumerate(params):
        p.grad = torch.randn(p.shape, dtype=dtype, generator=gen) * 10.0 ** (k % 3 - 1)
    params[5].grad = torch.randn(3, 7, dtype=dtype, generator=gen).t()
    params[6].grad = torch.randn(3, 8, dtype=dtype, generator=gen)[:, ::2]
    params.append(torch.zeros(5, dtype=dtype, requires_grad=True))  # no gradient: ignored
    return params


def _twin(params):
    out = []
    for p in params:
        q = p.detach().clone().requires_grad_()
        if p.grad is not None:
            q.grad = torch.empty_strided(p.grad.shape, p.grad.stride(), dtype=p.grad.dtype).copy_(p.grad)
        out.append(q)
    return out


def _grads(params):
    return [p.grad for p in params if p.grad is not None]


# torch computes each gradient's norm and their norm in the gradients' dtype, with its own summation
# order; adamant sums in double. For float32 the difference is torch's rounding: a float32 sum of n terms
# is within ~log2(n) * 2^-24 relative of the exact one with pairwise/vectorized summation (n = 3e5:
# ~1e-6); 2e-5 leaves room for the square root and the norm of norms. float64: 1e-12.
NORM_RTOL = {torch.float32: 2e-5, torch.float64: 1e-12}


@pytest.mark.parametrize("dtype", [torch.float32, torch.float64])
@pytest.mark.parametrize("norm_type", [2.0, 1.0, INF, 3.0, 0.5])
@pytest.mark.parametrize("max_norm", [0.5, 1e30])
def test_clip_grad_norm_matches_torch(dtype, norm_type, max_norm):
    params = _params(dtype, empty=norm_type != INF)
    twin = _twin(params)
    total = adamant.clip_grad_norm_(params, max_norm, norm_type)
    expected = torch.nn.utils.clip_grad_norm_(twin, max_norm, norm_type)
    assert isinstance(total, torch.Tensor) and total.dtype == expected.dtype and total.dim() == 0
    torch.testing.assert_close(total, expected, rtol=NORM_RTOL[dtype], atol=0)
    # Each gradient is scaled by the coefficient: the two coefficients differ by the norms' difference.
    for g, h in zip(_grads(params), _grads(twin)):
        assert g.stride() == h.stride()
        torch.testing.assert_close(g, h, rtol=NORM_RTOL[dtype], atol=0)
    if max_norm > 1e20:  # nothing clipped: the gradients are untouched
        for g, h in zip(_grads(params), _grads(twin)):
            assert torch.equal(g, h)


def test_clip_grad_norm_against_float64():
    """The float32 total is the float64 one rounded: adamant sums in double."""
    params = _params(torch.float32)
    exact = torch.linalg.vector_norm(torch.cat([g.double().reshape(-1) for g in _grads(params)]))
    total = adamant.clip_grad_norm_(params, 1e9)
    assert total.item() == exact.float().item()


@pytest.mark.parametrize("dtype", [torch.bfloat16, torch.float16])
def test_clip_grad_norm_half_gradients(dtype):
    """bf16/fp16 gradients: the norm of the widened values (in double), and each gradient multiplied in
    float32 by the float32 coefficient, rounded to its dtype."""
    params = _params(dtype)
    before = [g.clone() for g in _grads(params)]
    total = adamant.clip_grad_norm_(params, 0.5)
    exact = torch.linalg.vector_norm(torch.cat([g.double().reshape(-1) for g in before]))
    assert total.dtype == dtype
    torch.testing.assert_close(total.double(), exact.to(dtype).double(), rtol=0, atol=0)
    coef = torch.tensor(0.5 / (exact.item() + 1e-6), dtype=torch.float32)
    for g, b in zip(_grads(params), before):
        assert torch.equal(g, (b.float() * coef).to(dtype))


def test_error_if_nonfinite_raises_torchs_message():
    for bad in (float("nan"), INF):
        for norm_type in (2.0, INF):
            params = _params(empty=False)
            params[2].grad[7] = bad
            twin = _twin(params)
            before = [g.clone() for g in _grads(params)]
            with pytest.raises(RuntimeError) as expected:
                torch.nn.utils.clip_grad_norm_(twin, 1.0, norm_type, error_if_nonfinite=True)
            with pytest.raises(RuntimeError, match=f"^{re.escape(str(expected.value))}$"):
                adamant.clip_grad_norm_(params, 1.0, norm_type, error_if_nonfinite=True)
            for g, b in zip(_grads(params), before):
                assert torch.equal(g, b) or (torch.isnan(g).any() and torch.equal(g.isnan(), b.isnan()))


def test_nonfinite_norm_without_error_scales_as_torch():
    params = _params()
    params[0].grad[3] = INF
    twin = _twin(params)
    total = adamant.clip_grad_norm_(params, 1.0)
    expected = torch.nn.utils.clip_grad_norm_(twin, 1.0)
    assert total.item() == expected.item() == INF
    for g, h in zip(_grads(params), _grads(twin)):
        assert torch.equal(g.isnan(), h.isnan())
        torch.testing.assert_close(g, h, equal_nan=True)


def test_no_gradients():
    p = torch.zeros(3, requires_grad=True)
    assert torch.equal(adamant.clip_grad_norm_([p], 1.0), torch.nn.utils.clip_grad_norm_([p], 1.0))
    adamant.clip_grad_value_([p], 1.0)
    assert p.grad is None


def test_single_tensor_argument():
    p = torch.zeros(4, requires_grad=True)
    p.grad = torch.tensor([3.0, 4.0, 0.0, 0.0])
    assert adamant.clip_grad_norm_(p, 1.0).item() == 5.0
    torch.testing.assert_close(p.grad, torch.tensor([3.0, 4.0, 0.0, 0.0]) * (1.0 / (5.0 + 1e-6)))


@pytest.mark.parametrize("dtype", [torch.float32, torch.float64, torch.bfloat16, torch.float16])
@pytest.mark.parametrize("clip_value", [0.3, 1e-3, -0.5])
def test_clip_grad_value_matches_torch(dtype, clip_value):
    params = _params(dtype)
    params[0].grad[5] = float("nan")
    twin = _twin(params)
    adamant.clip_grad_value_(params, clip_value)
    if dtype == torch.float16:  # torch 1.13 cannot clamp float16 on the CPU: its formula, in float32
        lo, hi = (torch.tensor(v, dtype=dtype).float() for v in (-clip_value, clip_value))
        for g in _grads(twin):
            g.copy_(torch.minimum(torch.maximum(g.float(), lo), hi))
    else:
        torch.nn.utils.clip_grad_value_(twin, clip_value)
    for g, h in zip(_grads(params), _grads(twin)):
        assert torch.equal(g.isnan(), h.isnan())
        assert torch.equal(g.nan_to_num(0.0), h.nan_to_num(0.0))


def test_unsupported_gradients():
    p = torch.zeros(3, requires_grad=True)
    p.grad = torch.zeros(3).to_sparse()
    with pytest.raises(RuntimeError, match=r"^adamant\.clip_grad_norm_: gradient 0 has layout torch\.sparse_coo; "
                                           r"only dense \(strided\) gradients are supported"):
        adamant.clip_grad_norm_([p], 1.0)
    q = torch.zeros(3, dtype=torch.complex64, requires_grad=True)
    q.grad = torch.zeros(3, dtype=torch.complex64)
    with pytest.raises(TypeError, match=r"^adamant\.clip_grad_value_: gradient 0 has dtype torch\.complex64"):
        adamant.clip_grad_value_([q], 1.0)


_SCRIPT = """
import sys, torch, adamant
gen = torch.Generator().manual_seed(0)
params = [torch.zeros(s, requires_grad=True) for s in [(300001,), (70000,), (5,)]]
for p in params:
    p.grad = torch.randn(p.shape, generator=gen)
total = adamant.clip_grad_norm_(params, 0.5)
sys.stdout.write(torch.tensor(total.item(), dtype=torch.float64).view(torch.int64).item().__repr__() + " ")
sys.stdout.write(str(hash(b"".join(p.grad.numpy().tobytes() for p in params))))
"""


def test_same_bits_for_any_thread_count():
    """The norm and the clipped gradients are bitwise the same with 1, 2 and 3 threads (OMP_NUM_THREADS,
    which adamant's default thread count follows)."""
    root = Path(__file__).resolve().parents[2]
    outputs = set()
    for threads in (1, 2, 3):
        env = dict(os.environ, OMP_NUM_THREADS=str(threads), PYTHONHASHSEED="0",
                   PYTHONPATH=str(root / "build" / "python"))
        out = subprocess.run([sys.executable, "-c", _SCRIPT], capture_output=True, text=True, env=env, timeout=120)
        assert out.returncode == 0, out.stderr
        outputs.add(out.stdout)
    assert len(outputs) == 1, outputs
