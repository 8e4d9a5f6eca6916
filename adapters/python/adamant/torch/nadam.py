"""NAdam: Adam with Nesterov momentum (current PyTorch's, without torch 1.13's mu_product bug)."""

from itertools import chain
from typing import Optional

import torch
from torch import Tensor

from adamant.torch import _base
from adamant.torch._base import new_state, new_step, state_dtype, storage_for

_MU_DTYPE = torch.float64


def _mu_product_of(state):
    """(the mu_product tensor, its value); the tensor is float64 0-dim (torch's float32 one is converted)."""
    mu = state["mu_product"]
    if mu.__class__ is Tensor and mu.dtype is _MU_DTYPE and mu.dim() == 0 and mu.is_cpu:
        return mu, mu.item()
    value = float(mu)
    mu = torch.tensor(value, dtype=_MU_DTYPE)
    state["mu_product"] = mu
    return mu, value


@_base.drop_in("nadam")
class NAdam(_base.Optimizer):
    """torch.optim.NAdam, stepped by adamant in C++ (CPU; float32, float64, bfloat16 and float16 tensors).

    Arguments as current PyTorch's ``torch.optim.NAdam`` (``decoupled_weight_decay`` and ``maximize``
    included; ``foreach`` has no effect; ``capturable`` and ``differentiable`` must stay False), plus
    adamant's ``bias_correction`` (default True), ``eps_mode`` ("pytorch" or "tensorflow") and the
    mixed-precision options ``master_weights``, ``stochastic_rounding`` and ``seed`` (see ``adamant.torch``).

    The state's ``mu_product`` is kept as a float64 0-dim tensor (PyTorch keeps float32); a float32 one,
    e.g. from a torch state dict, is accepted. Unlike torch 1.13, the step follows current PyTorch:
    ``mu_product_next = mu_product * mu_next`` (1.13 multiplied ``mu`` in twice).
    """

    def __init__(self, params, lr=2e-3, betas=(0.9, 0.999), eps=1e-8, weight_decay=0, momentum_decay=4e-3,
                 decoupled_weight_decay: bool = False, *, foreach: Optional[bool] = None, maximize: bool = False,
                 capturable: bool = False, differentiable: bool = False, bias_correction: bool = True,
                 eps_mode: str = "pytorch", master_weights: bool = False, stochastic_rounding: bool = False, seed: int = 0,
                 state_dtype="float32", min_quant_size: int = 4096,
                 nonfinite: str = "propagate"):
        super().__init__(params, dict(lr=lr, betas=betas, eps=eps, weight_decay=weight_decay,
                                      momentum_decay=momentum_decay, decoupled_weight_decay=decoupled_weight_decay,
                                      foreach=foreach, maximize=maximize, capturable=capturable,
                                      differentiable=differentiable, bias_correction=bias_correction,
                                      eps_mode=eps_mode, master_weights=master_weights, stochastic_rounding=stochastic_rounding, seed=seed, state_dtype=state_dtype, min_quant_size=min_quant_size),
                         nonfinite=nonfinite)

    def load_state_dict(self, state_dict):
        """torch.optim's load_state_dict, except that ``mu_product`` keeps its precision.

        torch casts every floating state tensor but ``step`` to the parameter's dtype, which would round
        a float64 ``mu_product`` to float32 for float32 parameters; it is restored here, so that resuming
        from a checkpoint repeats the uninterrupted run exactly.
        """
        saved = {key: s["mu_product"] for key, s in state_dict["state"].items()
                 if isinstance(s, dict) and "mu_product" in s}
        super().load_state_dict(state_dict)
        if not saved:
            return
        ids = chain.from_iterable(g["params"] for g in state_dict["param_groups"])
        params = chain.from_iterable(g["params"] for g in self.param_groups)
        for key, p in zip(ids, params):
            if key in saved and p in self.state:
                self.state[p]["mu_product"] = torch.tensor(float(saved[key]), dtype=_MU_DTYPE)

    def _init_state(self, state, p, group, names):
        state["step"] = new_step()
        state["mu_product"] = torch.tensor(1.0, dtype=_MU_DTYPE)
        for name in ("exp_avg", "exp_avg_sq"):
            state.update(new_state(p, name, state_dtype(p, storage_for(group, name, p))))

    def _after_step(self, state, mus):
        mu, mu_product = _mu_product_of(state)
        mus.append(mu)
        return (mu_product,)

    def _finish(self, mus, mu_products):
        for mu, value in zip(mus, mu_products):
            mu.fill_(value)
