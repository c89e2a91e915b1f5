"""The command line: exit codes, messages, and that every command explains itself."""

from __future__ import annotations

import json

import click
import pytest
from click.testing import CliRunner

from prover.cli.main import cli


@pytest.fixture
def run(db_path):
    runner = CliRunner()

    def invoke(*args, db=True):
        argv = [str(a) for a in args] + (["--db", str(db_path)] if db else [])
        return runner.invoke(cli, argv, catch_exceptions=False)

    return invoke


def _all_commands(group: click.Group, prefix=()):
    for name, cmd in group.commands.items():
        yield prefix + (name,), cmd
        if isinstance(cmd, click.Group):
            yield from _all_commands(cmd, prefix + (name,))


@pytest.mark.parametrize("path", [p for p, _ in _all_commands(cli)], ids=lambda p: " ".join(p))
def test_every_command_has_help_and_example(path):
    cmd = cli
    for name in path:
        cmd = cmd.commands[name]
    result = CliRunner().invoke(cli, [*path, "--help"])
    assert result.exit_code == 0
    assert cmd.help and cmd.help.strip().splitlines()[0]
    if not isinstance(cmd, click.Group):
        assert "Example:" in cmd.help, f"prover {' '.join(path)} has no example"
        for param in cmd.params:
            if isinstance(param, click.Option) and param.name != "help":
                assert param.help, f"prover {' '.join(path)} {param.opts[0]} has no help"


def test_version():
    result = CliRunner().invoke(cli, ["--version"])
    assert result.exit_code == 0 and "prover, version" in result.output


def test_import_list_show_stats(run, vendored):
    r = run("problems", "import", vendored / "IMO2025_sample.json")
    assert r.exit_code == 0 and "3 problems added" in r.output
    r = run("problems", "import", vendored / "IMO2025_sample.json")
    assert "0 problems added (3 already stored)" in r.output
    r = run("problems", "list", "--json")
    assert [p["external_id"] for p in json.loads(r.output)] == ["IMO2025-1", "IMO2025-2", "IMO2025-3"]
    r = run("problems", "show", "IMO2025-1")
    assert r.exit_code == 0 and "IMO2025_sample/IMO2025-1" in r.output and "sunny" in r.output
    # the reference answer is stored but not printed as part of the problem
    assert "k = 0, 1, 3" not in r.output
    stats = json.loads(run("db", "stats", "--json").output)
    assert stats["tables"]["problems"] == 3 and stats["problems_by_collection"] == {"IMO2025_sample": 3}


def test_bad_data_exit_1_no_traceback(run, tmp_path):
    bad = tmp_path / "bad.jsonl"
    bad.write_text('{"problem_idx": "a", "question": "Q"}\nnot json\n')
    r = run("problems", "import", bad)
    assert r.exit_code == 1
    assert r.output.startswith("Error: ") and f"{bad}:2" in r.output and "Traceback" not in r.output
    assert json.loads(run("db", "stats", "--json").output)["tables"]["problems"] == 0


def test_usage_errors_exit_2(run, vendored, tmp_path):
    r = run("problems", "import", vendored / "proofnet_sample.jsonl", "--field", "nope=x")
    assert r.exit_code == 2 and "unknown NAME 'nope'" in r.output
    run("problems", "import", vendored / "proofnet_sample.jsonl")
    r = run("problems", "show", "exercise_3_3")
    assert r.exit_code == 2 and "ambiguous" in r.output and "proofnet_sample/exercise_3_3" in r.output
    r = CliRunner().invoke(cli, ["db", "stats", "--db", str(tmp_path / "missing.db")])
    assert r.exit_code == 2 and "no database" in r.output and not (tmp_path / "missing.db").exists()


def test_read_only_database_exit_1_one_line(vendored, tmp_path):
    """A read-only connection stands in for a read-only file (tests run as root)."""
    from prover.store import ProofStore

    db = tmp_path / "ro.db"
    ProofStore.open(db).close()
    ro = f"sqlite:///file:{db}?mode=ro&uri=true"
    r = CliRunner().invoke(cli, ["problems", "import", str(vendored / "IMO2025_sample.json"), "--db", ro],
                           catch_exceptions=False)
    assert r.exit_code == 1 and "Traceback" not in r.output
    assert r.output.count("\n") == 1 and r.output.startswith(f"Error: cannot write the database {db}: ")


