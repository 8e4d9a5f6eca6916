"""RMSprop."""

from typing import Optional

from adamant.torch import _base


@_base.drop_in("rmsprop")
class RMSprop(_base.Optimizer):
    """torch.optim.RMSprop, stepped by adamant in C++ (CPU; float32, float64, bfloat16 and float16 tensors).

    Arguments as current PyTorch's ``torch.optim.RMSprop`` (``foreach`` has no effect; ``capturable`` and
    ``differentiable`` must stay False). State: ``step``, ``square_avg``, ``momentum_buffer`` when
    momentum > 0, ``grad_avg`` when centered. adamant's keyword-only mixed-precision options
    ``master_weights``, ``stochastic_rounding`` and ``seed``: see ``adamant.torch``.
    """

    def __init__(self, params, lr=1e-2, alpha=0.99, eps=1e-8, weight_decay=0, momentum=0, centered=False,
                 capturable: bool = False, foreach: Optional[bool] = None, maximize: bool = False,
                 differentiable: bool = False, *, master_weights: bool = False, stochastic_rounding: bool = False, seed: int = 0,
                 state_dtype="float32", min_quant_size: int = 4096,
                 nonfinite: str = "propagate"):
        super().__init__(params, dict(lr=lr, momentum=momentum, alpha=alpha, eps=eps, centered=centered,
                                      weight_decay=weight_decay, capturable=capturable, foreach=foreach,
                                      maximize=maximize, differentiable=differentiable, master_weights=master_weights, stochastic_rounding=stochastic_rounding, seed=seed, state_dtype=state_dtype, min_quant_size=min_quant_size),
                         nonfinite=nonfinite)

    # Created on first use, so that switching momentum or centered on later works.
    _lazy_buffers = frozenset(("momentum_buffer", "grad_avg"))

    def _buffers(self, group):
        return ("square_avg", "momentum_buffer" if group["momentum"] > 0 else None,
                "grad_avg" if group["centered"] else None)
