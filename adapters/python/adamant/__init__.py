"""adamant: Adam-family optimizers in C++.

``adamant.torch`` holds drop-in replacements for ``torch.optim`` optimizers whose step runs in C++.
"""

from adamant import _adamant  # noqa: F401  (the compiled extension)

__all__ = ["_adamant"]
