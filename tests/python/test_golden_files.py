"""The golden trajectories in tests/golden/data come from tools/golden, and its
reference agrees with torch.optim (Debian's torch 1.13) where 1.13 can say.

Run: /usr/bin/python3 -m pytest tests/python/test_golden_files.py
"""

import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

REPO_ROOT = Path(__file__).resolve().parents[2]
TOOLS = REPO_ROOT / "tools" / "golden"
GOLDEN = REPO_ROOT / "tests" / "golden" / "data"

torch = pytest.importorskip("torch")
sys.path.insert(0, str(TOOLS))
import reference  # noqa: E402  (before generate: importing torch first leaves the CPU dispatch alone)
import generate  # noqa: E402
import safetensors_io  # noqa: E402
import torch  # noqa: E402


def test_committed_goldens_regenerate_byte_for_byte(tmp_path):
    # A separate process, so that generate.py can pin torch's kernels before importing torch.
    proc = subprocess.run([sys.executable, str(TOOLS / "generate.py"), "--out", str(tmp_path), "--quiet"],
                          capture_output=True, text=True, timeout=600)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    committed = sorted(p.name for p in GOLDEN.iterdir())
    generated = sorted(p.name for p in tmp_path.iterdir())
    assert committed == generated
    differing = [n for n in generated if (GOLDEN / n).read_bytes() != (tmp_path / n).read_bytes()]
    assert not differing, f"regenerate with tools/golden/generate.py: {differing}"


def test_golden_files_are_well_formed():
    index = json.loads((GOLDEN / "index.json").read_text())
    assert index["format"] == "adamant-golden-1"
    assert [c["name"] for c in index["cases"]] == [c["name"] for c in generate.CASES]
    for entry in index["cases"]:
        tensors, meta = safetensors_io.read(GOLDEN / entry["file"])
        algorithm, T, P = meta["algorithm"], int(meta["steps"]), int(meta["num_params"])
        sizes = json.loads(meta["sizes"])
        options = json.loads(meta["options"])
        assert meta["format"] == "adamant-golden-1" and algorithm == entry["algorithm"]
        assert options == entry["options"] and list(options) == list(reference.DEFAULTS[algorithm])
        assert (T, P, len(sizes)) == (120, 4, 4)
        dt = np.float32 if meta["dtype"] == "float32" else np.float64
        assert tensors["has_grad"].shape == (T, P) and tensors["has_grad"].dtype == np.uint8
        assert tensors["lr"].shape == (T,) and tensors["lr"].dtype == np.float64
        assert tensors["lr"][0] == options["lr"] and tensors["lr"][-1] == options["lr"] * 0.5
        for i, n in enumerate(sizes):
            assert tensors[f"param.{i}"].shape == (T + 1, n) and tensors[f"param.{i}"].dtype == dt
            assert tensors[f"grad.{i}"].shape == (T, n)
            assert not tensors[f"grad.{i}"][tensors["has_grad"][:, i] == 0].any()
            for s in entry["states"]:
                assert tensors[f"{s}.{i}"].shape == (T, n) and tensors[f"{s}.{i}"].dtype == dt
            if algorithm != "sgd":
                # the step count advances exactly on the steps with a gradient
                steps = tensors[f"step.{i}"]
                assert steps.dtype == np.int64
                assert np.array_equal(steps, np.cumsum(tensors["has_grad"][:, i]))
            # a parameter without a gradient does not move
            still = tensors["has_grad"][:, i] == 0
            p = tensors[f"param.{i}"]
            assert np.array_equal(p[1:][still], p[:-1][still])
        assert tensors["has_grad"][9:19, 2].sum() == 0 and tensors["has_grad"][:29, 3].sum() == 0
        assert ("mu_product.0" in tensors) == (algorithm == "nadam")


def test_reference_agrees_with_torch_optim_1_13():
    results = reference.cross_check(verbose=False)
    failures = [r for r in results if not r["ok"]]
    assert not failures, "\n".join(f"{r['name']}: expected {r['expect']}, {r['ulps']:.3g} ulps, "
                                   f"update off by {r['update_rel']:.3g} ({r['where']})" for r in failures)
    checked = {r["name"].split("_")[0] for r in results}
    # Every algorithm torch 1.13 has (Lion it has not: test_lion_reference_is_lions_update).
    assert checked == {a for a in reference.ALGORITHMS if a in reference._TORCH113_CLASSES}
    assert any(r["expect"] == "differ" for r in results)  # NAdam's 1.13 bug is shown, not hidden


def test_lion_reference_is_lions_update():
    """What lion-pytorch's update is, checked on the transcription without torch.optim: each step moves
    every element by lr (up to the rounding of p - lr), or not at all where the interpolation is 0; the
    decay multiplies first; exp_avg is the b2-average of the gradients; a NaN gradient reaches p."""
    torch.manual_seed(0)
    p = torch.randn(1000)
    g = torch.randn(1000)
    g[::10] = 0.0
    state = reference.init_state("lion", p, reference.full_options("lion"))
    before = p.clone()
    reference.lion([p], [g], [state], lr=1e-3, beta1=0.9, beta2=0.99, weight_decay=0.5, maximize=False)
    decayed = before * (1 - 1e-3 * 0.5)
    moved = (p - decayed).abs()
    ulp = torch.finfo(torch.float32).eps * decayed.abs().clamp(min=1.0)
    assert torch.all(torch.where(g == 0, moved == 0, (moved - 1e-3).abs() <= ulp))
    assert torch.all(torch.sign(decayed - p) == torch.sign(g))  # the step goes against the gradient's sign
    assert torch.allclose(state["exp_avg"], 0.01 * g) and state["step"].item() == 1
    g2 = torch.full((1000,), float("nan"))
    reference.lion([p], [g2], [state], lr=1e-3, beta1=0.9, beta2=0.99, weight_decay=0.0, maximize=False)
    assert torch.isnan(p).all()


def _trajectory(algorithm, negate=False, **options):
    case = dict(name="x", algorithm=algorithm, dtype="float32", options=options)
    inputs = generate.make_inputs(case)
    params = [torch.tensor(p) for p in inputs["params"]]
    opt = reference.Optimizer(algorithm, params, **options)
    for t in range(inputs["steps"]):
        opt.options["lr"] = inputs["lr"][t]
        opt.step([None if g is None else (-torch.tensor(g) if negate else torch.tensor(g))
                  for g in inputs["grads"][t]])
    return [p.numpy() for p in params]


@pytest.mark.parametrize("algorithm", ["nadam", "radam"])
def test_maximize_equals_negated_gradients(algorithm):
    # 1.13's NAdam and RAdam have no maximize; it must be exactly a negated gradient.
    for a, b in zip(_trajectory(algorithm, maximize=True), _trajectory(algorithm, negate=True)):
        assert np.array_equal(a, b)


def test_adam_decoupled_weight_decay_equals_adamw():
    for a, b in zip(_trajectory("adam", weight_decay=0.1, decoupled_weight_decay=True),
                    _trajectory("adamw", weight_decay=0.1)):
        assert np.array_equal(a, b)
