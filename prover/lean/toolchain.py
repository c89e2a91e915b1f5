"""Finding Lean: elan, lake, lean, the pinned Mathlib and the REPL; `prover lean doctor`'s report
and `prover lean setup`'s steps. Everything here says what is missing and how to get it."""

from __future__ import annotations

import importlib.util
import json
import os
import shlex
import shutil
import subprocess
import tomllib
from pathlib import Path
from typing import Callable

from prover.core.errors import ConfigError, PrerequisiteError
from prover.core.lean_backend_records import DoctorReport, ProjectPin, ToolInfo
from prover.lean.limits import DEFAULT_CAP_BYTES, pool_sizing, probe_memory_cap

REPO_ROOT = Path(__file__).resolve().parents[2]

ELAN_HINT = ("install elan, Lean's toolchain manager: `curl https://raw.githubusercontent.com/leanprover/elan/"
             "master/elan-init.sh -sSf | sh` (or your system's `elan` package), then open a new shell; "
             "elan downloads Lean from GitHub, so it needs network access to github.com")
MATHLIB_HINT = "run `prover lean setup` (it runs `lake exe cache get` in {project}: Mathlib's prebuilt files)"
REPL_HINT = "run `prover lean setup` (it clones leanprover-community/repl at {tag} into {dir} and builds it)"


def project_dir(path: str | os.PathLike | None = None) -> Path:
    """The Lake project: ``path``, else ``$PROVER_LEAN_PROJECT``, else the repository's
    ``lean_project/``."""
    if path is None:
        path = os.environ.get("PROVER_LEAN_PROJECT") or REPO_ROOT / "lean_project"
    return Path(path).expanduser().resolve()


def read_pin(project: str | os.PathLike | None = None) -> ProjectPin:
    """The pin of a Lake project (lean-toolchain, lake-manifest.json, lakefile.toml,
    prover-lean.toml)."""
    root = project_dir(project)
    try:
        toolchain = (root / "lean-toolchain").read_text().strip()
    except OSError as exc:
        raise ConfigError(f"{root} is not a Lean project for prover: no lean-toolchain ({exc.strerror}); "
                          "pass --project or set PROVER_LEAN_PROJECT to a copy of the repository's lean_project/") from exc
    packages, mathlib_rev, mathlib_input = {}, None, None
    manifest = root / "lake-manifest.json"
    if manifest.exists():
        data = json.loads(manifest.read_text())
        for p in data.get("packages", []):
            packages[p["name"]] = p.get("rev")
            if p["name"] == "mathlib":
                mathlib_rev, mathlib_input = p.get("rev"), p.get("inputRev")
    lakefile_rev = None
    lakefile = root / "lakefile.toml"
    if lakefile.exists():
        for req in tomllib.loads(lakefile.read_text()).get("require", []):
            if req.get("name") == "mathlib":
                lakefile_rev = req.get("rev")
    cfg_path = root / "prover-lean.toml"
    repl = tomllib.loads(cfg_path.read_text()).get("repl", {}) if cfg_path.exists() else {}
    version = toolchain.rsplit(":", 1)[-1]
    repl_dir = root / repl.get("path", ".lake/repl")
    rev_file = root / ".lake" / "repl-rev"
    return ProjectPin(
        project_dir=str(root), toolchain=toolchain, mathlib_rev=mathlib_rev, mathlib_input_rev=mathlib_input,
        lakefile_mathlib_rev=lakefile_rev, packages=packages,
        repl_url=repl.get("url", "https://github.com/leanprover-community/repl"),
        repl_tag=repl.get("tag", version), repl_dir=str(repl_dir),
        repl_binary=str(repl_dir / repl.get("binary", ".lake/build/bin/repl")),
        repl_rev=rev_file.read_text().strip() if rev_file.exists() else None)


