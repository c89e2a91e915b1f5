"""Checking a proof end to end (screen → assemble → backend → verdict → store) and `prover lean
check` / `prover lean precheck`, with the fake REPL as the backend.

Synthetic responses: Lean answers for the assembled files below were never recorded (and
ProverCheck was never compiled), so each test assembles its response from recorded message
shapes — an info message shaped like the REPL's (severity, pos at column 0, endPos) carrying the
text ProverCheck's source logs, with the nonce the fake REPL read from the file it was sent, at
the epilogue's line — and recorded REPL messages (tests/fixtures/lean_recorded/repl_pairs.jsonl)
moved to the target's lines. Where a response says `nonce=NONCE`, the fake REPL writes in the nonce
of the request's `#prover_check` line (tests/lean/fake_repl.py), as ProverCheck would."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest
from click.testing import CliRunner

from prover.cli.main import cli
from prover.core.lean_records import LeanLimits, ReasonCode, Verdict
from prover.lean.audit import audit
from prover.lean.check import check_proof, constants_used
from prover.lean.toolchain import REPO_ROOT, read_pin

pytestmark = pytest.mark.timeout(60)

DATA = Path(__file__).parent.parent / "fixtures" / "data" / "lean"
PROBLEM = (DATA / "minif2f" / "amc12a_2019_p21.lean").read_text()
PROOF = PROBLEM.replace(":= by sorry", ":= by\n  subst h₀\n  norm_num")
# ProverCheck's report (see the module docstring); NONCE is replaced by the fake REPL.
STANDARD = ("prover_check 1 nonce=NONCE status=ok type=match axioms=propext,Classical.choice,Quot.sound "
            "sorry=0 other=0 used=-")
NATIVE = "prover_check 1 nonce=NONCE status=ok type=match axioms=- sorry=0 other=2 used=-"


def axioms_message(template: str, line: int) -> dict:
    return {"severity": "info", "pos": {"line": line, "column": 0}, "endPos": {"line": line, "column": 60},
            "data": template}


@pytest.fixture
def assembled():
    return audit(PROOF, PROBLEM).assembled()


@pytest.fixture
def pin():
    return read_pin(REPO_ROOT / "lean_project")


def verified_response(assembled) -> dict:
    return {"messages": [axioms_message(STANDARD, assembled.axioms_line)]}


def test_verified_through_the_pool(fake, assembled, pin):
    fake.write({"rules": [{"match": {"cmd_contains": "norm_num"}, "response": verified_response(assembled)}]})
    with fake.pool() as pool:
        out = check_proof(PROOF, PROBLEM, pool, pin=pin)
    r = out.result
    assert r.verdict is Verdict.VERIFIED and out.exit_code == 0
    assert r.axioms == ("propext", "Classical.choice", "Quot.sound")
    assert r.backend == "repl" and r.toolchain == "leanprover/lean4:v4.27.0"
    assert r.mathlib_rev == pin.mathlib_rev and r.repl_rev == "tag:v4.27.0"
    assert r.detail == "prologue: maxHeartbeats 0 → 400000 at problem line 3"  # recorded with the check
    # The pool sent exactly the assembled file: imports once, the rest with env 0.
    reqs = fake.requests()
    assert reqs[0]["request"]["cmd"] == "import Mathlib\nimport ProverCheck"
    sent = reqs[1]["request"]["cmd"].lstrip("\n")
    assert sent.startswith("set_option Elab.async false")
    # the file sent is the stored one with a fresh nonce in its epilogue, nothing else changed
    nonce = sent.rsplit('"', 2)[1]
    assert len(nonce) == 32 and nonce != "0" * 32 and r.assembled == assembled.text
    assert assembled.with_nonce(nonce).endswith(sent)


def test_axioms_report_elsewhere_is_not_verified(fake, assembled, pin):
    """The same report one line off (a proof could print text): not the file's own report."""
    msg = axioms_message(STANDARD, assembled.axioms_line - 1)
    fake.write({"default": {"messages": [msg]}})
    with fake.pool() as pool:
        r = check_proof(PROOF, PROBLEM, pool, pin=pin).result
    assert r.verdict is Verdict.INCOMPLETE
    assert ReasonCode.CHECK_REPORT_MISSING in r.reasons


