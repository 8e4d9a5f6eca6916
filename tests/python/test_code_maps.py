"""int8 state's code maps (src/kernels/code_maps.inc) are bitsandbytes' create_dynamic_map as Debian's
torch computes it: the committed file regenerates byte for byte, and the maps have the properties the
spec (docs/algorithms.md, "int8 state") states.

Run: /usr/bin/python3 -m pytest tests/python/test_code_maps.py
"""

import subprocess
import sys
from pathlib import Path

import pytest

REPO_ROOT = Path(__file__).resolve().parents[2]
SCRIPT = REPO_ROOT / "tools" / "quant" / "code_maps.py"

torch = pytest.importorskip("torch")
sys.path.insert(0, str(SCRIPT.parent))
import code_maps  # noqa: E402


def test_the_committed_maps_regenerate_byte_for_byte():
    proc = subprocess.run([sys.executable, str(SCRIPT), "--check"], capture_output=True, text=True, timeout=120)
    assert proc.returncode == 0, proc.stderr


@pytest.mark.parametrize("signed", [True, False])
def test_the_maps_have_the_properties_of_the_spec(signed):
    values = code_maps.create_dynamic_map(signed)
    assert values.dtype == torch.float32 and values.numel() == 256
    assert bool((values[1:] > values[:-1]).all()), "strictly increasing"
    assert values[-1].item() == 1.0
    zero = 127 if signed else 0
    assert values[zero].item() == 0.0
    if signed:
        assert values[0].item() > -1.0  # -1.0 is not representable
        assert values[128].item() == pytest.approx(5.5e-7, rel=1e-6)
    else:
        assert values[1].item() == pytest.approx(3.25e-7, rel=1e-6)
        assert values[2].item() == pytest.approx(7.75e-7, rel=1e-6)


def test_the_committed_file_holds_those_values():
    text = (REPO_ROOT / "src" / "kernels" / "code_maps.inc").read_text()
    for name, signed in (("kSignedCodeMap", True), ("kUnsignedCodeMap", False)):
        body = text.split(name + "[256] = {", 1)[1].split("};", 1)[0]
        committed = [float.fromhex(v.strip().rstrip("f")) for v in body.replace("\n", " ").split(",") if v.strip()]
        assert committed == code_maps.create_dynamic_map(signed).tolist()