def find_executable(name: str) -> str | None:
    """``name`` on PATH, else in elan's bin folder (``$ELAN_HOME/bin``, default ``~/.elan/bin``)."""
    found = shutil.which(name)
    if found:
        return found
    elan_home = Path(os.environ.get("ELAN_HOME", Path.home() / ".elan"))
    candidate = elan_home / "bin" / name
    return str(candidate) if candidate.is_file() and os.access(candidate, os.X_OK) else None


def _version(path: str, cwd: Path, timeout_s: float) -> tuple[str | None, str | None]:
    """(first line of ``--version``, problem)."""
    try:
        out = subprocess.run([path, "--version"], cwd=cwd, capture_output=True, text=True, timeout=timeout_s)
    except subprocess.TimeoutExpired:
        return None, f"`{Path(path).name} --version` did not answer within {timeout_s:g} s"
    except OSError as exc:
        return None, f"cannot run {path}: {exc.strerror}"
    if out.returncode != 0:
        lines = (out.stderr or out.stdout).strip().splitlines()
        return None, f"`{Path(path).name} --version` failed (exit {out.returncode}): {lines[-1] if lines else ''}"
    lines = out.stdout.strip().splitlines()
    return (lines[0] if lines else ""), None


def tool_info(name: str, cwd: Path, hint: str, timeout_s: float = 120) -> ToolInfo:
    path = find_executable(name)
    if path is None:
        return ToolInfo(name=name, found=False, problem=f"`{name}` not found on PATH or in ~/.elan/bin", hint=hint)
    version, problem = _version(path, cwd, timeout_s)
    return ToolInfo(name=name, found=problem is None, path=path, version=version, problem=problem,
                    hint=None if problem is None else hint)


def _git_head(repo: Path) -> str | None:
    """The commit checked out in ``repo`` (reads .git directly: no git needed)."""
    git = repo / ".git"
    try:
        if git.is_file():  # a worktree or submodule: "gitdir: PATH"
            git = (repo / git.read_text().split(":", 1)[1].strip()).resolve()
        head = (git / "HEAD").read_text().strip()
        if not head.startswith("ref:"):
            return head
        ref = head.split(None, 1)[1]
        ref_file = git / ref
        if ref_file.exists():
            return ref_file.read_text().strip()
        for line in (git / "packed-refs").read_text().splitlines():
            if line.endswith(" " + ref):
                return line.split()[0]
    except (OSError, IndexError):
        return None
    return None


def mathlib_info(pin: ProjectPin) -> ToolInfo:
    root = Path(pin.project_dir)
    hint = MATHLIB_HINT.format(project=root)
    pkg = root / ".lake" / "packages" / "mathlib"
    if not pkg.is_dir():
        return ToolInfo(name="mathlib", found=False, problem=f"Mathlib is not fetched ({pkg} is missing)", hint=hint)
    head = _git_head(pkg)
    if head and pin.mathlib_rev and head != pin.mathlib_rev:
        return ToolInfo(name="mathlib", found=False, path=str(pkg), version=head,
                        problem=f"Mathlib is at {head[:12]}, the manifest pins {pin.mathlib_rev[:12]}",
                        hint=f"check out the pinned commit (`git -C {pkg} checkout {pin.mathlib_rev}`), then "
                             f"`prover lean setup`; never `lake update`, which moves the pin")
    olean = pkg / ".lake" / "build" / "lib" / "lean" / "Mathlib.olean"
    if not olean.exists():
        return ToolInfo(name="mathlib", found=False, path=str(pkg), version=head,
                        problem=f"Mathlib is not built ({olean.relative_to(root)} is missing)", hint=hint)
    return ToolInfo(name="mathlib", found=True, path=str(pkg), version=head or pin.mathlib_rev)


def repl_command_override() -> list[str] | None:
    """``$PROVER_LEAN_REPL``: a whole REPL command line that replaces ``lake env REPL``."""
    value = os.environ.get("PROVER_LEAN_REPL")
    return shlex.split(value) if value else None