def test_sorry_warning_error_and_native_axioms(fake, assembled, pair, pin):
    line = assembled.text[: assembled.text.index("theorem")].count("\n") + 1
    warn = [{**m, "pos": {**m["pos"], "line": line}} for m in pair(705)["response"]["messages"]]
    err = [{**m, "pos": {**m["pos"], "line": line + 3}} for m in pair(790)["response"]["messages"]]
    native = axioms_message(NATIVE, assembled.axioms_line)
    ok = verified_response(assembled)["messages"]
    cases = {"warn": (warn + ok, Verdict.INCOMPLETE, ReasonCode.SORRY_WARNING),
             "err": (err + ok, Verdict.FAILED, ReasonCode.LEAN_ERROR),
             "native": ([native], Verdict.UNSOUND_AXIOMS, ReasonCode.NONSTANDARD_AXIOMS)}
    for name, (messages, verdict, reason) in cases.items():
        fake.write({"default": {"messages": messages}})
        with fake.pool() as pool:
            out = check_proof(PROOF, PROBLEM, pool, pin=pin)
        assert (name, out.result.verdict) == (name, verdict)
        assert reason in out.result.reasons
        assert out.exit_code == 1


def test_timeout_and_memory_crash_are_inconclusive(fake, pin):
    fake.write({"rules": [{"match": {"cmd_contains": "norm_num"}, "action": "hang"}]})
    with fake.pool() as pool:
        out = check_proof(PROOF, PROBLEM, pool, pin=pin, limits=LeanLimits(time_s=0.5))
    assert out.result.verdict is Verdict.TIMEOUT and out.exit_code == 3
    assert not out.result.definitive
    fake.write({"rules": [{"match": {"cmd_contains": "norm_num"}, "action": "exit", "exit_code": 1,
                           "stderr": "INTERNAL PANIC: out of memory\n"}]})
    with fake.pool(memory_cap_bytes=8 * 1024**3) as pool:
        out = check_proof(PROOF, PROBLEM, pool, pin=pin)
    assert out.result.verdict is Verdict.CRASHED and out.exit_code == 3
    assert ReasonCode.MEMORY_LIMIT in out.result.reasons
    assert "out of memory (memory cap 8 GiB)" in out.result.detail


def test_rejected_by_the_screen_never_reaches_lean(fake, pin):
    fake.write({"default": {}})
    with fake.pool() as pool:
        out = check_proof(PROOF.replace("norm_num", "native_decide"), PROBLEM, pool, pin=pin)
    assert out.result.verdict is Verdict.REJECTED and out.exit_code == 1
    assert ReasonCode.NATIVE in out.result.reasons
    assert fake.requests() == []


def test_definitive_verdicts_are_cached_in_the_store(fake, assembled, pin, store):
    fake.write({"default": verified_response(assembled)})
    with fake.pool() as pool:
        first = check_proof(PROOF, PROBLEM, pool, pin=pin, store=store)
        second = check_proof(PROOF, PROBLEM, pool, pin=pin, store=store)
        other_limits = check_proof(PROOF, PROBLEM, pool, pin=pin, store=store, limits=LeanLimits(time_s=60))
    assert not first.cached and second.cached and not other_limits.cached
    assert second.result.verdict is Verdict.VERIFIED
    assert len([r for r in fake.requests() if "env" in r["request"]]) == 2
    rows = store.lean_checks_of_file(first.result.file_hash)
    assert len(rows) == 2 and rows[0].proof_text == PROOF


