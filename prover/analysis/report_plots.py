"""The pictures of ``prover report``, as PNG bytes (matplotlib, Agg)."""

from __future__ import annotations

import io
from collections.abc import Sequence

from prover.analysis.plots import FAIL_COLOR, PASS_COLOR, _pyplot

BLUE = "#2166ac"
GREY = "#999999"


def _png(plt, fig) -> bytes:
    buf = io.BytesIO()
    fig.tight_layout()
    fig.savefig(buf, format="png", dpi=100)
    plt.close(fig)
    return buf.getvalue()


def _empty(ax, text: str) -> None:
    ax.text(0.5, 0.5, text, ha="center", va="center", transform=ax.transAxes, fontsize=12, color=GREY)
    ax.set_xticks([])
    ax.set_yticks([])


def progress_png(rounds: Sequence[dict]) -> bytes:
    """Problems solved (cumulative) and proofs made, per round."""
    plt = _pyplot()
    fig, ax = plt.subplots(figsize=(7.2, 4.2))
    if not rounds:
        _empty(ax, "no informal search")
        return _png(plt, fig)
    xs = [r["round"] for r in rounds]
    bars = ax.twinx()
    bars.bar(xs, [r["proofs"] for r in rounds], color=GREY, alpha=0.35, label="proofs made in the round")
    bars.set_ylabel("proofs")
    ax.set_zorder(bars.get_zorder() + 1)
    ax.patch.set_visible(False)
    ax.plot(xs, [r["solved"] for r in rounds], marker="o", color=PASS_COLOR, label="problems solved (cumulative)")
    ax.plot(xs, [r["searched"] for r in rounds], linestyle="--", color=BLUE, label="problems searched")
    ax.set_xlabel("round (0: generation, then refinements)")
    ax.set_ylabel("problems")
    ax.set_xticks(xs)
    ax.set_ylim(bottom=0)
    ax.set_title("Search progress per round")
    lines, labels = ax.get_legend_handles_labels()
    b_lines, b_labels = bars.get_legend_handles_labels()
    ax.legend(lines + b_lines, labels + b_labels, loc="lower right", fontsize=8)
    ax.grid(alpha=0.3)
    return _png(plt, fig)


def scores_png(analysis_counts: dict[str, int], proof_means: Sequence[float]) -> bytes:
    """Verifier scores: per analysis (0 / 0.5 / 1 / unparsed) and per proof (mean of its parsed ones)."""
    plt = _pyplot()
    fig, (left, right) = plt.subplots(1, 2, figsize=(10, 4.0))
    if sum(analysis_counts.values()):
        names = list(analysis_counts)
        colors = [FAIL_COLOR, "#ef8a62", PASS_COLOR, GREY][:len(names)]
        b = left.bar(names, [analysis_counts[k] for k in names], color=colors)
        left.bar_label(b, fontsize=8)
        left.set_xlabel("score of one analysis")
        left.set_ylabel("analyses")
    else:
        _empty(left, "no analysis")
    left.set_title("Verifier analyses")
    if proof_means:
        right.hist(proof_means, bins=[i / 10 for i in range(11)], color=BLUE, alpha=0.85, edgecolor="white")
        right.set_xlabel("mean score of a proof's parsed analyses")
        right.set_ylabel("proofs")
    else:
        _empty(right, "no proof with a parsed analysis")
    right.set_title("Proofs")
    for ax in (left, right):
        ax.grid(alpha=0.3, axis="y")
    return _png(plt, fig)


def funnel_png(stages: Sequence[tuple[str, int | None]]) -> bytes:
    """The formal funnel as horizontal bars (unknown stages drawn as a note)."""
    plt = _pyplot()
    fig, ax = plt.subplots(figsize=(7.2, 3.6))
    names = [s for s, _ in stages][::-1]
    values = [v for _, v in stages][::-1]
    known = [v or 0 for v in values]
    bars = ax.barh(names, known, color=[BLUE if v is not None else "white" for v in values], edgecolor=GREY)
    ax.bar_label(bars, labels=[str(v) if v is not None else "unknown" for v in values], padding=3, fontsize=8)
    ax.set_xlabel("count")
    ax.set_title("Formal funnel")
    ax.set_xlim(0, max(known + [1]) * 1.25)
    ax.grid(alpha=0.3, axis="x")
    return _png(plt, fig)


def cost_png(by_role: dict[str, dict[str, float]]) -> bytes:
    """Calls and tokens per role."""
    plt = _pyplot()
    fig, (left, right) = plt.subplots(1, 2, figsize=(10, 3.6))
    roles = list(by_role)
    if roles:
        b = left.bar(roles, [by_role[r]["calls"] for r in roles], color=BLUE)
        left.bar_label(b, fontsize=8)
        right.bar(roles, [by_role[r]["prompt_tokens"] for r in roles], color=GREY, label="prompt")
        right.bar(roles, [by_role[r]["completion_tokens"] for r in roles],
                  bottom=[by_role[r]["prompt_tokens"] for r in roles], color=BLUE, label="completion")
        right.legend(fontsize=8)
        for ax in (left, right):
            ax.tick_params(axis="x", labelrotation=20)
    else:
        _empty(left, "no model call")
        _empty(right, "no model call")
    left.set_title("Model calls per role")
    right.set_title("Tokens per role")
    for ax in (left, right):
        ax.grid(alpha=0.3, axis="y")
    return _png(plt, fig)
