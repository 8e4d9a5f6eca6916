"""The README's quick starts, run as a new user would paste them (after the build `make test` did)."""
import os
import re
import subprocess
import sys

import pytest
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
README = (ROOT / "README.md").read_text()


def _section(title):
    start = README.index(title)
    end = README.find("\n## ", start + 1)
    return README[start:end if end != -1 else None]


def _sh_blocks(section):
    return re.findall(r"```sh\n(.*?)```", section, flags=re.S)


def test_cpp_quick_start_compiles_and_converges(tmp_path):
    (block,) = _sh_blocks(_section("## C++ quick start"))
    # Run from a copy of the repository root's view: the snippet uses relative paths include/ and build/.
    exe = str(tmp_path / "hello_adamant")
    script = re.sub(r"(\./)?hello_adamant", exe, block)
    out = subprocess.run(["bash", "-e", "-c", script], cwd=ROOT, capture_output=True, text=True, timeout=300)
    assert out.returncode == 0, out.stderr
    assert "adam:  w[0] = 3.0000 after 500 steps" in out.stdout
    assert "adamw: lr = 0.0003, betas = 0.9,0.95" in out.stdout


def test_libtorch_quick_start_compiles_and_trains(tmp_path):
    (block,) = _sh_blocks(_section("## libtorch quick start"))
    # The snippet writes hello_torch.cc, the program and its checkpoint in the current directory: run it in
    # a scratch directory that sees the repository's include/, adapters/ and build/.
    for name in ("include", "adapters", "build"):
        (tmp_path / name).symlink_to(ROOT / name)
    out = subprocess.run(["bash", "-e", "-c", block], cwd=tmp_path, capture_output=True, text=True, timeout=600)
    assert out.returncode == 0, out.stderr
    match = re.search(r"loss (\S+), lr (\S+)", out.stdout)
    assert match, out.stdout
    assert float(match.group(1)) < 1e-3  # y = sum(x) is exactly linear: Adam fits it
    # libtorch's StepLR halves the rate at its 51st, 101st and 151st step(): 0.1 / 8.
    assert float(match.group(2)) == pytest.approx(0.0125)
    assert (tmp_path / "hello_torch_optimizer.pt").stat().st_size > 0


def test_python_quick_start_runs():
    (block,) = _sh_blocks(_section("## Python quick start"))
    env = dict(os.environ, PYTHONPATH=str(ROOT / "build" / "python"))
    out = subprocess.run(["bash", "-e", "-c", block], cwd=ROOT, capture_output=True, text=True, timeout=300, env=env)
    assert out.returncode == 0, out.stderr
    loss = float(re.search(r"loss (\S+)", out.stdout).group(1))
    # 100 AdamW steps on a 10->1 least-squares fit of pure noise: the loss ends near the noise variance
    # (~1 minus what 11 parameters can explain of 64 points), far below where it would diverge.
    assert 0.3 < loss < 1.5


def test_readme_commands_exist():
    makefile = (ROOT / "Makefile").read_text()
    for target in ("run", "test", "bench"):
        assert re.search(rf"^{target}:", makefile, flags=re.M), target
    assert sys.executable  # pytest itself runs under the Python the README names
