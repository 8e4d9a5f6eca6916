"""`adamant compare` on a tiny subset: the files each experiment writes and what they hold."""
import csv
import subprocess

import pytest

from adamant_cli import BIN, run


def read_csv(path):
    with open(path, newline="") as f:
        return list(csv.DictReader(f))


def test_logreg_quick_on_a_tiny_subset_writes_csv_figure_and_report(tmp_path):
    out = tmp_path / "results"
    result = run("compare", "--experiment", "logreg", "--quick", "--limit-train", "300", "--epochs", "2",
                 "--threads", "1", "--out", out)
    assert "[logreg] search Adam lr=" in result.stdout
    assert f"reports, figures and CSVs in {out}" in result.stdout
    curves = read_csv(out / "logreg.csv")
    assert {r["optimizer"] for r in curves} == {"Adam", "SGD-Nesterov", "AdaGrad"}
    assert sorted({int(r["epoch"]) for r in curves}) == [1, 2]
    search = read_csv(out / "logreg-search.csv")
    assert len(search) == 9  # 3 optimizers x 3 learning rates with --quick
    # The final run of each optimizer uses the rate with the lowest validation loss in the search.
    for name in ("Adam", "SGD-Nesterov", "AdaGrad"):
        rows = [r for r in search if r["optimizer"] == name]
        best = min(rows, key=lambda r: float(r["val_loss"]) if r["val_loss"] != "diverged" else float("inf"))
        assert {r["lr"] for r in curves if r["optimizer"] == name} == {best["lr"]}
    iterations = read_csv(out / "logreg-iterations.csv")
    assert {r["optimizer"] for r in iterations} == {"Adam", "SGD-Nesterov", "AdaGrad"}
    assert (out / "logreg.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    report = (out / "logreg.md").read_text()
    for text in ["# Logistic regression (Kingma & Ba, Figure 1)", "## The paper", "## Ours", "## Result",
                 "![Logistic regression", "adamant compare --experiment logreg --quick", "| Adam | "]:
        assert text in report, text
    assert any(v in report for v in ["**Agrees.**", "**Partly agrees.**", "**Does not agree.**"])


def test_amsgrad_reproduces_adams_counterexample(tmp_path):
    out = tmp_path / "results"
    run("compare", "--experiment", "amsgrad", "--quick", "--out", out)
    rows = read_csv(out / "amsgrad.csv")
    final = {}
    for r in rows:
        final[(r["setting"], r["method"])] = float(r["x"])
    theorem = [k for k in final if k[0].startswith("Theorem 1")]
    assert final[(theorem[0][0], "Adam")] > 0.99  # Adam goes to the worst point
    assert final[(theorem[0][0], "AMSGrad")] < -0.99  # AMSGrad to the optimum
    assert "**Agrees.**" in (out / "amsgrad.md").read_text()


def test_state_precision_quick_on_a_tiny_subset(tmp_path):
    out = tmp_path / "results"
    run("compare", "--experiment", "state-precision", "--quick", "--limit-train", "200", "--epochs", "1",
        "--threads", "1", "--out", out)
    curves = read_csv(out / "state-precision.csv")
    runs = {(r["network"], r["optimizer"], r["state_dtype"], r["seed"]) for r in curves}
    assert len(runs) == 2 * 3 * 3 * 2  # networks x optimizers x state dtypes x seeds (2 with --quick)
    updates = read_csv(out / "state-precision-updates.csv")
    # The shadows of the first float32 run: bfloat16 and int8, one difference per step, int8's the larger.
    assert {(r["network"], r["optimizer"], r["state_dtype"]) for r in updates} == {
        (n, o, d) for n in ("MLP", "CNN") for o in ("Adam", "AdamW", "Lion") for d in ("bfloat16", "int8")}
    mean = {}
    for d in ("bfloat16", "int8"):
        values = [float(r["relative_difference"]) for r in updates if r["state_dtype"] == d and r["optimizer"] == "Adam"]
        assert values and all(v >= 0 for v in values)
        mean[d] = sum(values) / len(values)
    assert 0 < mean["bfloat16"] < mean["int8"]
    assert (out / "state-precision.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    report = (out / "state-precision.md").read_text()
    for text in ["8-bit Optimizers via Block-wise Quantization", "| MLP | Adam | int8 |", "| CNN | Lion | bfloat16 |",
                 "adamant compare --experiment state-precision --quick"]:
        assert text in report, text
    assert any(v in report for v in ["**Agrees.**", "**Partly agrees.**", "**Does not agree.**"])


def test_unknown_experiment(tmp_path):
    result = subprocess.run([str(BIN), "compare", "--experiment", "vae", "--out", str(tmp_path)], capture_output=True,
                            text=True)
    assert result.returncode == 1
    assert result.stderr.strip() == ("adamant: error: unknown experiment 'vae' (valid: logreg, mlp, cnn, "
                                     "bias-correction, amsgrad, adamw, adamax, state-precision, all)")


@pytest.mark.parametrize("flag", ["--help"])
def test_compare_help(flag):
    text = run("compare", flag).stdout
    for option in ["--experiment", "--quick", "--out", "--seed", "--limit-train", "--epochs", "--threads"]:
        assert option in text
