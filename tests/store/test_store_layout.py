"""The store is organised by concept: every table in one module, one way to read by a list of ids,
and other layers reach it only through its public modules (``prover.store`` and the tables)."""

from __future__ import annotations

import ast
import re
from pathlib import Path

import prover
from prover.store import ProofStore
from prover.store.base import StoreBase
from prover.store.schema import Base

PACKAGE = Path(prover.__file__).resolve().parent
STORE = PACKAGE / "store"


def _imports(path: Path) -> list[str]:
    names = []
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.ImportFrom) and node.module:
            names.append(node.module)
        elif isinstance(node, ast.Import):
            names.extend(a.name for a in node.names)
    return names


def test_every_table_is_declared_in_schema():
    modules = {m.class_.__name__: m.class_.__module__ for m in Base.registry.mappers}
    assert len(modules) >= 20
    assert {n: m for n, m in modules.items() if m != "prover.store.schema"} == {}


def test_no_private_store_module_is_imported_from_another_layer():
    assert sorted(p.name for p in STORE.glob("_*.py") if p.name != "__init__.py") == []
    offenders = [f"{p.relative_to(PACKAGE.parent)}: {m}" for p in PACKAGE.rglob("*.py") if STORE not in p.parents
                 for m in _imports(p) if re.match(r"prover\.store\._", m)]
    assert offenders == []


def test_analysis_reads_through_the_store_not_sql():
    """The read models analysis needs are offered by the store; analysis runs no SQL itself."""
    offenders = [f"{p.name}: {m}" for p in (PACKAGE / "analysis").glob("*.py")
                 for m in _imports(p) if m.split(".")[0] == "sqlalchemy"]
    assert offenders == []
    engine_use = [p.name for p in (PACKAGE / "analysis").glob("*.py") if "store.engine" in p.read_text()]
    assert engine_use == []


def test_ids_are_read_in_chunks_through_one_helper():
    loops = [f"{p.name}:{n}" for p in STORE.glob("*.py") if p.name != "queries.py"
             for n, line in enumerate(p.read_text().splitlines(), 1) if re.search(r"range\(0, len\(", line)]
    assert loops == []


def test_each_concept_mixin_stands_on_the_store_base():
    mixins = [c for c in ProofStore.__mro__[1:] if c not in (StoreBase, object)]
    assert [c.__name__ for c in mixins] == ["ProblemsMixin", "RunsMixin", "LeasesMixin", "InformalMixin", "LeanMixin",
                                             "FormalMixin", "GradesMixin", "ReportsMixin"]
    assert all(issubclass(c, StoreBase) for c in mixins)
    # A method name is defined by one concept only: two mixins with the same name would shadow.
    seen: dict[str, str] = {}
    clashes = []
    for c in mixins:
        for name in vars(c):
            if callable(vars(c)[name]) and not name.startswith("__"):
                if name in seen:
                    clashes.append(f"{name}: {seen[name]} and {c.__name__}")
                seen[name] = c.__name__
    assert clashes == []
