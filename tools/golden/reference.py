"""Reference optimizers for adamant's golden trajectories.

Each function below is a line-by-line transcription, in torch tensor ops, of the
``_single_tensor_<algo>`` function of *current* PyTorch (2.x), i.e. the
for-loop implementation behind ``torch.optim.<Algo>(..., foreach=False)``. It is
executed with whatever torch is installed (Debian's python3-torch 1.13): the
tensor kernels of 1.13 are used, but the *order of operations* is that of
current PyTorch, which differs from 1.13's own optimizers in a few places (see
README.md, "torch 1.13 vs current PyTorch"). ``cross_check()`` runs every
configuration that 1.13's ``torch.optim`` can express against it.

Calling convention (mirrors PyTorch's functional API): ``algo(params, grads,
states, **hyperparameters)`` updates, in place, every ``params[i]`` with
``grads[i]`` and the per-parameter state dict ``states[i]``. Only parameters
that have a gradient are passed (PyTorch skips ``p.grad is None`` in
``_init_group``; a skipped parameter's state, including its step count, does
not change). ``init_state`` creates a state dict the way ``_init_group`` does;
``Optimizer`` is the small driver that does the filtering and lazy init.

State, as in current PyTorch: ``step`` is a float32 0-dim tensor (``step +=
1`` then ``step.item()``), the per-element state tensors have PyTorch's names
(exp_avg, exp_avg_sq, max_exp_avg_sq, exp_inf, sum, square_avg, grad_avg,
momentum_buffer, acc_delta). One deliberate difference: NAdam's ``mu_product``
is kept as a Python float (double); PyTorch keeps a float32 tensor and reads it
back with ``.item()``, so PyTorch's product is rounded to float32 after every
step. adamant keeps it in double.

Options that PyTorch does not have (defined here, exactly):

* ``bias_correction`` (adam, adamw, adamax, nadam, radam; default True).
  False means bc1 = bc2 = 1: Adam ``p -= lr*m/(sqrt(v)+eps)`` (the code path is
  unchanged, with step_size = lr and bias_correction2_sqrt = 1.0); Adamax
  clr = lr; NAdam bc2 = 1 and both ``(1 - mu_product)`` and
  ``(1 - mu_product*mu_next)`` denominators replaced by 1; RAdam bc1 = 1 and
  ``adaptive_lr = 1 / (sqrt(v) + eps)`` while ``rho_t`` still uses the true
  ``1 - beta2**step``.
* ``decoupled_weight_decay`` (adam, nadam, radam; AdamW is Adam with it set):
  ``param.mul_(1 - lr*weight_decay)`` before the moment updates instead of
  ``grad = grad.add(param, alpha=weight_decay)``.
* ``eps_mode`` (adam, adamw, adamax, nadam): ``"pytorch"`` (default) or
  ``"tensorflow"``, TensorFlow/Keras's "epsilon hat" placed outside the bias
  correction: Adam/AdamW ``param.addcdiv_(m, v.sqrt().add_(eps),
  value=-lr*bc2_sqrt/bc1)`` (v = max_exp_avg_sq under amsgrad); NAdam
  ``denom = exp_avg_sq.sqrt().add_(eps)`` and both addcdiv values multiplied by
  ``bc2**0.5``; Adamax ``exp_inf = max(beta2*exp_inf, |g|)`` (eps not inside
  the max) and ``param.addcdiv_(exp_avg, exp_inf.add(eps), value=-clr)``.

Elementwise semantics of the torch ops used (what a bit-exact reimplementation
must do; measured on the x86-64 AVX2 kernels of Debian's torch 1.13, GCC 12
contracts a*b+c into an FMA, in the vector loop and in the scalar tail alike;
``fma(a, b, c)`` = a*b+c rounded once; Python scalars are first rounded to the
tensor dtype):

* ``x.mul_(s)`` = x*s; ``x.div(s)`` and ``x / s`` = x/s (a true division);
  ``s / x`` (Python float over tensor) = ``x.reciprocal() * s`` (two roundings;
  RAdam's adaptive_lr).
* ``x.add_(y, alpha=a)`` / ``x.add(y, alpha=a)`` = fma(a, y, x).
* ``x.addcmul_(y, z, value=s)`` = fma(s*y, z, x) -- ``(s*y)*z``, never ``y*z``
  first, so ``((1-beta2)*g)*g`` does not overflow where ``g*g`` would.
* ``x.addcdiv_(y, z, value=s)`` = x + (s*y)/z (no contraction possible).
* ``x.lerp_(y, w)`` = fma(w, y-x, x) for |w| < 0.5, else fma(-(y-x), 1-w, y).
* ``torch.maximum`` propagates NaN; sqrt, abs are exact IEEE operations.

Host scalars (bias corrections, step sizes, NAdam's mu) are Python floats
(IEEE double), computed exactly as written below, and rounded once to the
tensor dtype where they meet a tensor. Note that current PyTorch writes
``bias_correction2 ** 0.5`` (glibc ``pow``), which is not always the correctly
rounded ``math.sqrt`` (first difference for beta2=0.999 at step 1270).

Lion (torch has none) transcribes lucidrains' lion-pytorch (``lion_pytorch.py``
@05258c93, the de-facto PyTorch reference; Chen et al. 2023) instead, plus
``maximize``, with one stated departure: ``torch.sign`` gives 0 for NaN, which
would freeze a parameter whose gradient is NaN; the reference propagates NaN
(numpy.sign), as the paper's pseudocode reads and adamant does.

Running this file prints the cross-check against torch.optim (1.13).
"""

import math
import os
import sys

