"""Records of the Lean processes: the project pin, what `prover lean doctor` finds, how the REPL
pool is sized and capped, and the raw answer a Lean backend gives before the verdict logic reads
it. The check request/result and the verdicts themselves live in ``prover.core.lean_records``."""

from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field

GiB = 1024**3

RawStatus = Literal["ok", "timeout", "crashed", "unavailable", "error"]


class ProjectPin(BaseModel):
    """The toolchain, Mathlib and REPL that ``lean_project/`` pins."""

    model_config = ConfigDict(frozen=True)

    project_dir: str
    """Absolute path of the Lake project."""
    toolchain: str
    """Contents of ``lean-toolchain``, e.g. ``leanprover/lean4:v4.27.0``."""
    mathlib_rev: str | None
    """Mathlib commit in ``lake-manifest.json``."""
    mathlib_input_rev: str | None
    """The tag or branch the manifest resolved (``v4.27.0``)."""
    lakefile_mathlib_rev: str | None
    """The Mathlib rev that ``lakefile.toml`` requires."""
    packages: dict[str, str] = Field(default_factory=dict)
    """Every package of the manifest: name → commit."""
    repl_url: str
    repl_tag: str
    """The leanprover-community/repl tag, named after the Lean release."""
    repl_dir: str
    """Where ``prover lean setup`` clones the REPL (absolute)."""
    repl_binary: str
    """The built REPL executable (absolute)."""
    repl_rev: str | None = None
    """The commit behind ``repl_tag``, once setup resolved it."""

    @property
    def lean_version(self) -> str:
        """``v4.27.0`` from ``leanprover/lean4:v4.27.0``."""
        return self.toolchain.rsplit(":", 1)[-1]


class ToolInfo(BaseModel):
    """One thing `prover lean doctor` looks for."""

    model_config = ConfigDict(frozen=True)

    name: str
    found: bool
    path: str | None = None
    version: str | None = None
    """First line of ``--version`` (or the revision, for Mathlib and the REPL)."""
    problem: str | None = None
    """What is wrong when not found or not usable."""
    hint: str | None = None
    """How to get it."""


class MemoryCap(BaseModel):
    """The memory limit put on one Lean process, and whether it could be applied."""

    model_config = ConfigDict(frozen=True)

    requested_bytes: int | None
    """The cap asked for; None means no cap was asked for."""
    applied_bytes: int | None
    """The limit the process actually runs under (None: unlimited)."""
    mechanism: str = "RLIMIT_AS"
    applied: bool
    """True when the process runs under exactly the requested cap."""
    note: str | None = None
    """Why the cap is not (exactly) applied."""


class PoolSizing(BaseModel):
    """How many REPL processes the pool would start: min(cores, available memory / cap)."""

    model_config = ConfigDict(frozen=True)

    cores: int
    available_bytes: int | None
    """MemAvailable (None where it cannot be read)."""
    cap_bytes: int | None
    processes: int
    reason: str
    """Which of the two bounds decided."""


class DoctorReport(BaseModel):
    """What `prover lean doctor` found."""

    pin: ProjectPin | None
    pin_problem: str | None = None
    tools: list[ToolInfo] = Field(default_factory=list)
    """elan, lake, lean, Mathlib (built packages), REPL — in that order."""
    sizing: PoolSizing
    memory_cap: MemoryCap
    backends: dict[str, bool] = Field(default_factory=dict)
    """Which backends could run a check now (repl, file, kimina, dojo)."""
    missing: list[str] = Field(default_factory=list)
    """One line per missing piece: what and how to get it."""

    @property
    def can_check(self) -> bool:
        return any(self.backends.values())


class LeanRunRequest(BaseModel):
    """What every Lean backend is given: one whole Lean file and its limits."""

    model_config = ConfigDict(frozen=True)

    code: str
    """The assembled file, imports included."""
    timeout_s: float = 300.0
    """Wall-clock limit for this check (the header import has its own)."""
    request_id: str | None = None
    """Carried to servers that trace requests (Kimina's ``id``/``custom_id``)."""


class LeanRawResponse(BaseModel):
    """What a Lean backend answered, before the verdict logic reads it.

    ``status`` says whether Lean answered at all; only ``ok`` responses carry Lean's judgement
    (``messages``, ``sorries``). ``timeout`` and ``crashed`` become those verdicts, ``unavailable``
    means the backend could not run, ``error`` a protocol or REPL-level error (``{"message": ...}``).
    """

    backend: str
    """``repl``, ``file``, ``kimina`` or ``dojo``."""
    status: RawStatus
    response: dict[str, Any] | None = None
    """The raw JSON Lean (or the server) answered, verbatim."""
    messages: list[dict[str, Any]] = Field(default_factory=list)
    """Lean messages in REPL form: severity (info|warning|error), pos, endPos, data. Positions
    are those of the whole file given (the pool pads the body so that lines agree)."""
    sorries: list[dict[str, Any]] = Field(default_factory=list)
    error: str | None = None
    """Why there is no Lean answer (timeout, crash, protocol error, server error)."""
    wall_s: float = 0.0
    peak_memory_bytes: int | None = None
    """Peak resident memory of the Lean process, where it can be read."""
    memory_cap: MemoryCap | None = None
    exit_code: int | None = None
    stderr_tail: str | None = None
    process_uses: int | None = None
    """How many checks the process had served before this one (REPL pool)."""
    header_import_s: float | None = None
    """Time spent importing the header, when this request started a process."""
    notes: list[str] = Field(default_factory=list)
