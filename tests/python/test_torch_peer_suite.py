"""What PyTorch's own optimizer tests check (test/test_optim.py of the 1.13 line), checked here against the
drop-ins in our own code: learning-rate schedulers driving adamant exactly as they drive torch.optim, copies
(deepcopy, pickle) that continue the same trajectory, state_dict round trips mid-run, maximize, and
parameters strided with gaps or complex, for every algorithm."""

import copy
import pickle

import pytest
import torch

import adamant.torch as at
from conftest import ALGORITHMS, assert_same_state, clone_params, default_reference, make_reference, set_grads

# The options of each algorithm that torch 1.13's class (or the reference) knows, and that use every buffer.
FULL = {"Adam": {"amsgrad": True, "weight_decay": 0.01}, "AdamW": {"amsgrad": True}, "Adamax": {"weight_decay": 0.01},
        "NAdam": {"weight_decay": 0.01}, "RAdam": {"weight_decay": 0.01}, "Adagrad": {"lr_decay": 0.01},
        "RMSprop": {"momentum": 0.9, "centered": True}, "Adadelta": {"weight_decay": 0.01},
        "SGD": {"momentum": 0.9, "nesterov": True}, "Lion": {"weight_decay": 0.1}}
MOMENTUM = {"Adam", "AdamW", "Adamax", "NAdam", "RAdam", "SGD", "RMSprop", "Lion"}  # what OneCycleLR can cycle


def _problem(steps=12, dtype=torch.float64, seed=5):
    gen = torch.Generator().manual_seed(seed)
    init = [torch.randn(7, 3, dtype=dtype, generator=gen), torch.randn(4, dtype=dtype, generator=gen)]
    grads = [[torch.randn(t.shape, dtype=dtype, generator=gen) for t in init] for _ in range(steps)]
    return init, grads


def _pair(algorithm, init, lr=0.05, **options):
    pa, pr = clone_params(init), clone_params(init)
    opt = getattr(at, algorithm)(pa, lr=lr, **options)
    ref = make_reference(default_reference(algorithm), pr, lr=lr, **options)
    return opt, ref, pa, pr


SCHEDULERS = {
    "StepLR": lambda o, alg: torch.optim.lr_scheduler.StepLR(o, step_size=3, gamma=0.5),
    "CosineAnnealingLR": lambda o, alg: torch.optim.lr_scheduler.CosineAnnealingLR(o, T_max=10, eta_min=1e-3),
    # OneCycleLR cycles beta1 (or momentum) too, where the optimizer has one.
    "OneCycleLR": lambda o, alg: torch.optim.lr_scheduler.OneCycleLR(o, max_lr=0.1, total_steps=12,
                                                                    cycle_momentum=alg in MOMENTUM),
    "ReduceLROnPlateau": lambda o, alg: torch.optim.lr_scheduler.ReduceLROnPlateau(o, factor=0.5, patience=1),
}
PLATEAU = [1.0, 0.9, 0.95, 0.97, 0.96, 0.99, 0.99, 0.99, 0.5, 0.6, 0.7, 0.8]  # metrics with plateaus


@pytest.mark.parametrize("scheduler", SCHEDULERS)
@pytest.mark.parametrize("algorithm", ALGORITHMS)
def test_schedulers_drive_adamant_as_torch_optim(algorithm, scheduler):
    init, grads = _problem()
    options = dict(FULL[algorithm])
    opt, ref, pa, pr = _pair(algorithm, init, **options)
    schedulers = [SCHEDULERS[scheduler](o, algorithm) for o in (opt, ref)]
    for step, row in enumerate(grads):
        set_grads(pa, row)
        set_grads(pr, row)
        opt.step()
        ref.step()
        for s in schedulers:
            if scheduler == "ReduceLROnPlateau":
                s.step(PLATEAU[step])
            else:
                s.step()
        for key in ("lr", "betas", "momentum"):
            assert opt.param_groups[0].get(key) == ref.param_groups[0].get(key), (key, step)
        assert_same_state(opt, ref, pa, pr, f"{algorithm} {scheduler} step {step + 1}")
    assert opt.param_groups[0]["lr"] != 0.05  # the scheduler did change it


def _continues_alike(algorithm, make_copy):
    """Steps 1-4, a copy of the optimizer over copies of the parameters, then steps 5-8 on both: the same."""
    init, grads = _problem(steps=8)
    params = clone_params(init)
    opt = getattr(at, algorithm)(params, lr=0.05, **FULL[algorithm])
    for row in grads[:4]:
        set_grads(params, row)
        opt.step()
    twin_params, twin = make_copy(opt, params)
    for row in grads[4:]:
        set_grads(params, row)
        set_grads(twin_params, row)
        opt.step()
        twin.step()
    for a, b in zip(params, twin_params):
        assert torch.equal(a, b)
    for a, b in zip(params, twin_params):
        for key, value in opt.state[a].items():
            other = twin.state[b][key]
            assert torch.equal(value, other) if isinstance(value, torch.Tensor) else value == other, key
    return opt, twin


