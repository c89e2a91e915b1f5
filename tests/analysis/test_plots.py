"""The cross-check plots are real PNG files, also for the awkward tables (empty, off-scale)."""

from __future__ import annotations

import pytest

from prover.analysis.metrics import compute_metrics
from prover.analysis.plots import plot_crosscheck
from prover.core.crosscheck_records import PairedValue

pytest.importorskip("matplotlib")


def rows(values):
    return [PairedValue(problem=f"p{i % 3}", proof_id=str(i), reference=r, candidate=c)
            for i, (r, c) in enumerate(values)]


@pytest.mark.parametrize("values,threshold", [
    ([(1, 1.0), (1, 0.5), (0, 0.5), (0, 0.0), (1, 1.0), (0, 0.0)], 1.0),       # discrete scores
    ([(i % 2, i / 29) for i in range(30)], 0.5),                                  # continuous
    ([(1, 7.0), (0, 2.0), (1, 5.0)], 5.0),                                        # off [0, 1]
    ([], 1.0),                                                                    # nothing selected
])
def test_plots_are_pngs(tmp_path, values, threshold):
    import matplotlib.image

    pairs = rows(values)
    m = compute_metrics(pairs, candidate_threshold=threshold, bootstrap=0)
    paths = plot_crosscheck(pairs, m, tmp_path / "plots", reference_name="lean",
                            candidate_name="verifier", candidate_threshold=threshold)
    assert [p.name for p in paths] == ["crosscheck_reliability.png", "crosscheck_distribution.png"]
    for path in paths:
        assert path.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
        height, width = matplotlib.image.imread(path).shape[:2]
        assert height > 300 and width > 300