def repl_info(pin: ProjectPin) -> ToolInfo:
    override = repl_command_override()
    if override:
        return ToolInfo(name="repl", found=True, path=" ".join(override), version="$PROVER_LEAN_REPL")
    hint = REPL_HINT.format(tag=pin.repl_tag, dir=pin.repl_dir)
    binary = Path(pin.repl_binary)
    if not (binary.is_file() and os.access(binary, os.X_OK)):
        return ToolInfo(name="repl", found=False, problem=f"the REPL is not built ({binary} is missing)", hint=hint)
    try:
        repl_toolchain = (Path(pin.repl_dir) / "lean-toolchain").read_text().strip()
    except OSError:
        repl_toolchain = None
    if repl_toolchain and repl_toolchain != pin.toolchain:
        return ToolInfo(name="repl", found=False, path=str(binary), version=repl_toolchain,
                        problem=f"the REPL was built for {repl_toolchain}, the project pins {pin.toolchain}",
                        hint=f"remove {pin.repl_dir} and {hint}")
    return ToolInfo(name="repl", found=True, path=str(binary),
                    version=f"{pin.repl_tag}" + (f" ({pin.repl_rev[:12]})" if pin.repl_rev else ""))


def repl_command(pin: ProjectPin) -> list[str]:
    """How the pool starts a REPL: ``$PROVER_LEAN_REPL``, else ``lake env REPL_BINARY`` (which
    `ReplProcess` runs as REPL_BINARY itself, in the environment ``lake env`` gives)."""
    override = repl_command_override()
    if override:
        return override
    lake = find_executable("lake")
    if lake is None:
        raise PrerequisiteError(f"`lake` not found: {ELAN_HINT}")
    return [lake, "env", pin.repl_binary]


def _kimina_reachable(url: str) -> tuple[bool, str | None]:
    import httpx

    try:
        r = httpx.get(url.rstrip("/") + "/health", timeout=10)
    except httpx.HTTPError as exc:
        return False, f"no Kimina Lean Server at {url}: {exc}"
    if r.status_code >= 500:
        return False, f"Kimina Lean Server at {url} answered HTTP {r.status_code}"
    return True, None


def doctor(project: str | os.PathLike | None = None, *, cap_bytes: int | None = DEFAULT_CAP_BYTES,
           max_processes: int | None = None, kimina_url: str | None = None) -> DoctorReport:
    """Look for everything a Lean check needs; never raises for what is missing."""
    sizing = pool_sizing(cap_bytes, max_processes=max_processes)
    cap = probe_memory_cap(cap_bytes)
    try:
        pin = read_pin(project)
    except (ConfigError, ValueError) as exc:
        return DoctorReport(pin=None, pin_problem=str(exc), sizing=sizing, memory_cap=cap,
                            backends={"repl": False, "file": False}, missing=[str(exc)])
    root = Path(pin.project_dir)
    elan = tool_info("elan", root, ELAN_HINT)
    need_toolchain = (f"elan could not provide {pin.toolchain}: `elan toolchain install {pin.toolchain}` "
                      f"(needs github.com)") if elan.found else "it comes with elan (see elan above)"
    lake = tool_info("lake", root, need_toolchain)
    lean = tool_info("lean", root, need_toolchain)
    if lean.found and lean.version and pin.lean_version.lstrip("v") not in lean.version:
        lean = lean.model_copy(update={"found": False, "problem": f"`lean` in {root} is {lean.version}, the "
                                       f"project pins {pin.toolchain}", "hint": need_toolchain})
    mathlib = mathlib_info(pin)
    repl = repl_info(pin)
    tools = [elan, lake, lean, mathlib, repl]
    lean_ok = lake.found and lean.found and mathlib.found
    backends = {"repl": lean_ok and repl.found, "file": lean_ok}
    if repl_command_override():
        backends["repl"] = True
    if importlib.util.find_spec("lean_dojo") is not None:
        backends["dojo"] = lean_ok
    missing = [f"{t.name}: {t.problem}; {t.hint}" for t in tools if not t.found and t.problem]
    if kimina_url:
        ok, problem = _kimina_reachable(kimina_url)
        backends["kimina"] = ok
        if problem:
            missing.append(f"kimina: {problem}")
    if not cap.applied and cap.note:
        missing.append(f"memory cap: {cap.note}")
    return DoctorReport(pin=pin, tools=tools, sizing=sizing, memory_cap=cap, backends=backends, missing=missing)


