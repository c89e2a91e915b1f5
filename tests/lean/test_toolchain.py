"""`prover lean doctor` and `prover lean setup` with the real PATH search: once with no Lean at
all (as on this project's machines), once with stand-in executables (shell scripts named elan,
lake, lean, git) that print what the real ones print or fail as they fail without network."""

from __future__ import annotations

import json
import os
import shutil
import stat
from pathlib import Path

import pytest
from click.testing import CliRunner

from prover.cli.main import cli
from prover.core.errors import PrerequisiteError
from prover.lean.toolchain import REPO_ROOT, doctor, read_pin, setup

pytestmark = pytest.mark.timeout(60)

LEAN_VERSION = "Lean (version 4.27.0, x86_64-unknown-linux-gnu, commit 0000000000000000, Release)"


def script(bin_dir: Path, name: str, body: str) -> None:
    path = bin_dir / name
    path.write_text("#!/bin/sh\n" + body)
    path.chmod(path.stat().st_mode | stat.S_IXUSR | stat.S_IXGRP | stat.S_IXOTH)


@pytest.fixture
def no_lean(tmp_path, monkeypatch):
    """A PATH with only the basic system tools, and an empty ELAN_HOME."""
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    for tool in ("sh", "cat", "mkdir", "touch", "chmod", "printf"):
        found = shutil.which(tool)
        if found:
            os.symlink(found, bin_dir / tool)
    monkeypatch.setenv("PATH", str(bin_dir))
    monkeypatch.setenv("ELAN_HOME", str(tmp_path / "elan"))
    monkeypatch.delenv("PROVER_LEAN_REPL", raising=False)
    return bin_dir


@pytest.fixture
def project(tmp_path):
    """A copy of lean_project/ (pin files only)."""
    dst = tmp_path / "lean_project"
    dst.mkdir()
    for name in ("lean-toolchain", "lake-manifest.json", "lakefile.toml", "prover-lean.toml"):
        shutil.copy(REPO_ROOT / "lean_project" / name, dst / name)
    return dst


def fake_toolchain(bin_dir: Path, version: str = LEAN_VERSION) -> None:
    script(bin_dir, "elan", 'echo "elan 4.1.2 (0000000 2025-06-01)"\n')
    script(bin_dir, "lake", 'echo "Lake version 5.0.0-src (Lean version 4.27.0)"\n')
    script(bin_dir, "lean", f'echo "{version}"\n')


def built_project(project: Path) -> None:
    """Mathlib fetched at the pinned commit and built, the REPL built: the files doctor looks at."""
    pin = read_pin(project)
    mathlib = project / ".lake" / "packages" / "mathlib"
    (mathlib / ".git").mkdir(parents=True)
    (mathlib / ".git" / "HEAD").write_text(pin.mathlib_rev + "\n")
    olean = mathlib / ".lake" / "build" / "lib" / "lean" / "Mathlib.olean"
    olean.parent.mkdir(parents=True)
    olean.write_bytes(b"olean")
    repl = Path(pin.repl_binary)
    repl.parent.mkdir(parents=True)
    script(repl.parent, repl.name, "exit 0\n")
    (Path(pin.repl_dir) / "lean-toolchain").write_text(pin.toolchain + "\n")


def test_doctor_without_lean_exits_3_and_says_how(no_lean, project):
    result = CliRunner().invoke(cli, ["lean", "doctor", "--project", str(project)])
    assert result.exit_code == 3
    out = result.output
    assert "MISSING elan" in out and "elan-init.sh" in out
    assert "MISSING lake" in out and "MISSING lean" in out
    assert "MISSING mathlib" in out and "prover lean setup" in out
    assert "MISSING repl" in out and "v4.27.0" in out
    assert "REPL pool:" in out and "memory cap 8 GiB each (RLIMIT_AS, applied)" in out
    assert "backends that can check now: none" in out
    assert "Error: no Lean check can run here" in out


