"""The torch.optim API of adamant.torch: signatures, param groups, zero_grad, closures, schedulers, lr
tensors, parameter layouts, skipped parameters."""

import inspect

import pytest
import torch

import adamant.torch as at
from conftest import (ALGORITHMS, assert_close, assert_same_state, clone_params, default_reference, make_reference,
                      in_torch, set_grads)

P, K = inspect.Parameter.POSITIONAL_OR_KEYWORD, inspect.Parameter.KEYWORD_ONLY
ADAM_EXTRAS = [("bias_correction", True, K), ("eps_mode", "pytorch", K)]
# Every optimizer's mixed-precision options (test_torch_mixed_precision.py) and state storage
# (test_torch_state_dtype.py), last.
PRECISION = [("master_weights", False, K), ("stochastic_rounding", False, K), ("seed", 0, K),
             ("state_dtype", "float32", K), ("min_quant_size", 4096, K)]
# The optimizer's non-finite gradient policy (test_torch_nonfinite.py), not a param group option.
NONFINITE = [("nonfinite", "propagate", K)]

# Current PyTorch's signatures (torch/optim/*.py), then adamant's extra keyword-only options.
SIGNATURES = {
    "Adam": [("lr", 1e-3, P), ("betas", (0.9, 0.999), P), ("eps", 1e-8, P), ("weight_decay", 0, P),
             ("amsgrad", False, P), ("foreach", None, K), ("maximize", False, K), ("capturable", False, K),
             ("differentiable", False, K), ("fused", None, K), ("decoupled_weight_decay", False, K)] + ADAM_EXTRAS
            + PRECISION + NONFINITE,
    "AdamW": [("lr", 1e-3, P), ("betas", (0.9, 0.999), P), ("eps", 1e-8, P), ("weight_decay", 1e-2, P),
              ("amsgrad", False, P), ("maximize", False, K), ("foreach", None, K), ("capturable", False, K),
              ("differentiable", False, K), ("fused", None, K)] + ADAM_EXTRAS + PRECISION + NONFINITE,
    "Adamax": [("lr", 2e-3, P), ("betas", (0.9, 0.999), P), ("eps", 1e-8, P), ("weight_decay", 0, P),
               ("foreach", None, P), ("maximize", False, K), ("differentiable", False, K),
               ("capturable", False, K)] + ADAM_EXTRAS + PRECISION + NONFINITE,
    "NAdam": [("lr", 2e-3, P), ("betas", (0.9, 0.999), P), ("eps", 1e-8, P), ("weight_decay", 0, P),
              ("momentum_decay", 4e-3, P), ("decoupled_weight_decay", False, P), ("foreach", None, K),
              ("maximize", False, K), ("capturable", False, K), ("differentiable", False, K)] + ADAM_EXTRAS
             + PRECISION + NONFINITE,
    "RAdam": [("lr", 1e-3, P), ("betas", (0.9, 0.999), P), ("eps", 1e-8, P), ("weight_decay", 0, P),
              ("decoupled_weight_decay", False, P), ("foreach", None, K), ("maximize", False, K),
              ("capturable", False, K), ("differentiable", False, K), ("bias_correction", True, K)] + PRECISION + NONFINITE,
    "Adagrad": [("lr", 1e-2, P), ("lr_decay", 0, P), ("weight_decay", 0, P), ("initial_accumulator_value", 0, P),
                ("eps", 1e-10, P), ("foreach", None, P), ("maximize", False, K), ("differentiable", False, K),
                ("fused", None, K)] + PRECISION + NONFINITE,
    "RMSprop": [("lr", 1e-2, P), ("alpha", 0.99, P), ("eps", 1e-8, P), ("weight_decay", 0, P), ("momentum", 0, P),
                ("centered", False, P), ("capturable", False, P), ("foreach", None, P), ("maximize", False, P),
                ("differentiable", False, P)] + PRECISION + NONFINITE,
    "Adadelta": [("lr", 1.0, P), ("rho", 0.9, P), ("eps", 1e-6, P), ("weight_decay", 0, P), ("foreach", None, P),
                 ("capturable", False, K), ("maximize", False, K), ("differentiable", False, K)] + PRECISION + NONFINITE,
    "SGD": [("lr", 1e-3, P), ("momentum", 0, P), ("dampening", 0, P), ("weight_decay", 0, P), ("nesterov", False, P),
            ("maximize", False, K), ("foreach", None, K), ("differentiable", False, K), ("fused", None, K)]
           + PRECISION + NONFINITE,
    # torch has no Lion: lucidrains' lion-pytorch's positional arguments, then the drop-ins' keywords.
    "Lion": [("lr", 1e-4, P), ("betas", (0.9, 0.99), P), ("weight_decay", 0.0, P), ("maximize", False, K),
             ("foreach", None, K), ("differentiable", False, K)] + PRECISION + NONFINITE,
}


