"""The ml package's import-time setting: oneDNN on unless the user chose (sgpoison/ml/__init__.py)."""

import os
import subprocess
import sys

import pytest


@pytest.mark.parametrize("preset, expected", [(None, "1"), ("", "1"), ("0", "0"), ("1", "1")])
def test_importing_the_ml_package_enables_onednn_unless_set(preset, expected):
    """TensorFlow enables oneDNN itself only on CPUs with AVX512_VNNI and the like; without it the
    Conv3D gradient is ~70x slower (docs/network.md). A user's own setting is kept."""
    env = {k: v for k, v in os.environ.items() if k != "TF_ENABLE_ONEDNN_OPTS"}
    if preset is not None:
        env["TF_ENABLE_ONEDNN_OPTS"] = preset
    code = "import os, sgpoison.ml.settings; print(os.environ['TF_ENABLE_ONEDNN_OPTS'])"
    out = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True, check=True)
    assert out.stdout.strip() == expected