import torch

ALGORITHMS = ("adam", "adamw", "adamax", "nadam", "radam", "adagrad", "rmsprop", "adadelta", "sgd", "lion")

# Every option of every algorithm, with current PyTorch's defaults (plus ours).
# SGD's lr default is current PyTorch's 1e-3 (1.13 requires an explicit lr).
DEFAULTS = {
    "adam": dict(lr=1e-3, betas=(0.9, 0.999), eps=1e-8, weight_decay=0.0, amsgrad=False, maximize=False,
                 decoupled_weight_decay=False, bias_correction=True, eps_mode="pytorch"),
    "adamw": dict(lr=1e-3, betas=(0.9, 0.999), eps=1e-8, weight_decay=1e-2, amsgrad=False, maximize=False,
                  decoupled_weight_decay=True, bias_correction=True, eps_mode="pytorch"),
    "adamax": dict(lr=2e-3, betas=(0.9, 0.999), eps=1e-8, weight_decay=0.0, maximize=False,
                   bias_correction=True, eps_mode="pytorch"),
    "nadam": dict(lr=2e-3, betas=(0.9, 0.999), eps=1e-8, weight_decay=0.0, momentum_decay=4e-3,
                  decoupled_weight_decay=False, maximize=False, bias_correction=True, eps_mode="pytorch"),
    "radam": dict(lr=1e-3, betas=(0.9, 0.999), eps=1e-8, weight_decay=0.0, decoupled_weight_decay=False,
                  maximize=False, bias_correction=True),
    "adagrad": dict(lr=1e-2, lr_decay=0.0, weight_decay=0.0, initial_accumulator_value=0.0, eps=1e-10,
                    maximize=False),
    "rmsprop": dict(lr=1e-2, alpha=0.99, eps=1e-8, weight_decay=0.0, momentum=0.0, centered=False,
                    maximize=False),
    "adadelta": dict(lr=1.0, rho=0.9, eps=1e-6, weight_decay=0.0, maximize=False),
    "sgd": dict(lr=1e-3, momentum=0.0, dampening=0.0, weight_decay=0.0, nesterov=False, maximize=False),
    "lion": dict(lr=1e-4, betas=(0.9, 0.99), weight_decay=0.0, maximize=False),
}

# Per-element state tensors of each algorithm, in PyTorch's names and order.
STATE_TENSORS = {
    "adam": ("exp_avg", "exp_avg_sq", "max_exp_avg_sq"),
    "adamw": ("exp_avg", "exp_avg_sq", "max_exp_avg_sq"),
    "adamax": ("exp_avg", "exp_inf"),
    "nadam": ("exp_avg", "exp_avg_sq"),
    "radam": ("exp_avg", "exp_avg_sq"),
    "adagrad": ("sum",),
    "rmsprop": ("square_avg", "momentum_buffer", "grad_avg"),
    "adadelta": ("square_avg", "acc_delta"),
    "sgd": ("momentum_buffer",),
    "lion": ("exp_avg",),
}


def _get_value(x):
    """torch.optim.optimizer._get_value: a Python number from a 0-dim tensor."""
    return x.item() if isinstance(x, torch.Tensor) else x


def _check_eps_mode(eps_mode):
    if eps_mode not in ("pytorch", "tensorflow"):
        raise ValueError(f"Invalid eps_mode: {eps_mode!r}")


# ---------------------------------------------------------------------------------------------
# Adam / AdamW
# ---------------------------------------------------------------------------------------------
def adam(params, grads, states, *, lr, beta1, beta2, eps, weight_decay, amsgrad, maximize,
         decoupled_weight_decay=False, bias_correction=True, eps_mode="pytorch"):
    """Current ``_single_tensor_adam`` (AdamW = decoupled_weight_decay=True).

    Per parameter: ``grad = -grad if maximize``; ``step += 1``; weight decay
    (decoupled: ``param.mul_(1 - lr*wd)``; else ``grad = grad.add(param,
    alpha=wd)``; nothing when wd == 0); ``exp_avg.lerp_(grad, 1-beta1)``;
    ``exp_avg_sq.mul_(beta2).addcmul_(grad, grad, value=1-beta2)``;
    ``bc1 = 1-beta1**step``, ``bc2 = 1-beta2**step`` (both 1.0 when
    bias_correction is False); ``step_size = lr/bc1``; ``bc2_sqrt = bc2**0.5``;
    amsgrad: ``torch.maximum(max_exp_avg_sq, exp_avg_sq, out=max_exp_avg_sq)``
    and the max is used below instead of exp_avg_sq.
    eps_mode "pytorch": ``denom = (v.sqrt() / bc2_sqrt).add_(eps)``;
    ``param.addcdiv_(exp_avg, denom, value=-step_size)``.
    eps_mode "tensorflow": ``param.addcdiv_(exp_avg, v.sqrt().add_(eps),
    value=-lr*bc2_sqrt/bc1)``.
    """
    _check_eps_mode(eps_mode)
    for i, param in enumerate(params):
        state = states[i]
        grad = grads[i] if not maximize else -grads[i]
        exp_avg = state["exp_avg"]
        exp_avg_sq = state["exp_avg_sq"]
        step_t = state["step"]

        # update step
        step_t += 1

        if weight_decay != 0:
            if decoupled_weight_decay:
                # Perform stepweight decay
                param.mul_(1 - lr * weight_decay)
            else:
                grad = grad.add(param, alpha=weight_decay)

        # Decay the first and second moment running average coefficient
        exp_avg.lerp_(grad, 1 - beta1)
        exp_avg_sq.mul_(beta2).addcmul_(grad, grad, value=1 - beta2)

        step = _get_value(step_t)

        if bias_correction:
            bias_correction1 = 1 - beta1 ** step
            bias_correction2 = 1 - beta2 ** step
        else:
            bias_correction1 = 1.0
            bias_correction2 = 1.0

        step_size = lr / bias_correction1

        bias_correction2_sqrt = bias_correction2 ** 0.5

        if amsgrad:
            # Maintains the maximum of all 2nd moment running avg. till now
            torch.maximum(state["max_exp_avg_sq"], exp_avg_sq, out=state["max_exp_avg_sq"])
            second = state["max_exp_avg_sq"]
        else:
            second = exp_avg_sq

        if eps_mode == "pytorch":
            denom = (second.sqrt() / bias_correction2_sqrt).add_(eps)
            param.addcdiv_(exp_avg, denom, value=-step_size)
        else:  # "tensorflow": epsilon hat, outside the bias correction
            denom = second.sqrt().add_(eps)
            param.addcdiv_(exp_avg, denom, value=-lr * bias_correction2_sqrt / bias_correction1)


