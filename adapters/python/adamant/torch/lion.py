"""Lion (Chen et al. 2023, "Symbolic Discovery of Optimization Algorithms")."""

from typing import Optional

from adamant.torch import _base


@_base.drop_in("lion")
class Lion(_base.Optimizer):
    """Lion, stepped by adamant in C++ (CPU; float32, float64, bfloat16 and float16 tensors).

    torch 1.13 has no Lion; the arguments, defaults and update order are those of lucidrains'
    ``lion_pytorch.Lion``, the de-facto PyTorch reference: ``p *= 1 - lr * weight_decay``, then
    ``p -= lr * sign(beta1 * exp_avg + (1 - beta1) * grad)``, then
    ``exp_avg = beta2 * exp_avg + (1 - beta2) * grad``. State: ``step`` and ``exp_avg``. A NaN gradient
    makes the parameter NaN (torch.sign would give 0 and freeze it silently). Use an ``lr`` 3-10x smaller
    and a ``weight_decay`` 3-10x larger than AdamW's. adamant's options as every drop-in: ``maximize``,
    ``foreach`` (no effect), ``differentiable`` (must stay False), ``master_weights``, ``stochastic_rounding``, ``seed`` and ``nonfinite``
    (see ``adamant.torch``).
    """

    _complex_refusal = ("Lion takes the sign of its update, which has no componentwise meaning for complex "
                        "numbers (lion-pytorch refuses them too); optimize torch.view_as_real(p) to mean the "
                        "sign of each real and imaginary part")

    def __init__(self, params, lr=1e-4, betas=(0.9, 0.99), weight_decay=0.0, *, maximize: bool = False,
                 foreach: Optional[bool] = None, differentiable: bool = False, master_weights: bool = False,
                 stochastic_rounding: bool = False, seed: int = 0,
                 state_dtype="float32", min_quant_size: int = 4096, nonfinite: str = "propagate"):
        super().__init__(params, dict(lr=lr, betas=betas, weight_decay=weight_decay, maximize=maximize,
                                      foreach=foreach, differentiable=differentiable, master_weights=master_weights,
                                      stochastic_rounding=stochastic_rounding, seed=seed, state_dtype=state_dtype, min_quant_size=min_quant_size),
                         nonfinite=nonfinite)
