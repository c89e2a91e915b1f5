"""Pictures of a cross-check: a reliability diagram and the candidate's score distribution per
reference class. matplotlib (the ``plot`` extra) is imported only when a plot is asked for."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import numpy as np

from prover.analysis.metrics import passes
from prover.core.crosscheck_records import CrossCheckMetrics, PairedValue
from prover.core.errors import PrerequisiteError

PASS_COLOR = "#1b7837"
FAIL_COLOR = "#b2182b"
#: With at most this many distinct candidate values (e.g. verifier means 0, 0.5, 1) the
#: distribution is drawn as grouped bars at the exact values rather than a histogram.
MAX_DISCRETE_VALUES = 12


def _pyplot():
    try:
        import matplotlib
    except ImportError:
        raise PrerequisiteError(
            "plots need matplotlib: pip install 'prover[plot]' (or pip install matplotlib)"
        ) from None
    matplotlib.use("Agg")  # files only; never needs a display
    import matplotlib.pyplot as plt

    return plt


def _fmt(value: float | None, digits: int = 3) -> str:
    return "n/a" if value is None else f"{value:.{digits}f}"


def plot_crosscheck(pairs: Sequence[PairedValue], metrics: CrossCheckMetrics, out_dir: str | Path,
                    *, reference_name: str, candidate_name: str, reference_threshold: float = 1.0,
                    candidate_threshold: float = 1.0, stem: str = "crosscheck") -> list[Path]:
    """Write ``<stem>_reliability.png`` and ``<stem>_distribution.png`` into ``out_dir``."""
    plt = _pyplot()
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    reference = np.array([p.reference for p in pairs], dtype=float)
    candidate = np.array([p.candidate for p in pairs], dtype=float)
    ref_pass = passes(reference, reference_threshold)
    written = [
        _reliability(plt, metrics, out / f"{stem}_reliability.png", reference_name, candidate_name),
        _distribution(plt, candidate, ref_pass, metrics, out / f"{stem}_distribution.png",
                      reference_name, candidate_name, candidate_threshold),
    ]
    return written


def _reliability(plt, metrics: CrossCheckMetrics, path: Path, reference_name: str,
                 candidate_name: str) -> Path:
    fig, (ax, hist) = plt.subplots(2, 1, figsize=(6.4, 7.2), sharex=True,
                                   gridspec_kw={"height_ratios": [3, 1]})
    ax.plot([0, 1], [0, 1], linestyle="--", color="grey", label="perfectly calibrated")
    filled = [b for b in metrics.reliability if b.count]
    if filled:
        xs = [b.mean_candidate for b in filled]
        ys = [b.reference_pass_rate for b in filled]
        # Gap bars from the diagonal make miscalibration visible at a glance.
        for x, y in zip(xs, ys):
            ax.plot([x, x], [x, y], color=FAIL_COLOR, alpha=0.5, linewidth=2)
        ax.plot(xs, ys, marker="o", markersize=8, color="#2166ac", label="observed")
        for b in filled:
            near_right = b.mean_candidate > 0.85
            ax.annotate(f"n={b.count}", (b.mean_candidate, b.reference_pass_rate),
                        textcoords="offset points", xytext=(-34 if near_right else 6, -14),
                        fontsize=8)
        edges = [b.lo for b in metrics.reliability] + [metrics.reliability[-1].hi]
        hist.bar([(b.lo + b.hi) / 2 for b in metrics.reliability],
                 [b.count for b in metrics.reliability], width=np.diff(edges) * 0.9,
                 color="#2166ac", alpha=0.7)
    else:
        reason = "no proofs" if metrics.n == 0 else "candidate values outside [0, 1]"
        ax.text(0.5, 0.5, f"no calibration: {reason}", ha="center", va="center",
                transform=ax.transAxes, fontsize=12)
    ax.set_xlim(-0.02, 1.02)
    ax.set_ylim(-0.02, 1.02)
    ax.set_ylabel(f"fraction passed by {reference_name}")
    ax.set_title(f"Reliability of {candidate_name} against {reference_name}\n"
                 f"ECE {_fmt(metrics.ece)}   n={metrics.n} proofs, {metrics.problems} problems")
    ax.legend(loc="upper left")
    ax.grid(alpha=0.3)
    hist.set_xlabel(f"{candidate_name} value (bin mean)")
    hist.set_ylabel("proofs")
    hist.grid(alpha=0.3)
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)
    return path


def _distribution(plt, candidate: np.ndarray, ref_pass: np.ndarray, metrics: CrossCheckMetrics,
                  path: Path, reference_name: str, candidate_name: str,
                  candidate_threshold: float) -> Path:
    fig, ax = plt.subplots(figsize=(7.2, 4.8))
    classes = [(f"{reference_name} pass (n={int(ref_pass.sum())})", candidate[ref_pass], PASS_COLOR),
               (f"{reference_name} fail (n={int((~ref_pass).sum())})", candidate[~ref_pass],
                FAIL_COLOR)]
    distinct = np.unique(candidate)
    if len(candidate) == 0:
        ax.text(0.5, 0.5, "no proofs", ha="center", va="center", transform=ax.transAxes)
    elif len(distinct) <= MAX_DISCRETE_VALUES:
        positions = np.arange(len(distinct))
        width = 0.38
        for k, (label, values, color) in enumerate(classes):
            counts = [int(np.count_nonzero(values == v)) for v in distinct]
            bars = ax.bar(positions + (k - 0.5) * width, counts, width=width, color=color,
                          alpha=0.85, label=label)
            ax.bar_label(bars, fontsize=8)
        ax.set_xticks(positions, [f"{v:g}" for v in distinct])
        # The threshold line sits between the ticks it separates.
        below = int(np.count_nonzero(distinct < candidate_threshold - 1e-9))
        ax.axvline(below - 0.5, color="black", linestyle=":",
                   label=f"pass threshold {candidate_threshold:g}")
    else:
        lo, hi = float(candidate.min()), float(candidate.max())
        bins = np.linspace(lo, hi if hi > lo else lo + 1, 21)
        # Side-by-side bars per bin: overlaid translucent histograms blend into a third colour.
        ax.hist([values for _, values, _ in classes], bins=bins, alpha=0.85,
                color=[color for _, _, color in classes], label=[label for label, _, _ in classes])
        ax.axvline(candidate_threshold, color="black", linestyle=":",
                   label=f"pass threshold {candidate_threshold:g}")
    ax.set_xlabel(f"{candidate_name} value")
    ax.set_ylabel("proofs")
    ax.set_title(f"{candidate_name} by {reference_name} class\n"
                 f"AUC {_fmt(metrics.auc)}   precision {_fmt(metrics.precision)}   "
                 f"recall {_fmt(metrics.recall)}")
    if len(candidate):
        ax.legend()
    ax.grid(alpha=0.3, axis="y")
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)
    return path