@pytest.mark.parametrize("algorithm", ALGORITHMS)
def test_signature_is_current_pytorchs(algorithm):
    cls = getattr(at, algorithm)
    params = list(inspect.signature(cls).parameters.values())
    assert params[0].name == "params" and params[0].default is inspect.Parameter.empty
    assert [(p.name, p.default, p.kind) for p in params[1:]] == SIGNATURES[algorithm]
    assert issubclass(cls, torch.optim.Optimizer)
    opt = cls([torch.zeros(2, requires_grad=True)])
    expected = {name: default for name, default, _ in SIGNATURES[algorithm] if name != "nonfinite"}
    if algorithm == "AdamW":
        expected["decoupled_weight_decay"] = True
    assert opt.defaults == expected


def test_adamw_is_an_adam():
    assert issubclass(at.AdamW, at.Adam)  # as in current PyTorch


def _trajectory(make, steps=5, seed=0):
    gen = torch.Generator().manual_seed(seed)
    params = [torch.randn(4, 3, generator=gen, requires_grad=True), torch.randn(5, generator=gen, requires_grad=True)]
    opt = make(params)
    for _ in range(steps):
        for p in params:
            p.grad = torch.randn(p.shape, generator=gen)
        opt.step()
    return params, opt


@pytest.mark.parametrize("algorithm", ALGORITHMS)
def test_foreach_and_fused_are_accepted_and_ignored(algorithm):
    cls = getattr(at, algorithm)
    names = {name for name, _, _ in SIGNATURES[algorithm]}
    flags = {k: True for k in ("foreach", "fused") if k in names}
    plain, _ = _trajectory(lambda ps: cls(ps, lr=1e-2))
    flagged, _ = _trajectory(lambda ps: cls(ps, lr=1e-2, **flags))
    for a, b in zip(plain, flagged):
        assert torch.equal(a, b)


@pytest.mark.parametrize("algorithm", ALGORITHMS)
def test_zero_grad(algorithm):
    p = torch.zeros(3, requires_grad=True)
    opt = getattr(at, algorithm)([p])
    p.grad = torch.ones(3)
    grad = p.grad
    opt.zero_grad(set_to_none=False)
    assert p.grad is grad and torch.equal(grad, torch.zeros(3))
    opt.zero_grad(set_to_none=True)
    assert p.grad is None
    p.grad = torch.ones(3)
    opt.zero_grad()  # current PyTorch's default: set_to_none=True
    assert p.grad is None


@pytest.mark.parametrize("algorithm", ALGORITHMS)
def test_add_param_group(algorithm):
    """A group added after some steps trains with its own options, as in torch.optim."""
    gen = torch.Generator().manual_seed(3)
    first = [torch.randn(4, 3, dtype=torch.float64, generator=gen)]
    second = [torch.randn(6, dtype=torch.float64, generator=gen), torch.randn(2, 2, dtype=torch.float64, generator=gen)]
    grads = [[torch.randn(p.shape, dtype=p.dtype, generator=gen) for p in first + second] for _ in range(10)]
    a1, a2, r1, r2 = clone_params(first), clone_params(second), clone_params(first), clone_params(second)
    opt = getattr(at, algorithm)(a1, lr=1e-2)
    cls = default_reference(algorithm)
    ref = make_reference(cls, r1, lr=1e-2)
    for step, row in enumerate(grads):
        if step == 5:
            opt.add_param_group({"params": a2, "lr": 0.1, "weight_decay": 0.01})
            ref.add_param_group({"params": r2, "lr": 0.1, "weight_decay": 0.01})
            if algorithm == "Adagrad":  # torch creates Adagrad's state in __init__ only
                assert all(len(opt.state[p]) == 2 for p in a2)
                for p in r2:
                    ref.state[p].update(step=torch.tensor(0.0), sum=torch.zeros_like(p))
        pa, pr = (a1, r1) if step < 5 else (a1 + a2, r1 + r2)
        set_grads(pa, row)
        set_grads(pr, row)
        opt.step()
        ref.step()
        assert_same_state(opt, ref, pa, pr, f"{algorithm} step {step + 1}")
    assert opt.param_groups[1]["lr"] == 0.1 and opt.param_groups[1]["maximize"] is False


