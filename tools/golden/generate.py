#!/usr/bin/python3
"""Write adamant's golden trajectories: tests/golden/data/<case>.safetensors + index.json.

Usage: /usr/bin/python3 tools/golden/generate.py [--out DIR]

Deterministic: fixed seeds, fixed tensor order, compact JSON; the same torch
(Debian's 1.13) on any x86-64 machine with AVX2 writes the same bytes (the
torch kernels are pinned to AVX2, see reference.py). Every case runs one
algorithm of reference.py for STEPS steps over SIZES-element float tensors,
on the same recorded inputs (make_inputs):

* initial parameters: normal, scaled by PARAM_SCALES per tensor;
* gradients: normal, each (step, tensor) scaled by 10**U(-3, 1), except
  step ZERO_STEP: all zero; steps TINY_STEPS: normal * 1e-20 (1e-160 in float64),
  so g*g is subnormal or zero (step 30 is also tensor 3's first gradient, so
  its second moments start subnormal); step HUGE_STEP: normal * 1e18 (1e150) with
  element 0 of every tensor of more than one element set to +-2e19 (+-2e154),
  where g*g overflows but ((1-beta2)*g)*g does not;
* tensor 2 has no gradient on steps 10-19, tensor 3 none before step 30
  (skipped like PyTorch skips ``grad is None``: state and step untouched);
* lr: the case's lr for steps 1-60, LR_FACTOR times it from step 61 on.

Steps are numbered from 1; row t-1 of a [T, ...] tensor belongs to step t.
"""

import argparse
import json
import os
import sys
import zlib

import numpy as np

# The golden files are produced by torch's CPU kernels, whose results depend on
# the kernel variant (FMA contraction, see reference.py): pin the dispatch to
# AVX2 so that every x86-64 machine with AVX2 (the usual default, and what an
# AVX-512 machine would otherwise not pick) writes the same bytes. This only
# works before torch is first imported; check_environment() verifies it.
def _cpu_has_avx2_fma():
    try:
        with open("/proc/cpuinfo") as f:
            flags = f.read().split()
    except OSError:
        return False
    return "avx2" in flags and "fma" in flags


if "torch" not in sys.modules and _cpu_has_avx2_fma():  # forcing it elsewhere would crash
    os.environ["ATEN_CPU_CAPABILITY"] = "avx2"

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import reference  # noqa: E402  (imports torch)
import safetensors_io  # noqa: E402

torch = reference.torch

FORMAT = "adamant-golden-1"
REPO_ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
DEFAULT_OUT = os.path.join(REPO_ROOT, "tests", "golden", "data")

STEPS = 120
SIZES = (1, 5, 31, 67)
PARAM_SCALES = (1.0, 0.5, 2.0, 0.1)
SEED = 20240917
LR_CHANGE_STEP = 61
LR_FACTOR = 0.5
ZERO_STEP = 40
TINY_STEPS = (30, 50)  # 30 is tensor 3's first gradient: its state starts subnormal
HUGE_STEP = 100
NO_GRAD = {2: range(10, 20), 3: range(1, 30)}  # tensor -> steps (1-based) without a gradient
SPECIAL = {  # dtype -> (tiny scale, huge scale, overflow value)
    "float32": (1e-20, 1e18, 2e19),
    "float64": (1e-160, 1e150, 2e154),
}
DTYPES = {"float32": torch.float32, "float64": torch.float64}
NUMPY_DTYPES = {"float32": np.float32, "float64": np.float64}
SAFETENSORS_DTYPES = {"float32": "F32", "float64": "F64"}


def _case(name, algorithm, dtype="float32", **options):
    return dict(name=name, algorithm=algorithm, dtype=dtype, options=options)


