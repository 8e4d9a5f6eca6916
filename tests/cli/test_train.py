"""`adamant train` end to end on a few hundred Fashion-MNIST examples: the files it writes, resume equality,
libtorch's Adam against adamant's, and the error paths.

The binary is build/apps/adamant/adamant (ADAMANT_BIN overrides).
"""
import csv
import json
import shutil
from pathlib import Path

import pytest

from adamant_cli import run

DATA = Path("/usr/share/datasets/fashion-mnist")
# A tiny run: 512 training examples in 8 mini-batches of 64, two epochs, one thread (bitwise reproducible).
TINY_OPTIONS = {"--limit-train": "512", "--val-size": "200", "--limit-test": "300", "--epochs": "2",
                "--batch-size": "64", "--threads": "1", "--progress": "lines"}


def tiny(**overrides):
    """The tiny run's flags, with overrides: tiny(epochs=3) gives --epochs 3."""
    options = dict(TINY_OPTIONS)
    options.update({"--" + k.replace("_", "-"): str(v) for k, v in overrides.items()})
    return [x for kv in options.items() for x in kv]


TINY = tiny()
METRICS_HEADER = ["epoch", "step", "train_loss", "val_loss", "val_accuracy", "lr", "seconds"]


def metrics(out):
    with open(out / "metrics.csv", newline="") as f:
        return list(csv.DictReader(f))


def summary(out):
    return json.loads((out / "summary.json").read_text())


def test_help_explains_every_option():
    top = run("--help").stdout
    assert "train" in top
    text = run("train", "--help").stdout
    for flag in ["--model", "--hidden", "--dropout", "--cnn", "--data-dir", "--limit-train", "--optimizer", "--impl",
                 "--lr", "--betas", "--eps", "--weight-decay", "--momentum", "--amsgrad", "--nesterov", "--opt",
                 "--state-dtype",
                 "--epochs", "--batch-size", "--accumulate", "--schedule", "--warmup", "--gamma", "--step-size",
                 "--min-lr", "--clip-grad-norm", "--max-steps", "--threads", "--seed", "--out",
                 "--checkpoint-every", "--resume", "--progress", "--no-plot"]:
        assert flag in text, flag


