"""Drop-in replacements for torch.optim's optimizers whose step runs in adamant's C++.

    import adamant.torch
    opt = adamant.torch.AdamW(model.parameters(), lr=1e-3)   # instead of torch.optim.AdamW

The classes subclass ``torch.optim.Optimizer`` and take current PyTorch's constructor arguments and
defaults (plus adamant's keyword-only ``bias_correction`` and ``eps_mode`` where they apply). Param
groups, ``add_param_group``, ``zero_grad``, ``step(closure)``, ``state_dict`` and ``load_state_dict`` work
as in torch.optim, with torch's state names and layout: state dicts load both ways between these classes
and torch.optim's. Parameters must be float32, float64, bfloat16, float16, complex64 or complex128 CPU
tensors: contiguous, dense in another order (channels_last, transposed) or strided with gaps
(``w[:, ::2]``); each step updates them in place. A tensor whose elements share memory (expanded) is
refused. A complex parameter is stepped as its real and imaginary parts (``torch.view_as_real``), as current
torch.optim does, with complex state as torch keeps it (Lion refuses complex parameters: its sign has no
componentwise complex meaning).

Mixed precision: bfloat16 and float16 parameters keep float32 state (torch.optim keeps their state in their
own dtype) and are updated in float32, then rounded to nearest even. Every optimizer takes the keyword-only
options ``master_weights`` (keep a float32 copy, ``state['master_param']``, which the rule updates; the
parameter gets its rounding), ``stochastic_rounding`` (round the parameter stochastically instead, when
there is no master copy) and ``seed`` (the stochastic rounding's seed: same seed, same run); float32 and
float64 parameters ignore them. Details in ``adamant.torch._base``.

Lean state: ``state_dtype="bfloat16"`` (keyword-only, per param group; or a dict by state name such as
``{"exp_avg": "int8", "exp_avg_sq": "bfloat16"}``) keeps the optimizer state in bfloat16: half its memory,
each step the float32 update from the stored values, rounded to nearest even. ``state_dtype="int8"`` keeps
it block-wise 8-bit (bitsandbytes' dynamic map, the exact nearest code): a ``torch.uint8`` tensor of codes
under the buffer's name and ``<name>_absmax``, the float32 maxima of its blocks of 256 elements, for
parameters of at least ``min_quant_size`` elements (4096 by default; smaller ones keep float32).
``Adam8bit``, ``AdamW8bit`` and ``Lion8bit`` are bitsandbytes' names for Adam, AdamW and Lion with int8
state. A full-precision state dict (torch.optim's) loads into int8 state, quantized at the next step;
``dequantized_state_dict(opt)`` gives one that torch.optim loads. float64 and complex parameters keep their
own state dtype.

Non-finite gradients and loss scaling: every optimizer takes the keyword-only ``nonfinite`` ("propagate",
PyTorch's behaviour and the default; "skip": a step whose gradients hold a NaN or an inf changes nothing and
``optimizer.last_step_skipped`` is True; "raise": RuntimeError naming the parameter, nothing changed), and
``step(closure=None, *, grad_scale=None, found_inf=None)`` unscales loss-scaled gradients inside the step or
skips it, as PyTorch's fused optimizers (also from the attributes current PyTorch's GradScaler sets).
Gradient clipping in C++: ``adamant.clip_grad_norm_``, ``adamant.clip_grad_value_``. See
docs/reliability.md.
"""

import importlib as _importlib
import pkgutil as _pkgutil

from adamant import _adamant
from adamant.torch import _base
from adamant.torch._base import Optimizer

# Every module of this package defines the drop-ins of its algorithms (adam.py: Adam and AdamW); each
# registers itself with _base.drop_in, and every optimizer of the C++ list (_adamant.algorithms) has one.
for _module in _pkgutil.iter_modules(__path__):
    if not _module.name.startswith("_"):
        _importlib.import_module(f"{__name__}.{_module.name}")
_missing = [name for name in _adamant.algorithms if name not in _base.DROP_INS]
if _missing:
    raise ImportError(f"adamant.torch has no drop-in for {', '.join(_missing)}")
globals().update({cls.__name__: cls for cls in _base.DROP_INS.values()})
from adamant.torch.eight_bit import Adam8bit, AdamW8bit, Lion8bit, dequantized_state_dict  # noqa: E402

__all__ = sorted(["Optimizer", "Adam8bit", "AdamW8bit", "Lion8bit", "dequantized_state_dict",
                  *(cls.__name__ for cls in _base.DROP_INS.values())])