TF = dict(eps_mode="tensorflow", eps=1e-3)  # eps large enough that the placement shows
CASES = [
    _case("adam_default", "adam"),
    _case("adam_amsgrad", "adam", amsgrad=True),
    _case("adam_weight_decay", "adam", weight_decay=0.1),
    _case("adam_decoupled_weight_decay", "adam", weight_decay=0.1, decoupled_weight_decay=True),
    _case("adam_maximize", "adam", maximize=True),
    _case("adam_no_bias_correction", "adam", bias_correction=False),
    _case("adam_eps_tensorflow", "adam", **TF),
    _case("adam_amsgrad_weight_decay_maximize", "adam", amsgrad=True, weight_decay=0.1, maximize=True),
    _case("adam_float64", "adam", "float64"),
    _case("adamw_default", "adamw"),
    _case("adamw_amsgrad", "adamw", amsgrad=True),
    _case("adamw_maximize", "adamw", maximize=True),
    _case("adamax_default", "adamax"),
    _case("adamax_weight_decay", "adamax", weight_decay=0.1),
    _case("adamax_maximize", "adamax", maximize=True),
    _case("adamax_no_bias_correction", "adamax", bias_correction=False),
    _case("adamax_eps_tensorflow", "adamax", **TF),
    _case("nadam_default", "nadam"),
    _case("nadam_weight_decay", "nadam", weight_decay=0.1),
    _case("nadam_decoupled_weight_decay", "nadam", weight_decay=0.1, decoupled_weight_decay=True),
    _case("nadam_momentum_decay", "nadam", momentum_decay=1e-2),
    _case("nadam_no_bias_correction", "nadam", bias_correction=False),
    _case("nadam_eps_tensorflow", "nadam", **TF),
    _case("nadam_maximize", "nadam", maximize=True),
    _case("nadam_float64", "nadam", "float64"),
    _case("radam_default", "radam"),
    _case("radam_weight_decay", "radam", weight_decay=0.1),
    _case("radam_decoupled_weight_decay", "radam", weight_decay=0.1, decoupled_weight_decay=True),
    _case("radam_no_bias_correction", "radam", bias_correction=False),
    _case("radam_maximize", "radam", maximize=True),
    _case("adagrad_default", "adagrad"),
    _case("adagrad_lr_decay", "adagrad", lr_decay=0.01),
    _case("adagrad_weight_decay", "adagrad", weight_decay=0.1),
    _case("adagrad_initial_accumulator_value", "adagrad", initial_accumulator_value=0.1),
    _case("adagrad_maximize", "adagrad", maximize=True),
    _case("adagrad_eps", "adagrad", eps=1e-6),
    _case("rmsprop_default", "rmsprop"),
    _case("rmsprop_centered", "rmsprop", centered=True),
    _case("rmsprop_momentum", "rmsprop", momentum=0.9),
    _case("rmsprop_centered_momentum_weight_decay", "rmsprop", centered=True, momentum=0.9, weight_decay=0.1),
    _case("rmsprop_maximize", "rmsprop", maximize=True),
    _case("rmsprop_centered_momentum_float64", "rmsprop", "float64", centered=True, momentum=0.9),
    _case("adadelta_default", "adadelta"),
    _case("adadelta_weight_decay", "adadelta", weight_decay=0.1),
    _case("adadelta_maximize", "adadelta", maximize=True),
    _case("adadelta_lr_rho", "adadelta", lr=0.5, rho=0.95),
    _case("sgd_default", "sgd", lr=0.01),
    _case("sgd_momentum", "sgd", lr=0.01, momentum=0.9),
    _case("sgd_momentum_dampening", "sgd", lr=0.01, momentum=0.9, dampening=0.5),
    _case("sgd_nesterov", "sgd", lr=0.01, momentum=0.9, nesterov=True),
    _case("sgd_weight_decay", "sgd", lr=0.01, weight_decay=0.1),
    _case("sgd_maximize", "sgd", lr=0.01, momentum=0.9, maximize=True),
    _case("sgd_nesterov_float64", "sgd", "float64", lr=0.01, momentum=0.9, nesterov=True),
    _case("lion_default", "lion", lr=1e-3),
    _case("lion_weight_decay", "lion", lr=1e-3, betas=(0.95, 0.98), weight_decay=0.5),
    _case("lion_maximize", "lion", lr=1e-3, weight_decay=0.1, maximize=True),
    _case("lion_float64", "lion", "float64", lr=1e-3, weight_decay=0.1),
]


