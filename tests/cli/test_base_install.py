"""`pip install -e .` with no extra runs `prover report|crosscheck|labels`: every module those
commands load imports with the base dependencies alone, and what needs an extra says which one.

The check runs in a fresh interpreter whose imports of anything outside the standard library and
the base dependencies (read from pyproject.toml, with what they require) fail, as on a machine
where only `pip install -e .` ran."""

from __future__ import annotations

import subprocess
import sys
import tomllib
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]

# The library modules behind the three commands (their click commands import them lazily).
MODULES = ["prover.cli.main", "prover.analysis.crosscheck", "prover.analysis.labels", "prover.analysis.exports",
           "prover.analysis.report", "prover.analysis.report_plots", "prover.analysis.plots"]

_CHILD = r'''
import importlib, importlib.abc, importlib.metadata as md, re, sys

def norm(name):
    return re.sub(r"[-_.]+", "-", name).lower()

# The base dependencies and everything they require (extras left out).
todo, closure = [norm(d) for d in sys.argv[1].split(",")], set()
while todo:
    dist = todo.pop()
    if dist in closure:
        continue
    closure.add(dist)
    try:
        requires = md.requires(dist) or []
    except md.PackageNotFoundError:
        continue
    todo += [norm(re.match(r"[A-Za-z0-9._-]+", r).group()) for r in requires if "extra ==" not in r]
allowed = {mod for mod, dists in md.packages_distributions().items() if any(norm(d) in closure for d in dists)}

class BaseOnly(importlib.abc.MetaPathFinder):
    def find_spec(self, name, path=None, target=None):
        top = name.partition(".")[0]
        if top in sys.stdlib_module_names or top in allowed or top == "prover" or top.startswith("_"):
            return None
        raise ModuleNotFoundError(f"No module named {name!r} (not a base dependency)", name=name)

sys.meta_path.insert(0, BaseOnly())
for module in sys.argv[2].split(","):
    importlib.import_module(module)

from prover.analysis.plots import _pyplot
from prover.core.errors import PrerequisiteError
try:
    _pyplot()
except PrerequisiteError as exc:
    print("plots:", exc)
'''


def _base_dependencies() -> list[str]:
    deps = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]["dependencies"]
    import re

    return [re.match(r"[A-Za-z0-9._-]+", d).group() for d in deps]


def test_analysis_commands_need_only_base_dependencies():
    out = subprocess.run([sys.executable, "-c", _CHILD, ",".join(_base_dependencies()), ",".join(MODULES)],
                         cwd=ROOT, capture_output=True, text=True, timeout=300)
    assert out.returncode == 0, out.stderr[-3000:]
    # plots need matplotlib, which is an extra: the error names it
    assert "pip install 'prover[plot]'" in out.stdout
