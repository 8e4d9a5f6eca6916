"""What every adamant.torch optimizer shares: construction, validation, tensor checks, state, the step.

An optimizer here is a ``torch.optim.Optimizer`` whose ``step()`` hands raw memory to adamant's C++ step
(``adamant._adamant``): for each parameter with a gradient, a tuple of ``data_ptr()`` ints, the element
count, the dtype name, the step count and the master copy's ``data_ptr()`` (0 for none). The C++ updates
``numel`` elements starting at each pointer in place, so every tensor passed must be a dense block laid out
exactly like the parameter:

* a contiguous parameter is passed as is; so is a non-contiguous one whose memory is still dense and
  non-overlapping (channels_last, a transpose) when its gradient and state share its strides;
* a parameter strided with gaps (``w[:, ::2]``, ``torch.randn(10, 5, 2)[..., 0]``) is updated in place
  through its strides, which are passed beside the tuples (the step's ``layouts``); its gradient and state
  are contiguous (a gradient that is not is read through a contiguous copy);
* a gradient laid out differently is read through a copy laid out like the parameter (reading a copy is
  fine); a state tensor of another layout, dtype or device is converted once and stored back;
* a parameter whose elements share memory (an expanded tensor) is refused: it could only be updated
  through a copy, which would not change the parameter;
* a complex parameter (and its gradient and state) is passed as its real view: 2 * numel() elements of
  the real dtype, strides doubled (``torch.view_as_real``).

State lives in ``self.state[p]`` under torch.optim's names, so ``state_dict()`` and ``load_state_dict()``
are torch's own. ``step`` is a float32 0-dim tensor, as in current PyTorch; a Python int or float (torch
1.13's RMSprop and Adadelta) or a tensor of another shape or dtype is converted on first use.

Mixed precision. bfloat16 and float16 parameters (and their gradients, of the same dtype) are updated in
float32: their state tensors are float32 (``state_dtype``), and every optimizer takes the keyword-only
options ``master_weights``, ``stochastic_rounding`` and ``seed`` (per param group, like any option; float32
and float64 parameters ignore them):

* ``master_weights=True``: ``state['master_param']``, a float32 copy of the parameter made at its first
  step, is what the rule updates; the parameter receives its rounding to nearest even after each step.
  Changing the parameter by hand does not change the copy (it is made once); switching the option off
  drops the copy, and switching it on again makes a new one from the parameter.
* ``stochastic_rounding=True`` (without master weights): the parameter is rounded stochastically. The
  random bits are keyed by (seed, step, tensor, element); so that each step draws fresh bits (SGD has no
  step) and groups do not share streams, the seed passed to the C++ is a hash of the group's ``seed``, the
  optimizer's count of steps taken (``state_dict()['adamant_step_count']``, restored by
  ``load_state_dict``) and the group's index. Same seed, same trajectory: resuming from a state dict
  repeats the uninterrupted run.

State storage. Every optimizer takes the keyword-only option ``state_dtype`` (per param group):
``"float32"`` (the default), ``"bfloat16"``, ``"bfloat16_stochastic"``, or a dict by state name
(``{"exp_avg_sq": "bfloat16"}``; names not in it keep float32). bfloat16 state tensors are ``torch.bfloat16``
under their usual names; the step widens them, runs the float32 update, and stores the new state rounded to
nearest even, or stochastically (drawn from the group's ``seed``, the optimizer's count of steps, the
tensor, buffer and element, as the parameters' stochastic rounding; the C++ optimizers' ``state_dtype``,
docs/algorithms.md). float64 and complex parameters keep their own state dtype.
A state tensor of another dtype (a float32 state dict loaded into a bfloat16 group) is converted on the
next step, like any state tensor that does not fit.

torch's ``load_state_dict`` casts floating state to the parameter's dtype, which would round the float32
state of a bfloat16 parameter to bfloat16; ``load_state_dict`` here restores it in float32 from the state
dict (a state dict with bfloat16 state, e.g. torch.optim's, is widened once on the first step).

Non-finite gradients and loss scaling (docs/reliability.md). Every optimizer takes the keyword-only
``nonfinite`` ("propagate", the default and PyTorch's behaviour; "skip"; "raise"), a property of the
optimizer (not of a param group) that can be changed between steps. Under "skip" and "raise" each step
first reads every gradient of every group once, in C++ (``_adamant.first_nonfinite``), before anything is
created or changed: a step whose gradients hold a NaN or an infinity is skipped entirely (parameters,
state, step counts and ``state_dict()`` stay as they were; ``last_step_skipped`` is True) or refused with a
RuntimeError naming the group and parameter. ``step(closure, *, grad_scale=None, found_inf=None)`` takes
a loss scaler's scale and inf flag as PyTorch's fused optimizers do (floats or 1-element tensors; when not
given, the ``grad_scale`` and ``found_inf`` attributes that current PyTorch's GradScaler sets on optimizers
with ``_step_supports_amp_scaling``): gradients are divided by ``grad_scale`` inside the C++ step and left
unscaled, and a nonzero ``found_inf`` skips the step.
"""

import inspect
import math
import numbers
import re
from itertools import chain

import torch
from torch import Tensor

from adamant import _adamant

__all__ = ["Optimizer"]

# The element type the C++ step sees for each parameter dtype: a complex parameter is stepped as its real
# and imaginary parts (torch.view_as_real), as current torch.optim does.
_DTYPE_NAMES = {torch.float32: "float32", torch.float64: "float64", torch.bfloat16: "bfloat16",
                torch.float16: "float16", torch.complex64: "float32", torch.complex128: "float64"}
_SUPPORTED = "torch.float32, torch.float64, torch.bfloat16, torch.float16, torch.complex64, torch.complex128"
# The dtype of a parameter's state tensors: float32 for bfloat16 and float16 parameters; complex state for
# complex parameters, as torch.optim keeps it.
_STATE_DTYPES = {torch.float32: torch.float32, torch.float64: torch.float64, torch.bfloat16: torch.float32,
                 torch.float16: torch.float32, torch.complex64: torch.complex64,
                 torch.complex128: torch.complex128}