def test_constants_used_are_read_from_the_epilogue_report(fake, pin, store):
    """The epilogue asks which constants the target's proof term uses; the answer is read from
    the report the verdict accepted, fresh or served from the store. Synthetic report: the
    recorded message shape carrying ProverCheck's text with ``used=10`` (never produced by Lean)."""
    constants = ("foo", "Bar.baz")
    with_list = audit(PROOF, PROBLEM).assembled(constants=constants)
    assert with_list.text.rstrip().endswith(" [foo, Bar.baz]")
    report = STANDARD.replace(" used=-", " used=10")
    fake.write({"default": {"messages": [axioms_message(report, with_list.axioms_line)]}})
    with fake.pool() as pool:
        first = check_proof(PROOF, PROBLEM, pool, pin=pin, store=store, constants=constants)
        second = check_proof(PROOF, PROBLEM, pool, pin=pin, store=store, constants=constants)
    assert first.result.verdict is Verdict.VERIFIED and second.cached
    for out in (first, second):
        assert constants_used(out.result, constants) == {"foo": True, "Bar.baz": False}
    # Asked about other constants than the file's epilogue lists: no answer.
    assert constants_used(first.result, ("foo",)) is None
    assert constants_used(first.result, ("Bar.baz", "foo")) is None
    # The same report one line off is not the file's report: no answer either.
    fake.write({"default": {"messages": [axioms_message(report, with_list.axioms_line - 1)]}})
    with fake.pool() as pool:
        off = check_proof(PROOF, PROBLEM, pool, pin=pin, constants=constants).result
    assert off.verdict is not Verdict.VERIFIED and constants_used(off, constants) is None


def test_timeouts_are_stored_but_not_served(fake, pin, store):
    fake.write({"rules": [{"match": {"cmd_contains": "norm_num"}, "action": "hang"}]})
    with fake.pool() as pool:
        for _ in range(2):
            out = check_proof(PROOF, PROBLEM, pool, pin=pin, store=store, limits=LeanLimits(time_s=0.3))
            assert out.result.verdict is Verdict.TIMEOUT and not out.cached
    assert len(store.lean_checks_of_file(out.result.file_hash)) == 2


def test_file_mode_positions_match(tmp_path, assembled, pin):
    """File mode reads the whole assembled file: the report sits at the file's own line."""
    import os
    import sys

    from prover.lean.file_mode import FileBackend

    table = tmp_path / "t.json"
    table.write_text(json.dumps({"rules": [{"contains": "norm_num", "messages": verified_response(assembled)["messages"]}]}))
    fake_lean = Path(__file__).parent / "fake_lean.py"
    backend = FileBackend(tmp_path, [sys.executable, "-S", str(fake_lean), str(table)], memory_cap_bytes=None,
                          env=dict(os.environ))
    r = check_proof(PROOF, PROBLEM, backend, pin=pin).result
    assert r.verdict is Verdict.VERIFIED and r.backend == "file" and r.repl_rev is None


# -- the CLI -----------------------------------------------------------------------------------

@pytest.fixture
def cli_env(fake, tmp_path, monkeypatch):
    """`prover lean check` with the fake REPL as the REPL command ($PROVER_LEAN_REPL)."""
    import shlex

    monkeypatch.setenv("PROVER_LEAN_REPL", shlex.join(fake.command))
    monkeypatch.setenv("FAKE_REPL_LOG", str(fake.log_path))
    (tmp_path / "proof.lean").write_text(PROOF)
    (tmp_path / "problem.lean").write_text(PROBLEM)
    return tmp_path


def _check(tmp_path, *extra):
    return CliRunner().invoke(cli, ["lean", "check", str(tmp_path / "proof.lean"), "--statement-file",
                                    str(tmp_path / "problem.lean"), "--memory-cap-gb", "0", *extra])


