"""Shared helpers of the Python tests: the import path, reference optimizers, comparisons.

The references transcribe current PyTorch's single-tensor implementations (torch/optim/*.py) for what
torch 1.13 (the torch installed here) gets wrong or lacks: NAdam's mu_product (1.13 multiplies mu in
twice), RAdam's and NAdam's `maximize` and `decoupled_weight_decay`, and adamant's `bias_correction` and
`eps_mode` for Adam; and Lion, which torch lacks (lucidrains' lion-pytorch, the de-facto reference).
Everything else is compared with torch.optim itself.
"""

import math
import pathlib
import sys

import torch

try:
    import adamant  # noqa: F401
except ImportError:  # run without PYTHONPATH=build/python
    sys.path.insert(0, str(pathlib.Path(__file__).resolve().parents[2] / "build" / "python"))

import adamant.torch as _at  # noqa: E402
from adamant import _adamant  # noqa: E402

# Every drop-in, in the order of the C++ list of algorithms (adamant/algorithms.h).
ALGORITHMS = [_at._base.DROP_INS[name].__name__ for name in _adamant.algorithms]

# The options each torch 1.13 optimizer knows (besides foreach/capturable/differentiable/fused).
TORCH_113_OPTIONS = {
    "Adam": {"lr", "betas", "eps", "weight_decay", "amsgrad", "maximize"},
    "AdamW": {"lr", "betas", "eps", "weight_decay", "amsgrad", "maximize"},
    "Adamax": {"lr", "betas", "eps", "weight_decay", "maximize"},
    "NAdam": {"lr", "betas", "eps", "weight_decay", "momentum_decay"},
    "RAdam": {"lr", "betas", "eps", "weight_decay"},
    "Adagrad": {"lr", "lr_decay", "weight_decay", "initial_accumulator_value", "eps", "maximize"},
    "RMSprop": {"lr", "alpha", "eps", "weight_decay", "momentum", "centered", "maximize"},
    "Adadelta": {"lr", "rho", "eps", "weight_decay", "maximize"},
    "SGD": {"lr", "momentum", "dampening", "weight_decay", "nesterov", "maximize"},
    "Lion": set(),  # torch 1.13 has no Lion
}

# Every option of each drop-in that the tests sample, where it differs from torch 1.13's.
OPTIONS = {**TORCH_113_OPTIONS, "Lion": {"lr", "betas", "weight_decay", "maximize"}}


def in_torch(algorithm):
    """True if torch.optim (1.13) has this algorithm."""
    return hasattr(torch.optim, algorithm)


# ---------------------------------------------------------------------------------------------------
# Reference optimizers (current PyTorch's op order, in the parameter's dtype, scalars in double).


def _zeros(p):
    return torch.zeros_like(p, memory_format=torch.preserve_format)


