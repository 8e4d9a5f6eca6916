"""How the command-line tests run the adamant binary: build/apps/adamant/adamant, or ADAMANT_BIN."""
import os
import subprocess
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
BIN = Path(os.environ.get("ADAMANT_BIN", ROOT / "build" / "apps" / "adamant" / "adamant"))


def run(*args, check=True):
    result = subprocess.run([str(BIN), *map(str, args)], capture_output=True, text=True, timeout=300)
    if check and result.returncode != 0:
        raise AssertionError(f"adamant {' '.join(map(str, args))} failed ({result.returncode}):\n"
                             f"{result.stdout}\n{result.stderr}")
    return result
