"""lean_project/ pins one toolchain, one Mathlib and the REPL of the same release (static checks:
no Lean runs here)."""

from __future__ import annotations

import json
import tomllib

from prover.lean.toolchain import REPO_ROOT, read_pin

PROJECT = REPO_ROOT / "lean_project"


def test_toolchain_manifest_lakefile_and_repl_agree():
    pin = read_pin(PROJECT)
    assert pin.toolchain == "leanprover/lean4:v4.27.0"
    assert pin.lean_version == "v4.27.0"
    assert pin.mathlib_input_rev == pin.lean_version
    assert pin.lakefile_mathlib_rev == pin.lean_version
    assert pin.repl_tag == pin.lean_version
    assert pin.repl_url == "https://github.com/leanprover-community/repl"
    assert len(pin.mathlib_rev) == 40
    lakefile = tomllib.loads((PROJECT / "lakefile.toml").read_text())
    assert lakefile["name"] == json.loads((PROJECT / "lake-manifest.json").read_text())["name"]


def test_manifest_packages_are_putnambench_verbatim(data_dir):
    src = data_dir / "putnambench" / "trishullab-PutnamBench" / "lean4"
    ours = json.loads((PROJECT / "lake-manifest.json").read_text())
    theirs = json.loads((src / "lake-manifest.json").read_text())
    assert ours["packages"] == theirs["packages"]
    assert {k: v for k, v in ours.items() if k != "name"} == {k: v for k, v in theirs.items() if k != "name"}
    assert (PROJECT / "lean-toolchain").read_text() == (src / "lean-toolchain").read_text()


def test_readme_records_the_provenance():
    readme = (PROJECT / "README.md").read_text()
    pin = read_pin(PROJECT)
    for needle in (pin.toolchain, pin.mathlib_rev, "trishullab/PutnamBench", "3c9b9268ebd132d482938b8e9d242dd71fc1ebc0",
                   f"tag `{pin.repl_tag}`"):
        assert needle in readme
