"""adamant: Adam-family optimizers in C++.

``adamant.torch`` holds drop-in replacements for ``torch.optim`` optimizers whose step runs in C++.
``adamant.clip_grad_norm_`` and ``adamant.clip_grad_value_`` are torch.nn.utils's gradient clipping, in
C++ and bitwise the same for any number of threads (they need torch, imported on first use).
"""

from adamant import _adamant  # noqa: F401  (the compiled extension)
from adamant._clip import clip_grad_norm_, clip_grad_value_

__all__ = ["_adamant", "clip_grad_norm_", "clip_grad_value_"]