_HALF = frozenset((torch.bfloat16, torch.float16))
# The values of the state_dtype option, and the parameter dtypes whose state may be bfloat16 or int8.
STATE_STORAGES = ("float32", "bfloat16", "bfloat16_stochastic", "int8")
_LEAN = frozenset((torch.float32, torch.bfloat16, torch.float16))
_BF16 = torch.bfloat16
_UINT8 = torch.uint8
# int8 state: per buffer, uint8 codes of the parameter's shape and, under the buffer's name with this suffix,
# one float32 maximum |x| per block of _BLOCK elements (docs/algorithms.md, "int8 state").
ABSMAX_SUFFIX = "_absmax"
_BLOCK = 256
DEFAULT_MIN_QUANT_SIZE = 4096
_COMPLEX = frozenset((torch.complex64, torch.complex128))
_FLOAT32 = torch.float32
_STRIDED = torch.strided
_PRESERVE = torch.preserve_format
_CONTIGUOUS = torch.contiguous_format
_STEP_DTYPE = torch.float32
_MASK64 = (1 << 64) - 1
STEP_COUNT_KEY = "adamant_step_count"  # the state dict's entry for the optimizer's count of steps
NONFINITE_POLICIES = ("propagate", "skip", "raise")
_MAX_STEP = (1 << 63) - 2  # the largest step count a state may hold: the next step must fit an int64
_TENSOR_ERROR = re.compile(r"^[a-z]+: tensor (\d+): (.*)$", re.DOTALL)
_ABSENT = object()


class _Journal:
    """What a step's preparation added to or removed from the state, so that a step refused after it (by
    a check of a later group) can put everything back."""

    __slots__ = ("_undo",)

    def __init__(self):
        self._undo = []

    def new_state(self, states, p):
        """`p` had no entry in `states` (the optimizer's defaultdict) before this step."""
        self._undo.append((states, p, _ABSENT))

    def filled(self, state):
        """`state` was empty and has been filled."""
        self._undo.append((state, None, None))

    def put(self, state, key, value):
        self._undo.append((state, key, state.get(key, _ABSENT)))
        state[key] = value

    def delete(self, state, key):
        self._undo.append((state, key, state.pop(key)))

    def undo(self):
        for container, key, old in reversed(self._undo):
            if key is None:
                container.clear()
            elif old is _ABSENT:
                container.pop(key, None)
            else:
                container[key] = old
        self._undo.clear()


def _passes(grads):
    """The entries of `grads` split into passes: the first holds each parameter once, the k-th those listed
    more than k times (their k-th entry), so that a parameter listed twice is stepped twice in turn."""
    if len({id(p) for _, p, _, _, _, _ in grads}) == len(grads):
        return [grads]
    passes = []
    seen = {}
    for entry in grads:
        k = seen.get(id(entry[1]), 0)
        seen[id(entry[1])] = k + 1
        if k == len(passes):
            passes.append([])
        passes[k].append(entry)
    return passes


def _bump_versions(tensors):
    """Bumps each tensor's version counter, as an in-place update by torch does, at the cost of one empty
    in-place op on a view (views share their base's counter)."""
    torch._foreach_zero_([t.as_strided((0,), (1,)) for t in tensors])


def state_dtype(p, storage="float32"):
    """The dtype of `p`'s state tensors: p's own, float32 for bfloat16 and float16 parameters; bfloat16 or
    uint8 (int8 codes) where `storage` (a value of the state_dtype option) says so, for float32, bfloat16 and
    float16 ones."""
    if storage != "float32" and p.dtype in _LEAN:
        return _UINT8 if storage == "int8" else _BF16
    return _STATE_DTYPES.get(p.dtype, p.dtype)


def storage_of(group, name):
    """What a group's state_dtype option says of its state buffer `name`: one of STATE_STORAGES."""
    chosen = group.get("state_dtype", "float32")
    if isinstance(chosen, str):
        return chosen
    return chosen.get(name, "float32")


def storage_for(group, name, p):
    """storage_of for parameter `p`: int8 only for float32, bfloat16 and float16 parameters of at least the
    group's min_quant_size elements (and at least one); the others keep float32 ("float32")."""
    storage = storage_of(group, name)
    if storage == "int8" and (p.dtype not in _LEAN or p.numel() < max(group.get("min_quant_size", DEFAULT_MIN_QUANT_SIZE), 1)):
        return "float32"
    return storage


def storage_mask(names, dtypes, storages):
    """The C++ step's bit mask of a tensor's bfloat16 buffers (bit k), rounded stochastically (bit 8 + k),
    and int8 buffers (bit 16 + k), from the dtypes of the tensors passed and the storages the group asks for."""
    mask = 0
    for k, (name, dtype, storage) in enumerate(zip(names, dtypes, storages)):
        if name is not None and dtype is _BF16:
            mask |= 1 << k | (1 << (8 + k) if storage == "bfloat16_stochastic" else 0)
        elif name is not None and dtype is _UINT8:
            mask |= 1 << (16 + k)
    return mask


# Whether a state buffer (by name, for every algorithm) can be negative: int8 state's signed code map.
_SIGNED = {name: signed for algorithm in _adamant.algorithms
           for name, signed in zip(_adamant.state_names(algorithm), _adamant.state_signed(algorithm))}