def test_cli_check_exit_codes(cli_env, fake, assembled, pair):
    fake.write({"default": verified_response(assembled)})
    res = _check(cli_env)
    assert res.exit_code == 0, res.output
    assert res.output.startswith("verified")
    fake.write({"default": {"messages": []}})
    res = _check(cli_env, "--json")
    # Not a complete answer for the file (no axioms report): inconclusive, not "definitively not".
    assert res.exit_code == 3
    assert json.loads(res.output)["reasons"] == ["check-report-missing"]
    fake.write({"default": {"messages": pair(790)["response"]["messages"] + verified_response(assembled)["messages"]}})
    res = _check(cli_env)
    assert res.exit_code == 1 and res.output.startswith("failed")
    fake.write({"rules": [{"match": {"cmd_contains": "norm_num"}, "action": "hang"}]})
    res = _check(cli_env, "--timeout", "0.5")
    assert res.exit_code == 3 and res.output.startswith("timeout")


def test_cli_check_stores_with_db(cli_env, fake, assembled, tmp_path):
    fake.write({"default": verified_response(assembled)})
    db = str(tmp_path / "checks.db")
    assert _check(cli_env, "--db", db).exit_code == 0
    res = _check(cli_env, "--db", db, "--json")
    assert res.exit_code == 0 and json.loads(res.output)["cached"] is True


def test_cli_check_without_lean_is_3(tmp_path, monkeypatch):
    monkeypatch.delenv("PROVER_LEAN_REPL", raising=False)
    monkeypatch.setenv("PATH", str(tmp_path))
    monkeypatch.setenv("ELAN_HOME", str(tmp_path / "elan"))
    (tmp_path / "proof.lean").write_text(PROOF)
    (tmp_path / "problem.lean").write_text(PROBLEM)
    res = _check(tmp_path, "--backend", "file")
    assert res.exit_code == 3
    assert "no Lean to check with here" in res.output and "elan" in res.output


def test_cli_check_screens_before_looking_for_lean(tmp_path, monkeypatch):
    """A proof the screen rejects is definitively not verified (exit 1, with the screen's
    reasons), also where no Lean is installed."""
    monkeypatch.delenv("PROVER_LEAN_REPL", raising=False)
    monkeypatch.setenv("PATH", str(tmp_path))
    monkeypatch.setenv("ELAN_HOME", str(tmp_path / "elan"))
    (tmp_path / "proof.lean").write_text(PROOF.replace("norm_num", "native_decide"))
    (tmp_path / "problem.lean").write_text(PROBLEM)
    for extra in ((), ("--lean-backend", "file"), ("--backend", "file")):
        res = _check(tmp_path, *extra)
        assert res.exit_code == 1, res.output
        assert res.output.startswith("rejected") and "native" in res.output
    db = str(tmp_path / "checks.db")
    res = _check(tmp_path, "--db", db, "--json")
    assert res.exit_code == 1 and json.loads(res.output)["reasons"] == ["native"]


