"""The ``scripted`` backend: outputs fixed by a test or a JSONL file — a test double for
pipeline logic. It proves wiring and bookkeeping, never proving skill.

An output is a :class:`ScriptedOutput`. Outputs with ``match`` and/or ``role`` are *rules*,
reusable, the first that fits a call wins (``match`` is a substring looked for in the call's
messages). Outputs with neither are a *queue*, consumed one per call, in the order calls reach
the backend, when no rule fits. A call that nothing fits raises BackendError (a test double
fails loudly). A test may instead pass a function ``call -> str | ScriptedOutput``.

JSONL file (the ``script`` setting: ``PROVER_SCRIPT=FILE`` for every role, ``--role
judge.script=judge.jsonl`` or ``PROVER_JUDGE_SCRIPT`` for one): one object per line with the
fields of :class:`ScriptedOutput`; blank lines and lines starting with ``#`` are skipped."""

from __future__ import annotations

import asyncio
import json
from collections import deque
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import Any

from pydantic import BaseModel, ConfigDict, ValidationError

from prover.core.errors import BackendError, BadDataError
from prover.core.llm_records import CallRequest, Generation, RoleSettings


class ScriptedOutput(BaseModel):
    """One scripted answer (or failure)."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    match: str | None = None
    """Used for calls whose messages contain this text (a rule)."""
    role: str | None = None
    """Used for calls made for this role (a rule)."""
    text: str | None = None
    """The answer."""
    reasoning: str | None = None
    """Reasoning text returned apart from the answer."""
    finish_reason: str = "stop"
    """``length`` makes the call truncated."""
    error: str | None = None
    """Return this error instead of an answer."""
    transient: bool = False
    """For errors: transient (retried) or definitive."""
    prompt_tokens: int | None = None
    """Reported prompt tokens (default: words in the messages)."""
    completion_tokens: int | None = None
    """Reported completion tokens (default: words in the answer)."""
    delay_s: float = 0.0
    """Seconds to wait before answering."""

    @property
    def is_rule(self) -> bool:
        return self.match is not None or self.role is not None

    def fits(self, call: CallRequest) -> bool:
        if self.role is not None and self.role != call.role:
            return False
        if self.match is not None and not any(self.match in m.content for m in call.messages):
            return False
        return True


Script = Callable[[CallRequest], "str | ScriptedOutput"]


class ScriptedBackend:
    """Answers calls from scripted outputs and records every call it receives in ``calls``."""

    name = "scripted"

    def __init__(self, outputs: Iterable[ScriptedOutput | str | dict[str, Any]] | Script | None = None, *,
                 hint: str = ""):
        self.calls: list[CallRequest] = []
        self.hint = hint
        """Said when nothing fits a call (how to give the backend its outputs)."""
        self._fn: Script | None = None
        self._rules: list[ScriptedOutput] = []
        self._queue: deque[ScriptedOutput] = deque()
        if callable(outputs):
            self._fn = outputs
        else:
            for out in outputs or ():
                self.add(out)

    def add(self, output: ScriptedOutput | str | dict[str, Any]) -> None:
        """Append an output (a bare string is a queued answer)."""
        out = _coerce(output)
        (self._rules if out.is_rule else self._queue).append(out)

    @classmethod
    def from_jsonl(cls, path: str | Path) -> "ScriptedBackend":
        path = Path(path)
        try:
            lines = path.read_text(encoding="utf-8").splitlines()
        except OSError as exc:
            raise BadDataError(f"cannot read the script: {exc.strerror}", source=str(path)) from None
        outputs = []
        for number, line in enumerate(lines, 1):
            if not line.strip() or line.lstrip().startswith("#"):
                continue
            try:
                outputs.append(ScriptedOutput.model_validate(json.loads(line)))
            except ValueError as exc:  # JSONDecodeError and ValidationError
                what = _first_error(exc)
                raise BadDataError(what, source=str(path), line=number) from None
        return cls(outputs)

    async def generate(self, call: CallRequest) -> Generation:
        self.calls.append(call)
        out = self._choose(call)
        if out.delay_s:
            await asyncio.sleep(out.delay_s)
        if out.error is not None:
            return Generation(error=out.error, transient=out.transient, latency_s=out.delay_s)
        text = out.text or ""
        return Generation(
            text=text, reasoning=out.reasoning, finish_reason=out.finish_reason,
            prompt_tokens=out.prompt_tokens if out.prompt_tokens is not None
            else sum(len(m.content.split()) for m in call.messages),
            completion_tokens=out.completion_tokens if out.completion_tokens is not None
            else len(text.split()),
            latency_s=out.delay_s)

    def _choose(self, call: CallRequest) -> ScriptedOutput:
        if self._fn is not None:
            return _coerce(self._fn(call))
        for rule in self._rules:
            if rule.fits(call):
                return rule
        if self._queue:
            return self._queue.popleft()
        prompt = call.messages[-1].content
        raise BackendError(f"scripted backend has no output for a {call.role} call "
                           f"(last message starts {prompt[:80]!r})" + (f"; {self.hint}" if self.hint else ""))

    async def aclose(self) -> None:
        pass


def scripted_from_settings(settings: RoleSettings) -> ScriptedBackend:
    """The registry's factory: outputs from the ``script`` JSONL file, if any."""
    if settings.script:
        return ScriptedBackend.from_jsonl(settings.script)
    return ScriptedBackend(hint=NO_SCRIPT_HINT)


NO_SCRIPT_HINT = ("no script is set: PROVER_SCRIPT=FILE.jsonl gives every role its outputs (e.g. "
                  "prover/data/demo_script.jsonl), --role ROLE.script=FILE one role")


def _coerce(output: ScriptedOutput | str | dict[str, Any]) -> ScriptedOutput:
    if isinstance(output, ScriptedOutput):
        return output
    if isinstance(output, str):
        return ScriptedOutput(text=output)
    return ScriptedOutput.model_validate(output)


def _first_error(exc: ValueError) -> str:
    if isinstance(exc, ValidationError):
        err = exc.errors()[0]
        loc = ".".join(str(p) for p in err["loc"])
        return f"{loc}: {err['msg']}" if loc else err["msg"]
    return f"not JSON: {exc}"
