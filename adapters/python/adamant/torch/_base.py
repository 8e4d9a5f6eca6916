"""What every adamant.torch optimizer shares: construction, validation, tensor checks, state, the step.

An optimizer here is a ``torch.optim.Optimizer`` whose ``step()`` hands raw memory to adamant's C++ step
(``adamant._adamant``): for each parameter with a gradient, a tuple of ``data_ptr()`` ints, the element
count, the dtype name and the step count. The C++ updates ``numel`` elements starting at each pointer in
place, so every tensor passed must be a dense block laid out exactly like the parameter:

* a contiguous parameter is passed as is; so is a non-contiguous one whose memory is still dense and
  non-overlapping (channels_last, a transpose) when its gradient and state share its strides;
* a gradient laid out differently is read through a copy laid out like the parameter (reading a copy is
  fine); a state tensor of another layout, dtype or device is converted once and stored back;
* a parameter with gaps or overlaps (``w[:, ::2]``, an expanded tensor) is refused: it could only be
  updated through a copy, which would not change the parameter.

State lives in ``self.state[p]`` under torch.optim's names, so ``state_dict()`` and ``load_state_dict()``
are torch's own. ``step`` is a float32 0-dim tensor, as in current PyTorch; a Python int or float (torch
1.13's RMSprop and Adadelta) or a tensor of another shape or dtype is converted on first use.
"""

import inspect

import torch
from torch import Tensor

from adamant import _adamant

__all__ = ["Optimizer"]

_DTYPE_NAMES = {torch.float32: "float32", torch.float64: "float64"}
_STRIDED = torch.strided
_PRESERVE = torch.preserve_format
_STEP_DTYPE = torch.float32


def zeros(p):
    """A state tensor for `p`: zeros of its dtype, laid out like it."""
    return torch.zeros_like(p, memory_format=_PRESERVE)


def new_step():
    return torch.tensor(0.0, dtype=_STEP_DTYPE)


def _is_dense(t):
    """True if `t`'s elements fill numel() consecutive elements from data_ptr(), in some order."""
    if t.numel() <= 1:
        return True
    expected = 1
    for stride, size in sorted((st, sz) for sz, st in zip(t.shape, t.stride()) if sz != 1):
        if stride != expected:
            return False
        expected *= size
    return True


def _same_layout(a, p):
    """True if `a` (of p's shape) maps each index to the same offset as `p` (size-1 dims don't count)."""
    sa = a.stride()
    sp = p.stride()
    return sa == sp or all(x == y for x, y, n in zip(sa, sp, p.shape) if n != 1)


def _fits(s, p, dense):
    """True if state tensor `s` can be passed by pointer next to parameter `p`: same dtype, CPU, strided,
    not a negative view, same shape and the same layout (contiguous, or p's strides)."""
    try:
        return (s.dtype is p.dtype and s.is_cpu and s.layout is _STRIDED and not s.is_neg()
                and (_same_layout(s, p) if dense else s.is_contiguous()) and s.shape == p.shape)
    except AttributeError:  # not a tensor
        return False


def _converted(s, p, what):
    """`s` copied into a new tensor of p's dtype, device and layout."""
    if not isinstance(s, Tensor):
        raise TypeError(f"{what} must be a tensor, got {type(s).__name__}")
    if s.shape != p.shape:
        raise RuntimeError(f"{what} has shape {tuple(s.shape)}, but the parameter has shape {tuple(p.shape)}")
    if s.layout is not _STRIDED:
        s = s.to_dense()
    out = torch.empty_like(p, memory_format=_PRESERVE)
    out.copy_(s)
    return out


def state_ptr(state, key, p, dense):
    """data_ptr() of state[key], converted (once, and stored back) to p's dtype and layout if needed."""
    s = state[key]
    if not _fits(s, p, dense):
        s = _converted(s, p, f"state '{key}'")
        state[key] = s
    return s.data_ptr()


