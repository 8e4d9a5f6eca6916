"""bitsandbytes' names for 8-bit optimizers: Adam8bit, AdamW8bit and Lion8bit, with int8 state by default.

They are adamant's Adam, AdamW and Lion with ``state_dtype="int8"`` as their default: every state buffer of
a parameter of at least ``min_quant_size`` elements (4096, bitsandbytes' ``min_8bit_size``) is kept as
uint8 codes of the parameter's shape and float32 maxima of its blocks of 256 elements (``exp_avg`` and
``exp_avg_absmax``, ...), dequantized, updated in float32 and requantized in one fused pass; smaller
tensors keep float32 state. The quantization is bitsandbytes' dynamic map with the exact nearest code
(docs/algorithms.md, "int8 state"). Everything else is as for :class:`adamant.torch.Adam`; ``state_dtype``
may still be set otherwise, per group or per buffer.
"""

from adamant.torch import _base
from adamant.torch.adam import Adam, AdamW
from adamant.torch.lion import Lion

__all__ = ["Adam8bit", "AdamW8bit", "Lion8bit"]


def _eight_bit(base, name):
    """A subclass of drop-in `base` called `name` whose state_dtype defaults to "int8"."""

    def __init__(self, params, *args, state_dtype="int8", **kwargs):
        base.__init__(self, params, *args, state_dtype=state_dtype, **kwargs)

    cls = type(name, (base,), {"__init__": __init__, "__module__": __name__,
                               "__doc__": f"{base.__name__} with ``state_dtype=\"int8\"`` by default (bitsandbytes' "
                                          f"{name}); see ``adamant.torch.eight_bit``.\n\n{base.__doc__}"})
    cls._name = name
    cls._option_defaults = {**base._option_defaults, "state_dtype": "int8"}
    return cls


Adam8bit = _eight_bit(Adam, "Adam8bit")
AdamW8bit = _eight_bit(AdamW, "AdamW8bit")
Lion8bit = _eight_bit(Lion, "Lion8bit")


def dequantized_state_dict(optimizer):
    """``optimizer.state_dict()`` with its int8 state as float32 tensors (codes dequantized, the
    ``<name>_absmax`` entries gone) and its bfloat16 state widened to float32, and without the adamant-only
    group options ``state_dtype`` and ``min_quant_size``: what a float32 optimizer would hold, which
    torch.optim's optimizers load (and an adamant optimizer loads into whatever state_dtype it has)."""
    state_dict = optimizer.state_dict()
    states = {}
    for key, state in state_dict["state"].items():
        state = dict(state)
        for name in [n for n, v in state.items() if isinstance(v, _base.Tensor) and v.dtype is _base._UINT8]:
            state[name] = _base._widened(state, name)
            del state[name + _base.ABSMAX_SUFFIX]
        for name, value in state.items():
            if isinstance(value, _base.Tensor) and value.dtype is _base._BF16:
                state[name] = value.float()
        states[key] = state
    groups = [{k: v for k, v in group.items() if k not in ("state_dtype", "min_quant_size")}
              for group in state_dict["param_groups"]]
    return {**state_dict, "state": states, "param_groups": groups}
