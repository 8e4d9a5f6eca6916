"""`adamant train` as an adversary would use it: nothing written before the inputs are checked, an earlier
run never replaced unless asked, checkpoints sealed and verified, a full disk, signals, and the option
values that must be refused (docs/reliability.md, "The adamant command")."""
import hashlib
import io
import json
import re
import resource
import signal
import subprocess
import zipfile
from pathlib import Path

import pytest

from adamant_cli import BIN, run
from test_train import TINY, error_of, summary, tiny

LONG = tiny(epochs=2000, progress="none")  # stopped long before its end


def files_of(out):
    """Every file of a run directory and its bytes."""
    return {p.name: p.read_bytes() for p in sorted(Path(out).iterdir())}


def stopped_run(out, steps=2):
    run("train", *TINY, "--no-plot", "--out", out, "--max-steps", str(steps))
    return files_of(out)


def test_an_earlier_run_is_never_replaced_unless_asked(tmp_path):
    out = tmp_path / "run"
    before = stopped_run(out)
    message = error_of("train", *TINY, "--no-plot", "--out", out)
    assert message == (f"adamant: error: {out} holds an earlier run (config.json, metrics.csv, checkpoint.pt, "
                       f"summary.json); continue it with adamant train --resume {out}, or replace it with --overwrite")
    # Inputs that fail (a wrong --data-dir) write nothing, even with --overwrite.
    message = error_of("train", *TINY, "--no-plot", "--out", out, "--overwrite", "--data-dir", tmp_path / "nowhere")
    assert "Fashion-MNIST not found" in message
    assert files_of(out) == before
    # A resume that fails leaves the run as it was too.
    message = error_of("train", "--resume", out, "--max-steps", "1")
    assert "has taken 2 optimizer steps already; --max-steps 1 would take none" in message
    assert files_of(out) == before
    # Asked: replaced, and nothing of the earlier run is left.
    run("train", *tiny(epochs=1), "--no-plot", "--out", out, "--overwrite")
    assert summary(out)["finished"] and summary(out)["steps"] == 8
    assert json.loads((out / "config.json").read_text())["epochs"] == 1
    assert error_of("train", "--resume", out, "--overwrite").startswith(
        "adamant: error: --overwrite cannot be given with --resume")


def test_an_empty_out_is_refused():
    assert error_of("train", *TINY, "--out", "") == "adamant: error: --out must name a directory, got ''"


def seal(archive):
    return b"adamant-train-checkpoint 1 %d %s\n" % (len(archive), hashlib.sha256(archive).hexdigest().encode()) + archive


def bad_archive():
    """A zip laid out as a libtorch archive whose pickle is garbage: libtorch's error has several lines."""
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w") as z:
        z.writestr("archive/data.pkl", b"\x80\x02garbage, not a pickle")
        z.writestr("archive/constants.pkl", b"\x80\x02).")
        z.writestr("archive/version", b"3\n")
    return buf.getvalue()