def step_of(state):
    """(the step tensor, the number of steps taken) of a parameter's state; the tensor is float32 0-dim."""
    st = state["step"]
    if type(st) is Tensor and st.dtype is _STEP_DTYPE and st.dim() == 0 and st.is_cpu:
        return st, int(st.item())
    value = int(st.item() if isinstance(st, Tensor) else st)
    st = torch.tensor(float(value), dtype=_STEP_DTYPE)
    state["step"] = st
    return st, value


def _signature_defaults(init):
    return {name: param.default for name, param in inspect.signature(init).parameters.items()
            if param.default is not inspect.Parameter.empty}


def drop_in(algorithm, **fixed_defaults):
    """Class decorator: binds an optimizer to `_adamant.<algorithm>` and records its option defaults.

    The defaults (the constructor's, plus `fixed_defaults`) fill the options missing from param groups
    loaded from a state dict, e.g. one saved by torch 1.13, which knows no `decoupled_weight_decay`.
    """

    def wrap(cls):
        cls._name = cls.__name__
        cls._algorithm = algorithm
        cls._kernel = staticmethod(getattr(_adamant, algorithm))
        cls._option_defaults = {**_signature_defaults(cls.__init__), **fixed_defaults}
        return cls

    return wrap


def _check_options(name, algorithm, options):
    """Raises for options adamant cannot honour: ValueError with PyTorch's wording, or NotImplementedError."""
    lr = options.get("lr")
    if isinstance(lr, Tensor) and lr.numel() != 1:
        raise ValueError("Tensor lr must be 1-element")
    _adamant.validate(algorithm, options)
    _check_flags(name, options)


def _check_flags(name, options):
    if options.get("capturable"):
        raise NotImplementedError(
            f"adamant.torch.{name} does not support capturable=True: CUDA graph capture needs CUDA tensors, "
            f"and adamant updates CPU tensors in C++. Use torch.optim.{name}(..., capturable=True) instead, or "
            f"set capturable=False (it has no effect on CPU).")
    if options.get("differentiable"):
        raise NotImplementedError(
            f"adamant.torch.{name} does not support differentiable=True: its step runs in C++, outside "
            f"autograd. Use torch.optim.{name}(..., differentiable=True) to differentiate through the step.")


