"""``prover report`` on a small database built in the test (scripted informal searches, human
grades, formal labels from constructed evidence): its numbers, its run scope, its files, and the
page rendered in headless Chromium with every image loaded (the screenshot is kept under
``test-artifacts/``)."""

from __future__ import annotations

import base64
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
from labeldb import add_grade

from prover.analysis.formal_evidence import FUNNEL_STAGES
from prover.analysis.labels import build_labels
from prover.analysis.report import report_data, write_report
from prover.core.errors import NotFoundError
from prover.core.label_records import FormalEvidence, StepEvidence
from prover.core.records import ProblemRecord
from prover.store import ProofStore

sys.path.insert(0, str(Path(__file__).parents[1] / "informal"))
from informal_support import Refiner  # noqa: E402

ARTIFACTS = Path(__file__).parents[2] / "test-artifacts"
PNG = b"\x89PNG\r\n\x1a\n"


def _search(store, tokens, **knob_over):
    from prover.core.informal_records import SearchConfig, SearchKnobs
    from prover.core.llm_records import ModelConfig, RoleSettings
    from prover.llm import ScriptedBackend
    from prover.pipeline.run import run_informal

    backend = ScriptedBackend(Refiner(answer="7"))
    knobs = dict(proofs=2, verifications=2, rounds=2, refine_top=1, analyses_per_refinement=2, meta_verifications=1,
                 proofs_per_refinement=1)
    knobs.update(knob_over)
    mc = ModelConfig(defaults=RoleSettings(backend="scripted", max_retries=0, backoff_s=0))
    return run_informal(store, list(tokens), config=SearchConfig(knobs=SearchKnobs(**knobs)), model_config=mc,
                        backends={r: backend for r in ("generator", "verifier", "meta_verifier", "judge")},
                        progress=False)


def _formal(proof_id: int, **over) -> FormalEvidence:
    base = dict(proof_id=proof_id, statement_origin="autoformalized", faithfulness="gated", verified_check_id=1,
                verdict="verified", from_sketch=True, sketch_id=1,
                steps=[StepEvidence(index=0, votes=[True], aligned=True)])
    base.update(over)
    return FormalEvidence(**base)


@pytest.fixture(scope="module")
def db(tmp_path_factory):
    """Two runs: run A searches three `alpha` problems (split test), run B two `beta` problems
    with reference answers; then human grades, informal labels and formal labels."""
    path = tmp_path_factory.mktemp("report") / "report.db"
    store = ProofStore.open(path)
    store.add_problems([ProblemRecord(collection="alpha", external_id=f"a{i}", informal_statement=f"Prove claim {i}.",
                                      split="test") for i in range(3)]
                       + [ProblemRecord(collection="beta", external_id=f"b{i}", informal_statement=f"Compute {i}.",
                                        reference_answer="7") for i in range(2)])
    run_a = _search(store, ["alpha/a0", "alpha/a1", "alpha/a2"]).run_id
    run_b = _search(store, ["beta/b0", "beta/b1"], rounds=0).run_id
    proofs = {p.external_id: store.proofs_of(p.id) for p in store.list_problems()}
    for i, proof in enumerate(proofs["a0"] + proofs["b0"]):
        add_grade(store, proof.id, [1.0, 0.0, 6 / 7][i % 3])
    refined = [p for p in proofs["a1"] if p.round > 0][0]
    drafts = [p for p in proofs["a2"] if p.round == 0]
    evidence = [_formal(refined.id), _formal(drafts[0].id, statement_refuted=True, verified_check_id=None,
                                             verdict=None, from_sketch=False, sketch_id=None)]
    build_labels(store, formal_evidence_source=lambda _s: evidence, final_check="none")
    store.close()
    return path, run_a, run_b