def test_cli_precheck_marks_incompatible_and_caches(cli_env, fake, tmp_path):
    """PutnamBench's statement fails (an error message recorded from the REPL tests, row 790),
    miniF2F's elaborates with the recorded sorry warning (row 705)."""
    db = str(tmp_path / "p.db")
    shutil.copy(DATA / "putnam" / "putnam_1962_a2.lean", tmp_path / "putnam_1962_a2.lean")
    shutil.copy(DATA / "minif2f" / "amc12a_2019_p21.lean", tmp_path / "amc12a_2019_p21.lean")
    runner = CliRunner()
    for name, coll in (("putnam_1962_a2.lean", "putnam"), ("amc12a_2019_p21.lean", "minif2f")):
        res = runner.invoke(cli, ["problems", "import", str(tmp_path / name), "--db", db, "--collection", coll])
        assert res.exit_code == 0, res.output
    rows = [json.loads(line) for line in (Path(__file__).parent.parent / "fixtures" / "lean_recorded" /
                                          "repl_pairs.jsonl").read_text().splitlines()]
    by_row = {r["row"]: r for r in rows}
    fake.write({"rules": [{"match": {"cmd_contains": "putnam_1962_a2"}, "response": by_row[790]["response"]},
                          {"match": {"cmd_contains": "amc12a_2019_p21"}, "response": by_row[705]["response"]}]})
    res = runner.invoke(cli, ["lean", "precheck", "--db", db, "--memory-cap-gb", "0", "--json"])
    assert res.exit_code == 0, res.output
    out = json.loads(res.output)
    assert out["this_run"] == {"compatible": 1, "incompatible": 1}
    assert out["by_collection"] == {"minif2f": {"compatible": 1, "incompatible": 0, "unchecked": 0},
                                    "putnam": {"compatible": 0, "incompatible": 1, "unchecked": 0}}
    assert out["incompatible"][0]["external_id"] == "putnam_1962_a2"
    assert "unsolved goals" in out["incompatible"][0]["detail"]
    # Each statement went to Lean with `sorry` in place of its proof.
    sent = [r["request"]["cmd"] for r in fake.requests() if "env" in r["request"]]
    assert any("theorem amc12a_2019_p21" in c and c.rstrip().endswith(":= sorry") for c in sent)
    n = len(fake.requests())
    res = runner.invoke(cli, ["lean", "precheck", "--db", db, "--memory-cap-gb", "0", "--json"])
    assert json.loads(res.output)["this_run"] == {"cached-compatible": 1, "cached-incompatible": 1}
    assert len(fake.requests()) == n
    from prover.store import ProofStore

    with ProofStore.open(db) as store:
        pin = read_pin(REPO_ROOT / "lean_project")
        bad = store.incompatible_statement_ids(toolchain=pin.toolchain, mathlib_rev=pin.mathlib_rev)
        assert len(bad) == 1


def test_a_backend_without_prover_check_is_unavailable_not_failed(fake, pin):
    """A Lake project (or Kimina server) where ProverCheck is not built: the import error (in the
    wording of the recorded `unknown module prefix` header failure, tests/lean/test_pool.py) makes
    the check inconclusive, never a cached `failed`."""
    fake.write({"import_errors": {"ProverCheck": "unknown module prefix 'ProverCheck'\n\nNo directory "
                                                 "'ProverCheck' or file 'ProverCheck.olean' in the search path"},
                "default": {}})
    with fake.pool() as pool:
        out = check_proof(PROOF, PROBLEM, pool, pin=pin)
    assert out.result.verdict is Verdict.UNAVAILABLE and not out.result.definitive and out.exit_code == 3
    assert ReasonCode.CHECK_LIBRARY_MISSING in out.result.reasons


def test_a_failed_proof_answered_as_lean_answers_it_is_cached(fake, pin, store, pair):
    """The fake REPL's ``failure`` answer is Lean's on a proof with an error: the recorded
    `unsolved goals` error (row 719) and the epilogue's report of the target admitted with
    `sorry` (synthetic: ProverCheck's text, never produced by Lean). A definitive failure: stored
    and served from the store. The same error without the report is not a whole-file answer:
    stored, never served."""
    constants = ("foo", "Bar.baz")
    failure = {"messages": pair(719)["response"]["messages"]}
    fake.write({"failure": failure})
    with fake.pool() as pool:
        first = check_proof(PROOF, PROBLEM, pool, pin=pin, store=store, constants=constants)
        second = check_proof(PROOF, PROBLEM, pool, pin=pin, store=store, constants=constants)
    r = first.result
    assert r.verdict is Verdict.FAILED and r.definitive
    assert {ReasonCode.LEAN_ERROR, ReasonCode.SORRY_AXIOM} <= set(r.reasons)
    assert constants_used(r, constants) == {"foo": False, "Bar.baz": False}
    assert not first.cached and second.cached and second.result.verdict is Verdict.FAILED
    assert len([e for e in fake.requests() if "env" in e["request"]]) == 1
    fake.write({"default": failure})
    with fake.pool() as pool:
        outs = [check_proof(PROOF.replace("norm_num", "simp"), PROBLEM, pool, pin=pin, store=store)
                for _ in range(2)]
    assert [o.cached for o in outs] == [False, False] and not outs[0].result.definitive
    assert ReasonCode.CHECK_REPORT_MISSING in outs[0].result.reasons