class RefNAdam(torch.optim.Optimizer):
    """current PyTorch's `_single_tensor_nadam` (non-capturable branch), with its `maximize` and
    `decoupled_weight_decay`. mu_product is kept in float64, as adamant keeps it (PyTorch: float32)."""

    def __init__(self, params, lr=2e-3, betas=(0.9, 0.999), eps=1e-8, weight_decay=0, momentum_decay=4e-3,
                 decoupled_weight_decay=False, maximize=False, **_ignored):
        super().__init__(params, dict(lr=lr, betas=betas, eps=eps, weight_decay=weight_decay,
                                      momentum_decay=momentum_decay, decoupled_weight_decay=decoupled_weight_decay,
                                      maximize=maximize))

    @torch.no_grad()
    def step(self):
        for group in self.param_groups:
            lr, (beta1, beta2), eps = group["lr"], group["betas"], group["eps"]
            wd, momentum_decay = group["weight_decay"], group["momentum_decay"]
            for param in group["params"]:
                if param.grad is None:
                    continue
                grad = param.grad if not group.get("maximize", False) else -param.grad
                state = self.state[param]
                if not state:
                    state["step"] = torch.tensor(0.0)
                    state["mu_product"] = torch.tensor(1.0, dtype=torch.float64)
                    state["exp_avg"] = _zeros(param)
                    state["exp_avg_sq"] = _zeros(param)
                if state["mu_product"].dtype != torch.float64:
                    state["mu_product"] = state["mu_product"].to(torch.float64)
                exp_avg, exp_avg_sq, mu_product = state["exp_avg"], state["exp_avg_sq"], state["mu_product"]
                state["step"] += 1
                step = state["step"].item()
                bias_correction2 = 1 - beta2**step
                if wd != 0:
                    if group.get("decoupled_weight_decay", False):
                        param.mul_(1 - lr * wd)
                    else:
                        grad = grad.add(param, alpha=wd)
                mu = beta1 * (1.0 - 0.5 * (0.96 ** (step * momentum_decay)))
                mu_next = beta1 * (1.0 - 0.5 * (0.96 ** ((step + 1) * momentum_decay)))
                mu_product *= mu
                exp_avg.lerp_(grad, 1 - beta1)
                exp_avg_sq.mul_(beta2).addcmul_(grad, grad, value=1 - beta2)
                denom = exp_avg_sq.div(bias_correction2).sqrt().add_(eps)
                mu_product_next = mu_product.item() * mu_next
                param.addcdiv_(grad, denom, value=(-lr * (1.0 - mu) / (1.0 - mu_product.item())))
                param.addcdiv_(exp_avg, denom, value=(-lr * mu_next) / (1.0 - mu_product_next))


class RefRAdam(torch.optim.Optimizer):
    """current PyTorch's `_single_tensor_radam`, with its `maximize` and `decoupled_weight_decay`."""

    def __init__(self, params, lr=1e-3, betas=(0.9, 0.999), eps=1e-8, weight_decay=0,
                 decoupled_weight_decay=False, maximize=False, **_ignored):
        super().__init__(params, dict(lr=lr, betas=betas, eps=eps, weight_decay=weight_decay,
                                      decoupled_weight_decay=decoupled_weight_decay, maximize=maximize))

    @torch.no_grad()
    def step(self):
        for group in self.param_groups:
            lr, (beta1, beta2), eps, wd = group["lr"], group["betas"], group["eps"], group["weight_decay"]
            for param in group["params"]:
                if param.grad is None:
                    continue
                grad = param.grad if not group.get("maximize", False) else -param.grad
                state = self.state[param]
                if not state:
                    state["step"] = torch.tensor(0.0)
                    state["exp_avg"] = _zeros(param)
                    state["exp_avg_sq"] = _zeros(param)
                exp_avg, exp_avg_sq = state["exp_avg"], state["exp_avg_sq"]
                state["step"] += 1
                step = state["step"].item()
                if wd != 0:
                    if group.get("decoupled_weight_decay", False):
                        param.mul_(1 - lr * wd)
                    else:
                        grad = grad.add(param, alpha=wd)
                exp_avg.lerp_(grad, 1 - beta1)
                exp_avg_sq.mul_(beta2).addcmul_(grad, grad, value=1 - beta2)
                bias_correction1 = 1 - beta1**step
                bias_correction2 = 1 - beta2**step
                bias_corrected_exp_avg = exp_avg / bias_correction1
                rho_inf = 2 / (1 - beta2) - 1
                rho_t = rho_inf - 2 * step * (beta2**step) / bias_correction2
                if rho_t > 5.0:
                    rect = math.sqrt((rho_t - 4) * (rho_t - 2) * rho_inf / ((rho_inf - 4) * (rho_inf - 2) * rho_t))
                    adaptive_lr = math.sqrt(bias_correction2) / exp_avg_sq.sqrt().add_(eps)
                    param.add_(bias_corrected_exp_avg * lr * adaptive_lr * rect, alpha=-1.0)
                else:
                    param.add_(bias_corrected_exp_avg * lr, alpha=-1.0)