@pytest.mark.parametrize("algorithm", ["Adam", "SGD", "RMSprop", "NAdam"])
def test_closure(algorithm):
    """step(closure) evaluates the closure with gradients enabled and returns its loss; the trajectory of
    a small regression equals torch.optim's."""
    gen = torch.Generator().manual_seed(4)
    x = torch.randn(16, 3, dtype=torch.float64, generator=gen)
    y = torch.randn(16, 1, dtype=torch.float64, generator=gen)
    models = [torch.nn.Linear(3, 1).double() for _ in range(2)]
    models[1].load_state_dict(models[0].state_dict())
    options = dict(lr=1e-2, momentum=0.9) if algorithm in ("SGD", "RMSprop") else dict(lr=1e-2)
    opt = getattr(at, algorithm)(models[0].parameters(), **options)
    cls = default_reference(algorithm)
    ref = make_reference(cls, models[1].parameters(), **options)

    def closure_for(model, optimizer):
        def closure():
            optimizer.zero_grad()
            loss = torch.nn.functional.mse_loss(model(x), y)
            loss.backward()
            return loss
        return closure

    for _ in range(15):
        with torch.no_grad():  # the closure must still get gradients
            loss = opt.step(closure_for(models[0], opt))
        expected = closure_for(models[1], ref)()
        ref.step()
        assert isinstance(loss, torch.Tensor) and loss.requires_grad
        assert_close(loss.detach(), expected.detach(), "loss")
    for a, b in zip(models[0].parameters(), models[1].parameters()):
        assert_close(a.detach(), b.detach(), "parameter")
    assert opt.step() is None  # no closure: no loss


@pytest.mark.parametrize("algorithm", ALGORITHMS)
def test_lr_changed_between_steps(algorithm):
    """group['lr'] set between steps (by hand, and by torch's StepLR) takes effect as in torch.optim."""
    gen = torch.Generator().manual_seed(5)
    init = [torch.randn(7, 3, dtype=torch.float64, generator=gen)]
    grads = [[torch.randn(7, 3, dtype=torch.float64, generator=gen)] for _ in range(12)]
    pa, pr = clone_params(init), clone_params(init)
    opt = getattr(at, algorithm)(pa, lr=0.05)
    cls = default_reference(algorithm)
    ref = make_reference(cls, pr, lr=0.05)
    schedulers = [torch.optim.lr_scheduler.StepLR(o, step_size=3, gamma=0.5) for o in (opt, ref)]
    for step, row in enumerate(grads):
        if step == 7:
            for o in (opt, ref):
                o.param_groups[0]["lr"] *= 3
        set_grads(pa, row)
        set_grads(pr, row)
        opt.step()
        ref.step()
        for s in schedulers:
            s.step()
        assert opt.param_groups[0]["lr"] == ref.param_groups[0]["lr"]
        assert_same_state(opt, ref, pa, pr, f"{algorithm} step {step + 1}")