def make_inputs(case):
    """The recorded inputs of a case: dict(params=[array], grads=[[array|None per
    tensor] per step], lr=[float per step], steps). Depends only on the dtype
    and the case's lr (the random draws are the same for every case)."""
    dtype = case["dtype"]
    npdt = NUMPY_DTYPES[dtype]
    tiny, huge, overflow = SPECIAL[dtype]
    rng = np.random.RandomState(SEED)  # legacy generator: stream fixed across numpy versions
    params = [(rng.standard_normal(n) * s).astype(npdt) for n, s in zip(SIZES, PARAM_SCALES)]
    grads = []
    for t in range(1, STEPS + 1):
        row = []
        for i, n in enumerate(SIZES):
            z = rng.standard_normal(n)  # drawn even when unused, so later steps do not shift
            scale = 10.0 ** rng.uniform(-3.0, 1.0)
            if t in NO_GRAD.get(i, ()):
                row.append(None)
                continue
            if t == ZERO_STEP:
                g = np.zeros(n)
            elif t in TINY_STEPS:
                g = z * tiny
            elif t == HUGE_STEP:
                g = z * huge
                if n > 1:
                    g[0] = overflow if z[0] >= 0 else -overflow
            else:
                g = z * scale
            row.append(g.astype(npdt))
        grads.append(row)
    lr0 = reference.full_options(case["algorithm"], **case["options"])["lr"]
    lrs = [lr0 if t < LR_CHANGE_STEP else lr0 * LR_FACTOR for t in range(1, STEPS + 1)]
    return dict(params=params, grads=grads, lr=lrs, steps=STEPS)


def kept_states(algorithm, options):
    """The per-element state tensors the algorithm keeps under these options."""
    names = []
    for name in reference.STATE_TENSORS[algorithm]:
        if name == "max_exp_avg_sq" and not options["amsgrad"]:
            continue
        if name == "momentum_buffer" and not options["momentum"]:
            continue
        if name == "grad_avg" and not options["centered"]:
            continue
        names.append(name)
    return names


def describe(case, options):
    defaults = reference.DEFAULTS[case["algorithm"]]
    changed = [f"{k}={json.dumps(list(v) if isinstance(v, tuple) else v)}" for k, v in options.items()
               if v != defaults[k]]
    return (f"{case['algorithm']} ({', '.join(changed) if changed else 'defaults'}), {case['dtype']}, "
            f"{STEPS} steps over tensors of {list(SIZES)} elements; zero gradient at step {ZERO_STEP}, "
            f"tiny at {' and '.join(map(str, TINY_STEPS))}, huge at {HUGE_STEP}; tensor 2 without gradient on steps "
            f"{NO_GRAD[2].start}-{NO_GRAD[2].stop - 1}, tensor 3 before step {NO_GRAD[3].stop}; "
            f"lr x{LR_FACTOR} from step {LR_CHANGE_STEP}")


