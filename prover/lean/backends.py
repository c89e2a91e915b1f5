"""The one interface of the Lean backends, and opening one by name.

Every backend takes the shared request (one whole Lean file and its time limit) and returns the
raw answer (`LeanRawResponse`); the verdict logic (``prover.lean.verdict``) turns that into a
verdict. Backends: ``repl`` (the REPL pool), ``file`` (``lake env lean --json``), ``kimina`` (a
Kimina Lean Server), ``dojo`` (lean-dojo, tactic by tactic: never a verdict).
"""

from __future__ import annotations

import os
from typing import Protocol, runtime_checkable

from prover.core.errors import PrerequisiteError, UsageError
from prover.core.lean_backend_records import LeanRawResponse, LeanRunRequest, ProjectPin
from prover.lean.limits import DEFAULT_CAP_BYTES

BACKENDS = ("repl", "file", "kimina", "dojo")


@runtime_checkable
class LeanBackend(Protocol):
    name: str

    def check(self, request: LeanRunRequest) -> LeanRawResponse:
        """Check one whole file; never raises for what Lean or the process did (timeouts,
        crashes and unreachable servers are statuses)."""
        ...

    def close(self) -> None:
        ...


def _require_local_lean(pin: ProjectPin, *, need_repl: bool) -> None:
    """Raise PrerequisiteError naming every missing piece, unless a REPL command is forced."""
    from prover.lean.toolchain import (ELAN_HINT, mathlib_info, repl_command_override, repl_info,
                                       tool_info)

    if need_repl and repl_command_override():
        return
    from pathlib import Path

    root = Path(pin.project_dir)
    missing = []
    hint = ELAN_HINT
    for name in ("lake", "lean"):
        info = tool_info(name, root, hint)
        if not info.found:
            missing.append(f"{name}: {info.problem}; {info.hint}")
            hint = "it comes with elan (see above)"
    if not missing:
        m = mathlib_info(pin)
        if not m.found:
            missing.append(f"mathlib: {m.problem}; {m.hint}")
    if need_repl and not missing:
        r = repl_info(pin)
        if not r.found:
            missing.append(f"repl: {r.problem}; {r.hint}")
    if missing:
        raise PrerequisiteError("no Lean to check with here (`prover lean doctor` says more):\n  "
                                + "\n  ".join(missing))


class DeferredBackend:
    """A local backend (``repl``, ``file``) opened at its first check, so that what needs no Lean
    (the screen, a verdict from the store) runs where no Lean is installed. Its first check
    raises PrerequisiteError when Lean is missing, as opening would have."""

    def __init__(self, name: str, **options) -> None:
        self.name = name
        self._options = options
        self._backend: LeanBackend | None = None

    def check(self, request: LeanRunRequest) -> LeanRawResponse:
        if self._backend is None:
            self._backend = open_backend(self.name, **self._options)
        return self._backend.check(request)

    def close(self) -> None:
        if self._backend is not None:
            self._backend.close()


def open_backend(name: str, *, project: str | os.PathLike | None = None, kimina_url: str | None = None,
                 memory_cap_bytes: int | None = DEFAULT_CAP_BYTES, max_processes: int | None = None,
                 max_uses: int = 200, dojo_repo: str | None = None, dojo_commit: str | None = None,
                 deferred: bool = False) -> LeanBackend:
    """A ready backend, or PrerequisiteError saying what is missing and how to get it. With
    ``deferred``, a local backend is looked for at its first check instead (DeferredBackend).
    ``max_processes`` is how many checks may run at once on every backend that runs several
    (REPL processes, file-mode processes, checks in flight to Kimina servers); ``kimina_url`` may
    name several servers, separated by commas."""
    if name not in BACKENDS:
        raise UsageError(f"unknown Lean backend {name!r}; choose one of {', '.join(BACKENDS)}")
    if deferred and name in ("repl", "file"):
        return DeferredBackend(name, project=project, memory_cap_bytes=memory_cap_bytes,
                               max_processes=max_processes, max_uses=max_uses)
    if name == "kimina":
        from prover.lean.kimina import KiminaBackend

        return KiminaBackend(kimina_url, size=max_processes)
    if name == "dojo":
        from prover.lean.dojo import DojoBackend

        if not (dojo_repo and dojo_commit):
            raise UsageError("the dojo backend needs a traced repository: --dojo-repo URL --dojo-commit SHA")
        return DojoBackend(dojo_repo, dojo_commit)
    from prover.lean.toolchain import read_pin, repl_command

    pin = read_pin(project)
    _require_local_lean(pin, need_repl=name == "repl")
    if name == "file":
        from prover.lean.file_mode import FileBackend

        return FileBackend(pin.project_dir, memory_cap_bytes=memory_cap_bytes, max_processes=max_processes)
    from prover.lean.pool import PoolConfig, ReplPool

    return ReplPool(PoolConfig(command=repl_command(pin), cwd=pin.project_dir, memory_cap_bytes=memory_cap_bytes,
                               max_processes=max_processes, max_uses=max_uses))
