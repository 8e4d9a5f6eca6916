"""The adamant Python package (adamant, adamant.torch) with its C++ extension, built by CMake.

    python3 -m venv --system-site-packages .venv
    .venv/bin/pip install --no-build-isolation .

builds the extension with the project's CMake (Debian's setuptools and pybind11, nothing downloaded) in
build-pip/ and installs it; `pip uninstall adamant` removes it. ADAMANT_CMAKE_ARGS adds CMake arguments
(e.g. "-DADAMANT_KERNEL_TARGETS=native" for a quicker build that runs only on machines like this one).
ADAMANT_CMAKE_BUILD_DIR names another build directory: one already configured (`build`, after `make`) is
built as it is configured, so that installing what `make` built takes seconds. torch is Debian's python3-torch, seen through
--system-site-packages, and not a declared requirement: pip would otherwise fetch it.
"""
import os
import pathlib
import re
import shlex
import shutil
import subprocess
import sys

from setuptools import Extension, setup
from setuptools.command.build_ext import build_ext

ROOT = pathlib.Path(__file__).resolve().parent
(ROOT / "build-pip").mkdir(exist_ok=True)  # setup.cfg puts setuptools' files there


def project_version():
    return re.search(r"^project\(adamant VERSION ([0-9.]+)", (ROOT / "CMakeLists.txt").read_text(), re.M).group(1)


class CMakeBuild(build_ext):
    """Builds the extension `adamant._adamant` with CMake instead of setuptools' compiler calls."""

    def build_extension(self, ext):
        chosen = os.environ.get("ADAMANT_CMAKE_BUILD_DIR")
        build_dir = pathlib.Path(chosen) if chosen else ROOT / "build-pip"
        if not (chosen and (build_dir / "CMakeCache.txt").exists()):
            self.configure(build_dir)
        subprocess.run(["cmake", "--build", str(build_dir), "--target", "_adamant", "-j", str(os.cpu_count() or 1)],
                       check=True)
        (built,) = (build_dir / "python" / "adamant").glob("_adamant*.so")
        target = pathlib.Path(self.get_ext_fullpath(ext.name))
        target.parent.mkdir(parents=True, exist_ok=True)
        shutil.copy2(built, target)

    @staticmethod
    def configure(build_dir):
        args = [
            "-DCMAKE_BUILD_TYPE=Release",
            f"-DPython_EXECUTABLE={sys.executable}",
            "-DADAMANT_BUILD_PYTHON=ON",
            "-DADAMANT_BUILD_TESTS=OFF",
            "-DADAMANT_BUILD_EXAMPLES=OFF",
            "-DADAMANT_BUILD_TORCH=OFF",
            "-DADAMANT_BUILD_APPS=OFF",
        ] + shlex.split(os.environ.get("ADAMANT_CMAKE_ARGS", ""))
        subprocess.run(["cmake", "-S", str(ROOT), "-B", str(build_dir), *args], check=True)


setup(
    name="adamant",
    version=project_version(),
    description="Adam-family optimizers: fused, exact, drop-in for torch.optim",
    packages=["adamant", "adamant.torch"],
    package_dir={"": "adapters/python"},
    ext_modules=[Extension("adamant._adamant", sources=[])],
    cmdclass={"build_ext": CMakeBuild},
    python_requires=">=3.9",
    zip_safe=False,
)
