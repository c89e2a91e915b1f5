"""The repository's top-level kernels/ folder is ``prover.kernels`` and nothing else: started from
the checkout (where ``python -m pytest`` puts it on sys.path), ``import kernels`` still gives the
installed package of that name (Hugging Face's, which transformers imports), or fails plainly."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]


def run_in_checkout(code: str, extra_path: Path | None = None) -> subprocess.CompletedProcess:
    env = dict(os.environ)
    env.pop("PYTHONPATH", None)
    if extra_path is not None:
        env["PYTHONPATH"] = str(extra_path)  # after the checkout (sys.path[0]) on sys.path
    return subprocess.run([sys.executable, "-c", code], cwd=REPO, env=env, capture_output=True, text=True,
                          timeout=120)


def test_an_installed_kernels_package_wins_over_the_folder(tmp_path):
    site = tmp_path / "site"
    (site / "kernels").mkdir(parents=True)
    (site / "kernels" / "__init__.py").write_text("CUDAProperties = 'the installed one'\n")
    (site / "kernels" / "layer.py").write_text("X = 1\n")
    out = run_in_checkout("import sys; print(sys.path[0] in ('', __import__('os').getcwd()));"
                          "import kernels, kernels.layer; from kernels import CUDAProperties;"
                          "print(CUDAProperties, kernels.layer.X, kernels.__file__)", site)
    assert out.returncode == 0, out.stderr
    on_path, rest = out.stdout.split("\n", 1)
    assert on_path == "True"  # the checkout really is first on sys.path, as under python -m pytest
    assert rest.startswith("the installed one 1 ") and str(site) in rest


def test_without_an_installed_package_nothing_can_be_imported_from_it():
    """As if the folder had no __init__.py: an empty namespace package."""
    out = run_in_checkout("import sys\n"
                          "sys.path = [p for p in sys.path if 'site-packages' not in p]\n"
                          "import kernels\n"
                          "print(kernels.__file__, list(kernels.__path__))\n"
                          "try:\n    from kernels import fused_linear_cross_entropy\nexcept ImportError:\n"
                          "    print('ImportError')\n")
    assert out.returncode == 0, out.stderr
    assert out.stdout.split() == ["None", "[]", "ImportError"]


def test_transformers_imports_from_the_checkout():
    """The failure users met: transformers asks for ``kernels`` while importing its models."""
    pytest.importorskip("transformers")
    out = run_in_checkout("from transformers import LlamaConfig\n"
                          "from transformers.utils import is_kernels_available\n"
                          "import importlib.util\n"
                          "print(is_kernels_available() == (importlib.util.find_spec('kernels') is not None\n"
                          "      and importlib.util.find_spec('kernels').origin is not None\n"
                          "      and 'site-packages' in importlib.util.find_spec('kernels').origin))")
    assert out.returncode == 0, out.stderr
    assert out.stdout.strip() == "True"


def test_prover_kernels_is_the_folder():
    out = run_in_checkout("import prover.kernels as k; print(k.__file__); print(sorted(k.__all__)[0])")
    assert out.returncode == 0, out.stderr
    path, first = out.stdout.split()
    assert Path(path).resolve() == REPO / "kernels" / "__init__.py" and first == "FusedLinearCrossEntropyFunction"