class RefAdam(torch.optim.Optimizer):
    """current PyTorch's `_single_tensor_adam` plus adamant's `bias_correction` and `eps_mode` (design.md:
    "tensorflow" steps by lr*sqrt(bc2)/bc1 * m / (sqrt(v) + eps), v the uncorrected second moment)."""

    def __init__(self, params, lr=1e-3, betas=(0.9, 0.999), eps=1e-8, weight_decay=0, amsgrad=False,
                 maximize=False, decoupled_weight_decay=False, bias_correction=True, eps_mode="pytorch", **_ignored):
        super().__init__(params, dict(lr=lr, betas=betas, eps=eps, weight_decay=weight_decay, amsgrad=amsgrad,
                                      maximize=maximize, decoupled_weight_decay=decoupled_weight_decay,
                                      bias_correction=bias_correction, eps_mode=eps_mode))

    @torch.no_grad()
    def step(self):
        for group in self.param_groups:
            lr, (beta1, beta2), eps, wd = group["lr"], group["betas"], group["eps"], group["weight_decay"]
            for param in group["params"]:
                if param.grad is None:
                    continue
                grad = param.grad if not group["maximize"] else -param.grad
                state = self.state[param]
                if not state:
                    state["step"] = torch.tensor(0.0)
                    state["exp_avg"] = _zeros(param)
                    state["exp_avg_sq"] = _zeros(param)
                    if group["amsgrad"]:
                        state["max_exp_avg_sq"] = _zeros(param)
                exp_avg, exp_avg_sq = state["exp_avg"], state["exp_avg_sq"]
                state["step"] += 1
                step = state["step"].item()
                if wd != 0:
                    if group["decoupled_weight_decay"]:
                        param.mul_(1 - lr * wd)
                    else:
                        grad = grad.add(param, alpha=wd)
                exp_avg.lerp_(grad, 1 - beta1)
                exp_avg_sq.mul_(beta2).addcmul_(grad, grad, value=1 - beta2)
                bias_correction1 = 1 - beta1**step if group["bias_correction"] else 1.0
                bias_correction2 = 1 - beta2**step if group["bias_correction"] else 1.0
                step_size = lr / bias_correction1
                bias_correction2_sqrt = math.sqrt(bias_correction2)
                v = exp_avg_sq
                if group["amsgrad"]:
                    torch.maximum(state["max_exp_avg_sq"], exp_avg_sq, out=state["max_exp_avg_sq"])
                    v = state["max_exp_avg_sq"]
                if group["eps_mode"] == "tensorflow":
                    denom = v.sqrt().add_(eps)
                    step_size *= bias_correction2_sqrt
                else:
                    denom = (v.sqrt() / bias_correction2_sqrt).add_(eps)
                param.addcdiv_(exp_avg, denom, value=-step_size)


class RefLion(torch.optim.Optimizer):
    """lucidrains' lion-pytorch (`lion_pytorch.py`, the update without Triton), plus `maximize`; its sign
    propagates NaN as numpy.sign does (torch.sign gives 0 for NaN: adamant.torch.Lion's docstring)."""

    def __init__(self, params, lr=1e-4, betas=(0.9, 0.99), weight_decay=0.0, maximize=False, **_ignored):
        super().__init__(params, dict(lr=lr, betas=betas, weight_decay=weight_decay, maximize=maximize))

    @torch.no_grad()
    def step(self):
        for group in self.param_groups:
            lr, (beta1, beta2), wd = group["lr"], group["betas"], group["weight_decay"]
            for param in group["params"]:
                if param.grad is None:
                    continue
                grad = param.grad if not group.get("maximize", False) else -param.grad
                state = self.state[param]
                if not state:
                    state["step"] = torch.tensor(0.0)
                    state["exp_avg"] = _zeros(param)
                exp_avg = state["exp_avg"]
                state["step"] += 1
                param.mul_(1.0 - lr * wd)
                update = exp_avg.clone().mul_(beta1).add(grad, alpha=1.0 - beta1)
                update = torch.where(update.isnan(), update, update.sign())
                param.add_(update, alpha=-lr)
                exp_avg.mul_(beta2).add_(grad, alpha=1.0 - beta2)


