"""The proof database: SQLite by default, any SQLAlchemy URL to share results.

Other layers import from here only: ``ProofStore`` (one mixin per concept: problems, runs and
calls, leases, informal, Lean, formal, grades and labels, reports), the read models it returns,
and the writer. The tables are in ``prover.store.schema``."""

from prover.store.formal import REDO, FormalAttemptRows, closed_by, closing_uses
from prover.store.grades import RESAMPLE_RUN_KIND, TOPUP_RUN_KIND, AnalysisRow, GradedProofItem, ProofFacts, ProofInfo
from prover.store.informal import InformalRows, StoredRow
from prover.store.leases import Lease, LeaseCounts
from prover.store.problems import COMPATIBLE, INCOMPATIBLE
from prover.store.reports import EXPORT_FORMATS, ReportRows
from prover.store.store import DEFAULT_DB, ProofStore, resolve_url
from prover.store.writer import StoreWriter, writer_for

__all__ = ["ProofStore", "resolve_url", "DEFAULT_DB", "StoreWriter", "writer_for",
           "AnalysisRow", "ProofInfo", "ProofFacts", "GradedProofItem", "FormalAttemptRows", "ReportRows",
           "InformalRows", "StoredRow", "Lease", "LeaseCounts",
           "RESAMPLE_RUN_KIND", "TOPUP_RUN_KIND", "COMPATIBLE", "INCOMPATIBLE", "REDO", "EXPORT_FORMATS",
           "closed_by", "closing_uses"]
