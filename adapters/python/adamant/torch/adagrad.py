"""Adagrad."""

from typing import Optional

from adamant.torch import _base
from adamant.torch._base import new_state, new_step, state_dtype, storage_for


def _init_state(state, p, group):
    state["step"] = new_step()
    init = group["initial_accumulator_value"]
    state.update(new_state(p, "sum", state_dtype(p, storage_for(group, "sum", p)), init))


@_base.drop_in("adagrad")
class Adagrad(_base.Optimizer):
    """torch.optim.Adagrad, stepped by adamant in C++ (CPU; float32, float64, bfloat16 and float16 tensors).

    Arguments as current PyTorch's ``torch.optim.Adagrad`` (``foreach`` and ``fused`` have no effect;
    ``differentiable`` must stay False). As in torch, ``sum`` and ``step`` are created for every parameter
    when it joins the optimizer (also through ``add_param_group``). Sparse gradients, which torch.optim's
    Adagrad accepts, are refused. adamant's mixed-precision options ``master_weights``,
    ``stochastic_rounding`` and ``seed``: see ``adamant.torch``.
    """

    _torch_handles_sparse = True

    def __init__(self, params, lr=1e-2, lr_decay=0, weight_decay=0, initial_accumulator_value=0, eps=1e-10,
                 foreach: Optional[bool] = None, *, maximize: bool = False, differentiable: bool = False,
                 fused: Optional[bool] = None, master_weights: bool = False, stochastic_rounding: bool = False, seed: int = 0,
                 state_dtype="float32", min_quant_size: int = 4096,
                 nonfinite: str = "propagate"):
        super().__init__(params, dict(lr=lr, lr_decay=lr_decay, eps=eps, weight_decay=weight_decay,
                                      initial_accumulator_value=initial_accumulator_value, foreach=foreach,
                                      maximize=maximize, differentiable=differentiable, fused=fused,
                                      master_weights=master_weights, stochastic_rounding=stochastic_rounding, seed=seed, state_dtype=state_dtype, min_quant_size=min_quant_size),
                         nonfinite=nonfinite)

    def add_param_group(self, param_group):
        super().add_param_group(param_group)
        group = self.param_groups[-1]
        for p in group["params"]:
            state = self.state[p]
            if not state:
                _init_state(state, p, group)

    def share_memory(self):
        for group in self.param_groups:
            for p in group["params"]:
                for value in self.state[p].values():  # sum, and its block maxima with int8 state
                    if value is not self.state[p]["step"]:
                        value.share_memory_()

    def _init_state(self, state, p, group, names):  # e.g. state cleared by hand
        _init_state(state, p, group)