def adamw(params, grads, states, **kwargs):
    """AdamW: ``adam`` with decoupled_weight_decay=True (current PyTorch's
    ``_single_tensor_adamw`` multiplies by ``1 - lr*wd`` unconditionally;
    multiplying by exactly 1.0 when wd == 0 is an identity, so the two agree)."""
    kwargs["decoupled_weight_decay"] = True
    adam(params, grads, states, **kwargs)


# ---------------------------------------------------------------------------------------------
# Adamax
# ---------------------------------------------------------------------------------------------
def adamax(params, grads, states, *, lr, beta1, beta2, eps, weight_decay, maximize,
           bias_correction=True, eps_mode="pytorch"):
    """Current ``_single_tensor_adamax``.

    ``grad = -grad if maximize``; ``step += 1``; L2 ``grad = grad.add(param,
    alpha=wd)``; ``exp_avg.lerp_(grad, 1-beta1)``;
    "pytorch": ``torch.maximum(exp_inf.mul_(beta2), grad.abs().add_(eps),
    out=exp_inf)``; ``clr = lr / (1-beta1**step)`` (``lr`` when bias_correction
    is False); ``param.addcdiv_(exp_avg, exp_inf, value=-clr)``.
    "tensorflow": ``torch.maximum(exp_inf.mul_(beta2), grad.abs(),
    out=exp_inf)``; ``param.addcdiv_(exp_avg, exp_inf.add(eps), value=-clr)``.
    """
    _check_eps_mode(eps_mode)
    for i, param in enumerate(params):
        state = states[i]
        grad = grads[i]
        grad = grad if not maximize else -grad
        exp_avg = state["exp_avg"]
        exp_inf = state["exp_inf"]
        step_t = state["step"]

        # update step
        step_t += 1

        if weight_decay != 0:
            grad = grad.add(param, alpha=weight_decay)

        # Update biased first moment estimate.
        exp_avg.lerp_(grad, 1 - beta1)
        # Update the exponentially weighted infinity norm.
        if eps_mode == "pytorch":
            torch.maximum(exp_inf.mul_(beta2), grad.abs().add_(eps), out=exp_inf)
        else:
            torch.maximum(exp_inf.mul_(beta2), grad.abs(), out=exp_inf)

        if bias_correction:
            bias_correction_ = 1 - beta1 ** _get_value(step_t)
            clr = lr / bias_correction_
        else:
            clr = lr
        if eps_mode == "pytorch":
            param.addcdiv_(exp_avg, exp_inf, value=-clr)
        else:
            param.addcdiv_(exp_avg, exp_inf.add(eps), value=-clr)