def test_debug_shows_traceback(run, tmp_path):
    bad = tmp_path / "bad.jsonl"
    bad.write_text("oops\n")
    from prover.core.errors import BadDataError

    with pytest.raises(BadDataError):
        CliRunner().invoke(cli, ["--debug", "problems", "import", str(bad), "--db", str(tmp_path / "d.db")],
                           catch_exceptions=False)


def test_db_export_loads_with_datasets(run, vendored, tmp_path):
    run("problems", "import", vendored / "putnambench_sample.jsonl")
    out = tmp_path / "fs.parquet"
    r = run("db", "export", "formal_statements", "--format", "parquet", "--out", out)
    assert r.exit_code == 0 and "4 rows" in r.output
    r = run("db", "export", "problems", "--format", "jsonl", "--out", tmp_path / "p.jsonl")
    datasets = pytest.importorskip("datasets")
    ds = datasets.load_dataset("parquet", data_files=str(out), split="train")
    assert len(ds) == 4 and "statement" in ds.column_names
    ds = datasets.load_dataset("json", data_files=str(tmp_path / "p.jsonl"), split="train")
    assert sorted(ds["external_id"])[0] == "putnam_1962_a1"


def test_problems_list_says_when_it_shows_only_the_first(run, vendored):
    run("problems", "import", vendored / "putnambench_sample.jsonl", "--collection", "pb")
    r = run("problems", "list", "--limit", "3")
    assert r.exit_code == 0 and len(r.stdout.splitlines()) == 4  # header + 3
    assert r.stderr == "showing the first 3 of 4 problems (--limit N shows N, --limit 0 all)\n"
    r = run("problems", "list", "--limit", "4")
    assert r.stderr == "" and len(r.stdout.splitlines()) == 5
    r = run("problems", "list", "--limit", "0", "--json")
    assert r.stderr == "" and len(json.loads(r.stdout)) == 4
    r = run("problems", "list", "--collection", "pb", "--limit", "1", "--json")
    assert len(json.loads(r.stdout)) == 1 and "first 1 of 4" in r.stderr


def _options(cmd: click.Command) -> dict[str, click.Option]:
    return {opt: p for p in cmd.params if isinstance(p, click.Option) for opt in p.opts}


def test_lean_backend_option_has_one_name():
    """The option choosing a Lean backend is --lean-backend in every command (`prover run`'s
    --backend is the model's); `prover lean check|precheck` still accept their old --backend."""
    from prover.lean.backends import BACKENDS

    found = []
    for path, cmd in _all_commands(cli):
        for p in cmd.params:
            lean = isinstance(p, click.Option) and isinstance(p.type, click.Choice) and set(p.type.choices) <= set(
                BACKENDS)
            if lean and not p.hidden:
                found.append((" ".join(path), tuple(p.opts)))
    assert found and all(opts == ("--lean-backend",) for _, opts in found), found
    assert {name for name, _ in found} >= {"lean check", "lean precheck", "run", "formalize"}
    assert _options(cli.commands["lean"].commands["check"])["--backend"].hidden


def test_lean_help_does_not_claim_no_lean_for_all():
    r = CliRunner().invoke(cli, ["lean", "--help"])
    assert r.exit_code == 0 and "(no Lean needed)" not in r.output
    assert "audit and explain need no Lean" in r.output
    listed = CliRunner().invoke(cli, ["--help"]).output
    assert "no Lean needed" not in listed


def test_report_output_is_ignored_and_no_wheel_is_committed():
    """`prover report` writes ./report/ by default: git ignores it. Build artefacts such as wheels
    are never part of the repository."""
    import shutil
    import subprocess
    from pathlib import Path

    root = Path(__file__).resolve().parents[2]
    if shutil.which("git") is None or not (root / ".git").exists():
        pytest.skip("not a git checkout")
    default_out = next(p for p in cli.commands["report"].params if p.name == "out_dir").default
    ignored = subprocess.run(["git", "check-ignore", "-q", f"{default_out}/report.html"], cwd=root)
    assert ignored.returncode == 0, f"{default_out}/ is not in .gitignore"
    tracked = subprocess.run(["git", "ls-files", "*.whl"], cwd=root, capture_output=True, text=True).stdout
    assert tracked == ""
