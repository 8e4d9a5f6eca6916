"""Adam and AdamW (Adam with decoupled weight decay)."""

from typing import Optional

from adamant.torch import _base
from adamant.torch._base import master_ptr, new_step, state_ptr, step_of, zeros


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
    """

    def __init__(self, params, lr=1e-3, betas=(0.9, 0.999), eps=1e-8, weight_decay=0, amsgrad=False, *,
                 foreach: Optional[bool] = None, maximize: bool = False, capturable: bool = False,
                 differentiable: bool = False, fused: Optional[bool] = None, decoupled_weight_decay: bool = False,
                 bias_correction: bool = True, eps_mode: str = "pytorch", master_weights: bool = False, stochastic_rounding: bool = False, seed: int = 0):
        super().__init__(params, dict(lr=lr, betas=betas, eps=eps, weight_decay=weight_decay, amsgrad=amsgrad,
                                      maximize=maximize, foreach=foreach, capturable=capturable,
                                      differentiable=differentiable, fused=fused,
                                      decoupled_weight_decay=decoupled_weight_decay,
                                      bias_correction=bias_correction, eps_mode=eps_mode,
                                      master_weights=master_weights, stochastic_rounding=stochastic_rounding, seed=seed))

    def _prepare(self, group, gi):
        amsgrad = group["amsgrad"]
        masters = group.get("master_weights", False)
        state_of = self.state
        items = []
        steps = []
        keep = []
        for i, p in enumerate(group["params"]):
            g = p.grad
            if g is None:
                continue
            dtype, g, dense = self._checked(p, g, gi, i)
            keep.append(g)
            state = state_of[p]
            if not state:
                state["step"] = new_step()
                state["exp_avg"] = zeros(p)
                state["exp_avg_sq"] = zeros(p)
                if amsgrad:
                    state["max_exp_avg_sq"] = zeros(p)
            elif amsgrad and "max_exp_avg_sq" not in state:  # amsgrad switched on later
                state["max_exp_avg_sq"] = zeros(p)
            st, step = step_of(state)
            step += 1
            items.append((p.data_ptr(), g.data_ptr(), p.numel(), dtype, state_ptr(state, "exp_avg", p, dense),
                          state_ptr(state, "exp_avg_sq", p, dense),
                          state_ptr(state, "max_exp_avg_sq", p, dense) if amsgrad else 0, step,
                          master_ptr(state, p, dense, masters)))
            steps.append((st, step))
        return items, steps, keep, None


@_base.drop_in("adamw", decoupled_weight_decay=True)
class AdamW(Adam):
    """torch.optim.AdamW: Adam with decoupled weight decay (``p *= 1 - lr * weight_decay``).

    Arguments as current PyTorch's ``torch.optim.AdamW``, plus ``bias_correction``, ``eps_mode`` and the
    mixed-precision options as for :class:`Adam`. Weight decay is always decoupled.
    """

    def __init__(self, params, lr=1e-3, betas=(0.9, 0.999), eps=1e-8, weight_decay=1e-2, amsgrad=False, *,
                 maximize: bool = False, foreach: Optional[bool] = None, capturable: bool = False,
                 differentiable: bool = False, fused: Optional[bool] = None, bias_correction: bool = True,
                 eps_mode: str = "pytorch", master_weights: bool = False, stochastic_rounding: bool = False, seed: int = 0):
        super().__init__(params, lr=lr, betas=betas, eps=eps, weight_decay=weight_decay, amsgrad=amsgrad,
                         foreach=foreach, maximize=maximize, capturable=capturable, differentiable=differentiable,
                         fused=fused, decoupled_weight_decay=True, bias_correction=bias_correction,
                         eps_mode=eps_mode, master_weights=master_weights, stochastic_rounding=stochastic_rounding, seed=seed)