def quantized(values, signed):
    """(codes, block maxima) of a dense float32 tensor, in its memory order: uint8 codes laid out like it."""
    codes = torch.empty_like(values, dtype=_UINT8)
    absmax = torch.empty(((values.numel() + _BLOCK - 1) // _BLOCK,), dtype=_FLOAT32)
    _adamant.quantize_blockwise(values.data_ptr(), values.numel(), signed, codes.data_ptr(), absmax.data_ptr())
    return codes, absmax


def dequantized(codes, absmax, signed):
    """The float32 values of dense uint8 codes and their block maxima (int8 state), laid out like the codes."""
    absmax = absmax.to(dtype=_FLOAT32).contiguous()
    out = torch.empty_like(codes, dtype=_FLOAT32)
    _adamant.dequantize_blockwise(codes.data_ptr(), absmax.data_ptr(), codes.numel(), signed, out.data_ptr())
    return out


def _absmax_of(state, key, codes, where=""):
    """The block maxima of int8 state `key`: a float32 tensor of ceil(numel / 256) elements, or RuntimeError."""
    a = state.get(key + ABSMAX_SUFFIX)
    blocks = (codes.numel() + _BLOCK - 1) // _BLOCK
    if not isinstance(a, Tensor):
        raise RuntimeError(f"{where}state '{key}' is int8 (torch.uint8 codes) but its block maxima "
                           f"'{key}{ABSMAX_SUFFIX}' are missing")
    if a.numel() != blocks or not a.is_floating_point():
        raise RuntimeError(f"{where}state '{key}{ABSMAX_SUFFIX}' has {a.numel()} elements of {a.dtype}, but the "
                           f"block maxima of {codes.numel()} codes are {blocks} floats")
    if not _is_dense(codes):
        raise RuntimeError(f"{where}state '{key}' (int8 codes) is not dense; its blocks follow its memory order")
    return a


def new_state(p, name, dtype, value=0.0):
    """{name: tensor} for a new state buffer of `p` of `dtype` holding `value`; for uint8 (int8 state) its
    codes and block maxima."""
    if dtype is _UINT8:
        values = torch.full_like(p, float(value), dtype=_FLOAT32, memory_format=state_format(p))
        return dict(zip((name, name + ABSMAX_SUFFIX), quantized(values, _SIGNED.get(name, True))))
    if value == 0:
        return {name: zeros(p, dtype)}
    return {name: torch.full_like(p, float(value), dtype=dtype, memory_format=state_format(p))}


def int8_ptrs(state, key, p, dense, journal):
    """(data_ptr() of the codes, of the block maxima) of int8 state `key` of `p`; state of another dtype or
    layout (float32 from a full-precision state dict, codes laid out otherwise) is quantized afresh (once,
    stored back, recorded in `journal`)."""
    s = state[key]
    if _fits(s, p, dense, _UINT8):
        a = _absmax_of(state, key, s)
        if not (a.dtype is _FLOAT32 and a.is_contiguous() and a.dim() == 1 and a.is_cpu):
            a = a.to(device="cpu", dtype=_FLOAT32).contiguous().reshape(-1)
            journal.put(state, key + ABSMAX_SUFFIX, a)
        return s.data_ptr(), a.data_ptr()
    target = _converted(_widened(state, key), p, f"state '{key}'", _FLOAT32)
    codes, absmax = quantized(target, _SIGNED.get(key, True))
    journal.put(state, key, codes)
    journal.put(state, key + ABSMAX_SUFFIX, absmax)
    return codes.data_ptr(), absmax.data_ptr()


def _widened(state, key):
    """state[key] with int8 codes dequantized (a float32 tensor of their layout); anything else as it is."""
    s = state[key]
    if isinstance(s, Tensor) and s.dtype is _UINT8:
        return dequantized(s, _absmax_of(state, key, s), _SIGNED.get(key, True))
    return s


def _rounds_state_stochastically(group):
    chosen = group.get("state_dtype", "float32")
    return chosen == "bfloat16_stochastic" or (isinstance(chosen, dict) and "bfloat16_stochastic" in chosen.values())


def check_state_dtype(name, algorithm, options):
    """TypeError or ValueError unless the state_dtype option is one of STATE_STORAGES, or a dict from the
    algorithm's state names to them, and min_quant_size an int >= 0."""
    size = options.get("min_quant_size", DEFAULT_MIN_QUANT_SIZE)
    if size.__class__ is not int and (isinstance(size, bool) or not isinstance(size, numbers.Integral)):
        raise TypeError(f"min_quant_size must be an int, got {type(size).__name__}")
    if size < 0:
        raise ValueError(f"Invalid min_quant_size value: {size}")
    chosen = options.get("state_dtype", "float32")
    expected = "'float32', 'bfloat16', 'bfloat16_stochastic' or 'int8', or a dict of them by state name"
    if isinstance(chosen, str):
        if chosen not in STATE_STORAGES:
            raise ValueError(f"Invalid state_dtype: {chosen!r} (expected {expected})")
    elif not isinstance(chosen, dict):
        raise TypeError(f"state_dtype must be a str or a dict, got {type(chosen).__name__}")
    else:
        names = _adamant.state_names(algorithm)
        for key, value in chosen.items():
            if key not in names:
                raise ValueError(f"Invalid state_dtype: {key!r} is not state of adamant.torch.{name} (its state: "
                                 f"{', '.join(names)})")
            if value not in STATE_STORAGES:
                raise ValueError(f"Invalid state_dtype: {value!r} for {key!r} (expected {expected})")
    # As the C++ options refuse it (adamant/options/rmsprop.h).
    if algorithm == "rmsprop" and options.get("centered") and "int8" in (storage_of(options, "square_avg"),
                                                                          storage_of(options, "grad_avg")):
        raise ValueError("Invalid state_dtype for centered RMSprop: int8 square_avg or grad_avg would make "
                         "square_avg - grad_avg^2 negative (use bfloat16 or float32 for them)")


def state_format(p):
    """The memory format of p's state: p's own strides when p is dense, else contiguous (row-major), the
    order in which the C++ step reads the state of a parameter strided with gaps (torch's preserve_format
    would keep the order of p's strides: column-major for a transposed view)."""
    return _PRESERVE if p.is_contiguous() or _is_dense(p) else _CONTIGUOUS


def zeros(p, dtype=None):
    """A state tensor for `p`: zeros of `dtype` (default: its state dtype), laid out like it."""
    return torch.zeros_like(p, dtype=dtype or _STATE_DTYPES.get(p.dtype, p.dtype), memory_format=state_format(p))


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


class _StridedFlag:
    """The layout flag of a parameter strided with gaps: false like a contiguous parameter's (its state is
    contiguous), and told apart from it by identity (``flag is STRIDED``)."""

    __slots__ = ()

    def __bool__(self):
        return False

    def __repr__(self):
        return "STRIDED"


STRIDED = _StridedFlag()
_MAX_DIMS = 8  # adamant::Layout::kMaxDims


def _span(t):
    """The bytes from the first element of `t` to its last, inclusive (its gaps counted): numel() elements
    for a dense tensor. Strides are >= 0, so data_ptr() is the lowest address."""
    if t.numel() == 0:
        return 0
    return (1 + sum((size - 1) * stride for size, stride in zip(t.shape, t.stride()))) * t.element_size()


def _shares_elements(p):
    """True if two elements of `p` share memory (an expanded tensor): by increasing stride, each dimension
    of size > 1 must step past everything the ones before it span."""
    extent = 1
    for stride, size in sorted((st, sz) for sz, st in zip(p.shape, p.stride()) if sz != 1):
        if stride < extent:
            return True
        extent += (size - 1) * stride
    return False


def _overlaps(p, g, flag):
    """True if `p` (of layout flag `flag`) and dense `g` share any byte of memory."""
    n = _span(p) if flag is STRIDED else p.numel() * p.element_size()
    m = g.numel() * g.element_size()
    a, b = p.data_ptr(), g.data_ptr()
    return n > 0 and m > 0 and a < b + m and b < a + n


def numel(t):
    """The number of real elements of `t` the C++ step sees: two per element of a complex tensor."""
    return t.numel() * 2 if t.dtype in _COMPLEX else t.numel()


def _layout(p):
    """(sizes, strides) of a strided parameter as the C++ step sees it: a complex one as its real view."""
    if p.is_complex():
        return tuple(p.shape) + (2,), tuple(2 * st for st in p.stride()) + (1,)
    return tuple(p.shape), p.stride()


def _layouts(grads):
    """The step's ``layouts`` for (index, p, g, dtype, flag, original) entries: None if no parameter is
    strided, else (sizes, strides) for each strided one and None for the others."""
    if all(entry[4] is not STRIDED for entry in grads):
        return None
    return [_layout(p) if flag is STRIDED else None for _, p, _, _, flag, _ in grads]


def _same_layout(a, p):
    """True if `a` (of p's shape) maps each index to the same offset as `p` (size-1 dims don't count)."""
    sa = a.stride()
    sp = p.stride()
    return sa == sp or all(x == y for x, y, n in zip(sa, sp, p.shape) if n != 1)


def _fits(s, p, dense, dtype=None):
    """True if state tensor `s` can be passed by pointer next to parameter `p`: `dtype` (default p's state
    dtype), CPU, strided, not a negative view, same shape and the same layout (contiguous, or p's strides)."""
    try:
        dtype = dtype or _STATE_DTYPES[p.dtype]
        return (s.dtype is dtype and s.is_cpu and s.layout is _STRIDED and not s.is_neg()
                and (dtype not in _COMPLEX or not s.is_conj())
                and (_same_layout(s, p) if dense else s.is_contiguous()) and s.shape == p.shape)
    except AttributeError:  # not a tensor
        return False


def _converted(s, p, what, dtype=None):
    """`s` copied into a new tensor of p's device and layout, and of `dtype` (default: p's)."""
    if not isinstance(s, Tensor):
        raise TypeError(f"{what} must be a tensor, got {type(s).__name__}")
    if s.shape != p.shape:
        raise RuntimeError(f"{what} has shape {tuple(s.shape)}, but the parameter has shape {tuple(p.shape)}")
    if s.layout is not _STRIDED:
        s = s.to_dense()
    out = torch.empty_like(p, dtype=dtype, memory_format=state_format(p))
    out.copy_(s)
    return out


def state_ptr(state, key, p, dense, dtype=None):
    """data_ptr() of state[key], converted (once, and stored back) to `dtype` (default p's state dtype) and
    p's layout if needed."""
    dtype = dtype or _STATE_DTYPES[p.dtype]
    s = state[key]
    if not _fits(s, p, dense, dtype):
        # int8 codes (a group switched away from int8, an int8 state dict loaded) are their values first.
        if isinstance(s, Tensor) and s.dtype is _UINT8:
            s = _widened(state, key)
            state.pop(key + ABSMAX_SUFFIX, None)
        s = _converted(s, p, f"state '{key}'", dtype)
        state[key] = s
    return s.data_ptr()


def master_ptr(state, p, dense, enabled, journal):
    """data_ptr() of p's float32 master copy, state['master_param'], or 0 (none).

    The copy exists for bfloat16 and float16 parameters of groups with master_weights: it is made from the
    parameter on its first step with the option on, and dropped when the option is off (or the parameter
    no longer half precision), so that switching it on again starts from the parameter's current value.
    Both changes are recorded in `journal`.
    """
    if enabled and p.dtype in _HALF:
        m = state.get("master_param")
        if m is None:
            m = torch.empty_like(p, dtype=_FLOAT32, memory_format=state_format(p))
            m.copy_(p)
            journal.put(state, "master_param", m)
            return m.data_ptr()
        return state_ptr(state, "master_param", p, dense)
    if "master_param" in state:
        journal.delete(state, "master_param")
    return 0


def step_of(state, where):
    """(the step tensor, the number of steps taken) of a parameter's state; the tensor is float32 0-dim.
    RuntimeError, naming `where()`, unless the count is a whole number from 0 to _MAX_STEP."""
    st = state["step"]
    if type(st) is Tensor and st.dtype is _STEP_DTYPE and st.dim() == 0 and st.is_cpu:
        value = st.item()
        if 0 <= value <= _MAX_STEP and value == int(value):
            return st, int(value)
    else:
        value = st.item() if isinstance(st, Tensor) and st.numel() == 1 else st
    if not isinstance(value, numbers.Real) or isinstance(value, bool) or not (0 <= value <= _MAX_STEP) \
            or value != int(value):
        raise RuntimeError(f"state 'step' of {where()} is {value!r}; it must be a number of steps taken, a whole "
                           f"number from 0 to 2**63 - 2")
    if type(st) is Tensor and st.dtype is _STEP_DTYPE and st.dim() == 0 and st.is_cpu:
        return st, int(value)
    st = torch.tensor(float(value), dtype=_STEP_DTYPE)
    state["step"] = st
    return st, int(value)


def stream_seed(seed, step_count, group_index):
    """The seed passed to the C++ for a group's stochastic rounding: the group's seed mixed with the
    optimizer's step count and the group's index (see the module docstring), by the C++ optimizers' own
    function (adamant::StreamSeed), so that both front ends draw the same bits."""
    return _adamant.stream_seed(int(seed) & _MASK64, step_count & _MASK64, group_index)


def _signature_defaults(init):
    """The constructor's defaults that are param group options (``nonfinite`` belongs to the optimizer)."""
    return {name: param.default for name, param in inspect.signature(init).parameters.items()
            if param.default is not inspect.Parameter.empty and name != "nonfinite"}


# Options that torch.optim's own __setstate__ fills in when a param group lacks them (added by later torch
# versions, or adamant's): a step fills them from the defaults too. Any other option missing from a group
# is a KeyError at the step, as in torch.optim.
_FILLED_OPTIONS = frozenset(("amsgrad", "nesterov", "centered", "foreach", "maximize", "capturable",
                             "differentiable", "fused", "decoupled_weight_decay"))


def _required_options(init):
    """The hyperparameters a param group must hold: the constructor's positional ones, but those filled in
    (_FILLED_OPTIONS)."""
    return tuple(name for name, param in inspect.signature(init).parameters.items()
                 if param.kind is inspect.Parameter.POSITIONAL_OR_KEYWORD and param.default is not inspect.Parameter.empty
                 and name not in _FILLED_OPTIONS)


def check_nonfinite(value):
    """ValueError (PyTorch's wording) unless `value` is one of the non-finite gradient policies."""
    if value.__class__ is not str or value not in NONFINITE_POLICIES:
        raise ValueError(f"Invalid nonfinite value: {value!r} (expected 'propagate', 'skip' or 'raise')")
    return value


def _as_float(name, value):
    """A Python float from a number or a 1-element tensor; TypeError/ValueError otherwise."""
    if isinstance(value, Tensor):
        if value.numel() != 1:
            raise ValueError(f"{name} must be a number or a 1-element tensor, got a tensor of shape "
                             f"{tuple(value.shape)}")
        return float(value.item())
    if isinstance(value, numbers.Real):
        return float(value)
    raise TypeError(f"{name} must be a number or a 1-element tensor, got {type(value).__name__}")


def loss_scaling(optimizer, grad_scale, found_inf):
    """(the scale as a float, 1.0 for none; whether the step must be skipped) from step()'s arguments or,
    when not given, the attributes current PyTorch's GradScaler sets on the optimizer."""
    if grad_scale is None:
        grad_scale = getattr(optimizer, "grad_scale", None)
    if found_inf is None:
        found_inf = getattr(optimizer, "found_inf", None)
    scale = 1.0 if grad_scale is None else _as_float("grad_scale", grad_scale)
    if not (math.isfinite(scale) and scale > 0):
        raise ValueError(f"Invalid grad_scale value: {scale!r} (it must be finite and > 0)")
    return scale, found_inf is not None and _as_float("found_inf", found_inf) != 0


DROP_INS = {}  # algorithm name -> its drop-in class, as the modules of adamant.torch define them


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
        cls._required_keys = _required_options(cls.__init__)
        DROP_INS[algorithm] = cls
        return cls

    return wrap


def _check_options(name, algorithm, options):
    """Raises for options adamant cannot honour: ValueError with PyTorch's wording, or NotImplementedError."""
    lr = options.get("lr")
    if isinstance(lr, Tensor) and lr.numel() != 1:
        raise ValueError("Tensor lr must be 1-element")
    _adamant.validate(algorithm, options)
    _check_flags(name, options)
    _check_precision(options)
    check_state_dtype(name, algorithm, options)


def _check_precision(options):
    """TypeError unless master_weights and stochastic_rounding are bools and seed an int."""
    for key in ("master_weights", "stochastic_rounding"):
        value = options.get(key, False)
        if value.__class__ is not bool:
            raise TypeError(f"{key} must be a bool, got {type(value).__name__}")
    seed = options.get("seed", 0)
    if seed.__class__ is not int and (isinstance(seed, bool) or not isinstance(seed, numbers.Integral)):
        raise TypeError(f"seed must be an int, got {type(seed).__name__}")


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
    either describe their state buffers with ``_buffers(group)`` (and the hooks next to it) for the generic
    ``_prepare``, or implement ``_prepare(group, group_index, grads, journal)`` themselves (SGD). ``grads`` lists the
    group's parameters with a gradient, checked by ``_checked`` (``_with_grads``); ``_prepare`` creates
    missing state and returns ``(items, steps, extra)``: the tuples for the C++ step, the (step tensor, new
    value) pairs to store after it, and whatever ``_finish(extra, result)`` needs afterwards.
    """

    _name = "Optimizer"  # the torch.optim class replaced
    _algorithm = None
    _kernel = None
    _option_defaults = {}
    _required_keys = ()
    _torch_handles_sparse = False  # torch.optim's version accepts sparse gradients (Adagrad, SGD)
    # Complex parameters are stepped as their real and imaginary parts (torch.view_as_real), as current
    # torch.optim does; an algorithm whose rule has no componentwise complex meaning says why not here.
    _complex_refusal = None
    # As torch's fused optimizers: step() unscales and skips by itself, so current PyTorch's GradScaler
    # hands it `grad_scale` and `found_inf` (as attributes) instead of unscaling the gradients in a pass.
    _step_supports_amp_scaling = True

    def __init__(self, params, defaults, nonfinite="propagate"):
        _check_options(self._name, self._algorithm, defaults)
        check_nonfinite(nonfinite)
        super().__init__(params, defaults)
        self._adamant_step_count = 0  # steps taken (that updated something); keys stochastic rounding
        self._nonfinite = nonfinite
        self._last_step_skipped = False

    @property
    def nonfinite(self):
        """What a step does with a NaN or infinite gradient: "propagate" (PyTorch's behaviour), "skip" (the
        whole step changes nothing) or "raise" (RuntimeError naming the parameter; nothing changes)."""
        return self._nonfinite

    @nonfinite.setter
    def nonfinite(self, value):
        self._nonfinite = check_nonfinite(value)

    @property
    def last_step_skipped(self):
        """True if the last step() that returned changed nothing: a nonzero ``found_inf``, or a non-finite
        gradient under ``nonfinite="skip"``. A learning-rate schedule can hold back on such steps."""
        return self._last_step_skipped

    def __getstate__(self):
        state = super().__getstate__()
        state["_adamant_step_count"] = self._adamant_step_count
        state["_nonfinite"] = self._nonfinite
        state["_last_step_skipped"] = self._last_step_skipped
        return state

    def __setstate__(self, state):
        super().__setstate__(state)
        self.__dict__.setdefault("_adamant_step_count", 0)
        self.__dict__.setdefault("_nonfinite", "propagate")
        self.__dict__.setdefault("_last_step_skipped", False)
        required = self._required_keys
        for group in self.param_groups:
            for key, value in self._option_defaults.items():
                if key not in required:
                    group.setdefault(key, value)

    def state_nbytes(self):
        """The bytes of optimizer state held: every state tensor (the algorithm's buffers, their block maxima
        and master copies), as the C++ optimizers' ``state_nbytes()`` counts; ``step`` and ``mu_product``
        are not counted. 8 per float32 parameter for Adam, 4 with ``state_dtype="bfloat16"``, 2 and 8 per
        256 elements with ``state_dtype="int8"``."""
        total = 0
        for state in self.state.values():
            for key, value in state.items():
                if isinstance(value, Tensor) and key not in ("step", "mu_product"):
                    total += value.numel() * value.element_size()
        return total

    def state_dict(self):
        """torch.optim's state dict, plus ``adamant_step_count``: the number of steps taken, which keys
        stochastic rounding (torch.optim ignores the entry)."""
        state_dict = super().state_dict()
        state_dict[STEP_COUNT_KEY] = self._adamant_step_count
        return state_dict

    def load_state_dict(self, state_dict):
        """torch.optim's load_state_dict, except that the state of bfloat16 and float16 parameters stays
        float32, int8 state (uint8 codes, float32 block maxima) stays as it is, and a group saved without
        ``state_dtype`` or ``min_quant_size`` (by torch.optim) keeps the ones it has.

        torch casts every floating state tensor but ``step`` to its parameter's dtype, which would round
        the float32 state (and master copy) of a half-precision parameter; it is restored here from the
        state dict, so that resuming from a checkpoint repeats the uninterrupted run exactly.
        """
        count = state_dict.get(STEP_COUNT_KEY, 0)
        if count.__class__ is not int and (isinstance(count, bool) or not isinstance(count, numbers.Integral)):
            raise TypeError(f"state dict entry '{STEP_COUNT_KEY}' must be an int, got {type(count).__name__}")
        saved = {}
        states = state_dict.get("state", {})
        ids = chain.from_iterable(g["params"] for g in state_dict.get("param_groups", ()))
        params = chain.from_iterable(g["params"] for g in self.param_groups)
        for key, p in zip(ids, params):
            s = states.get(key)
            if not isinstance(s, dict):
                continue
            # torch would cast int8 codes (and their maxima) to the parameter's dtype too: they are kept as
            # they are.
            kept = {k: v for k, v in s.items() if isinstance(v, Tensor) and (
                v.dtype is _UINT8 or k.endswith(ABSMAX_SUFFIX) or (
                    p.dtype in _HALF and k != "step" and v.is_floating_point()))}
            if kept:
                saved[p] = kept
        # A state dict without state_dtype or min_quant_size (torch.optim's) leaves each group's as it is:
        # its state is converted at the next step.
        storage_options = ("state_dtype", "min_quant_size")
        kept_options = [{k: g[k] for k in storage_options if k in g} for g in self.param_groups]
        lacking = [[k for k in storage_options if isinstance(g, dict) and k not in g]
                   for g in state_dict.get("param_groups", ())]
        super().load_state_dict(state_dict)  # checks the groups before anything changes
        for group, options, lacks in zip(self.param_groups, kept_options, lacking):
            for k in lacks:
                if k in options:
                    group[k] = options[k]
        for p, tensors in saved.items():
            state = self.state[p]
            for k, v in tensors.items():
                state[k] = v.to(device=p.device, dtype=v.dtype if v.dtype is _UINT8 else _FLOAT32, copy=True)
        self._adamant_step_count = int(count)

    def add_param_group(self, param_group):
        if not isinstance(param_group, dict):
            raise TypeError(f"param_group must be a dict, but got {type(param_group).__name__}")
        _check_options(self._name, self._algorithm, {**self.defaults, **param_group})
        super().add_param_group(param_group)

    def zero_grad(self, set_to_none: bool = True):
        """Resets the gradients; to None by default, as current PyTorch (torch 1.13 zeroed them)."""
        super().zero_grad(set_to_none=set_to_none)

    @torch.no_grad()
    def step(self, closure=None, *, grad_scale=None, found_inf=None):
        """Performs a single optimization step.

        Args:
            closure (Callable, optional): a closure that reevaluates the model and returns the loss; it
                runs with gradients enabled.
            grad_scale (float or Tensor, optional): the factor the gradients are scaled by (loss scaling);
                each is divided by it inside the step and left unscaled, as in PyTorch's fused optimizers.
            found_inf (float, bool or Tensor, optional): nonzero: a non-finite gradient was found (by a loss
                scaler); the step changes nothing.

        Every parameter of every group is checked before any is updated: a step that raises (invalid
        option, unsupported tensor, bad state, a non-finite gradient under ``nonfinite="raise"``) leaves
        the parameters and their state as they were. A tensor listed twice in a group is stepped twice,
        one step after the other, as torch.optim does; distinct tensors that share memory are refused.
        Each updated parameter's version counter is bumped, as by torch's in-place updates, so that
        autograd refuses a graph saved before the step.
        """
        loss = None
        if closure is not None:
            with torch.enable_grad():
                loss = closure()
        scale, skip = loss_scaling(self, grad_scale, found_inf)
        policy = self._nonfinite
        required = self._required_keys
        checked = []
        for gi, group in enumerate(self.param_groups):
            for key in required:
                if key not in group:
                    raise KeyError(key)  # as torch.optim's step, which reads group[key]
            if group.get("capturable") or group.get("differentiable"):
                _check_flags(self._name, group)
            _check_precision(group)
            if "state_dtype" in group:
                check_state_dtype(self._name, self._algorithm, group)
            grads = self._with_grads(group, gi)
            if grads:
                checked.append((gi, group, grads))
        passes = [(gi, group, _passes(grads)) for gi, group, grads in checked]
        if len(passes) > 1 or (passes and len(passes[0][2][0]) > 1):
            self._check_no_overlap([(gi, first) for gi, _, (first, *_) in passes])
        if skip or policy != "propagate":
            for _, group, _ in checked:  # a skipped step still refuses invalid options
                _adamant.validate(self._algorithm, group)
        if skip or (policy != "propagate" and self._nonfinite_gradient(checked, scale, policy)):
            self._last_step_skipped = True
            return loss
        # The first pass of every group (each tensor once) is prepared and checked in C++ before any runs; a
        # later pass holds tensors listed again, stepped after the first, with the state it left.
        journal = _Journal()
        first = []
        try:
            for gi, group, group_passes in passes:
                prepared = self._prepare(group, gi, group_passes[0], journal)
                layouts = _layouts(group_passes[0])
                self._check_in_cpp(group, gi, group_passes[0], prepared, scale, layouts)
                first.append((gi, group, prepared, layouts))
        except BaseException:
            journal.undo()
            raise
        count = self._adamant_step_count
        ran = False
        for gi, group, prepared, layouts in first:
            ran = self._run(group, gi, 0, prepared, count, scale, layouts) or ran
        for (gi, group, group_passes), (_, _, first_prepared, _) in zip(passes, first):
            for k in range(1, len(group_passes)):
                prepared = self._prepare_again(group, gi, group_passes[k], first_prepared)
                ran = self._run(group, gi, k, prepared, count, scale, _layouts(group_passes[k])) or ran
        if not ran:
            self._last_step_skipped = False
            return loss
        updated = [p for _, _, grads in checked for _, p, _, _, _, _ in grads]
        if scale != 1.0:  # the C++ wrote the unscaled gradients into the copies it was given
            for _, _, grads in checked:
                for _, _, g, _, _, original in grads:
                    if g is not original:
                        original.copy_(g)
            updated += [original for _, _, grads in checked for _, _, _, _, _, original in grads]
        _bump_versions(updated)
        self._adamant_step_count = count + 1
        self._last_step_skipped = False
        return loss

    def _run(self, group, gi, k, prepared, count, scale, layouts):
        """Runs one prepared pass of a group in C++ and stores what it returns; False if it had no tensor."""
        items, steps, extra, storages = prepared
        if not items:
            return False
        if group.get("stochastic_rounding") or _rounds_state_stochastically(group):
            group = dict(group)
            seed = stream_seed(group.get("seed", 0), count, gi)
            group["seed"] = seed if k == 0 else _adamant.mix_seed(seed ^ k)
        result = self._kernel(group, items, scale, False, layouts, storages)
        for st, value in steps:
            st.fill_(value)
        if extra is not None:
            self._finish(extra, result)
        return True

    def _check_in_cpp(self, group, gi, grads, prepared, scale, layouts):
        """The C++ step's own checks of a prepared pass (options, pointers, aliasing, steps), run without
        changing anything; its "tensor N" is named as the parameter it is."""
        try:
            self._kernel(group, prepared[0], scale, True, layouts, prepared[3])
        except ValueError as e:
            match = _TENSOR_ERROR.match(str(e))
            if match is None:
                raise
            i, p = grads[int(match.group(1))][:2]
            raise ValueError(f"adamant.torch.{self._name}: {_where(p, gi, i)}: {match.group(2)}") from None

    def _check_no_overlap(self, groups):
        """RuntimeError if two distinct parameters share memory (views of one storage): each is updated in
        place by one pass that may run on several threads."""
        where = [(gi, i, p) for gi, grads in groups for i, p, _, _, _, _ in grads]
        pair = _adamant.first_overlap([(p.data_ptr(), _span(p) if flag is STRIDED else p.numel() * p.element_size())
                                       for _, grads in groups for _, p, _, _, flag, _ in grads])
        if pair is None:
            return
        (ga, ia, a), (gb, ib, b) = where[pair[0]], where[pair[1]]
        raise RuntimeError(f"adamant.torch.{self._name}: {_where(a, ga, ia)} and {_where(b, gb, ib)} share "
                           f"memory (views of one storage); each parameter is updated in place, so parameters "
                           f"must not overlap (one tensor listed twice in a group is stepped twice, as in "
                           f"torch.optim)")

    def _nonfinite_gradient(self, checked, scale, policy):
        """True if some gradient / scale holds a NaN or an inf (one read-only C++ pass over every group);
        under "raise", RuntimeError naming the first such parameter instead."""
        where = [(gi, i, p) for gi, _, grads in checked for i, p, _, _, _, _ in grads]
        bad = _adamant.first_nonfinite(
            [(g.data_ptr(), numel(g), dtype) for _, _, grads in checked for _, _, g, dtype, _, _ in grads], scale)
        if bad is None:
            return False
        if policy == "raise":
            gi, i, p = where[bad]
            raise RuntimeError(f"adamant.torch.{self._name}: the gradient of {_where(p, gi, i)} is not finite (it "
                               f"holds a NaN or an infinity); the step was refused and nothing changed "
                               f"(nonfinite='raise')")
        return True

    def _finish(self, extra, result):
        pass

    def _with_grads(self, group, gi):
        """(index, p, gradient to read, dtype name, dense flag, p.grad) for each parameter of `group` with a
        gradient, checked by _checked; the gradient to read is p.grad or a copy of it."""
        out = []
        for i, p in enumerate(group["params"]):
            original = p.grad
            if original is None:
                continue
            dtype, g, dense = self._checked(p, original, gi, i)
            if _overlaps(p, g, dense):
                raise RuntimeError(
                    f"adamant.torch.{self._name}: the gradient of {_where(p, gi, i)} shares memory with the "
                    f"parameter; adamant reads the gradient and writes the parameter in one pass, so the gradient "
                    f"must be a tensor of its own (e.g. p.grad = g.clone())")
            out.append((i, p, g, dtype, dense, original))
        return out

    # The state buffers of a group, for the generic _prepare below: the names whose data_ptr()s follow the
    # dtype in the C++ step's tuple, in order; None for an optional buffer the group does not use (a 0
    # pointer). Buffers named in _lazy_buffers are created when first used (an option switched on later),
    # the others with the rest of a parameter's state (_init_state).
    _lazy_buffers = frozenset()

    def _buffers(self, group):
        """Every buffer of the algorithm (its state names, in the C++ step's order); optimizers whose
        options leave some out override this."""
        return _adamant.state_names(self._algorithm)

    def _init_state(self, state, p, group, names):
        """Fills the empty state of `p`: the step and zeros for the non-lazy buffers in `names`."""
        state["step"] = new_step()
        lazy = self._lazy_buffers
        for name in names:
            if name is not None and name not in lazy:
                state.update(new_state(p, name, state_dtype(p, storage_for(group, name, p))))

    def _after_step(self, state, extras):
        """Hook: the values that follow the step in the tuple (none by default); may append to `extras`,
        which reaches _finish (when not empty)."""
        return ()

    def _prepare(self, group, gi, grads, journal):
        """The usual preparation: (p, grad, numel, dtype, <buffer ptrs>, step, <_after_step values>, master)
        for each parameter with a gradient, its step incremented, and the bit masks of its bfloat16 buffers
        (None when the group has none). State it creates is recorded in `journal`."""
        names = self._buffers(group)
        lazy = [name for name in names if name in self._lazy_buffers]
        masters = group.get("master_weights", False)
        lean = group.get("state_dtype", "float32") != "float32"
        state_of = self.state
        items = []
        steps = []
        extras = []
        masks = [] if lean else None
        for i, p, g, dtype, dense, _ in grads:
            if p not in state_of:
                journal.new_state(state_of, p)
            state = state_of[p]
            if not state:
                journal.filled(state)
                self._init_state(state, p, group, names)
            for name in lazy:
                if name not in state:
                    for key, value in new_state(p, name, state_dtype(p, storage_for(group, name, p))).items():
                        journal.put(state, key, value)
            st, step = step_of(state, lambda: f"adamant.torch.{self._name}: {_where(p, gi, i)}")
            tail = self._after_step(state, extras)
            step += 1
            if lean:
                mine = [storage_for(group, name, p) if name is not None else "float32" for name in names]
                dtypes = [state_dtype(p, storage) for storage in mine]
                ptrs = []
                absmax = []
                for name, d in zip(names, dtypes):
                    if name is None:
                        ptrs.append(0)
                        absmax.append(0)
                    elif d is _UINT8:
                        codes, maxima = int8_ptrs(state, name, p, dense, journal)
                        ptrs.append(codes)
                        absmax.append(maxima)
                    else:
                        ptrs.append(state_ptr(state, name, p, dense, d))
                        absmax.append(0)
                mask = storage_mask(names, dtypes, mine)
                masks.append((mask, *absmax) if _UINT8 in dtypes else mask)
            else:
                ptrs = [0 if name is None else state_ptr(state, name, p, dense) for name in names]
            items.append((p.data_ptr(), g.data_ptr(), numel(p), dtype, *ptrs, step,
                          *tail, master_ptr(state, p, dense, masters, journal)))
            steps.append((st, step))
        return items, steps, extras or None, masks

    def _prepare_again(self, group, gi, grads, first):
        """_prepare for a later pass (parameters listed again), after the first pass (`first`, what its
        _prepare returned) has run."""
        return self._prepare(group, gi, grads, _Journal())

    # Checks one parameter and its gradient; returns (dtype name, gradient to read, layout flag), the flag
    # true when the parameter is dense but not contiguous (state must then share its strides), STRIDED when
    # it is strided with gaps (state and gradient contiguous), else False.
    def _checked(self, p, g, gi, i):
        if g.layout is not _STRIDED:
            raise RuntimeError(self._sparse_message(g, gi, i))
        complex_ = p.dtype in _COMPLEX
        dtype = _DTYPE_NAMES.get(p.dtype)
        if dtype is None:
            raise TypeError(f"adamant.torch.{self._name}: {_where(p, gi, i)} has dtype {p.dtype}, which "
                            f"is not supported (supported: {_SUPPORTED})")
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
        if complex_ and self._complex_refusal is not None:
            raise TypeError(f"adamant.torch.{self._name}: {_where(p, gi, i)} is complex ({p.dtype}); "
                            f"{self._complex_refusal}")
        if p.layout is not _STRIDED or p.is_neg() or (complex_ and p.is_conj()):
            raise RuntimeError(f"adamant.torch.{self._name}: {_where(p, gi, i)} is not a plain strided "
                               f"tensor (layout {p.layout}); it cannot be updated in place")
        if complex_ and g.is_conj():
            g = g.resolve_conj()
        if g.is_neg():
            g = g.resolve_neg()
        if p.is_contiguous():
            if not g.is_contiguous():
                g = g.contiguous()
            return dtype, g, False
        if not _is_dense(p):
            if _shares_elements(p):
                raise RuntimeError(
                    f"adamant.torch.{self._name}: {_where(p, gi, i)} has elements that share memory (strides "
                    f"{p.stride()}, e.g. an expanded tensor), so adamant cannot update it in place, and updating "
                    f"a copy would leave the parameter unchanged. Optimize a tensor of its own instead (e.g. "
                    f"nn.Parameter(w.clone())).")
            if p.dim() > _MAX_DIMS:
                raise RuntimeError(f"adamant.torch.{self._name}: {_where(p, gi, i)} is strided with gaps and has "
                                   f"{p.dim()} dimensions; adamant updates such parameters of up to {_MAX_DIMS}")
            if not g.is_contiguous():
                g = g.contiguous()
            return dtype, g, STRIDED
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
