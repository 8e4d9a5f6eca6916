"""The README's "Installing" section, run as pasted (with its scratch paths moved into the test's own
directory):

- `pip install --no-build-isolation .` into a venv with Debian's packages: setup.py builds the extension
  with CMake (here in the build directory make test built, as ADAMANT_CMAKE_BUILD_DIR allows: a fresh
  build-pip/ would compile the library once more, a minute and a half of make test), `import
  adamant.torch` works from another directory, `pip uninstall adamant` removes it;
- `cmake --install` into a prefix, then examples/ built out of tree with find_package(adamant) against it
  (adamant::adamant and adamant::torch), and run.
"""
import os
import re
import subprocess
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
README = (ROOT / "README.md").read_text()
SECTION = README[README.index("## Installing"):README.index("\n## ", README.index("## Installing") + 1)]
PIP_BLOCK, CMAKE_BLOCK = re.findall(r"```sh\n(.*?)```", SECTION, flags=re.S)


def run_block(block, env=None, timeout=900):
    result = subprocess.run(["bash", "-e", "-c", block], cwd=ROOT, capture_output=True, text=True, env=env,
                            timeout=timeout)
    assert result.returncode == 0, f"{block}\nfailed:\n{result.stdout[-4000:]}\n{result.stderr[-4000:]}"
    return result.stdout


def test_pip_installs_the_package_into_a_venv_and_uninstalls_it(tmp_path):
    venv = tmp_path / "venv"
    block = PIP_BLOCK.replace("$OLDPWD/.venv", str(venv)).replace(".venv", str(venv))
    # Between install and uninstall: the installed package steps a model, from another directory.
    program = (
        "import torch, adamant, adamant.torch\n"
        "print(adamant.__file__)\n"
        "torch.manual_seed(0)\n"
        "model = torch.nn.Linear(4, 1)\n"
        "opt = adamant.torch.AdamW(model.parameters(), lr=0.1)\n"
        "before = model.weight.detach().clone()\n"
        "model(torch.randn(8, 4)).pow(2).mean().backward()\n"
        "opt.step()\n"
        "print('moved', bool((model.weight != before).all()))\n"
    )
    (tmp_path / "use.py").write_text(program)
    install, rest = block.split("\n(cd /tmp", 1)
    check = f"\n(cd {tmp_path} && {venv}/bin/python use.py)\n{venv}/bin/pip show adamant\n"
    env = dict(os.environ, ADAMANT_CMAKE_BUILD_DIR=str(ROOT / "build"))
    env.pop("PYTHONPATH", None)
    out = run_block(install + check + "(cd /tmp" + rest, env=env)
    assert f"{venv}/lib/" in out, out
    assert "moved True" in out and "Version: 0.1.0" in out
    assert "\nadamant.torch.adam\n" in out  # the README's own check
    gone = subprocess.run([str(venv / "bin" / "python"), "-c", "import adamant"], capture_output=True, text=True,
                          env=env, cwd=tmp_path)
    assert gone.returncode != 0 and "No module named 'adamant'" in gone.stderr
    assert not list((venv / "lib").glob("python3*/site-packages/adamant"))


def test_find_package_builds_the_examples_out_of_tree(tmp_path):
    block = CMAKE_BLOCK.replace("/tmp/adamant-examples", str(tmp_path / "examples")).replace(
        "/tmp/adamant", str(tmp_path / "prefix"))
    out = run_block(f"cd {tmp_path}\n" + block.replace("cmake -S examples", f"cmake -S {ROOT}/examples")
                    .replace("--install build", f"--install {ROOT}/build"))
    assert (tmp_path / "prefix" / "include" / "adamant" / "torch" / "optim.h").is_file()
    assert "initial loss 0.693147" in out and "\nadamw " in out and "\nsgd " in out
    match = re.search(r"loss (\S+), lr (\S+)", out)
    assert match and float(match.group(1)) < 1e-3 and float(match.group(2)) == 0.0125, out
    assert (tmp_path / "libtorch_quickstart_optimizer.pt").stat().st_size > 0
