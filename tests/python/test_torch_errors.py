"""Every error path of adamant.torch, with its message."""

import re

import pytest
import torch

import adamant.torch as at
from conftest import ALGORITHMS, OPTIONS, TORCH_113_OPTIONS, in_torch

# (algorithm, options, PyTorch's message). Values are floats: adamant formats numbers as Python floats,
# as torch does for float arguments.
INVALID = []
for _name in ALGORITHMS:
    INVALID += [(_name, {"lr": -1.0}, "Invalid learning rate: -1.0"),
                (_name, {"weight_decay": -0.1}, "Invalid weight_decay value: -0.1")]
    if _name != "SGD":  # PyTorch's SGD checks `lr < 0.0`, which NaN passes (test_sgd_accepts_nan_as_torch)
        INVALID.append((_name, {"lr": float("nan")}, "Invalid learning rate: nan"))
    if _name != "SGD":
        INVALID.append((_name, {"eps": -1e-8}, "Invalid epsilon value: -1e-08"))
    if _name != "SGD" and "eps" not in OPTIONS[_name]:
        INVALID.pop()  # no eps (Lion)
    if _name in ("Adam", "AdamW", "Adamax", "NAdam", "RAdam", "Lion"):
        INVALID += [(_name, {"betas": (1.0, 0.999)}, "Invalid beta parameter at index 0: 1.0"),
                    (_name, {"betas": (-0.5, 0.999)}, "Invalid beta parameter at index 0: -0.5"),
                    (_name, {"betas": (0.9, 1.0)}, "Invalid beta parameter at index 1: 1.0"),
                    (_name, {"betas": (0.9, -0.1)}, "Invalid beta parameter at index 1: -0.1")]
INVALID += [
    ("NAdam", {"momentum_decay": -0.1}, "Invalid momentum_decay value: -0.1"),
    ("Adagrad", {"lr_decay": -0.1}, "Invalid lr_decay value: -0.1"),
    ("Adagrad", {"initial_accumulator_value": -0.1}, "Invalid initial_accumulator_value value: -0.1"),
    ("RMSprop", {"momentum": -0.1}, "Invalid momentum value: -0.1"),
    ("RMSprop", {"alpha": -0.1}, "Invalid alpha value: -0.1"),
    ("Adadelta", {"rho": 1.5}, "Invalid rho value: 1.5"),
    ("Adadelta", {"rho": -0.5}, "Invalid rho value: -0.5"),
    ("SGD", {"momentum": -0.1}, "Invalid momentum value: -0.1"),
    ("SGD", {"nesterov": True}, "Nesterov momentum requires a momentum and zero dampening"),
    ("SGD", {"nesterov": True, "momentum": 0.9, "dampening": 0.1},
     "Nesterov momentum requires a momentum and zero dampening"),
    ("Adam", {"eps_mode": "keras"}, "invalid value for option 'eps_mode': 'keras' (expected pytorch or tensorflow)"),
]


def _param():
    return torch.zeros(3, requires_grad=True)


@pytest.mark.parametrize("algorithm,options,message", INVALID,
                         ids=[f"{a}-{'-'.join(o)}-{m.split(':')[-1].strip()}" for a, o, m in INVALID])
def test_invalid_hyperparameter(algorithm, options, message):
    with pytest.raises(ValueError, match=f"^{re.escape(message)}$"):
        getattr(at, algorithm)([_param()], **options)
    # The same through add_param_group, and through a group edited before a step.
    opt = getattr(at, algorithm)([_param()])
    with pytest.raises(ValueError, match=f"^{re.escape(message)}$"):
        opt.add_param_group({"params": [_param()], **options})
    assert len(opt.param_groups) == 1
    opt.param_groups[0].update(options)
    opt.param_groups[0]["params"][0].grad = torch.ones(3)
    with pytest.raises(ValueError, match=f"^{re.escape(message)}$"):
        opt.step()
    # torch.optim's own wording, where torch 1.13 checks the option.
    if in_torch(algorithm) and set(options) <= TORCH_113_OPTIONS[algorithm] and not (algorithm == "SGD" and "lr" in options
                                                            and options["lr"] != options["lr"]):
        with pytest.raises(ValueError, match=f"^{re.escape(message)}$"):
            getattr(torch.optim, algorithm)([_param()], **options)


