"""`run --from <run folder>`: the same experiment again (issue 13), and the two compared."""

from __future__ import annotations

import json

import pytest

from conftest import run_cli
from contract.manifest import Manifest
from experiments.run import rerun


def fake_run(folder, config=None, strategies=("psycopg_copy_binary",), **manifest):
    folder.mkdir(parents=True)
    (folder / "manifest.json").write_text(json.dumps({
        "run_id": folder.name, "config": {"TOTAL_ITEMS": "300", "SEED": "5", "PG": "18", **(config or {})},
        "strategies": [{"name": name} for name in strategies], **manifest}))
    return folder


def test_the_original_settings_come_back_and_a_stale_environment_cannot_change_them(tmp_path):
    original = rerun.load(str(fake_run(tmp_path / "20260101-000000-aaaa", {"RESULTS_DIR": "elsewhere"})))
    assert original.settings == {"TOTAL_ITEMS": "300", "SEED": "5", "PG": "18", "DATABASE_URL": "",
                                 "STRATEGIES": "psycopg_copy_binary"}
    assert original.run_id == "20260101-000000-aaaa"


def test_what_differs_is_named():
    original = rerun.Original(None, Manifest.from_dict({
        "run_id": "r", "git": {"commit": "a" * 40, "dirty": False}, "machine": {"cpu_count": 2, "python": "3.11.7"},
        "packages": {"installed": {"psycopg": "3.2.0", "x": "1"}}}), {})
    same = {"git": {"commit": "a" * 40, "dirty": False}, "machine": {"cpu_count": 2, "python": "3.11.7"},
            "packages": {"installed": {"psycopg": "3.2.0", "x": "1"}}}
    assert rerun.differences(original, same) == ["re-running r: same commit, machine and packages"]
    other = {"git": {"commit": "b" * 40, "dirty": True}, "machine": {"cpu_count": 8, "python": "3.11.7"},
             "packages": {"installed": {"psycopg": "3.3.1", "x": "1"}}}
    lines = rerun.differences(original, other)
    assert lines[0] == "re-running r; differs from the original:"
    assert "  commit: aaaaaaaaaa -> bbbbbbbbbb (uncommitted changes)" in lines
    assert "  cpu_count: 2 -> 8" in lines and "  packages: psycopg 3.2.0 -> 3.3.1" in lines


@pytest.mark.parametrize("case, config, strategies, message", [
    ("dsn", {"DATABASE_URL": "postgresql://bob:***@db/app"}, ("psycopg_copy_binary",),
     "ran against a server given by --dsn"),
    ("gone", {}, ("psycopg_copy_binary", "no_such_strategy"), "strategy no_such_strategy of the original"),
])
def test_what_cannot_be_recreated_is_refused_in_one_line(tmp_path, case, config, strategies, message):
    folder = fake_run(tmp_path / "20260101-000000-aaaa", config, strategies)
    done = run_cli("run", "--from", str(folder), "--results-dir", str(tmp_path / "new"))
    assert done.returncode == 2 and message in done.stderr
    assert len(done.stderr.strip().splitlines()) == 1 and "Traceback" not in done.stderr
    assert not (tmp_path / "new").exists()


def test_not_a_run_folder_is_one_line(tmp_path):
    done = run_cli("run", "--from", str(tmp_path / "nothing"))
    assert done.returncode == 2 and "--from" in done.stderr and "not a run folder" in done.stderr


@pytest.mark.slow
def test_a_run_re_run_from_its_folder_repeats_it_and_compares(tmp_path):
    results = tmp_path / "results"
    first = run_cli("run", "--strategies", "server_only_floor,psycopg_copy_binary", "--items", "300",
                    "--repeat", "3", "--no-memory", "--seed", "11", "--results-dir", str(results))
    assert first.returncode == 0, first.stderr[-2000:]
    (original,) = results.iterdir()
    again = run_cli("run", "--from", str(original), "--results-dir", str(results),
                    env={"UPSERT_BENCH_TOTAL_ITEMS": "999"})  # a stale export changes nothing
    assert again.returncode == 0, again.stderr[-2000:]
    assert f"re-running {original.name}: same commit, machine and packages" in again.stdout
    (copy,) = [p for p in results.iterdir() if p != original]
    before, after = (json.loads((p / "manifest.json").read_text()) for p in (original, copy))
    assert after["rerun_of"]["run_id"] == original.name
    for key in ("seed", "items", "threads", "repeat"):
        assert after[key] == before[key], key
    assert [s["name"] for s in after["strategies"]] == [s["name"] for s in before["strategies"]]
    assert after["config"]["PG"] == before["config"]["PG"]
    compared = run_cli("compare", original.name, copy.name, "--results-dir", str(results))
    assert compared.returncode == 0, compared.stderr
    assert "psycopg_copy_binary-insert" in compared.stdout and "Welch" in compared.stdout
