"""Adadelta."""

from typing import Optional

from adamant.torch import _base
from adamant.torch._base import master_ptr, new_step, state_ptr, step_of, zeros


@_base.drop_in("adadelta")
class Adadelta(_base.Optimizer):
    """torch.optim.Adadelta, stepped by adamant in C++ (CPU; float32, float64, bfloat16 and float16 tensors).

    Arguments as current PyTorch's ``torch.optim.Adadelta`` (``foreach`` has no effect; ``capturable``
    and ``differentiable`` must stay False), plus adamant's mixed-precision options ``master_weights``,
    ``stochastic_rounding`` and ``seed`` (see ``adamant.torch``).
    """

    def __init__(self, params, lr=1.0, rho=0.9, eps=1e-6, weight_decay=0, foreach: Optional[bool] = None, *,
                 capturable: bool = False, maximize: bool = False, differentiable: bool = False,
                 master_weights: bool = False, stochastic_rounding: bool = False, seed: int = 0):
        super().__init__(params, dict(lr=lr, rho=rho, eps=eps, weight_decay=weight_decay, maximize=maximize,
                                      capturable=capturable, foreach=foreach, differentiable=differentiable,
                                      master_weights=master_weights, stochastic_rounding=stochastic_rounding, seed=seed))

    def _prepare(self, group, gi):
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
                state["acc_delta"] = zeros(p)
            st, step = step_of(state)
            step += 1
            items.append((p.data_ptr(), g.data_ptr(), p.numel(), dtype, state_ptr(state, "square_avg", p, dense),
                          state_ptr(state, "acc_delta", p, dense), step, master_ptr(state, p, dense, masters)))
            steps.append((st, step))
        return items, steps, keep, None