def test_report_numbers(db):
    path, run_a, run_b = db
    with ProofStore.open(path) as store:
        data = report_data(store, bootstrap=50)
    by = {(c["collection"], c["split"]): c for c in data.collections}
    assert set(by) == {("alpha", "test"), ("beta", "–")}
    alpha, beta = by[("alpha", "test")], by[("beta", "–")]
    assert (alpha["problems"], alpha["searched"], alpha["solved"], alpha["formally_verified"]) == (3, 3, 3, 1)
    assert (beta["problems"], beta["solved"], beta["answer_match"], beta["with_reference"]) == (2, 0, 2, 2)
    assert alpha["calls"] > 0 and data.totals["problems"] == 5
    # no formal attempt proved a statement, no statement is marked incompatible
    assert alpha["statement_proved"] == 0 and alpha["incompatible"] == 0
    # round 0: drafts graded 0.5; round 1: alpha refinements pass
    assert [(r["round"], r["proofs"], r["solved"]) for r in data.progress] == [(0, 10, 0), (1, 3, 3)]
    assert data.analysis_scores == {"0": 0, "0.5": 20, "1": 6, "unparsed": 0}
    refs = {c["reference"]: c for c in data.crosschecks}
    assert set(refs) == {"lean", "human", "answer"}
    assert (refs["lean"]["n"], refs["lean"]["tp"], refs["lean"]["tn"]) == (2, 1, 1)
    assert refs["human"]["n"] == 5  # a0: two drafts and a refinement; b0: two drafts
    assert all(name in data.images for c in data.crosschecks for name in c["images"])
    assert data.funnel == [(stage, 0) for stage in FUNNEL_STAGES]
    assert data.labels["formal"] == {"0": 1, "1": 1} and data.labels["human"] == {"1": 2, "0": 2, "0.857143": 1}
    assert data.cost["by_role"]["verifier"]["calls"] == 26 and data.cost["total"]["calls"] == 26 + 13 + 20
    assert any("Scripted backend" in b for b in data.banners)
    # beta's answers ("7") match the reference exactly: no judge call needed, none saved by math-verify
    assert data.answers["methods"] == {"exact": 4} and data.answers["judge_calls_saved"] == 0
    assert (data.answers["verifier_passed"], data.answers["passed_mismatched"]) == (0, 0)


def test_report_of_one_run(db):
    path, run_a, run_b = db
    with ProofStore.open(path) as store:
        data = report_data(store, run_id=run_b, bootstrap=0)
        with pytest.raises(NotFoundError):
            report_data(store, run_id=999)
    assert [c["collection"] for c in data.collections] == ["beta"]
    assert [(r["round"], r["proofs"]) for r in data.progress] == [(0, 4)]
    assert [r["id"] for r in data.runs] == [run_b]
    assert data.cost["by_role"]["generator"]["calls"] == 4
    assert "lean" not in {c["reference"] for c in data.crosschecks}  # no formal label among beta's proofs
    assert data.title.startswith(f"prover report — run {run_b}")


def test_report_files(db, tmp_path):
    path, *_ = db
    with ProofStore.open(path) as store:
        result = write_report(store, tmp_path / "rep", bootstrap=0)
    page = result.html.read_text()
    md = result.markdown.read_text()
    images = re.findall(r"src='data:image/png;base64,([A-Za-z0-9+/=]+)'", page)
    assert len(images) == len(result.images) == len(result.data.images) >= 8
    assert all(base64.b64decode(b)[:8] == PNG for b in images)
    assert "src='http" not in page and "<link" not in page  # self-contained
    for title in ("Per collection and split", "Search progress per round", "Score distributions",
                  "Verifier against references", "Formal funnel", "Labels", "Cost"):
        assert f"## {title}" in md and f"{title}</h2>" in page
    for img in result.images:
        assert img.read_bytes()[:8] == PNG and f"(images/{img.name})" in md
    assert "| alpha | test | 3 | 3 | 3 |" in md
    assert (tmp_path / "rep" / "report.json").exists()


def _chromium() -> str | None:
    for name in ("chromium", "chromium-browser", "google-chrome"):
        if shutil.which(name):
            return shutil.which(name)
    return None


def _headless(exe: str, profile: Path, *args: str) -> subprocess.CompletedProcess:
    profile.mkdir(parents=True, exist_ok=True)
    return subprocess.run([exe, "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
                           "--disable-background-networking", "--disable-component-update", "--disable-sync",
                           f"--user-data-dir={profile}", *args], capture_output=True, text=True, timeout=120)


def test_report_renders_in_headless_chromium(db, tmp_path):
    exe = _chromium()
    if exe is None:
        pytest.skip("headless Chromium not installed (apt-get install -y chromium)")
    path, *_ = db
    with ProofStore.open(path) as store:
        result = write_report(store, tmp_path / "rep", bootstrap=0)
    url = result.html.resolve().as_uri()
    dom = _headless(exe, tmp_path / "profile-dom", "--virtual-time-budget=10000", "--dump-dom", url)
    assert dom.returncode == 0, dom.stderr[-2000:]
    body = re.search(r"<body[^>]*>", dom.stdout)
    assert body, dom.stdout[:500]
    n = len(result.data.images)
    assert f'data-images="{n}"' in body.group(0)
    assert f'data-images-loaded="{n}"' in body.group(0) and 'data-images-broken="0"' in body.group(0)
    assert "Per collection and split" in dom.stdout
    ARTIFACTS.mkdir(exist_ok=True)
    shot = ARTIFACTS / "report.png"
    shot.unlink(missing_ok=True)
    r = _headless(exe, tmp_path / "profile-shot", "--hide-scrollbars", "--window-size=1280,4000",
                  f"--screenshot={shot}", url)
    assert r.returncode == 0, r.stderr[-2000:]
    data = shot.read_bytes()
    assert data[:8] == PNG
    width, height = int.from_bytes(data[16:20], "big"), int.from_bytes(data[20:24], "big")
    assert (width, height) == (1280, 4000)