def test_lr_tensor():
    """A one-element tensor lr is accepted (read as a float at each step, so in-place changes count)."""
    plain, _ = _trajectory(lambda ps: at.Adam(ps, lr=0.01))
    tensor, opt = _trajectory(lambda ps: at.Adam(ps, lr=torch.tensor(0.01)))
    for a, b in zip(plain, tensor):
        assert torch.equal(a, b)
    before = [p.detach().clone() for p in tensor]
    opt.param_groups[0]["lr"].fill_(0.0)
    for p in tensor:
        p.grad = torch.ones_like(p)
    opt.step()
    for a, b in zip(before, tensor):
        assert torch.equal(a, b)
    with pytest.raises(ValueError, match="^Tensor lr must be 1-element$"):
        at.Adam(plain, lr=torch.tensor([0.1, 0.2]))
    with pytest.raises(ValueError, match=r"^Invalid learning rate: -1\.0$"):
        at.SGD(plain, lr=torch.tensor(-1.0))


@pytest.mark.parametrize("algorithm", ALGORITHMS)
def test_parameter_without_grad_is_skipped(algorithm):
    a = torch.zeros(3, requires_grad=True)
    b = torch.zeros(3, requires_grad=True)
    opt = getattr(at, algorithm)([a, b], lr=0.1, **({"momentum": 0.5} if algorithm == "SGD" else {}))
    a.grad = torch.ones(3)
    opt.step()
    b_state = dict(opt.state.get(b, {}))
    if algorithm == "Adagrad":  # created up front, as torch does
        assert b_state["step"].item() == 0
    else:
        assert not b_state
    assert torch.equal(b, torch.zeros(3))
    a_before = a.detach().clone()
    a.grad = None
    b.grad = torch.ones(3)
    opt.step()
    assert torch.equal(a, a_before)
    if "step" in opt.state[a]:
        assert opt.state[a]["step"].item() == 1
    assert opt.step() is None  # nothing with a gradient changes nothing either


@pytest.mark.parametrize("algorithm", ALGORITHMS)
@pytest.mark.parametrize("layout", ["transposed", "channels_last", "transposed-contiguous-grad"])
def test_dense_non_contiguous_params_are_updated_in_place(algorithm, layout):
    gen = torch.Generator().manual_seed(6)
    if layout.startswith("transposed"):
        init = [torch.randn(5, 8, generator=gen).t()]
    else:
        init = [torch.randn(2, 3, 4, 4, generator=gen).contiguous(memory_format=torch.channels_last)]
    assert not init[0].is_contiguous()
    pa, pr = clone_params(init), clone_params(init)
    options = {"momentum": 0.9} if algorithm in ("SGD", "RMSprop") else {}
    opt = getattr(at, algorithm)(pa, lr=1e-2, **options)
    cls = default_reference(algorithm)
    ref = make_reference(cls, pr, lr=1e-2, **options)
    ptr, stride = pa[0].data_ptr(), pa[0].stride()
    for step in range(6):
        g = torch.randn(init[0].shape, generator=gen)
        if layout != "transposed-contiguous-grad":
            g = torch.empty_like(init[0]).copy_(g)  # laid out like the parameter
        set_grads(pa, [g])
        set_grads(pr, [g])
        opt.step()
        ref.step()
        assert_same_state(opt, ref, pa, pr, f"{algorithm} {layout} step {step + 1}")
    assert pa[0].data_ptr() == ptr and pa[0].stride() == stride
    for key, value in opt.state[pa[0]].items():
        if isinstance(value, torch.Tensor) and value.dim():
            assert value.stride() == stride, key


@pytest.mark.parametrize("algorithm", ALGORITHMS)
@pytest.mark.parametrize("view", ["every-other-column", "last-index", "transposed-gaps"])
def test_strided_params_with_gaps_are_updated_in_place(algorithm, view):
    """A view with gaps is stepped through its strides: as the reference steps the same view, with
    contiguous state; the elements between are never written."""
    gen = torch.Generator().manual_seed(7)
    base = torch.randn(10, 6, 2, generator=gen)
    views = {"every-other-column": lambda b: b[:, ::2, 0], "last-index": lambda b: b[..., 0],
             "transposed-gaps": lambda b: b[:, ::3, 1].t()}
    base_a, base_r = base.clone(), base.clone()
    pa, pr = [views[view](base_a).requires_grad_()], [views[view](base_r).requires_grad_()]
    options = {"momentum": 0.9} if algorithm in ("SGD", "RMSprop") else {}
    opt = getattr(at, algorithm)(pa, lr=1e-2, **options)
    ref = make_reference(default_reference(algorithm), pr, lr=1e-2, **options)
    mask = torch.ones_like(base, dtype=torch.bool)
    views[view](mask).fill_(False)
    for step in range(4):
        g = torch.randn(pa[0].shape, generator=gen)
        set_grads(pa, [g.clone()])
        set_grads(pr, [g.clone()])
        opt.step()
        ref.step()
        assert_same_state(opt, ref, pa, pr, f"{algorithm} {view} step {step + 1}")
    assert torch.equal(base_a[mask], base[mask])  # the gaps
    assert not torch.equal(base_a[~mask], base[~mask])
    for key, value in opt.state[pa[0]].items():
        if isinstance(value, torch.Tensor) and value.dim():
            assert value.is_contiguous(), key