def test_doctor_with_a_toolchain_exits_0(no_lean, project):
    fake_toolchain(no_lean)
    built_project(project)
    result = CliRunner().invoke(cli, ["lean", "doctor", "--project", str(project), "--processes", "3", "--json"])
    assert result.exit_code == 0, result.output
    report = json.loads(result.output)
    assert report["can_check"] is True
    assert report["backends"] == {"repl": True, "file": True}
    assert [t["found"] for t in report["tools"]] == [True] * 5
    assert report["tools"][2]["version"] == LEAN_VERSION
    assert report["tools"][3]["version"] == read_pin(project).mathlib_rev
    assert report["sizing"]["processes"] == 3
    assert report["missing"] == []


def test_doctor_wrong_lean_and_unbuilt_repl(no_lean, project):
    fake_toolchain(no_lean, version="Lean (version 4.9.0, x86_64-unknown-linux-gnu, Release)")
    built_project(project)
    os.remove(read_pin(project).repl_binary)
    report = doctor(project)
    lean = report.tools[2]
    assert not lean.found and "4.9.0" in lean.problem and "v4.27.0" in lean.problem
    assert not report.tools[4].found
    assert not report.can_check


def test_doctor_mathlib_at_another_commit(no_lean, project):
    fake_toolchain(no_lean)
    built_project(project)
    (project / ".lake/packages/mathlib/.git/HEAD").write_text("f" * 40 + "\n")
    m = doctor(project).tools[3]
    assert not m.found and "the manifest pins a3a10db0e9d6" in m.problem and "never `lake update`" in m.hint


def test_setup_without_lean_says_so(no_lean, project):
    result = CliRunner().invoke(cli, ["lean", "setup", "--project", str(project)])
    assert result.exit_code == 3
    assert "`lake` is not installed" in result.output and "elan" in result.output
    assert "github" in result.output.lower()


def test_setup_without_network(no_lean, project):
    fake_toolchain(no_lean)
    script(no_lean, "lake", 'echo "curl: (6) Could not resolve host: github.com" >&2\nexit 1\n')
    with pytest.raises(PrerequisiteError) as info:
        setup(project, echo=lambda _: None)
    msg = str(info.value)
    assert "`lake exe cache get`" in msg and "network access" in msg and "Could not resolve host" in msg


def test_setup_runs_cache_get_clones_and_builds_the_repl(no_lean, project, tmp_path):
    log = tmp_path / "calls.log"
    script(no_lean, "lake", f'echo "lake $* @ $(pwd)" >> {log}\n'
           'if [ "$1" = build ]; then mkdir -p .lake/build/bin && printf "#!/bin/sh\\n" > .lake/build/bin/repl '
           '&& chmod +x .lake/build/bin/repl; fi\n')
    # git clone --depth 1 --branch TAG URL DIR: make DIR look like the REPL at that tag.
    script(no_lean, "git", f'echo "git $*" >> {log}\n'
           'for last; do :; done\nmkdir -p "$last/.git"\n'
           'echo "leanprover/lean4:v4.27.0" > "$last/lean-toolchain"\ntouch "$last/lakefile.lean"\n'
           'echo "0123456789abcdef0123456789abcdef01234567" > "$last/.git/HEAD"\n')
    lines: list[str] = []
    pin = setup(project, echo=lines.append)
    calls = log.read_text().splitlines()
    assert calls[0] == f"lake exe cache get @ {project}"
    assert calls[1] == f"lake build ProverCheck @ {project}"  # the epilogue's command library
    assert calls[2] == (f"git clone --depth 1 --branch v4.27.0 https://github.com/leanprover-community/repl "
                        f"{project}/.lake/repl")
    assert calls[3] == f"lake build @ {project}/.lake/repl"
    assert pin.repl_rev == "0123456789abcdef0123456789abcdef01234567"
    assert Path(pin.repl_binary).exists()
    assert lines[0].startswith("$ ") and "cache get" in lines[0]
