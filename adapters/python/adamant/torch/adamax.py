"""Adamax: Adam with the infinity norm."""

from typing import Optional

from adamant.torch import _base


@_base.drop_in("adamax")
class Adamax(_base.Optimizer):
    """torch.optim.Adamax, stepped by adamant in C++ (CPU; float32, float64, bfloat16 and float16 tensors).

    Arguments as current PyTorch's ``torch.optim.Adamax`` (``foreach`` has no effect; ``capturable`` and
    ``differentiable`` must stay False), plus adamant's ``bias_correction`` (default True) and ``eps_mode``
    ("pytorch": eps inside the max, as PyTorch; "tensorflow": after it, as Keras), and the mixed-precision
    options ``master_weights``, ``stochastic_rounding`` and ``seed`` (see ``adamant.torch``).
    """

    def __init__(self, params, lr=2e-3, betas=(0.9, 0.999), eps=1e-8, weight_decay=0,
                 foreach: Optional[bool] = None, *, maximize: bool = False, differentiable: bool = False,
                 capturable: bool = False, bias_correction: bool = True, eps_mode: str = "pytorch",
                 master_weights: bool = False, stochastic_rounding: bool = False, seed: int = 0,
                 state_dtype="float32", min_quant_size: int = 4096,
                 nonfinite: str = "propagate"):
        super().__init__(params, dict(lr=lr, betas=betas, eps=eps, weight_decay=weight_decay, foreach=foreach,
                                      maximize=maximize, differentiable=differentiable, capturable=capturable,
                                      bias_correction=bias_correction, eps_mode=eps_mode, master_weights=master_weights, stochastic_rounding=stochastic_rounding, seed=seed, state_dtype=state_dtype, min_quant_size=min_quant_size),
                         nonfinite=nonfinite)
