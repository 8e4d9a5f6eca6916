"""Adadelta."""

from typing import Optional

from adamant.torch import _base


@_base.drop_in("adadelta")
class Adadelta(_base.Optimizer):
    """torch.optim.Adadelta, stepped by adamant in C++ (CPU; float32, float64, bfloat16 and float16 tensors).

    Arguments as current PyTorch's ``torch.optim.Adadelta`` (``foreach`` has no effect; ``capturable``
    and ``differentiable`` must stay False), plus adamant's mixed-precision options ``master_weights``,
    ``stochastic_rounding`` and ``seed`` (see ``adamant.torch``).
    """

    def __init__(self, params, lr=1.0, rho=0.9, eps=1e-6, weight_decay=0, foreach: Optional[bool] = None, *,
                 capturable: bool = False, maximize: bool = False, differentiable: bool = False,
                 master_weights: bool = False, stochastic_rounding: bool = False, seed: int = 0,
                 state_dtype="float32", min_quant_size: int = 4096,
                 nonfinite: str = "propagate"):
        super().__init__(params, dict(lr=lr, rho=rho, eps=eps, weight_decay=weight_decay, maximize=maximize,
                                      capturable=capturable, foreach=foreach, differentiable=differentiable,
                                      master_weights=master_weights, stochastic_rounding=stochastic_rounding, seed=seed, state_dtype=state_dtype, min_quant_size=min_quant_size),
                         nonfinite=nonfinite)