CAPTURABLE = ["Adam", "AdamW", "Adamax", "NAdam", "RAdam", "RMSprop", "Adadelta"]


@pytest.mark.parametrize("algorithm", CAPTURABLE)
def test_capturable_is_not_implemented(algorithm):
    message = f"adamant.torch.{algorithm} does not support capturable=True"
    with pytest.raises(NotImplementedError, match=f"^{re.escape(message)}"):
        getattr(at, algorithm)([_param()], capturable=True)
    opt = getattr(at, algorithm)([_param()])
    with pytest.raises(NotImplementedError, match=f"^{re.escape(message)}"):
        opt.add_param_group({"params": [_param()], "capturable": True})
    opt.param_groups[0]["capturable"] = True  # e.g. loaded from a CUDA run's state dict
    opt.param_groups[0]["params"][0].grad = torch.ones(3)
    with pytest.raises(NotImplementedError, match=f"^{re.escape(message)}"):
        opt.step()


@pytest.mark.parametrize("algorithm", ["Adagrad", "SGD"])
def test_no_capturable_argument(algorithm):
    with pytest.raises(TypeError, match="capturable"):  # as in current PyTorch
        getattr(at, algorithm)([_param()], capturable=True)


@pytest.mark.parametrize("algorithm", ALGORITHMS)
def test_differentiable_is_not_implemented(algorithm):
    message = f"adamant.torch.{algorithm} does not support differentiable=True: its step runs in C++"
    with pytest.raises(NotImplementedError, match=f"^{re.escape(message)}"):
        getattr(at, algorithm)([_param()], differentiable=True)


@pytest.mark.parametrize("algorithm", ALGORITHMS)
def test_sparse_gradient(algorithm):
    p = _param()
    opt = getattr(at, algorithm)([p])
    p.grad = torch.sparse_coo_tensor([[0, 2]], [1.0, 2.0], (3,))
    if algorithm in ("Adam", "AdamW"):
        message = f"{algorithm} does not support sparse gradients, please consider SparseAdam instead"
    elif algorithm in ("Adagrad", "SGD"):
        message = (f"adamant.torch.{algorithm} does not support sparse gradients (torch.optim.{algorithm} does): "
                   f"pass dense gradients, or use torch.optim.{algorithm}")
    else:
        message = f"{algorithm} does not support sparse gradients"
    with pytest.raises(RuntimeError, match=f"^{re.escape(message)}$"):
        opt.step()
    assert not opt.state.get(p) or algorithm == "Adagrad"


@pytest.mark.parametrize("dtype", [torch.int32, torch.uint8])  # float16/bfloat16: test_torch_mixed_precision
@pytest.mark.parametrize("algorithm", ["Adam", "SGD"])
def test_unsupported_dtype(algorithm, dtype):
    p = torch.zeros(3, dtype=dtype, requires_grad=dtype.is_floating_point or dtype.is_complex)
    opt = getattr(at, algorithm)([p])
    p.grad = torch.ones(3, dtype=dtype)
    message = (f"adamant.torch.{algorithm}: parameter 0 of param group 0 (shape (3,)) has dtype {dtype}, which is "
               f"not supported (supported: torch.float32, torch.float64, torch.bfloat16, torch.float16, "
               f"torch.complex64, torch.complex128)")
    with pytest.raises(TypeError, match=f"^{re.escape(message)}$"):
        opt.step()
    assert torch.equal(p.detach(), torch.zeros(3, dtype=dtype))


def test_non_cpu_device():
    p = torch.zeros(3, device="meta", requires_grad=True)
    p.grad = torch.zeros(3, device="meta")
    opt = at.Adam([p])
    message = ("adamant.torch.Adam updates CPU tensors only, but parameter 0 of param group 0 (shape (3,)) is on "
               "device 'meta'; use torch.optim.Adam for meta tensors")
    with pytest.raises(RuntimeError, match=f"^{re.escape(message)}$"):
        opt.step()
    assert not opt.state