REFERENCES = {"NAdam": RefNAdam, "RAdam": RefRAdam, "Adam": RefAdam, "Lion": RefLion}


def reference_class(algorithm, options_list):
    """torch.optim's class (1.13) when it knows every option used, else the transcription of current
    PyTorch; always the transcription for NAdam (1.13's NAdam has the mu_product bug)."""
    if algorithm == "NAdam" or not in_torch(algorithm):
        return REFERENCES[algorithm]
    used = set().union(*(set(o) for o in options_list)) - {"params"}
    if used <= TORCH_113_OPTIONS[algorithm]:
        return getattr(torch.optim, algorithm)
    return REFERENCES[algorithm]


def default_reference(algorithm):
    """The reference for options torch 1.13 knows: torch.optim's class, RefNAdam for NAdam, the
    transcription for an algorithm torch lacks."""
    if algorithm == "NAdam" or not in_torch(algorithm):
        return REFERENCES[algorithm]
    return getattr(torch.optim, algorithm)


def make_reference(cls, params, **options):
    if cls.__module__.startswith("torch.optim"):
        return cls(params, foreach=False, **options)  # 1.13: the single-tensor (for-loop) implementation
    return cls(params, **options)


# ---------------------------------------------------------------------------------------------------
# Comparisons.
#
# Tolerances. adamant follows current PyTorch's op order and rounds each step's host scalars once from
# double; torch 1.13 (and the references) evaluate the same formulas op by op: e.g. 1.13 updates exp_avg
# with mul_(beta1).add_(grad, alpha=1-beta1) where adamant computes lerp, and adamant contracts a*b+c
# into one FMA where torch rounds twice. So each update of a state tensor or parameter may differ by a
# couple of ulp (float32: 2^-23 = 1.2e-7; float64: 2^-52 = 2.2e-16) of the terms it combines. The
# gradients of these tests do not depend on the parameters, so the differences do not feed back, but
# they can add up over the steps: at most ~2 ulp per step over 32 steps, i.e. 64 ulp (7.6e-6 float32,
# 1.4e-14 float64) relative to the size of the terms. That size is a tensor's running max |value| over
# the steps compared (the `scale`): a state like exp_avg can cancel to ~0 while its terms stay of the
# gradient's size, so its error is measured against its past magnitude, not its current value. Hence
# |actual - expected| <= RTOL * (|expected| + scale) with RTOL = 1e-5 (float32) and 2e-14 (float64).
# The largest differences seen over the suite are ~2 ulp (2.5e-7 and 3.3e-16): no accumulation, and
# 40x to 60x inside these bounds; NAdam (vs RefNAdam), Adagrad, Adadelta and SGD match exactly.
RTOL = {torch.float32: 1e-5, torch.float64: 2e-14}


def assert_close(actual, expected, what, rtol=None, scale=None):
    """|actual - expected| <= rtol * (|expected| + scale) elementwise; scale defaults to max|expected|."""
    assert isinstance(actual, torch.Tensor), f"{what}: {type(actual).__name__}, expected a tensor"
    assert actual.shape == expected.shape, f"{what}: shape {tuple(actual.shape)} != {tuple(expected.shape)}"
    assert actual.dtype == expected.dtype, f"{what}: dtype {actual.dtype} != {expected.dtype}"
    if rtol is None:
        rtol = RTOL[expected.dtype]
    if scale is None:
        scale = expected.abs().max().item() if expected.numel() else 0.0
    torch.testing.assert_close(actual, expected, rtol=rtol, atol=rtol * max(scale, 1e-30),
                               msg=lambda m: f"{what}: {m}")


def as_number(value):
    return float(value.item() if isinstance(value, torch.Tensor) else value)


def normalized_state(state):
    """A parameter's state without torch 1.13's `momentum_buffer: None` entries."""
    return {k: v for k, v in state.items() if v is not None}


def _scale(scales, key, expected):
    """The running maximum of |expected| over the steps compared so far (see RTOL)."""
    current = expected.abs().max().item() if expected.numel() else 0.0
    if scales is None:
        return current
    scales[key] = max(scales.get(key, 0.0), current)
    return scales[key]


