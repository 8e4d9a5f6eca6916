"""Adam and AdamW (Adam with decoupled weight decay)."""

from typing import Optional

from adamant.torch import _base


@_base.drop_in("adam")
class Adam(_base.Optimizer):
    """torch.optim.Adam, stepped by adamant in C++ (CPU; float32, float64, bfloat16 and float16 tensors).

    Arguments as current PyTorch's ``torch.optim.Adam``; ``foreach`` and ``fused`` are accepted and have
    no effect (adamant has one multi-tensor CPU implementation); ``capturable=True`` and
    ``differentiable=True`` raise NotImplementedError. adamant's extra options:

    * ``bias_correction`` (default True): False drops both bias corrections.
    * ``eps_mode`` (default "pytorch"): "tensorflow" adds eps to the root of the uncorrected second
      moment (TensorFlow/Keras's "epsilon hat"), so runs match those frameworks for the same eps.
    * ``master_weights``, ``stochastic_rounding``, ``seed`` (defaults False, False, 0): how bfloat16 and
      float16 parameters are updated (their state is float32); see ``adamant.torch``.
    * ``state_dtype`` (default "float32"): "bfloat16", or a dict by state name (``{"exp_avg_sq":
      "bfloat16"}``), keeps that state in bfloat16: half the memory, the float32 update rounded; as every
      adamant.torch optimizer, see ``adamant.torch``.
    * ``nonfinite`` (default "propagate"): "skip" or "raise" on a NaN or infinite gradient, as every
      adamant.torch optimizer; see ``adamant.torch``.
    """

    def __init__(self, params, lr=1e-3, betas=(0.9, 0.999), eps=1e-8, weight_decay=0, amsgrad=False, *,
                 foreach: Optional[bool] = None, maximize: bool = False, capturable: bool = False,
                 differentiable: bool = False, fused: Optional[bool] = None, decoupled_weight_decay: bool = False,
                 bias_correction: bool = True, eps_mode: str = "pytorch", master_weights: bool = False, stochastic_rounding: bool = False, seed: int = 0,
                 state_dtype="float32", min_quant_size: int = 4096,
                 nonfinite: str = "propagate"):
        super().__init__(params, dict(lr=lr, betas=betas, eps=eps, weight_decay=weight_decay, amsgrad=amsgrad,
                                      maximize=maximize, foreach=foreach, capturable=capturable,
                                      differentiable=differentiable, fused=fused,
                                      decoupled_weight_decay=decoupled_weight_decay,
                                      bias_correction=bias_correction, eps_mode=eps_mode,
                                      master_weights=master_weights, stochastic_rounding=stochastic_rounding, seed=seed, state_dtype=state_dtype, min_quant_size=min_quant_size),
                         nonfinite=nonfinite)

    _lazy_buffers = frozenset(("max_exp_avg_sq",))  # made when amsgrad is first on

    def _buffers(self, group):
        return "exp_avg", "exp_avg_sq", "max_exp_avg_sq" if group["amsgrad"] else None


@_base.drop_in("adamw", decoupled_weight_decay=True)
class AdamW(Adam):
    """torch.optim.AdamW: Adam with decoupled weight decay (``p *= 1 - lr * weight_decay``).

    Arguments as current PyTorch's ``torch.optim.AdamW``, plus ``bias_correction``, ``eps_mode`` and the
    mixed-precision options as for :class:`Adam`. Weight decay is always decoupled.
    """

    def __init__(self, params, lr=1e-3, betas=(0.9, 0.999), eps=1e-8, weight_decay=1e-2, amsgrad=False, *,
                 maximize: bool = False, foreach: Optional[bool] = None, capturable: bool = False,
                 differentiable: bool = False, fused: Optional[bool] = None, bias_correction: bool = True,
                 eps_mode: str = "pytorch", master_weights: bool = False, stochastic_rounding: bool = False, seed: int = 0,
                 state_dtype="float32", min_quant_size: int = 4096,
                 nonfinite: str = "propagate"):
        super().__init__(params, lr=lr, betas=betas, eps=eps, weight_decay=weight_decay, amsgrad=amsgrad,
                         foreach=foreach, maximize=maximize, capturable=capturable, differentiable=differentiable,
                         fused=fused, decoupled_weight_decay=True, bias_correction=bias_correction,
                         eps_mode=eps_mode, master_weights=master_weights, stochastic_rounding=stochastic_rounding, seed=seed,
                         state_dtype=state_dtype, min_quant_size=min_quant_size,
                         nonfinite=nonfinite)