@pytest.mark.parametrize("view", ["expanded", "overlapping-windows"])
def test_parameter_sharing_elements_is_refused(view):
    """A view whose elements share memory cannot be updated in place; a copy would leave it unchanged."""
    base = torch.randn(4, 6)
    original = base.clone()
    p = (base[0].expand(4, 6) if view == "expanded" else base[0, :4].as_strided((3, 3), (1, 1))).detach()
    p.requires_grad_()
    p.grad = torch.ones(p.shape)
    opt = at.Adam([p])
    message = (f"adamant.torch.Adam: parameter 0 of param group 0 (shape {tuple(p.shape)}) has elements that "
               f"share memory (strides {p.stride()}, e.g. an expanded tensor), so adamant cannot update it in "
               f"place")
    with pytest.raises(RuntimeError, match=f"^{re.escape(message)}"):
        opt.step()
    assert torch.equal(base, original)


def test_grad_shape_mismatch():
    p = torch.zeros(3, requires_grad=True)
    p.grad = torch.ones(3)
    p.data = torch.zeros(4)  # torch does not check the old gradient against the new data
    opt = at.SGD([p], lr=0.1)
    message = ("adamant.torch.SGD: the gradient of parameter 0 of param group 0 (shape (4,)) has shape (3,), "
               "but the parameter has shape (4,)")
    with pytest.raises(RuntimeError, match=f"^{re.escape(message)}$"):
        opt.step()


def test_grad_dtype_mismatch():
    p = torch.zeros(3, requires_grad=True)
    p.grad = torch.ones(3)
    p.data = torch.zeros(3, dtype=torch.float64)
    opt = at.Adam([p])
    message = ("adamant.torch.Adam: the gradient of parameter 0 of param group 0 (shape (3,)) has dtype "
               "torch.float32, but the parameter has dtype torch.float64")
    with pytest.raises(TypeError, match=f"^{re.escape(message)}$"):
        opt.step()


@pytest.mark.parametrize("algorithm", ALGORITHMS)
@pytest.mark.parametrize("alias", ["same", "overlapping"])
def test_gradient_sharing_memory_with_its_parameter(algorithm, alias):
    """The fused step reads the gradient while writing the parameter: an aliasing gradient is refused."""
    w = torch.arange(8, dtype=torch.float32)
    p = torch.nn.Parameter(w[:6])
    p.grad = p.detach() if alias == "same" else w[2:8]
    original = w.clone()
    opt = getattr(at, algorithm)([p], lr=0.1)
    message = (f"adamant.torch.{algorithm}: the gradient of parameter 0 of param group 0 (shape (6,)) shares memory "
               f"with the parameter; adamant reads the gradient and writes the parameter in one pass, so the "
               f"gradient must be a tensor of its own (e.g. p.grad = g.clone())")
    with pytest.raises(RuntimeError, match=f"^{re.escape(message)}$"):
        opt.step()
    assert torch.equal(w, original)
    p.grad = p.detach().clone()  # a gradient of its own steps
    opt.step()


def test_state_of_the_wrong_shape():
    """A state dict from another model is refused, not read out of bounds."""
    p = torch.zeros(3, requires_grad=True)
    opt = at.Adam([p])
    p.grad = torch.ones(3)
    opt.step()
    opt.state[p]["exp_avg"] = torch.zeros(5)
    with pytest.raises(RuntimeError, match=r"^state 'exp_avg' has shape \(5,\), but the parameter has shape \(3,\)$"):
        opt.step()


def test_empty_parameter_list():
    with pytest.raises(ValueError, match="^optimizer got an empty parameter list$"):
        at.Adam([])


def test_param_group_must_be_a_dict():
    opt = at.Adam([_param()])
    with pytest.raises(TypeError, match="^param_group must be a dict, but got list$"):
        opt.add_param_group([_param()])


def test_bad_option_type():
    with pytest.raises(TypeError, match="^lr must be a number, got str$"):
        at.Adam([_param()], lr="fast")


def test_sgd_accepts_nan_as_torch():
    # torch.optim.SGD validates with `lr < 0.0` (and the same for momentum and weight_decay), so NaN passes;
    # the drop-in must accept exactly what torch accepts.
    p = torch.nn.Parameter(torch.zeros(3))
    torch.optim.SGD([p], lr=float("nan"), momentum=float("nan"))
    at.SGD([p], lr=float("nan"), momentum=float("nan"))