# ---------------------------------------------------------------------------------------------
# NAdam
# ---------------------------------------------------------------------------------------------
def nadam(params, grads, states, *, lr, beta1, beta2, eps, weight_decay, momentum_decay, maximize=False,
          decoupled_weight_decay=False, bias_correction=True, eps_mode="pytorch", _torch113=False):
    """Current ``_single_tensor_nadam`` (mu_product kept in double).

    ``grad = -grad if maximize``; ``step += 1``; ``bc2 = 1-beta2**step`` (1.0
    when bias_correction is False); weight decay (decoupled
    ``param.mul_(1-lr*wd)``, else L2); ``mu = beta1*(1 - 0.5*0.96**(step*
    momentum_decay))``; ``mu_next = beta1*(1 - 0.5*0.96**((step+1)*
    momentum_decay))``; ``mu_product *= mu``; ``exp_avg.lerp_(grad, 1-beta1)``;
    ``exp_avg_sq.mul_(beta2).addcmul_(grad, grad, value=1-beta2)``;
    ``mu_product_next = mu_product * mu_next``;
    "pytorch": ``denom = exp_avg_sq.div(bc2).sqrt().add_(eps)``;
    ``param.addcdiv_(grad, denom, value=-lr*(1-mu)/(1-mu_product))``;
    ``param.addcdiv_(exp_avg, denom, value=(-lr*mu_next)/(1-mu_product_next))``.
    Without bias correction both ``(1-...)`` denominators are 1 (the values are
    ``-lr*(1-mu)`` and ``-lr*mu_next``). "tensorflow": ``denom =
    exp_avg_sq.sqrt().add_(eps)`` and both values multiplied by ``bc2**0.5``.

    ``_torch113`` (cross-check only) reproduces torch 1.13's NAdam instead:
    ``mu_product_next = mu_product * mu * mu_next`` (mu multiplied in twice),
    mu_product and mu_product_next computed as float32 tensors.
    """
    _check_eps_mode(eps_mode)
    for i, param in enumerate(params):
        state = states[i]
        grad = grads[i] if not maximize else -grads[i]
        exp_avg = state["exp_avg"]
        exp_avg_sq = state["exp_avg_sq"]
        step_t = state["step"]

        # update step
        step_t += 1
        step = _get_value(step_t)

        bias_correction2 = (1 - beta2 ** step) if bias_correction else 1.0

        if weight_decay != 0:
            if decoupled_weight_decay:
                # Perform stepweight decay
                param.mul_(1 - lr * weight_decay)
            else:
                grad = grad.add(param, alpha=weight_decay)

        # calculate the momentum cache \mu^{t} and \mu^{t+1}
        mu = beta1 * (1.0 - 0.5 * (0.96 ** (step * momentum_decay)))
        mu_next = beta1 * (1.0 - 0.5 * (0.96 ** ((step + 1) * momentum_decay)))

        # update mu_product (a Python float here, a float32 tensor in PyTorch)
        if _torch113:
            state["mu_product"] = (torch.tensor(state["mu_product"], dtype=torch.float32) * mu).item()
        else:
            state["mu_product"] *= mu
        mu_product = state["mu_product"]

        # decay the first and second moment running average coefficient
        exp_avg.lerp_(grad, 1 - beta1)
        exp_avg_sq.mul_(beta2).addcmul_(grad, grad, value=1 - beta2)

        if _torch113:  # 1.13: float32 tensor ops, mu twice
            mu_product_next = (torch.tensor(mu_product, dtype=torch.float32) * mu * mu_next).item()
        else:
            mu_product_next = mu_product * mu_next

        if bias_correction:
            value_grad = -lr * (1.0 - mu) / (1.0 - mu_product)
            value_exp_avg = (-lr * mu_next) / (1.0 - mu_product_next)
        else:
            value_grad = -lr * (1.0 - mu)
            value_exp_avg = -lr * mu_next

        if eps_mode == "pytorch":
            denom = exp_avg_sq.div(bias_correction2).sqrt()
            denom.add_(eps)
        else:
            bias_correction2_sqrt = bias_correction2 ** 0.5
            denom = exp_avg_sq.sqrt().add_(eps)
            value_grad = value_grad * bias_correction2_sqrt
            value_exp_avg = value_exp_avg * bias_correction2_sqrt
        param.addcdiv_(grad, denom, value=value_grad)
        param.addcdiv_(exp_avg, denom, value=value_exp_avg)


# ---------------------------------------------------------------------------------------------
# RAdam
# ---------------------------------------------------------------------------------------------
def radam(params, grads, states, *, lr, beta1, beta2, eps, weight_decay, maximize=False,
          decoupled_weight_decay=False, bias_correction=True):
    """Current ``_single_tensor_radam``.

    ``grad = -grad if maximize``; ``step += 1``; weight decay (decoupled or
    L2); ``exp_avg.lerp_(grad, 1-beta1)``; ``exp_avg_sq.mul_(beta2).
    addcmul_(grad, grad, value=1-beta2)``; ``bc1 = 1-beta1**step`` (1.0
    without bias correction), ``bc2 = 1-beta2**step``;
    ``bias_corrected_exp_avg = exp_avg / bc1``; ``rho_inf = 2/(1-beta2) - 1``;
    ``rho_t = rho_inf - 2*step*(beta2**step)/bc2`` (always the true bc2);
    if ``rho_t > 5``: ``rect = ((rho_t-4)*(rho_t-2)*rho_inf/((rho_inf-4)*
    (rho_inf-2)*rho_t))**0.5``; ``adaptive_lr = (bc2**0.5) /
    exp_avg_sq.sqrt().add_(eps)`` (``1.0 / ...`` without bias correction;
    float over tensor = reciprocal then multiply);
    ``param.add_(bias_corrected_exp_avg * lr * adaptive_lr * rect,
    alpha=-1.0)`` (left to right, each product rounded); else
    ``param.add_(bias_corrected_exp_avg * lr, alpha=-1.0)``.
    """
    for i, param in enumerate(params):
        state = states[i]
        grad = grads[i] if not maximize else -grads[i]
        exp_avg = state["exp_avg"]
        exp_avg_sq = state["exp_avg_sq"]
        step_t = state["step"]

        # update step
        step_t += 1
        step = _get_value(step_t)

        if weight_decay != 0:
            if decoupled_weight_decay:
                param.mul_(1 - lr * weight_decay)
            else:
                grad = grad.add(param, alpha=weight_decay)

        # Decay the first and second moment running average coefficient
        exp_avg.lerp_(grad, 1 - beta1)
        exp_avg_sq.mul_(beta2).addcmul_(grad, grad, value=1 - beta2)

        bias_correction1 = (1 - beta1 ** step) if bias_correction else 1.0
        bias_correction2 = 1 - beta2 ** step
        adaptive_numerator = (bias_correction2 ** 0.5) if bias_correction else 1.0

        # correcting bias for the first moving moment
        bias_corrected_exp_avg = exp_avg / bias_correction1

        # maximum length of the approximated SMA
        rho_inf = 2 / (1 - beta2) - 1
        # compute the length of the approximated SMA
        rho_t = rho_inf - 2 * step * (beta2 ** step) / bias_correction2

        def _compute_rect():
            return (
                (rho_t - 4) * (rho_t - 2) * rho_inf / ((rho_inf - 4) * (rho_inf - 2) * rho_t)
            ) ** 0.5

        def _compute_adaptive_lr():
            exp_avg_sq_sqrt = exp_avg_sq.sqrt()
            exp_avg_sq_sqrt = exp_avg_sq_sqrt.add_(eps)
            return adaptive_numerator / exp_avg_sq_sqrt

        # Compute the variance rectification term and update parameters accordingly
        if rho_t > 5.0:
            param.add_(bias_corrected_exp_avg * lr * _compute_adaptive_lr() * _compute_rect(), alpha=-1.0)
        else:
            param.add_(bias_corrected_exp_avg * lr, alpha=-1.0)