def assert_same_state(actual_opt, expected_opt, actual_params, expected_params, what, rtol=None, scales=None):
    """Parameters and every state entry of two optimizers over the same parameters agree.

    `scales`, a dict kept across the steps of one trajectory, holds each tensor's running max |value|.
    """
    for i, (pa, pe) in enumerate(zip(actual_params, expected_params)):
        assert_close(pa.detach(), pe.detach(), f"{what}: param {i}", rtol, _scale(scales, (i, "param"), pe.detach()))
        sa = normalized_state(actual_opt.state.get(pa, {}))
        se = normalized_state(expected_opt.state.get(pe, {}))
        assert sa.keys() == se.keys(), f"{what}: param {i}: state keys {sorted(sa)} != {sorted(se)}"
        for key in se:
            if key in ("step", "mu_product"):
                a, e = as_number(sa[key]), as_number(se[key])
                tol = 0 if key == "step" else 1e-6 * abs(e)  # mu_product: 1.13 keeps float32
                assert abs(a - e) <= tol, f"{what}: param {i}: {key} {a} != {e}"
            else:
                assert_close(sa[key], se[key], f"{what}: param {i}: {key}", rtol, _scale(scales, (i, key), se[key]))


def clone_params(params):
    """Independent leaf copies with the same values and strides."""
    out = []
    for p in params:
        c = torch.empty_strided(p.shape, p.stride(), dtype=p.dtype)
        c.copy_(p.detach())
        out.append(c.requires_grad_())
    return out


# ---------------------------------------------------------------------------------------------------
# Parameters, gradients, optimizers.


def make_params(dtype, gen):
    """Odd shapes (0-d, empty, 1x1, 3x5x7, a few thousand elements) and dense non-contiguous layouts."""
    shapes = [(), (0,), (1, 1), (3, 5, 7), (50, 61), (2, 0, 3), (7,)]
    params = [torch.randn(s, dtype=dtype, generator=gen) for s in shapes]
    params.append(torch.randn(6, 4, dtype=dtype, generator=gen).t())  # transposed
    params.append(torch.randn(2, 3, 4, 5, dtype=dtype, generator=gen).contiguous(memory_format=torch.channels_last))
    return params


def make_grads(params, steps, gen):
    """Per step, per parameter: None (about one in five), or a random gradient of varied magnitude laid
    out contiguously or like the parameter."""
    scales = [10.0 ** (i % 3 - 1) for i in range(len(params))]
    out = []
    for step in range(steps):
        row = []
        for i, p in enumerate(params):
            if torch.rand((), generator=gen).item() < 0.2:
                row.append(None)
                continue
            g = torch.randn(p.shape, dtype=p.dtype, generator=gen) * scales[i]
            if step % 2:
                g = torch.empty_like(p).copy_(g)  # the parameter's strides
            row.append(g)
        out.append(row)
    return out


def set_grads(params, row):
    for p, g in zip(params, row):
        p.grad = None if g is None else g.clone()


def build(cls_or_factory, params, ctor, groups, n_groups=3):
    split = [params[i::n_groups] for i in range(n_groups)]
    param_groups = [{"params": split[0]}] + [{"params": split[i + 1], **groups[i]} for i in range(n_groups - 1)]
    return cls_or_factory(param_groups, **ctor)


def steps_from_the_values_held(opt, ref, params, ref_params, grads, held, steps=3):
    """Takes `steps` steps of `opt` (lean state) and of `ref` (its float32-state twin over `ref_params`), with
    grads(params, step) for both; before each step the reference takes the values `opt` holds now
    (held(state) of each parameter's state). Yields each step's number after both have taken it."""
    for step in range(1, steps + 1):
        grads(params, step)
        grads(ref_params, step)
        for p, q in zip(params, ref_params):
            if p in opt.state:
                ref.state[q] = held(opt.state[p])  # the reference steps from the values held now
        opt.step()
        ref.step()
        yield step
