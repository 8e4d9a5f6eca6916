"""Gradient clipping in C++: torch.nn.utils.clip_grad_norm_ and clip_grad_value_, deterministic.

The norm is accumulated in double over fixed blocks of each gradient and the blocks combined in order
(include/adamant/clip.h), so the result is bitwise the same for any number of threads; PyTorch reduces in
the gradients' dtype, so the two agree to within PyTorch's float rounding. Gradients must be dense CPU
tensors of float32, float64, bfloat16 or float16 (any strides: a gradient whose elements do not fill one
block of memory is clipped through a copy that is written back).
"""

from adamant import _adamant

_DTYPES = None  # torch dtype -> name, filled on first use (importing adamant does not import torch)


def _dtype_names():
    global _DTYPES
    if _DTYPES is None:
        import torch
        _DTYPES = {torch.float32: "float32", torch.float64: "float64", torch.bfloat16: "bfloat16",
                   torch.float16: "float16"}
    return _DTYPES


def _grads(parameters, what):
    """(the gradients, their (ptr, numel, dtype) tuples, (gradient, copy) pairs to write back)."""
    import torch
    from adamant.torch._base import _is_dense

    if isinstance(parameters, torch.Tensor):
        parameters = [parameters]
    names = _dtype_names()
    grads = [p.grad for p in parameters if p.grad is not None]
    items = []
    copies = []
    for i, g in enumerate(grads):
        if g.layout is not torch.strided:
            raise RuntimeError(f"adamant.{what}: gradient {i} has layout {g.layout}; only dense (strided) "
                               f"gradients are supported (torch.nn.utils.{what} handles sparse ones)")
        if not g.is_cpu:
            raise RuntimeError(f"adamant.{what}: gradient {i} is on device '{g.device}'; only CPU gradients are "
                               f"supported (use torch.nn.utils.{what})")
        dtype = names.get(g.dtype)
        if dtype is None:
            raise TypeError(f"adamant.{what}: gradient {i} has dtype {g.dtype}, which is not supported "
                            f"(supported: torch.float32, torch.float64, torch.bfloat16, torch.float16)")
        work = g
        if g.is_neg() or not _is_dense(g):
            work = g.resolve_neg().contiguous() if g.is_neg() else g.contiguous()
            copies.append((g, work))
        items.append((work.data_ptr(), work.numel(), dtype))
    return grads, items, copies


def clip_grad_norm_(parameters, max_norm, norm_type=2.0, error_if_nonfinite=False, foreach=None):
    """torch.nn.utils.clip_grad_norm_, computed by adamant (``foreach`` is accepted and has no effect).

    Scales the gradients of ``parameters`` (a tensor or an iterable of tensors) in place so that their
    total ``norm_type``-norm (``inf`` for the max norm) is at most ``max_norm``:
    ``coef = min(max_norm / (total_norm + 1e-6), 1)``, and returns the total norm before clipping as a
    0-dim tensor (of the gradients' promoted dtype). With ``error_if_nonfinite=True`` a NaN or infinite
    total raises RuntimeError (PyTorch's message) and leaves the gradients as they were.
    """
    import torch

    max_norm = float(max_norm)
    norm_type = float(norm_type)
    grads, items, copies = _grads(parameters, "clip_grad_norm_")
    if not grads:
        return torch.tensor(0.0)
    total = _adamant.clip_grad_norm(items, max_norm, norm_type, bool(error_if_nonfinite))
    with torch.no_grad():
        for g, work in copies:
            g.copy_(work)
    dtype = grads[0].dtype
    for g in grads[1:]:
        dtype = torch.promote_types(dtype, g.dtype)
    return torch.tensor(total, dtype=dtype)


def clip_grad_value_(parameters, clip_value, foreach=None):
    """torch.nn.utils.clip_grad_value_, computed by adamant (``foreach`` is accepted and has no effect):
    clamps every gradient element of ``parameters`` to ``[-clip_value, clip_value]`` in place."""
    import torch

    clip_value = float(clip_value)
    grads, items, copies = _grads(parameters, "clip_grad_value_")
    if not grads:
        return
    _adamant.clip_grad_value(items, clip_value)
    with torch.no_grad():
        for g, work in copies:
            g.copy_(work)
