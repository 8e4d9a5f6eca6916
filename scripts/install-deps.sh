#!/usr/bin/env bash
# Installs the Debian packages that building and testing adamant need, only those missing.
# Usage: scripts/install-deps.sh [--check] [--bench]
#   --check: list what is missing, install nothing
#   --bench: also what `make bench` needs (nothing more today: libtorch-dev is part of the build)
set -euo pipefail

check=0
for arg in "$@"; do
  case "$arg" in
    --check) check=1 ;;
    --bench) ;;  # kept for old scripts: the bench needs nothing the build does not
    *) echo "install-deps: unknown option '$arg' (usage: $0 [--check] [--bench])" >&2; exit 2 ;;
  esac
done

# Build: compiler, CMake, GoogleTest, pybind11, JSON; libtorch, CLI11 and zlib for the libtorch drop-ins and
# the adamant command. Python tests: Debian's python3 with torch, numpy, pytest.
# The adamant command's data and plots: Fashion-MNIST and matplotlib. libopenblas0-pthread replaces the
# reference BLAS that Debian's libtorch would otherwise use for its matrix products (about 13x faster here);
# it is what makes `make run` take minutes rather than half an hour.
# make test-fuzz: clang with libFuzzer and the sanitizer runtimes, and LLVM's OpenMP for clang.
# The install test (pip install . into a venv): python3-venv and python3-pip, with setuptools.
packages=(
  build-essential cmake pkg-config
  libgtest-dev libgmock-dev
  nlohmann-json3-dev
  pybind11-dev python3-dev
  python3 python3-numpy python3-pytest python3-torch python3-venv python3-pip python3-setuptools
  libtorch-dev libcli11-dev zlib1g-dev libopenblas0-pthread
  dataset-fashion-mnist python3-matplotlib
  clang libclang-rt-14-dev libomp-dev
)

missing=()
for p in "${packages[@]}"; do
  if ! dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed"; then
    missing+=("$p")
  fi
done

if [ ${#missing[@]} -eq 0 ]; then
  echo "install-deps: all ${#packages[@]} packages present"
  exit 0
fi
if [ "$check" -eq 1 ]; then
  echo "install-deps: missing: ${missing[*]}"
  exit 1
fi

echo "install-deps: installing ${missing[*]}"
sudo=""
if [ "$(id -u)" -ne 0 ]; then
  if command -v sudo >/dev/null 2>&1 && sudo -n true 2>/dev/null; then
    sudo="sudo"
  else
    echo "install-deps: not root and no passwordless sudo; please install these Debian packages:" >&2
    echo "  apt-get install ${missing[*]}" >&2
    exit 1
  fi
fi
export DEBIAN_FRONTEND=noninteractive
# A fresh machine may have no package lists yet.
$sudo apt-get update -q || echo "install-deps: apt-get update failed; trying with the lists present" >&2
$sudo apt-get install -y -q --no-install-recommends "${missing[@]}"
