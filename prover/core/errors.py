"""The typed errors of prover. The CLI maps them to messages and exit codes in one place
(``prover.cli.main``); library code raises them and never calls ``sys.exit``."""

from __future__ import annotations


class ProverError(Exception):
    """Base of every error prover raises on purpose."""

    exit_code = 1


class BadDataError(ProverError):
    """Input data is malformed: the message names the file, line or record, and field."""

    exit_code = 1

    def __init__(self, message: str, *, source: str | None = None, line: int | None = None,
                 field: str | None = None):
        where = ":".join(str(p) for p in (source, line) if p is not None)
        parts = [where] if where else []
        if field:
            parts.append(f"field {field!r}")
        prefix = ", ".join(parts)
        super().__init__(f"{prefix}: {message}" if prefix else message)
        self.source, self.line, self.field = source, line, field


class UsageError(ProverError):
    """The command was called wrongly (unknown option value, ambiguous id, ...)."""

    exit_code = 2


class ConfigError(UsageError):
    """Configuration (prover.toml, environment, flags) is invalid."""


class NotFoundError(UsageError):
    """A problem, proof or run named by the user does not exist."""


class PrerequisiteError(ProverError):
    """Something needed is missing (a package, a toolchain, a server); says how to get it."""

    exit_code = 3


class BackendError(PrerequisiteError):
    """A model backend cannot answer."""


class LeanError(ProverError):
    """A Lean backend failed in a way that is not a verdict (cannot start, protocol error)."""

    exit_code = 3


class StoreError(ProverError):
    """The proof database cannot be opened, migrated or written."""

    exit_code = 1


class StoreNotWritableError(StoreError):
    """The database cannot be written: a read-only file, folder or connection, or a folder that
    does not exist."""


class LeaseHeldError(StoreError):
    """Work on a problem that a live worker holds the lease of (its formal attempts are that
    worker's; nobody else redoes them)."""


class LeaseLostError(StoreError):
    """A worker wrote for a problem whose lease it no longer holds (it expired and another worker
    took the problem over): nothing was written; the worker drops the problem (exit code 1 if it
    ever reaches a command)."""

    exit_code = 1
