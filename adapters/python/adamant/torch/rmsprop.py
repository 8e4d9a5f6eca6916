"""RMSprop."""

from typing import Optional

from adamant.torch import _base
from adamant.torch._base import master_ptr, new_step, state_ptr, step_of, zeros


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
                 differentiable: bool = False, *, master_weights: bool = False, stochastic_rounding: bool = False, seed: int = 0):
        super().__init__(params, dict(lr=lr, momentum=momentum, alpha=alpha, eps=eps, centered=centered,
                                      weight_decay=weight_decay, capturable=capturable, foreach=foreach,
                                      maximize=maximize, differentiable=differentiable, master_weights=master_weights, stochastic_rounding=stochastic_rounding, seed=seed))

    def _prepare(self, group, gi):
        momentum = group["momentum"] > 0
        centered = group["centered"]
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
                state["square_avg"] = zeros(p)
            # Created on first use, so that switching momentum or centered on later works.
            if momentum and "momentum_buffer" not in state:
                state["momentum_buffer"] = zeros(p)
            if centered and "grad_avg" not in state:
                state["grad_avg"] = zeros(p)
            st, step = step_of(state)
            step += 1
            items.append((p.data_ptr(), g.data_ptr(), p.numel(), dtype, state_ptr(state, "square_avg", p, dense),
                          state_ptr(state, "momentum_buffer", p, dense) if momentum else 0,
                          state_ptr(state, "grad_avg", p, dense) if centered else 0, step,
                          master_ptr(state, p, dense, masters)))
            steps.append((st, step))
        return items, steps, keep, None