class Optimizer(torch.optim.Optimizer):
    """Base of the adamant.torch optimizers (not an optimizer itself).

    Subclasses define ``__init__`` with torch.optim's signature, decorate themselves with ``drop_in`` and
    implement ``_prepare(group, group_index)``, which checks the group's parameters, creates missing
    state and returns ``(items, steps, keep, extra)``: the tuples for the C++ step, the (step tensor, new
    value) pairs to store after it, objects to keep alive until it has run (gradient copies) and whatever
    ``_finish(extra, result)`` needs afterwards.
    """

    _name = "Optimizer"  # the torch.optim class replaced
    _algorithm = None
    _kernel = None
    _option_defaults = {}
    _torch_handles_sparse = False  # torch.optim's version accepts sparse gradients (Adagrad, SGD)

    def __init__(self, params, defaults):
        _check_options(self._name, self._algorithm, defaults)
        super().__init__(params, defaults)

    def __setstate__(self, state):
        super().__setstate__(state)
        for group in self.param_groups:
            for key, value in self._option_defaults.items():
                group.setdefault(key, value)

    def add_param_group(self, param_group):
        if not isinstance(param_group, dict):
            raise TypeError(f"param_group must be a dict, but got {type(param_group).__name__}")
        _check_options(self._name, self._algorithm, {**self.defaults, **param_group})
        super().add_param_group(param_group)

    def zero_grad(self, set_to_none: bool = True):
        """Resets the gradients; to None by default, as current PyTorch (torch 1.13 zeroed them)."""
        super().zero_grad(set_to_none=set_to_none)

    @torch.no_grad()
    def step(self, closure=None):
        """Performs a single optimization step.

        Args:
            closure (Callable, optional): a closure that reevaluates the model and returns the loss; it
                runs with gradients enabled.

        Every parameter of every group is checked before any is updated: a step that raises (invalid
        option, unsupported tensor) leaves the parameters and their state values as they were.
        """
        loss = None
        if closure is not None:
            with torch.enable_grad():
                loss = closure()
        work = []
        for gi, group in enumerate(self.param_groups):
            if group.get("capturable") or group.get("differentiable"):
                _check_flags(self._name, group)
            prepared = self._prepare(group, gi)
            if prepared[0]:
                work.append((group, prepared))
        if len(work) > 1:  # one call validates its own group before touching anything
            for group, _ in work:
                _adamant.validate(self._algorithm, group)
        for group, (items, steps, keep, extra) in work:
            result = self._kernel(group, items)
            for st, value in steps:
                st.fill_(value)
            if extra is not None:
                self._finish(extra, result)
        return loss

    def _finish(self, extra, result):
        pass

    # Checks one parameter and its gradient; returns (dtype name, gradient to read, dense flag), the
    # flag true when the parameter is dense but not contiguous (state must then share its strides).
    def _checked(self, p, g, gi, i):
        if g.layout is not _STRIDED:
            raise RuntimeError(self._sparse_message(g, gi, i))
        dtype = _DTYPE_NAMES.get(p.dtype)
        if dtype is None:
            raise TypeError(f"adamant.torch.{self._name}: {_where(p, gi, i)} has dtype {p.dtype}, which "
                            f"is not supported (supported: torch.float32, torch.float64)")
        if not p.is_cpu:
            raise RuntimeError(f"adamant.torch.{self._name} updates CPU tensors only, but "
                               f"{_where(p, gi, i)} is on device '{p.device}'; use torch.optim."
                               f"{self._name} for {p.device.type} tensors")
        if not g.is_cpu:
            raise RuntimeError(f"adamant.torch.{self._name}: the gradient of {_where(p, gi, i)} is on "
                               f"device '{g.device}'; it must be on the CPU, like the parameter")
        if g.dtype is not p.dtype:
            raise TypeError(f"adamant.torch.{self._name}: the gradient of {_where(p, gi, i)} has dtype "
                            f"{g.dtype}, but the parameter has dtype {p.dtype}")
        if g.shape != p.shape:
            raise RuntimeError(f"adamant.torch.{self._name}: the gradient of {_where(p, gi, i)} has shape "
                               f"{tuple(g.shape)}, but the parameter has shape {tuple(p.shape)}")
        if p.layout is not _STRIDED or p.is_neg():
            raise RuntimeError(f"adamant.torch.{self._name}: {_where(p, gi, i)} is not a plain strided "
                               f"tensor (layout {p.layout}); it cannot be updated in place")
        if g.is_neg():
            g = g.resolve_neg()
        if p.is_contiguous():
            if not g.is_contiguous():
                g = g.contiguous()
            return dtype, g, False
        if not _is_dense(p):
            raise RuntimeError(
                f"adamant.torch.{self._name}: {_where(p, gi, i)} is not contiguous (strides "
                f"{p.stride()}): its elements do not fill one dense block of memory, so adamant cannot update "
                f"it in place, and updating a copy would leave the parameter unchanged. Optimize a contiguous "
                f"tensor instead (e.g. nn.Parameter(w.contiguous()) rather than a strided view of w).")
        if not _same_layout(g, p):
            g = _converted(g, p, "the gradient")
        return dtype, g, True

    def _sparse_message(self, g, gi, i):
        name = self._name
        if not g.is_sparse and "sparse" not in str(g.layout):
            return (f"adamant.torch.{name}: the gradient of parameter {i} of param group {gi} has layout "
                    f"{g.layout}; only dense (strided) gradients are supported")
        if self._torch_handles_sparse:
            return (f"adamant.torch.{name} does not support sparse gradients (torch.optim.{name} does): pass "
                    f"dense gradients, or use torch.optim.{name}")
        if name in ("Adam", "AdamW"):
            return f"{name} does not support sparse gradients, please consider SparseAdam instead"
        return f"{name} does not support sparse gradients"


def _where(p, gi, i):
    return f"parameter {i} of param group {gi} (shape {tuple(p.shape)})"