# ---------------------------------------------------------------------------------------------
# Adagrad
# ---------------------------------------------------------------------------------------------
def adagrad(params, grads, states, *, lr, weight_decay, lr_decay, eps, maximize):
    """Current ``_single_tensor_adagrad`` (dense gradients).

    State exists from construction: ``sum = full_like(p,
    initial_accumulator_value)``, ``step = 0``. ``step += 1``; ``grad = -grad
    if maximize``; L2 wd; ``clr = lr / (1 + (step-1)*lr_decay)``;
    ``sum.addcmul_(grad, grad, value=1)``; ``std = sum.sqrt().add_(eps)``;
    ``param.addcdiv_(grad, std, value=-clr)``.
    """
    for i, param in enumerate(params):
        state = states[i]
        grad = grads[i]
        state_sum = state["sum"]
        step_t = state["step"]
        # update step
        step_t += 1
        step = _get_value(step_t)
        grad = grad if not maximize else -grad

        if weight_decay != 0:
            grad = grad.add(param, alpha=weight_decay)

        clr = lr / (1 + (step - 1) * lr_decay)

        state_sum.addcmul_(grad, grad, value=1)
        std = state_sum.sqrt().add_(eps)
        param.addcdiv_(grad, std, value=-clr)


# ---------------------------------------------------------------------------------------------
# RMSprop
# ---------------------------------------------------------------------------------------------
def rmsprop(params, grads, states, *, lr, alpha, eps, weight_decay, momentum, centered, maximize):
    """Current ``_single_tensor_rmsprop``.

    ``step += 1``; ``grad = -grad if maximize``; L2 wd;
    ``square_avg.mul_(alpha).addcmul_(grad, grad, value=1-alpha)``; centered:
    ``grad_avg.lerp_(grad, 1-alpha)``; ``avg = square_avg.addcmul(grad_avg,
    grad_avg, value=-1).sqrt_()``, else ``avg = square_avg.sqrt()``;
    ``avg = avg.add_(eps)``; momentum > 0: ``buf.mul_(momentum).addcdiv_(grad,
    avg)``; ``param.add_(buf, alpha=-lr)``; else ``param.addcdiv_(grad, avg,
    value=-lr)``.
    """
    for i, param in enumerate(params):
        state = states[i]
        grad = grads[i]
        grad = grad if not maximize else -grad
        square_avg = state["square_avg"]
        step = state["step"]

        # update step
        step += 1

        if weight_decay != 0:
            grad = grad.add(param, alpha=weight_decay)

        square_avg.mul_(alpha).addcmul_(grad, grad, value=1 - alpha)

        if centered:
            grad_avg = state["grad_avg"]
            grad_avg.lerp_(grad, 1 - alpha)
            avg = square_avg.addcmul(grad_avg, grad_avg, value=-1).sqrt_()
        else:
            avg = square_avg.sqrt()

        avg = avg.add_(eps)

        if momentum > 0:
            buf = state["momentum_buffer"]
            buf.mul_(momentum).addcdiv_(grad, avg)
            param.add_(buf, alpha=-lr)
        else:
            param.addcdiv_(grad, avg, value=-lr)


# ---------------------------------------------------------------------------------------------
# Adadelta
# ---------------------------------------------------------------------------------------------
def adadelta(params, grads, states, *, lr, rho, eps, weight_decay, maximize):
    """Current ``_single_tensor_adadelta``.

    ``step += 1``; ``grad = -grad if maximize``; L2 wd;
    ``square_avg.mul_(rho).addcmul_(grad, grad, value=1-rho)``;
    ``std = square_avg.add(eps).sqrt_()``; ``delta = acc_delta.add(eps).
    sqrt_().div_(std).mul_(grad)``; ``acc_delta.mul_(rho).addcmul_(delta,
    delta, value=1-rho)``; ``param.add_(delta, alpha=-lr)``.
    """
    for i, param in enumerate(params):
        state = states[i]
        grad = grads[i]
        square_avg = state["square_avg"]
        acc_delta = state["acc_delta"]
        step = state["step"]
        # update step
        step += 1
        grad = grad if not maximize else -grad

        if weight_decay != 0:
            grad = grad.add(param, alpha=weight_decay)

        square_avg.mul_(rho).addcmul_(grad, grad, value=1 - rho)
        std = square_avg.add(eps).sqrt_()
        delta = acc_delta.add(eps).sqrt_()
        delta.div_(std).mul_(grad)
        acc_delta.mul_(rho).addcmul_(delta, delta, value=1 - rho)

        param.add_(delta, alpha=-lr)