def test_tiny_run_writes_metrics_summary_plot_and_checkpoint(tmp_path):
    out = tmp_path / "run"
    result = run("train", *TINY, "--out", out)
    assert "epoch   2/2" in result.stdout
    assert f"plot:    {out}/curves.png" in result.stdout
    rows = metrics(out)
    assert list(rows[0].keys()) == METRICS_HEADER
    assert [int(r["epoch"]) for r in rows] == [1, 2]
    assert [int(r["step"]) for r in rows] == [8, 16]
    assert all(0 < float(r["val_accuracy"]) <= 1 and float(r["lr"]) == 1e-3 for r in rows)
    assert float(rows[1]["train_loss"]) < float(rows[0]["train_loss"])
    s = summary(out)
    assert s["finished"] and s["steps"] == 16 and s["epochs"] == 2
    assert s["optimizer"] == "adam" and s["impl"] == "adamant" and s["model"] == "mlp"
    assert 0.5 < s["test_accuracy"] <= 1.0  # learned something from 512 examples (chance is 0.1)
    assert s["optimizer_step_ms"] > 0 and len(s["weights_checksum"]) == 16
    assert (out / "curves.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert (out / "checkpoint.pt").stat().st_size > 0
    config = json.loads((out / "config.json").read_text())
    assert config["limit_train"] == 512 and config["optimizer"] == "adam"
    # Not a terminal: plain progress lines on stderr, no carriage returns.
    assert "\r" not in result.stderr


def test_same_seed_same_weights_other_seed_other_weights(tmp_path):
    a = summary_of(tmp_path / "a", "--seed", "1")
    b = summary_of(tmp_path / "b", "--seed", "1")
    c = summary_of(tmp_path / "c", "--seed", "2")
    assert a["weights_checksum"] == b["weights_checksum"]
    assert a["weights_checksum"] != c["weights_checksum"]


def summary_of(out, *extra):
    run("train", *tiny(progress="none"), "--no-plot", "--out", out, *extra)
    return summary(out)


@pytest.mark.parametrize("extra", [[], ["--optimizer", "sgd", "--momentum", "0.9", "--nesterov", "--accumulate", "3",
                                        "--schedule", "cosine", "--warmup", "2", "--clip-grad-norm", "1.0"],
                                   ["--optimizer", "lion", "--lr", "3e-4", "--weight-decay", "0.1"],
                                   ["--state-dtype", "bfloat16"], ["--optimizer", "adamw", "--state-dtype", "int8"]],
                         ids=["adam", "sgd-accumulate-cosine-clip", "lion", "adam-bfloat16-state", "adamw-int8-state"])
def test_resume_ends_with_the_same_weights(tmp_path, extra):
    straight = tmp_path / "straight"
    run("train", *TINY, "--no-plot", "--out", straight, *extra)
    interrupted = tmp_path / "interrupted"
    stopped = run("train", *TINY, "--no-plot", "--out", interrupted, "--max-steps", "2", *extra)
    assert "stopped after 2 optimizer steps" in stopped.stdout
    assert not summary(interrupted)["finished"]
    resumed = run("train", "--resume", interrupted, "--progress", "none")
    assert "resuming" in resumed.stdout
    assert summary(interrupted)["weights_checksum"] == summary(straight)["weights_checksum"]
    assert summary(interrupted)["finished"]
    strip = lambda rows: [{k: v for k, v in r.items() if k != "seconds"} for r in rows]  # noqa: E731
    assert strip(metrics(interrupted)) == strip(metrics(straight))
    rows = metrics(straight)
    assert float(rows[-1]["train_loss"]) < float(rows[0]["train_loss"])  # it trains


def test_state_dtype_halves_the_optimizer_state(tmp_path):
    full = summary_of(tmp_path / "float32")
    lean = summary_of(tmp_path / "bfloat16", "--state-dtype", "bfloat16")
    per_buffer = summary_of(tmp_path / "per-buffer", "--state-dtype", "exp_avg_sq:bfloat16")
    assert full["optimizer_state_bytes"] == 8 * full["parameters"]  # Adam: two float32 buffers
    assert lean["optimizer_state_bytes"] == 4 * full["parameters"]
    assert per_buffer["optimizer_state_bytes"] == 6 * full["parameters"]
    assert lean["test_accuracy"] > 0.5 and lean["weights_checksum"] != full["weights_checksum"]
    # int8: 2 bytes and the block maxima (4 per 256 elements per buffer) for tensors of 4096 elements or
    # more; the others keep float32 (the default MLP, 784-512-256-10).
    int8 = summary_of(tmp_path / "int8", "--state-dtype", "int8")
    sizes = [784 * 512, 512, 512 * 256, 256, 256 * 10, 10]
    assert sum(sizes) == full["parameters"]
    assert int8["optimizer_state_bytes"] == sum(2 * n + 8 * -(-n // 256) if n >= 4096 else 8 * n for n in sizes)
    assert int8["test_accuracy"] > 0.5
    bad = run("train", *TINY, "--out", tmp_path / "bad", "--state-dtype", "int3", check=False)
    assert bad.returncode != 0 and "invalid value for option 'state_dtype': 'int3'" in bad.stderr


def test_resume_with_periodic_checkpoints_and_more_epochs(tmp_path):
    out = tmp_path / "run"
    run("train", *TINY, "--no-plot", "--out", out, "--checkpoint-every", "3")
    longer = tmp_path / "longer"
    run("train", *tiny(epochs=3), "--no-plot", "--out", longer)
    run("train", "--resume", out, "--epochs", "3", "--progress", "none")
    assert [int(r["epoch"]) for r in metrics(out)] == [1, 2, 3]
    assert summary(out)["weights_checksum"] == summary(longer)["weights_checksum"]


def test_libtorch_adam_follows_the_same_trajectory(tmp_path):
    ours = tmp_path / "adamant"
    theirs = tmp_path / "torch"
    run("train", *tiny(epochs=3), "--no-plot", "--out", ours, "--impl", "adamant")
    run("train", *tiny(epochs=3), "--no-plot", "--out", theirs, "--impl", "torch")
    assert summary(theirs)["impl"] == "torch"
    for a, b in zip(metrics(ours), metrics(theirs)):
        for key in ["train_loss", "val_loss"]:
            assert float(a[key]) == pytest.approx(float(b[key]), rel=1e-4), (key, a, b)
    assert summary(ours)["test_accuracy"] == pytest.approx(summary(theirs)["test_accuracy"], abs=0.01)


def test_logreg_and_small_cnn_train(tmp_path):
    for model in ["logreg", "cnn"]:
        out = tmp_path / model
        run("train", *tiny(epochs=1), "--no-plot", "--out", out, "--model", model, "--optimizer", "adamw",
            "--lr", "3e-3", "--betas", "0.9,0.95", "--weight-decay", "0.1")
        assert summary(out)["model"] == model
        assert summary(out)["test_accuracy"] > 0.3


def error_of(*args):
    result = run(*args, check=False)
    assert result.returncode != 0
    lines = [line for line in result.stderr.splitlines() if line.strip()]
    assert len(lines) == 1, result.stderr  # one clear line
    return lines[0]


def test_missing_dataset_names_the_package(tmp_path):
    message = error_of("train", *TINY, "--out", tmp_path / "o", "--data-dir", tmp_path / "nowhere")
    assert message.startswith("adamant: error: Fashion-MNIST not found")
    assert "apt-get install dataset-fashion-mnist" in message


def test_damaged_dataset_is_refused(tmp_path):
    data = tmp_path / "data"
    shutil.copytree(DATA, data)
    path = data / "train-labels-idx1-ubyte.gz"
    raw = path.read_bytes()
    path.write_bytes(raw[: len(raw) // 2])
    message = error_of("train", *TINY, "--out", tmp_path / "o", "--data-dir", data)
    assert "train-labels-idx1-ubyte.gz is damaged" in message
    (data / "t10k-images-idx3-ubyte.gz").unlink()
    path.write_bytes(raw)
    message = error_of("train", *TINY, "--out", tmp_path / "o", "--data-dir", data)
    assert "t10k-images-idx3-ubyte.gz not found" in message


@pytest.mark.parametrize("args, expected", [
    (["--lr", "-1"], "Invalid learning rate: -1.0"),
    (["--betas", "0.9,1.5"], "Invalid beta parameter at index 1: 1.5"),
    (["--optimizer", "adamx"], "unknown optimizer 'adamx'"),
    (["--impl", "torch", "--optimizer", "nadam"], "libtorch has no nadam"),
    (["--opt", "colour=red"], "unknown option 'colour' for adam"),
    (["--schedule", "linear"], "unknown schedule 'linear'"),
    (["--batch-size", "0"], "--batch-size must be positive, got 0"),
    (["--epochs", "abc"], "--epochs"),
    (["--hidden", "64,x"], "--hidden expects comma-separated sizes"),
    (["--model", "resnet"], "unknown model 'resnet'"),
])
def test_bad_option_values(tmp_path, args, expected):
    flags = dict(zip(args[::2], args[1::2]))
    base = [x for kv in TINY_OPTIONS.items() if kv[0] not in flags for x in kv]
    message = error_of("train", *base, "--out", tmp_path / "o", *args)
    assert message.startswith("adamant: error: ") and expected in message, message


def test_unwritable_output_directory(tmp_path):
    blocker = tmp_path / "file"
    blocker.write_text("not a directory")
    message = error_of("train", *TINY, "--out", blocker / "run")
    assert message == f"adamant: error: cannot write to output directory {blocker}/run: Not a directory"


def test_resume_errors(tmp_path):
    message = error_of("train", "--resume", tmp_path / "empty")
    assert "nothing to resume in" in message
    out = tmp_path / "run"
    run("train", *TINY, "--no-plot", "--out", out, "--max-steps", "1")
    message = error_of("train", "--resume", out, "--lr", "0.1")
    assert "--lr cannot be given with --resume" in message
    (out / "checkpoint.pt").write_bytes(b"garbage")
    message = error_of("train", "--resume", out)
    assert f"{out}/checkpoint.pt is not a checkpoint of adamant train" in message


def test_unknown_flag_is_a_usage_error():
    result = run("train", "--colour", "red", check=False)
    assert result.returncode != 0
    assert "--colour" in result.stderr


def test_nonfinite_policies(tmp_path):
    # SGD with an absurd learning rate: the weights blow up within a few steps, then the loss and the
    # gradients stop being finite.
    blowup = [*tiny(progress="none"), "--no-plot", "--optimizer", "sgd", "--lr", "1e12"]
    run("train", *blowup, "--out", tmp_path / "propagate")
    assert summary(tmp_path / "propagate")["skipped_steps"] == 0
    run("train", *blowup, "--out", tmp_path / "skip", "--nonfinite", "skip")
    skipped = summary(tmp_path / "skip")
    assert skipped["skipped_steps"] > 0
    assert skipped["steps"] + skipped["skipped_steps"] == 16  # every step either taken or skipped
    message = error_of("train", *blowup, "--out", tmp_path / "raise", "--nonfinite", "raise")
    assert "the gradient is not finite" in message and "nonfinite = raise" in message
    message = error_of("train", *blowup, "--out", tmp_path / "x", "--nonfinite", "skip", "--impl", "torch")
    assert "--nonfinite skip needs adamant's optimizers" in message