@pytest.mark.parametrize("precision", [{"master_weights": True}, {"stochastic_rounding": True, "seed": 3}])
def test_strided_bfloat16_params_step_as_their_contiguous_copies(precision):
    """Master copies and stochastic rounding of a strided view with gaps follow its elements in row-major
    order: bitwise as a contiguous copy of it."""
    gen = torch.Generator().manual_seed(8)
    base = torch.randn(10, 6, 2, generator=gen).bfloat16()
    p = base[:, ::3, 1].t().requires_grad_()
    c = p.detach().contiguous().requires_grad_()
    a, b = at.Adam([p], lr=1e-2, **precision), at.Adam([c], lr=1e-2, **precision)
    for _ in range(3):
        g = torch.randn(p.shape, generator=gen).bfloat16()
        p.grad, c.grad = g.clone(), g.clone()
        a.step()
        b.step()
    assert torch.equal(p, c)
    for key, value in b.state[c].items():
        assert torch.equal(a.state[p][key], value), key


@pytest.mark.parametrize("algorithm", [a for a in ALGORITHMS if a != "Lion"])
@pytest.mark.parametrize("dtype", [torch.complex64, torch.complex128])
def test_complex_params_step_as_their_real_view(algorithm, dtype):
    """A complex parameter is stepped as its real and imaginary parts (torch.view_as_real), as current
    torch.optim does: bitwise as the real view stepped by the same optimizer, with complex state (torch's
    layout), also when strided with gaps; state dicts load into torch.optim."""
    gen = torch.Generator().manual_seed(9)
    base = torch.randn(6, 4, dtype=dtype, generator=gen)
    pc = [base[:, :3].clone().requires_grad_(), base[::2, 1]]  # the second strided with gaps
    pc[1].requires_grad_()
    pr = [torch.view_as_real(p.detach()).clone().requires_grad_() for p in pc]
    options = {"momentum": 0.9} if algorithm in ("SGD", "RMSprop") else {}
    opt = getattr(at, algorithm)(pc, lr=1e-2, weight_decay=0.1, **options)
    ref = getattr(at, algorithm)(pr, lr=1e-2, weight_decay=0.1, **options)
    # torch 1.13 steps complex parameters too (NAdam and RAdam by its own, older rules: not compared).
    torch_params = [p.detach().clone().requires_grad_() for p in pc]
    in_113 = in_torch(algorithm) and algorithm not in ("NAdam", "RAdam")
    theirs = getattr(torch.optim, algorithm)(torch_params, lr=1e-2, weight_decay=0.1, **options) if in_113 else None
    for _ in range(3):
        for p, r, t in zip(pc, pr, torch_params):
            g = torch.randn(p.shape, dtype=dtype, generator=gen)
            p.grad, r.grad, t.grad = g.clone(), torch.view_as_real(g).clone(), g.clone()
        opt.step()
        ref.step()
        if theirs is not None:
            theirs.step()
    if theirs is not None:  # SGD: torch in complex arithmetic, adamant with PyTorch's fused real add
        for p, t in zip(pc, torch_params):
            torch.testing.assert_close(p.detach(), t.detach(), rtol=1e-5 if dtype == torch.complex64 else 1e-12,
                                       atol=0)
    for p, r in zip(pc, pr):
        assert torch.equal(torch.view_as_real(p.detach()), r.detach())
        for key, value in opt.state[p].items():
            if key in ("step", "mu_product"):
                assert float(value) == float(ref.state[r][key]), key
            else:
                assert value.dtype == dtype, key
                assert torch.equal(torch.view_as_real(value), ref.state[r][key]), key
    assert torch.equal(base[::2, 1], pc[1].detach())  # updated in place
    if in_torch(algorithm):
        theirs = getattr(torch.optim, algorithm)([p.detach().clone().requires_grad_() for p in pc], lr=1e-2,
                                                 weight_decay=0.1, **options)
        theirs.load_state_dict(opt.state_dict())
        assert theirs.state_dict()["state"][0].keys() >= {k for k in opt.state[pc[0]] if k != "mu_product"}