# ---------------------------------------------------------------------------------------------
# SGD
# ---------------------------------------------------------------------------------------------
def sgd(params, grads, states, *, lr, weight_decay, momentum, dampening, nesterov, maximize):
    """Current ``_single_tensor_sgd`` (no step state).

    ``grad = -grad if maximize``; L2 wd; momentum != 0: first time
    ``buf = grad.clone()`` (stored as state["momentum_buffer"]), later
    ``buf.mul_(momentum).add_(grad, alpha=1-dampening)``; nesterov:
    ``grad = grad.add(buf, alpha=momentum)`` else ``grad = buf``;
    ``param.add_(grad, alpha=-lr)``.
    """
    for i, param in enumerate(params):
        state = states[i]
        grad = grads[i] if not maximize else -grads[i]

        if weight_decay != 0:
            grad = grad.add(param, alpha=weight_decay)

        if momentum != 0:
            buf = state.get("momentum_buffer")

            if buf is None:
                buf = torch.clone(grad).detach()
                state["momentum_buffer"] = buf
            else:
                buf.mul_(momentum).add_(grad, alpha=1 - dampening)

            if nesterov:
                grad = grad.add(buf, alpha=momentum)
            else:
                grad = buf

        param.add_(grad, alpha=-lr)


# ---------------------------------------------------------------------------------------------
# Lion
# ---------------------------------------------------------------------------------------------
def lion(params, grads, states, *, lr, beta1, beta2, weight_decay, maximize):
    """lucidrains' ``Lion.step`` (``update_fn``), plus ``maximize`` and a sign that propagates NaN.

    ``step += 1`` (current PyTorch's convention for a step count; lion-pytorch keeps none);
    ``grad = -grad if maximize``; ``p.mul_(1 - lr*wd)``;
    ``update = exp_avg.clone().mul_(beta1).add(grad, alpha=1-beta1).sign_()``;
    ``p.add_(update, alpha=-lr)``; ``exp_avg.mul_(beta2).add_(grad, alpha=1-beta2)``.
    """
    for i, param in enumerate(params):
        state = states[i]
        grad = grads[i] if not maximize else -grads[i]
        exp_avg = state["exp_avg"]
        state["step"] += 1

        param.mul_(1.0 - lr * weight_decay)
        update = exp_avg.clone().mul_(beta1).add(grad, alpha=1.0 - beta1)
        update = torch.where(update.isnan(), update, update.sign())  # torch.sign(NaN) is 0
        param.add_(update, alpha=-lr)
        exp_avg.mul_(beta2).add_(grad, alpha=1.0 - beta2)


FUNCTIONS = dict(adam=adam, adamw=adamw, adamax=adamax, nadam=nadam, radam=radam, adagrad=adagrad,
                 rmsprop=rmsprop, adadelta=adadelta, sgd=sgd, lion=lion)


# ---------------------------------------------------------------------------------------------
# State initialisation and the driver
# ---------------------------------------------------------------------------------------------
def full_options(algorithm, **overrides):
    """All options of ``algorithm`` with defaults filled in (rejects unknown names)."""
    if algorithm not in DEFAULTS:
        raise ValueError(f"unknown algorithm {algorithm!r}")
    opts = dict(DEFAULTS[algorithm])
    for k, v in overrides.items():
        if k not in opts:
            raise ValueError(f"{algorithm} has no option {k!r}")
        opts[k] = v
    if "betas" in opts:
        opts["betas"] = tuple(float(b) for b in opts["betas"])
    if algorithm == "adamw" and not opts["decoupled_weight_decay"]:
        raise ValueError("adamw always decouples weight decay")
    return opts


def init_state(algorithm, param, options):
    """A new state dict, as current PyTorch's ``_init_group`` (or Adagrad's
    constructor) creates it."""
    zeros = lambda: torch.zeros_like(param, memory_format=torch.preserve_format)  # noqa: E731
    step = torch.tensor(0.0)  # float32 0-dim, as _get_scalar_dtype() on CPU
    if algorithm in ("adam", "adamw"):
        state = dict(step=step, exp_avg=zeros(), exp_avg_sq=zeros())
        if options["amsgrad"]:
            state["max_exp_avg_sq"] = zeros()
    elif algorithm == "adamax":
        state = dict(step=step, exp_avg=zeros(), exp_inf=zeros())
    elif algorithm == "nadam":
        state = dict(step=step, mu_product=1.0, exp_avg=zeros(), exp_avg_sq=zeros())
    elif algorithm == "radam":
        state = dict(step=step, exp_avg=zeros(), exp_avg_sq=zeros())
    elif algorithm == "adagrad":
        state = dict(step=step, sum=torch.full_like(param, options["initial_accumulator_value"],
                                                    memory_format=torch.preserve_format))
    elif algorithm == "rmsprop":
        state = dict(step=step, square_avg=zeros())
        if options["momentum"] > 0:
            state["momentum_buffer"] = zeros()
        if options["centered"]:
            state["grad_avg"] = zeros()
    elif algorithm == "adadelta":
        state = dict(step=step, square_avg=zeros(), acc_delta=zeros())
    elif algorithm == "sgd":
        state = {}  # momentum_buffer appears at the first step with momentum != 0
    elif algorithm == "lion":
        state = dict(step=step, exp_avg=zeros())
    else:
        raise ValueError(f"unknown algorithm {algorithm!r}")
    return state


def hyperparameters(algorithm, options):
    """The keyword arguments of FUNCTIONS[algorithm] for the given options."""
    kw = {k: v for k, v in options.items() if k not in ("betas", "initial_accumulator_value")}
    if "betas" in options:
        kw["beta1"], kw["beta2"] = options["betas"]
    if algorithm == "adamw":
        kw.pop("decoupled_weight_decay")
    return kw


