"""RAdam: Adam with the variance of the adaptive learning rate rectified."""

from typing import Optional

from adamant.torch import _base


@_base.drop_in("radam")
class RAdam(_base.Optimizer):
    """torch.optim.RAdam, stepped by adamant in C++ (CPU; float32, float64, bfloat16 and float16 tensors).

    Arguments as current PyTorch's ``torch.optim.RAdam`` (``decoupled_weight_decay`` and ``maximize``
    included; ``foreach`` has no effect; ``capturable`` and ``differentiable`` must stay False), plus
    adamant's ``bias_correction`` (default True) and the mixed-precision options ``master_weights``,
    ``stochastic_rounding`` and ``seed`` (see ``adamant.torch``).
    """

    def __init__(self, params, lr=1e-3, betas=(0.9, 0.999), eps=1e-8, weight_decay=0,
                 decoupled_weight_decay: bool = False, *, foreach: Optional[bool] = None, maximize: bool = False,
                 capturable: bool = False, differentiable: bool = False, bias_correction: bool = True,
                 master_weights: bool = False, stochastic_rounding: bool = False, seed: int = 0,
                 state_dtype="float32", min_quant_size: int = 4096,
                 nonfinite: str = "propagate"):
        super().__init__(params, dict(lr=lr, betas=betas, eps=eps, weight_decay=weight_decay, foreach=foreach,
                                      maximize=maximize, capturable=capturable, differentiable=differentiable,
                                      decoupled_weight_decay=decoupled_weight_decay,
                                      bias_correction=bias_correction, master_weights=master_weights, stochastic_rounding=stochastic_rounding, seed=seed, state_dtype=state_dtype, min_quant_size=min_quant_size),
                         nonfinite=nonfinite)
