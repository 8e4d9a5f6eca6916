"""SGD with optional momentum, dampening and Nesterov momentum."""

from typing import Optional

from adamant.torch import _base
from adamant.torch._base import ABSMAX_SUFFIX, int8_ptrs, master_ptr, state_dtype, state_ptr


@_base.drop_in("sgd")
class SGD(_base.Optimizer):
    """torch.optim.SGD, stepped by adamant in C++ (CPU; float32, float64, bfloat16 and float16 tensors).

    Arguments as current PyTorch's ``torch.optim.SGD`` (lr defaults to 1e-3; ``foreach`` and ``fused``
    have no effect; ``differentiable`` must stay False). As in current PyTorch, state (``momentum_buffer``)
    exists only when momentum != 0; the buffer is set to the first gradient. Sparse gradients, which
    torch.optim's SGD accepts, are refused. adamant's mixed-precision options ``master_weights``,
    ``stochastic_rounding`` and ``seed``: see ``adamant.torch`` (SGD has no step count: the optimizer's
    count of steps keys the stochastic rounding).
    """

    _torch_handles_sparse = True

    def __init__(self, params, lr=1e-3, momentum=0, dampening=0, weight_decay=0, nesterov=False, *,
                 maximize: bool = False, foreach: Optional[bool] = None, differentiable: bool = False,
                 fused: Optional[bool] = None, master_weights: bool = False, stochastic_rounding: bool = False,
                 seed: int = 0,
                 state_dtype="float32", min_quant_size: int = 4096,
                 nonfinite: str = "propagate"):
        super().__init__(params, dict(lr=lr, momentum=momentum, dampening=dampening, weight_decay=weight_decay,
                                      nesterov=nesterov, maximize=maximize, foreach=foreach,
                                      differentiable=differentiable, fused=fused, master_weights=master_weights,
                                      stochastic_rounding=stochastic_rounding, seed=seed, state_dtype=state_dtype, min_quant_size=min_quant_size),
                         nonfinite=nonfinite)

    def _prepare(self, group, gi, grads, journal, fresh_states=()):
        momentum = group["momentum"] != 0
        masters = group.get("master_weights", False)
        lean = _base.storage_of(group, "momentum_buffer") != "float32"
        state_of = self.state
        items = []
        # Per tensor, the bit mask of the momentum buffer's storage, with its block maxima where it is int8
        # (None: no tensor's is bfloat16 or int8).
        masks = [] if lean else None
        fresh = []  # (state, {name: tensor}) pairs stored once the step has run
        for _, p, g, dtype, dense, _ in grads:
            # State only where needed (momentum, a master copy), as torch keeps none without momentum.
            state = None
            if p in state_of:
                state = state_of[p]
            elif momentum or (masters and p.dtype in _base._HALF):
                journal.new_state(state_of, p)
                state = state_of[p]
            master = 0 if state is None else master_ptr(state, p, dense, masters, journal)
            if not momentum:
                items.append((p.data_ptr(), g.data_ptr(), _base.numel(p), dtype, 0, False, master))
                if lean:
                    masks.append(0)
                continue
            storage = _base.storage_for(group, "momentum_buffer", p)
            buf_dtype = state_dtype(p, storage)
            absmax = 0
            if state.get("momentum_buffer") is None or id(state) in fresh_states:
                # torch 1.13 stores None without momentum. A parameter listed again whose buffer this
                # step made is stepped as torch.optim steps it, from the buffers as they were before the
                # step: set to the gradient again. The step sets the buffer to the gradient.
                made = _base.new_state(p, "momentum_buffer", buf_dtype)
                fresh.append((state, made))
                if buf_dtype is _base._UINT8:
                    absmax = made["momentum_buffer" + ABSMAX_SUFFIX].data_ptr()
                items.append((p.data_ptr(), g.data_ptr(), _base.numel(p), dtype, made["momentum_buffer"].data_ptr(),
                              False, master))
            elif buf_dtype is _base._UINT8:
                codes, absmax = int8_ptrs(state, "momentum_buffer", p, dense, journal)
                items.append((p.data_ptr(), g.data_ptr(), _base.numel(p), dtype, codes, True, master))
            else:
                items.append((p.data_ptr(), g.data_ptr(), _base.numel(p), dtype,
                              state_ptr(state, "momentum_buffer", p, dense, buf_dtype), True, master))
            if lean:
                mask = _base.storage_mask(("momentum_buffer",), (buf_dtype,), (storage,))
                masks.append((mask, absmax) if buf_dtype is _base._UINT8 else mask)
        return items, (), fresh, masks

    def _prepare_again(self, group, gi, grads, first):
        return self._prepare(group, gi, grads, _base._Journal(), {id(state) for state, _ in first[2]})

    def _finish(self, fresh, result):
        for state, made in fresh:
            state.update(made)