class Optimizer:
    """One parameter group of ``algorithm`` over ``params`` (updated in place).

    ``options`` may be changed between steps (e.g. options["lr"]), like a
    PyTorch param_group. ``step(grads)`` takes one gradient (or None) per
    parameter; parameters without a gradient are skipped entirely."""

    def __init__(self, algorithm, params, **options):
        self.algorithm = algorithm
        self.params = list(params)
        self.options = full_options(algorithm, **options)
        self.state = [None] * len(self.params)
        if algorithm == "adagrad":  # Adagrad initialises its state in the constructor
            self.state = [init_state(algorithm, p, self.options) for p in self.params]

    def step(self, grads, **private):
        if len(grads) != len(self.params):
            raise ValueError("one gradient (or None) per parameter")
        idx = [i for i, g in enumerate(grads) if g is not None]
        for i in idx:
            if self.state[i] is None:
                self.state[i] = init_state(self.algorithm, self.params[i], self.options)
        FUNCTIONS[self.algorithm]([self.params[i] for i in idx], [grads[i] for i in idx],
                                  [self.state[i] for i in idx], **hyperparameters(self.algorithm, self.options),
                                  **private)


# ---------------------------------------------------------------------------------------------
# Cross-check against torch.optim (1.13)
# ---------------------------------------------------------------------------------------------
# Differences are measured per tensor (parameter or state tensor of one
# parameter) in ulps of its largest magnitude so far: max|ref - torch| /
# (eps(dtype) * max over steps <= t of max|ref|). That is the natural scale of
# rounding error carried by a recurrence such as m = b1*m + (1-b1)*g, whose
# value may shrink by cancellation long after the error was made.
#
# In the configurations 1.13 supports the only numerical difference is the
# moving average of the gradient (exp_avg, and grad_avg of centered RMSprop):
# current PyTorch's lerp_ is one FMA, 1.13's mul_(b).add_(g, alpha=1-b) is a
# rounded product then an FMA. Per step the two differ by at most ~1.5 ulps of
# max(|m_prev|, |m|, (1-b)|g|); older differences are multiplied by b each
# step, so at most 1.5/(1-b) ulps of the running maximum: 15 for b1 = 0.9, 150
# for RMSprop's alpha = 0.99 in the (never approached) worst case where every
# rounding goes the same way; random signs give ~1/sqrt(1-b^2) ulps (2.3 and 7).
# Parameters inherit differences far below their own ulp, i.e. occasional
# one-ulp rounding flips. CROSS_CHECK_BOUND_ULPS = 32 is twice the b1 = 0.9
# worst case and ~5x the observed maximum (6.0 ulps, centered RMSprop's
# grad_avg); the NAdam bug shows as ~1e3 ulps in the parameters.
CROSS_CHECK_BOUND_ULPS = 32.0
# A configuration "differs by more than rounding" when some step's parameter
# update (p_t - p_{t-1}) differs by more than this fraction of its size.
# Rounding alone stays below 3e-4 in float32 here (one ulp of |p| against
# an update of ~lr), below 1e-12 in float64; the NAdam bug gives ~0.05.
DIFFERS_MIN_UPDATE_REL = 1e-2

# Options 1.13's torch.optim.<Algo> accepts (the others must be at our default).
_TORCH113_KWARGS = {
    "adam": ("lr", "betas", "eps", "weight_decay", "amsgrad", "maximize"),
    "adamw": ("lr", "betas", "eps", "weight_decay", "amsgrad", "maximize"),
    "adamax": ("lr", "betas", "eps", "weight_decay", "maximize"),
    "nadam": ("lr", "betas", "eps", "weight_decay", "momentum_decay"),
    "radam": ("lr", "betas", "eps", "weight_decay"),
    "adagrad": ("lr", "lr_decay", "weight_decay", "initial_accumulator_value", "eps", "maximize"),
    "rmsprop": ("lr", "alpha", "eps", "weight_decay", "momentum", "centered", "maximize"),
    "adadelta": ("lr", "rho", "eps", "weight_decay", "maximize"),
    "sgd": ("lr", "momentum", "dampening", "weight_decay", "nesterov", "maximize"),
}
_TORCH113_CLASSES = dict(adam="Adam", adamw="AdamW", adamax="Adamax", nadam="NAdam", radam="RAdam",
                         adagrad="Adagrad", rmsprop="RMSprop", adadelta="Adadelta", sgd="SGD")


def torch113_supports(algorithm, options):
    """Whether 1.13's torch.optim can run this configuration."""
    if algorithm not in _TORCH113_KWARGS:  # an algorithm torch lacks (Lion)
        return False
    for k, v in options.items():
        if k not in _TORCH113_KWARGS[algorithm] and v != DEFAULTS[algorithm][k]:
            return False
    return True


class _Difference:
    """Largest difference seen, in ulps of each tensor's running max magnitude."""

    def __init__(self):
        self.scale = {}
        self.worst = (0.0, None)

    def add(self, key, a, b, dtype, step):
        a = a.detach().double().reshape(-1)
        b = b.detach().double().reshape(-1)
        finite = a[torch.isfinite(a)]
        if finite.numel():
            self.scale[key] = max(self.scale.get(key, 0.0), float(finite.abs().max()))
        same = (a == b) | (torch.isnan(a) & torch.isnan(b))
        if bool(same.all()):
            return
        a_d, b_d = a[~same], b[~same]
        if not (bool(torch.isfinite(a_d).all()) and bool(torch.isfinite(b_d).all())):
            ulps = math.inf
        else:
            ulps = float((a_d - b_d).abs().max()) / (torch.finfo(dtype).eps * max(self.scale.get(key, 0.0), 1e-300))
        if ulps > self.worst[0]:
            self.worst = (ulps, f"{key[1]}.{key[0]} at step {step}")


