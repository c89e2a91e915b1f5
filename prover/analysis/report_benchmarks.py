"""The benchmark section of ``prover report``: stored evaluations beside the published figures,
as rows and as a plot."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from prover.analysis.evaluation import published_figures

if TYPE_CHECKING:
    from prover.store import ProofStore


def benchmark_rows(store: ProofStore, run_id: int | None = None) -> list[dict[str, Any]]:
    """One row per (evaluation, group), with the published figures of that group; only the
    evaluations of ``run_id`` when given."""
    rows = []
    for e in store.list_evaluations():
        if run_id is not None and e.run_id != run_id:
            continue
        figures = published_figures(e.benchmark)
        for g in e.groups:
            # A formal evaluation's groups are pass@k: the published figures of its split go beside each.
            group = g.group if e.formal is None else (e.split if e.split != "all" else "test")
            rows.append({"eval_id": e.eval_id, "benchmark": e.benchmark, "group": g.group, "percent": g.percent,
                         "ci": g.ci, "problems": g.problems, "graded": g.graded, "scripted": e.scripted,
                         "models": e.models,
                         "published": [{"system": f.system, "value": f.value, "approximate": f.approximate,
                                        "source": f.source, "arxiv": f.arxiv, "metric": f.metric}
                                       for f in figures if f.group == group]})
    return rows


def benchmark_table(rows: list[dict[str, Any]]) -> tuple[list[str], list[list[str]]]:
    def pct(v):
        return "-" if v is None else f"{v:.1f}"

    out = []
    for r in rows:
        ci = "-" if r["ci"] is None else f"[{r['ci'][0]:.1f}, {r['ci'][1]:.1f}]"
        published = "; ".join(f"{p['system']} {'~' if p['approximate'] else ''}{p['value']:.1f}"
                              + (f" {p['metric']}" if p["metric"] != "% of max score" else "")
                              + (f" (arXiv:{p['arxiv']})" if p["arxiv"] else "") for p in r["published"])
        out.append([str(r["eval_id"]), r["benchmark"], r["group"],
                    pct(r["percent"]) + (" (scripted, not a result)" if r["scripted"] else ""), ci,
                    str(r["problems"]), str(r["graded"]), published or "-"])
    return ["evaluation", "benchmark", "group", "ours %", "95% CI", "problems", "graded", "published"], out


def benchmarks_png(rows: list[dict[str, Any]]) -> bytes:
    """Ours (with intervals) against the published figures, one cluster per (evaluation, group)."""
    from prover.analysis.plots import _pyplot
    from prover.analysis.report_plots import BLUE, GREY, _empty, _png

    plt = _pyplot()
    fig, ax = plt.subplots(figsize=(8.0, 4.2))
    rows = [r for r in rows if r["group"] != "all" or not any(x["eval_id"] == r["eval_id"] and x["group"] != "all"
                                                              for x in rows)]
    if not rows:
        _empty(ax, "no evaluation")
        return _png(plt, fig)
    systems = list(dict.fromkeys(p["system"] for r in rows for p in r["published"]))
    width = 0.8 / (1 + len(systems))
    colors = ["#b2182b", "#ef8a62", "#67a9cf", "#1b7837", "#762a83"]
    for i, r in enumerate(rows):
        value = r["percent"] or 0.0
        err = None
        if r["ci"] is not None:
            err = [[value - r["ci"][0]], [r["ci"][1] - value]]
        ax.bar(i, value, width, color=GREY if r["scripted"] else BLUE, yerr=err, capsize=3,
               label="ours (scripted, not a result)" if r["scripted"] else "ours")
        for j, s in enumerate(systems):
            fig_ = next((p for p in r["published"] if p["system"] == s), None)
            if fig_ is not None:
                ax.bar(i + (j + 1) * width, fig_["value"], width, color=colors[j % len(colors)], label=s)
    ax.set_xticks([i + len(systems) * width / 2 for i in range(len(rows))])
    ax.set_xticklabels([f"#{r['eval_id']} {r['benchmark']}\n{r['group']}" for r in rows], fontsize=8)
    ax.set_ylabel("% of max score (graded), pass@k (formal)")
    ax.set_ylim(0, 100)
    handles, labels = ax.get_legend_handles_labels()
    seen = {}
    for h, lab in zip(handles, labels):
        seen.setdefault(lab, h)
    ax.legend(seen.values(), seen.keys(), fontsize=8, loc="upper right")
    ax.set_title("Benchmarks: ours against published figures")
    ax.grid(axis="y", alpha=0.3)
    return _png(plt, fig)