# -- setup ------------------------------------------------------------------------------------

def _run_step(cmd: list[str], cwd: Path, what: str, echo: Callable[[str], None], timeout_s: float,
              network_hint: str) -> str:
    echo(f"$ {' '.join(cmd)}    (in {cwd})")
    try:
        out = subprocess.run(cmd, cwd=cwd, capture_output=True, text=True, timeout=timeout_s)
    except subprocess.TimeoutExpired as exc:
        raise PrerequisiteError(f"{what} did not finish within {timeout_s:g} s") from exc
    except OSError as exc:
        raise PrerequisiteError(f"{what}: cannot run {cmd[0]}: {exc.strerror}") from exc
    if out.returncode != 0:
        tail = "\n".join((out.stderr + out.stdout).strip().splitlines()[-8:])
        raise PrerequisiteError(f"{what} failed (exit {out.returncode}). {network_hint}\n{tail}")
    return out.stdout


def setup(project: str | os.PathLike | None = None, *, echo: Callable[[str], None] = print,
          timeout_s: float = 3600) -> ProjectPin:
    """Fetch Mathlib's prebuilt files, build ProverCheck and the pinned REPL. Raises PrerequisiteError saying
    what is missing (elan, git, network) and how to get it."""
    pin = read_pin(project)
    root = Path(pin.project_dir)
    lake = find_executable("lake")
    if lake is None:
        raise PrerequisiteError(
            f"cannot set up {root}: `lake` is not installed. To get it, {ELAN_HINT}. "
            f"Then run `prover lean setup` again: it downloads {pin.toolchain}, Mathlib's prebuilt files "
            f"({(pin.mathlib_rev or '?')[:12]}) and the REPL {pin.repl_tag}, all from GitHub.")
    net = "This step downloads from GitHub (and Mathlib's cache server): check network access."
    _run_step([lake, "exe", "cache", "get"], root, "`lake exe cache get` (Mathlib's prebuilt files)", echo,
              timeout_s, net)
    _run_step([lake, "build", "ProverCheck"], root, "building ProverCheck (the epilogue's command)", echo,
              timeout_s, net)
    repl_dir = Path(pin.repl_dir)
    if not (repl_dir / "lakefile.lean").exists() and not (repl_dir / "lakefile.toml").exists():
        git = shutil.which("git")
        if git is None:
            raise PrerequisiteError("cannot fetch the REPL: `git` is not installed (apt-get install git)")
        repl_dir.parent.mkdir(parents=True, exist_ok=True)
        _run_step([git, "clone", "--depth", "1", "--branch", pin.repl_tag, pin.repl_url, str(repl_dir)], root,
                  f"cloning the REPL at {pin.repl_tag}", echo, timeout_s, net)
    try:
        repl_toolchain = (repl_dir / "lean-toolchain").read_text().strip()
    except OSError:
        repl_toolchain = None
    if repl_toolchain != pin.toolchain:
        raise PrerequisiteError(f"the REPL at {pin.repl_tag} pins {repl_toolchain}, the project pins "
                                f"{pin.toolchain}: fix prover-lean.toml's tag (see lean_project/README.md)")
    _run_step([lake, "build"], repl_dir, "building the REPL (`lake build`)", echo, timeout_s, net)
    rev = _git_head(repl_dir)
    if rev:
        (root / ".lake").mkdir(exist_ok=True)
        (root / ".lake" / "repl-rev").write_text(rev + "\n")
    return read_pin(root)