def test_lion_refuses_complex_params():
    p = torch.zeros(3, dtype=torch.complex64, requires_grad=True)
    p.grad = torch.ones(3, dtype=torch.complex64)
    with pytest.raises(TypeError, match=r"^adamant\.torch\.Lion: parameter 0 of param group 0 \(shape \(3,\)\) is "
                                         r"complex \(torch\.complex64\); Lion takes the sign"):
        at.Lion([p]).step()
    assert torch.equal(p.detach(), torch.zeros(3, dtype=torch.complex64))


def test_state_of_another_layout_or_dtype_is_converted_once():
    """State tensors that do not match the parameter (e.g. edited by hand) are converted and stored back."""
    p = torch.randn(5, 8).t().requires_grad_()
    q = clone_params([p])[0]
    opt, ref = at.Adam([p], lr=1e-2), torch.optim.Adam([q], lr=1e-2, foreach=False)
    for o, x in ((opt, p), (ref, q)):
        x.grad = torch.ones(8, 5)
        o.step()
    opt.state[p]["exp_avg"] = opt.state[p]["exp_avg"].contiguous()  # other strides
    opt.state[p]["exp_avg_sq"] = opt.state[p]["exp_avg_sq"].double()  # other dtype
    for o, x in ((opt, p), (ref, q)):
        x.grad = torch.full((8, 5), -0.5)
        o.step()
    assert_same_state(opt, ref, [p], [q], "converted state")
    assert opt.state[p]["exp_avg"].stride() == p.stride() and opt.state[p]["exp_avg_sq"].dtype == torch.float32
    exp_avg = opt.state[p]["exp_avg"]
    opt.step()
    assert opt.state[p]["exp_avg"] is exp_avg  # converted once, then used in place


def test_failed_step_changes_nothing():
    """Every group is checked before any is updated."""
    a = torch.zeros(3, requires_grad=True)
    b = torch.zeros(3, requires_grad=True)
    opt = at.Adam([{"params": [a]}, {"params": [b]}], lr=0.1)
    a.grad, b.grad = torch.ones(3), torch.ones(3)
    opt.step()
    saved = {k: v.clone() for k, v in opt.state[a].items()}
    a_before = a.detach().clone()
    opt.param_groups[1]["lr"] = -1.0
    with pytest.raises(ValueError, match=r"^Invalid learning rate: -1\.0$"):
        opt.step()
    assert torch.equal(a, a_before)
    for k, v in saved.items():
        assert torch.equal(opt.state[a][k], v), k


def test_adagrad_group_initial_accumulator_value():
    """Each group's sum starts at the group's initial_accumulator_value (torch 1.13 used the constructor's
    value for every group)."""
    a = torch.zeros(2, requires_grad=True)
    b = torch.zeros(2, requires_grad=True)
    opt = at.Adagrad([{"params": [a]}, {"params": [b], "initial_accumulator_value": 0.5}],
                     initial_accumulator_value=0.25)
    assert torch.equal(opt.state[a]["sum"], torch.full((2,), 0.25))
    assert torch.equal(opt.state[b]["sum"], torch.full((2,), 0.5))


@pytest.mark.parametrize("algorithm", ALGORITHMS)
def test_optimizer_pickles(algorithm):
    import pickle
    params, opt = _trajectory(lambda ps: getattr(at, algorithm)(ps, lr=1e-2), steps=2)
    clone = pickle.loads(pickle.dumps(opt))
    assert type(clone) is type(opt) and clone.param_groups[0]["lr"] == 1e-2
    assert len(clone.state) == len(opt.state)
