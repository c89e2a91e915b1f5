"""Records of externally graded proofs: how a grade is read from an import file, and a stored
grade. Grades live in [0, 1] (a raw value divided by the grade's maximum)."""

from __future__ import annotations

import re
from pydantic import BaseModel, ConfigDict, Field

from prover.core.errors import UsageError

#: Names that mean something else to ``prover crosscheck`` and so cannot name an imported grade.
RESERVED_GRADE_NAMES = frozenset({"lean", "verifier", "label", "answer"})
_NAME = re.compile(r"^[A-Za-z_][A-Za-z0-9_\-]*$")


def check_grade_name(name: str) -> str:
    """``name`` if it can name a grade, else UsageError saying why."""
    if not _NAME.match(name):
        raise UsageError(f"grade name {name!r} must be letters, digits, '_' or '-', "
                         "starting with a letter or '_'")
    if name.lower() in RESERVED_GRADE_NAMES:
        raise UsageError(f"grade name {name!r} is reserved "
                         f"(not one of {', '.join(sorted(RESERVED_GRADE_NAMES))})")
    return name


class GradeSpec(BaseModel):
    """One ``--grade NAME=PATH[:MAX]``: where a grade sits in each record and its scale."""

    model_config = ConfigDict(frozen=True)

    name: str
    """The grade's name (e.g. ``human``); what ``prover crosscheck`` calls it."""
    path: str
    """Dotted field path of the raw value in a record (numeric parts index lists)."""
    max: float | None = None
    """The raw value's maximum: the stored grade is raw / max. None: the raw value is stored as is
    and must already lie in [0, 1]."""
    human: bool = False
    """Whether these grades were given by people (only those ever become human labels)."""

    @classmethod
    def parse(cls, text: str, *, human_names: frozenset[str] | set[str] = frozenset()) -> GradeSpec:
        """Parse ``NAME=PATH[:MAX]``; MAX is what follows the last colon and must be a number > 0."""
        name, sep, rest = text.partition("=")
        name = name.strip()
        if not sep or not name or not rest.strip():
            raise UsageError(f"--grade wants NAME=PATH[:MAX], got {text!r}")
        check_grade_name(name)
        path, colon, max_text = rest.rpartition(":")
        if not colon:
            path, max_value = rest, None
        else:
            try:
                max_value = float(max_text)
            except ValueError:
                raise UsageError(f"--grade {text!r}: MAX after the last colon must be a number, "
                                 f"got {max_text!r}") from None
            if not max_value > 0 or max_value == float("inf"):
                raise UsageError(f"--grade {text!r}: MAX must be a finite number > 0")
        path = path.strip()
        if not path:
            raise UsageError(f"--grade {text!r}: the field path is empty")
        return cls(name=name, path=path, max=max_value, human=name in human_names)


class Grade(BaseModel):
    """An external grade of one proof as stored."""

    model_config = ConfigDict(frozen=True)

    proof_id: int
    """The graded proof."""
    name: str
    """The grade's name (``human``, ``auto``, ...)."""
    value: float
    """The grade in [0, 1]: ``raw / max`` when a maximum was given."""
    raw: float
    """The value as read from the file."""
    max: float | None = None
    """The maximum it was divided by, if any."""
    human: bool = False
    """Whether people gave it."""
    source: str | None = None
    """The file it was imported from (and line), for provenance."""


class GradeImportSummary(BaseModel):
    """What ``prover grades import`` did with one or more files."""

    files: list[str]
    """The files read, in order."""
    records: int = 0
    """Records read."""
    problems_created: int = 0
    """Problems that were not in the database yet."""
    problems_matched: int = 0
    """Records whose problem was already stored."""
    statement_mismatches_kept: int = 0
    """Records whose statement differed from the stored one, kept with ``--on-mismatch keep``."""
    proofs_created: int = 0
    """Proofs stored."""
    grades: dict[str, int] = Field(default_factory=dict)
    """Per grade name, grades stored."""
    missing: dict[str, int] = Field(default_factory=dict)
    """Per grade name, records that had no value for it (no grade stored)."""