def run_pair(algorithm, options, inputs, dtype, **private):
    """Run the reference and 1.13's torch.optim side by side on ``inputs`` (see
    generate.make_inputs). Returns (max ulps, where, max relative update
    difference): the largest difference over all steps, parameters and state
    tensors in ulps of ``dtype`` (mu_product: of float32, as 1.13 keeps it),
    and the largest max|du_ref - du_torch| / max|du_ref| over the steps'
    parameter updates du. Step counts and which states exist must be equal."""
    ref_params = [torch.tensor(p, dtype=dtype) for p in inputs["params"]]
    t_params = [torch.tensor(p, dtype=dtype).requires_grad_() for p in inputs["params"]]
    ref = Optimizer(algorithm, ref_params, **options)
    kwargs = {k: options[k] for k in _TORCH113_KWARGS[algorithm]}
    kwargs["foreach"] = False
    opt = getattr(torch.optim, _TORCH113_CLASSES[algorithm])(t_params, **kwargs)
    diff, update_rel = _Difference(), 0.0
    for t in range(inputs["steps"]):
        ref.options["lr"] = opt.param_groups[0]["lr"] = inputs["lr"][t]
        grads = [None if g is None else torch.tensor(g, dtype=dtype) for g in inputs["grads"][t]]
        before = [(rp.double().clone(), tp.detach().double().clone()) for rp, tp in zip(ref_params, t_params)]
        ref.step([None if g is None else g.clone() for g in grads], **private)
        for p, g in zip(t_params, grads):
            p.grad = None if g is None else g.clone()
        opt.step()
        for i, (rp, tp) in enumerate(zip(ref_params, t_params)):
            diff.add((i, "param"), rp, tp, dtype, t + 1)
            du_ref, du_t = rp.double() - before[i][0], tp.detach().double() - before[i][1]
            size = float(du_ref.abs().max())
            if size > 0 and math.isfinite(size):
                update_rel = max(update_rel, float((du_ref - du_t).abs().max()) / size)
            rs = ref.state[i] or {}
            ts = {k: v for k, v in opt.state.get(tp, {}).items() if v is not None}
            if sorted(rs) != sorted(ts):
                raise AssertionError(f"{algorithm} step {t + 1} param {i}: state keys {sorted(rs)} vs {sorted(ts)}")
            for name in STATE_TENSORS[algorithm]:
                if name in rs:
                    diff.add((i, name), rs[name], ts[name], dtype, t + 1)
            if "step" in rs and _get_value(rs["step"]) != _get_value(ts["step"]):
                raise AssertionError(f"{algorithm} step {t + 1} param {i}: step count differs")
            if "mu_product" in rs:
                diff.add((i, "mu_product"), torch.tensor(rs["mu_product"]), ts["mu_product"], torch.float32, t + 1)
    return diff.worst[0], diff.worst[1], update_rel


def cross_check(verbose=True):
    """Cross-check every golden case that torch 1.13's torch.optim can express.

    Returns a list of dicts (name, expect, ulps, where, update_rel, ok).
    expect "agree": ulps <= CROSS_CHECK_BOUND_ULPS. NAdam: expect "differ"
    (1.13's mu_product_next bug): some update differs by more than
    DIFFERS_MIN_UPDATE_REL; and "agree" again once the reference reproduces
    1.13's NAdam (_torch113=True), showing that the bug is the only difference."""
    sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
    import generate  # noqa: E402  (same directory; imports this module)

    results = []
    for case in generate.CASES:
        algorithm = case["algorithm"]
        options = full_options(algorithm, **case["options"])
        if not torch113_supports(algorithm, options):
            continue
        dtype = generate.DTYPES[case["dtype"]]
        inputs = generate.make_inputs(case)
        cls = "torch.optim." + _TORCH113_CLASSES[algorithm]
        ulps, where, update_rel = run_pair(algorithm, options, inputs, dtype)
        if algorithm == "nadam":
            results.append(dict(name=f"{case['name']} vs {cls} (1.13 bug)", expect="differ", ulps=ulps, where=where,
                                update_rel=update_rel, ok=update_rel > DIFFERS_MIN_UPDATE_REL))
            ulps, where, update_rel = run_pair(algorithm, options, inputs, dtype, _torch113=True)
            results.append(dict(name=f"{case['name']} (1.13 bug reproduced) vs {cls}", expect="agree", ulps=ulps,
                                where=where, update_rel=update_rel, ok=ulps <= CROSS_CHECK_BOUND_ULPS))
        else:
            results.append(dict(name=f"{case['name']} vs {cls}", expect="agree", ulps=ulps, where=where,
                                update_rel=update_rel, ok=ulps <= CROSS_CHECK_BOUND_ULPS))
    if verbose:
        for r in results:
            if r["expect"] == "agree":
                verdict = f"agree: {r['ulps']:6.3g} ulps <= {CROSS_CHECK_BOUND_ULPS:g}"
            else:
                verdict = f"differ: update off by {r['update_rel']:.3g} > {DIFFERS_MIN_UPDATE_REL:g} ({r['ulps']:.3g} ulps)"
            print(f"{'ok  ' if r['ok'] else 'FAIL'} {r['name']:62s} {verdict}"
                  + (f"  [max at {r['where']}]" if r["where"] else ""))
    return results


if __name__ == "__main__":
    print(f"torch {torch.__version__}, "
          f"{torch.__config__.show().split('CPU capability usage: ')[1].splitlines()[0]}")
    res = cross_check()
    bad = [r for r in res if not r["ok"]]
    print(f"{len(res) - len(bad)}/{len(res)} cross-checks passed")
    sys.exit(1 if bad else 0)