@pytest.mark.parametrize("algorithm", ALGORITHMS)
def test_a_deepcopy_continues_the_trajectory(algorithm):
    def deep(opt, params):
        # deepcopy of the optimizer copies its parameters too (they are in its param groups).
        twin = copy.deepcopy(opt)
        return twin.param_groups[0]["params"], twin

    opt, twin = _continues_alike(algorithm, deep)
    assert twin.param_groups[0]["params"][0] is not opt.param_groups[0]["params"][0]


@pytest.mark.parametrize("algorithm", ALGORITHMS)
def test_a_pickled_optimizer_continues_the_trajectory(algorithm):
    def pickled(opt, params):
        twin = pickle.loads(pickle.dumps(opt))
        return twin.param_groups[0]["params"], twin

    _continues_alike(algorithm, pickled)


@pytest.mark.parametrize("algorithm", ALGORITHMS)
def test_a_state_dict_mid_run_continues_the_trajectory(algorithm):
    def reloaded(opt, params):
        twin_params = [p.detach().clone().requires_grad_() for p in params]
        twin = getattr(at, algorithm)(twin_params, lr=1.0)  # options come from the state dict
        twin.load_state_dict(copy.deepcopy(opt.state_dict()))
        return twin_params, twin

    opt, twin = _continues_alike(algorithm, reloaded)
    assert twin.param_groups[0]["lr"] == 0.05


@pytest.mark.parametrize("algorithm", ALGORITHMS)
def test_maximize_is_minimizing_the_negated_objective(algorithm):
    """maximize=True on gradients g takes the steps that minimize with gradients -g (torch's definition)."""
    init, grads = _problem(steps=6)
    up, down = clone_params(init), clone_params(init)
    opt_up = getattr(at, algorithm)(up, lr=0.05, maximize=True, **FULL[algorithm])
    opt_down = getattr(at, algorithm)(down, lr=0.05, **FULL[algorithm])
    for row in grads:
        set_grads(up, row)
        set_grads(down, [-g for g in row])
        opt_up.step()
        opt_down.step()
    for a, b in zip(up, down):
        torch.testing.assert_close(a, b, rtol=1e-12, atol=1e-12)


@pytest.mark.parametrize("algorithm", ALGORITHMS)
def test_strided_and_complex_parameters_step_as_torch_optim(algorithm):
    """A parameter strided with gaps, and (where torch.optim steps them) a complex one, against torch.optim
    over the same tensors made contiguous, and the complex one as its real view (current PyTorch's
    definition; torch 1.13's amsgrad mixes the complex max_exp_avg_sq with the real view): the same
    values, and the strided one updated in place."""
    gen = torch.Generator().manual_seed(11)
    base = torch.randn(10, 5, 2, dtype=torch.float64, generator=gen)
    strided = base[..., 0]  # strides (10, 2): gaps between the elements
    dense = strided.contiguous()
    params = [torch.nn.Parameter(strided), torch.nn.Parameter(torch.randn(3, 4, dtype=torch.float64, generator=gen))]
    complex_ = algorithm != "Lion"
    if complex_:
        params.append(torch.nn.Parameter(torch.randn(6, dtype=torch.complex128, generator=gen)))
    real = lambda t: torch.view_as_real(t) if t.is_complex() else t  # noqa: E731
    ref_params = [torch.nn.Parameter(dense.clone())] + [torch.nn.Parameter(real(p.detach()).clone()) for p in params[1:]]
    opt = getattr(at, algorithm)(params, lr=0.05, **FULL[algorithm])
    cls = default_reference(algorithm)
    ref = make_reference(cls, ref_params, lr=0.05, **FULL[algorithm])
    storage = params[0].untyped_storage().data_ptr() if hasattr(params[0], "untyped_storage") \
        else params[0].storage().data_ptr()
    for step in range(5):
        for p, q in zip(params, ref_params):
            g = torch.randn(p.shape, dtype=p.dtype, generator=gen)
            p.grad = g.clone()
            q.grad = real(g).clone()
        opt.step()
        ref.step()
    assert params[0].stride() == (10, 2)
    assert (params[0].untyped_storage().data_ptr() if hasattr(params[0], "untyped_storage")
            else params[0].storage().data_ptr()) == storage
    for p, q in zip(params, ref_params):
        torch.testing.assert_close(real(p.detach()), q.detach(), rtol=2e-14, atol=2e-14)