def test_a_damaged_checkpoint_is_refused(tmp_path):
    """Each byte region (sealed_file_test flips every bit of the header and every byte of the content)."""
    out = tmp_path / "run"
    good = stopped_run(out)["checkpoint.pt"]
    header = good.index(b"\n") + 1
    assert good == seal(good[header:])
    path = out / "checkpoint.pt"
    size = len(good) - header
    for pos in [0, 30, header - 2, header - 1, header, header + 600, header + size // 3, header + size // 2,
                len(good) - 1]:
        damaged = bytearray(good)
        damaged[pos] ^= 0x01
        path.write_bytes(bytes(damaged))
        message = error_of("train", "--resume", out)
        assert message.startswith(f"adamant: error: {path} is "), (pos, message)
        assert "damaged" in message or "is not a checkpoint of adamant train" in message, (pos, message)
    path.write_bytes(good[:header + size // 2])
    assert "(truncated)" in error_of("train", "--resume", out)
    path.write_bytes(good + b"x")
    assert "bytes of archive where its header says" in error_of("train", "--resume", out)
    # Sealed, but not an archive libtorch can read: one line, naming the file.
    path.write_bytes(seal(bad_archive()))
    assert error_of("train", "--resume", out).startswith(f"adamant: error: {path} is not a readable checkpoint (")
    # The good one still resumes.
    path.write_bytes(good)
    run("train", "--resume", out, "--progress", "none", "--no-plot")
    assert summary(out)["finished"]


def limit_file_size(limit):
    def set_limit():
        resource.setrlimit(resource.RLIMIT_FSIZE, (limit, limit))
    return set_limit


def test_a_full_disk_keeps_the_previous_checkpoint_and_leaves_no_temporary(tmp_path):
    out = tmp_path / "run"
    before = stopped_run(out)
    # A temporary left by a process that was killed (its pid no longer exists) is removed by the next run.
    dead = subprocess.Popen(["true"])
    dead.wait()
    stale = out / f"checkpoint.pt.tmp.{dead.pid}.0"
    stale.write_bytes(b"partial")
    # The small files fit under the limit, the checkpoint (6 MB) does not: writes fail as on a full disk.
    result = subprocess.run([str(BIN), "train", "--resume", out, "--progress", "none"], capture_output=True,
                            text=True, timeout=300, preexec_fn=limit_file_size(1 << 20))
    assert result.returncode == 1, result
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith(f"adamant: error: cannot save checkpoint {out}/checkpoint.pt: "
                                                   f"cannot write {out}/checkpoint.pt.tmp."), result.stderr
    assert "File too large" in lines[0]
    after = files_of(out)
    assert after["checkpoint.pt"] == before["checkpoint.pt"]
    assert sorted(after) == sorted(before)  # no temporary, the stale one gone
    run("train", "--resume", out, "--progress", "none", "--no-plot")  # and it resumes
    assert summary(out)["finished"]


def start(out, *extra):
    return subprocess.Popen([str(BIN), "train", *map(str, LONG), "--no-plot", "--out", str(out),
                             *extra], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)


def wait_for_epoch(process, epoch):
    for line in process.stdout:
        if line.startswith(f"epoch {epoch:3d}/"):
            return
    raise AssertionError(f"no epoch {epoch} line: {process.communicate()}")


@pytest.mark.parametrize("sig, code", [(signal.SIGINT, 130), (signal.SIGTERM, 143)], ids=["SIGINT", "SIGTERM"])
def test_a_signal_finishes_the_step_writes_a_checkpoint_and_says_how_to_resume(tmp_path, sig, code):
    out = tmp_path / "run"
    process = start(out)
    wait_for_epoch(process, 1)
    process.send_signal(sig)
    stdout, stderr = process.communicate(timeout=120)
    assert process.returncode == code, (stdout, stderr)
    match = re.search(r"interrupted by (SIG\w+) after (\d+) optimizer steps, checkpoint written; continue with: "
                      r"adamant train --resume (\S+)", stdout)
    assert match and match.group(1) == sig.name and match.group(3) == str(out), stdout
    steps = int(match.group(2))
    assert steps >= 8 and summary(out)["steps"] == steps and not summary(out)["finished"]
    # The checkpoint continues the run exactly: to a step limit, as a run never interrupted.
    run("train", "--resume", out, "--max-steps", str(steps + 5), "--progress", "none")
    straight = tmp_path / "straight"
    run("train", *LONG, "--no-plot", "--out", straight, "--max-steps", str(steps + 5))
    assert summary(out)["weights_checksum"] == summary(straight)["weights_checksum"]


def test_a_run_killed_with_the_defaults_resumes_from_its_last_epoch(tmp_path):
    out = tmp_path / "run"
    process = start(out)
    wait_for_epoch(process, 2)
    process.kill()
    process.communicate(timeout=60)
    epochs = int(summary_or_metrics_epochs(out)) + 2
    run("train", "--resume", out, "--epochs", str(epochs), "--progress", "none", "--no-plot")
    straight = tmp_path / "straight"
    run("train", *tiny(epochs=epochs, progress="none"), "--no-plot", "--out", straight)
    assert summary(out)["weights_checksum"] == summary(straight)["weights_checksum"]
    assert summary(out)["epochs"] == epochs


def summary_or_metrics_epochs(out):
    rows = (out / "metrics.csv").read_text().strip().splitlines()[1:]
    assert rows, "no epoch was recorded"
    return rows[-1].split(",")[0]


def test_resume_keeps_a_length_dependent_schedule(tmp_path):
    out = tmp_path / "run"
    run("train", *TINY, "--no-plot", "--out", out, "--schedule", "cosine", "--max-steps", "3")
    before = files_of(out)
    message = error_of("train", "--resume", out, "--epochs", "4")
    assert message == ("adamant: error: --epochs cannot change when resuming a run with --schedule cosine (its "
                       "learning rate follows a cosine over the run's 2 epochs); start a new run for another length")
    assert files_of(out) == before
    run("train", "--resume", out, "--epochs", "2", "--progress", "none")  # the same length is the same run
    assert summary(out)["finished"]


def test_resuming_a_finished_run_keeps_its_figures(tmp_path):
    out = tmp_path / "run"
    run("train", *TINY, "--no-plot", "--out", out)
    first = summary(out)
    run("train", "--resume", out, "--progress", "none", "--no-plot")
    again = summary(out)
    assert again["optimizer_step_ms"] > 0 and again["steps"] == first["steps"] == 16
    assert again["weights_checksum"] == first["weights_checksum"]


@pytest.mark.parametrize("args, expected", [
    (["--val-size", "60000"], "--val-size 60000 leaves no training examples (the training files hold 60000)"),
    (["--seed", "-1"], "--seed: must be an integer in [0, 18446744073709551615], got -1"),
    (["--seed", "18446744073709551616"], "got 18446744073709551616"),
    (["--max-steps", "-1"], "--max-steps must be >= 0, got -1"),
    (["--checkpoint-every", "-3"], "--checkpoint-every must be >= 0, got -3"),
])
def test_values_that_would_wrap_or_be_clamped_are_refused(tmp_path, args, expected):
    flags = dict(zip(args[::2], args[1::2]))
    base = [x for kv in zip(TINY[::2], TINY[1::2]) if kv[0] not in flags for x in kv]
    message = error_of("train", *base, "--out", tmp_path / "o", *args)
    assert expected in message, message
    assert not (tmp_path / "o").exists()


@pytest.mark.parametrize("args", [["--limit-train", "-5"], ["--epochs", "-1"], ["--threads", "-2"],
                                  ["--seed", "-1"]])
def test_compare_refuses_negative_values(tmp_path, args):
    result = run("compare", "--out", tmp_path / "c", *args, check=False)
    assert result.returncode == 2 and args[0] in result.stderr and len(result.stderr.strip().splitlines()) == 1
    assert not (tmp_path / "c").exists()


def test_an_unknown_command_is_named():
    result = run("foo", check=False)
    assert result.returncode == 2
    assert result.stderr.strip() == ("adamant: error: unknown command 'foo' (the commands are train and compare; "
                                     "see adamant --help)")


def test_a_config_with_an_impossible_integer_is_refused(tmp_path):
    out = tmp_path / "run"
    stopped_run(out)
    config = json.loads((out / "config.json").read_text())
    for key, value in [("threads", 1e30), ("epochs", 2.5), ("seed", -1), ("hidden", [64, 1e30])]:
        broken = dict(config, **{key: value})
        (out / "config.json").write_text(json.dumps(broken))
        message = error_of("train", "--resume", out)
        assert message.startswith(f"adamant: error: {out}/config.json is damaged: '{key}' must be an integer in ["), \
            message


def test_compare_quick_takes_what_its_help_says():
    assert "about a minute" in run("compare", "--help").stdout
    readme = (Path(__file__).resolve().parents[2] / "README.md").read_text()
    assert re.search(r"compare --quick .*~1 minute", readme)
