"""Runs interpret_cases.py (impl="triton" on CPU tensors) in a subprocess with
TRITON_INTERPRET=1, the only way to switch the interpreter on before triton is imported."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

pytest.importorskip("torch", reason="the kernels need torch: pip install 'prover[kernels]'")
pytest.importorskip("triton", reason="triton not installed: pip install 'prover[kernels]'")

HERE = Path(__file__).resolve().parent


def test_triton_kernels_under_the_interpreter():
    env = {**os.environ, "TRITON_INTERPRET": "1"}
    proc = subprocess.run(
        [sys.executable, "-m", "pytest", str(HERE / "interpret_cases.py"), "-q",
         "-p", "no:cacheprovider", "-o", "addopts="],
        capture_output=True, text=True, env=env, cwd=HERE.parents[1], timeout=600)
    output = proc.stdout + proc.stderr
    assert proc.returncode == 0, output
    passed = re.search(r"(\d+) passed", output)
    assert passed and int(passed.group(1)) >= 20, output
    assert "skipped" not in output, output