def run_case(case):
    """(tensors, metadata) of one golden file."""
    algorithm, dtype = case["algorithm"], case["dtype"]
    options = reference.full_options(algorithm, **case["options"])
    npdt = NUMPY_DTYPES[dtype]
    inputs = make_inputs(case)
    P, T = len(SIZES), STEPS
    params = [torch.tensor(p, dtype=DTYPES[dtype]) for p in inputs["params"]]
    opt = reference.Optimizer(algorithm, params, **options)
    states = kept_states(algorithm, options)

    param_rows = [np.zeros((T + 1, n), npdt) for n in SIZES]
    grad_rows = [np.zeros((T, n), npdt) for n in SIZES]
    state_rows = {s: [np.zeros((T, n), npdt) for n in SIZES] for s in states}
    has_grad = np.zeros((T, P), np.uint8)
    lr = np.array(inputs["lr"], np.float64)
    steps = [np.zeros(T, np.int64) for _ in SIZES]
    mu_products = [np.zeros(T, np.float64) for _ in SIZES]
    for i, p in enumerate(params):
        param_rows[i][0] = p.numpy()

    for t in range(T):
        opt.options["lr"] = inputs["lr"][t]
        grads = [None if g is None else torch.tensor(g) for g in inputs["grads"][t]]
        opt.step(grads)
        for i, p in enumerate(params):
            param_rows[i][t + 1] = p.numpy()
            if grads[i] is not None:
                grad_rows[i][t] = grads[i].numpy()
                has_grad[t, i] = 1
            state = opt.state[i] or {}
            extra = set(state) - set(states) - {"step", "mu_product"}
            if extra:
                raise AssertionError(f"{case['name']}: unexpected state {sorted(extra)}")
            for s in states:
                if s in state:
                    state_rows[s][i][t] = state[s].numpy()
            if "step" in state:
                steps[i][t] = int(reference._get_value(state["step"]))
            if "mu_product" in state:
                mu_products[i][t] = state["mu_product"]

    tensors = {}
    for i in range(P):
        tensors[f"param.{i}"] = param_rows[i]
    for i in range(P):
        tensors[f"grad.{i}"] = grad_rows[i]
    tensors["has_grad"] = has_grad
    tensors["lr"] = lr
    for s in states:
        for i in range(P):
            tensors[f"{s}.{i}"] = state_rows[s][i]
    if algorithm != "sgd":
        for i in range(P):
            tensors[f"step.{i}"] = steps[i]
    if algorithm == "nadam":
        for i in range(P):
            tensors[f"mu_product.{i}"] = mu_products[i]

    json_options = {k: (list(v) if isinstance(v, tuple) else v) for k, v in options.items()}
    capability = torch.__config__.show().split("CPU capability usage: ")[1].splitlines()[0]
    metadata = {
        "format": FORMAT,
        "algorithm": algorithm,
        "options": json.dumps(json_options, separators=(",", ":")),
        "dtype": dtype,
        "steps": str(T),
        "num_params": str(P),
        "sizes": json.dumps(list(SIZES)),
        "reference": (f"tools/golden/reference.py ({algorithm}: current PyTorch _single_tensor_{algorithm} "
                      f"transcribed) run with torch {torch.__version__} CPU kernels ({capability})"),
        "description": describe(case, options),
    }
    return tensors, metadata


def index_json(cases=CASES):
    entries = []
    for case in cases:
        options = reference.full_options(case["algorithm"], **case["options"])
        entries.append({
            "name": case["name"],
            "file": case["name"] + ".safetensors",
            "algorithm": case["algorithm"],
            "dtype": case["dtype"],
            "options": {k: (list(v) if isinstance(v, tuple) else v) for k, v in options.items()},
            "states": kept_states(case["algorithm"], options),
            "description": describe(case, options),
        })
    index = {
        "format": FORMAT,
        "steps": STEPS,
        "num_params": len(SIZES),
        "sizes": list(SIZES),
        "special_steps": {"zero": ZERO_STEP, "tiny": list(TINY_STEPS), "huge": HUGE_STEP},
        "no_grad_steps": {str(i): [r.start, r.stop - 1] for i, r in NO_GRAD.items()},
        "lr_change": {"from_step": LR_CHANGE_STEP, "factor": LR_FACTOR},
        "cases": entries,
    }
    return (json.dumps(index, indent=2) + "\n").encode("utf-8")


def case_bytes(case):
    tensors, metadata = run_case(case)
    return safetensors_io.dumps(tensors, metadata)


def check_environment():
    capability = torch.__config__.show().split("CPU capability usage: ")[1].splitlines()[0]
    if capability != "AVX2":
        raise SystemExit(f"generate.py: torch runs its {capability} kernels, the golden files are made with "
                         f"AVX2 ones (run it as a script on an x86-64 machine with AVX2 and FMA)")


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", default=DEFAULT_OUT, help="output directory (default: tests/golden/data)")
    parser.add_argument("--quiet", action="store_true")
    args = parser.parse_args(argv)
    check_environment()
    os.makedirs(args.out, exist_ok=True)
    total = 0
    for case in CASES:
        data = case_bytes(case)
        with open(os.path.join(args.out, case["name"] + ".safetensors"), "wb") as f:
            f.write(data)
        total += len(data)
        if not args.quiet:
            print(f"{case['name']:42s} {len(data):8d} bytes  crc32 {zlib.crc32(data):08x}")
    index = index_json()
    with open(os.path.join(args.out, "index.json"), "wb") as f:
        f.write(index)
    total += len(index)
    if not args.quiet:
        print(f"{len(CASES)} cases, {total} bytes in {args.out}")


if __name__ == "__main__":
    main()
