"""The analysis of issue 23's runs, on small synthetic run folders with known answers: every
phase in every table and figure, the rows group's columns as configurations (old runs' labels
unchanged), what keys given twice did (duplicates.csv), and what skipping unchanged rows saves
(writes.csv, its figure, its pairs in significance.csv)."""

from __future__ import annotations

import csv
import json
import math

import numpy as np
import pytest

from analysis.build import build
from analysis.duplicate_outcomes import duplicate_outcomes, kept_stale
from analysis.load import VARIANT_PARTS, configurations, load_runs, variant_label
from analysis.significance import PAIR_TEST, SKIP_QUESTION, key_pairs, significance
from analysis.skipping import blind_counterpart, skip_pairs, writes
from contract.manifest import Manifest
from contract.row import COLUMNS, error_kind
from contract.workload import PHASES, STALE, address_row, user_row

ITEMS = 300
CARDINALITY = "CardinalityViolation: ON CONFLICT DO UPDATE command cannot affect row a second time"


def stale_error(first_id: int = 10, rows: int = 30, stale: bool = True) -> str:
    """What verify writes when the stale copy won (or, `stale` False, some other wrong values)."""
    name = user_row(first_id, STALE if stale else "contend", ITEMS)[1]
    street = address_row(first_id, STALE if stale else "contend", ITEMS)[2]
    return (f"{rows} users rows differ, first id {first_id}: name expected 'x' got {name!r}; karma expected 1 got 2; "
            f"{rows} addresses rows differ, first id {first_id}: street expected 'y' got {street!r}")


def write_run(results, run_id, passes, config=None, strategies=(), rounds=3, common=None):
    """A run folder: `passes` maps (strategy, phase) to a dict of columns for every round, or to a
    function of the round (1-based) giving that dict; `common`: columns of every pass. Blank
    columns stay blank (as in older runs)."""
    folder = results / run_id
    folder.mkdir(parents=True)
    with open(folder / "results.csv", "w", newline="") as f:
        out = csv.DictWriter(f, fieldnames=COLUMNS)
        out.writeheader()
        for repeat in range(1, rounds + 1):
            for order, ((strategy, phase), columns) in enumerate(passes.items()):
                values = columns(repeat) if callable(columns) else dict(columns)
                ok = values.pop("success", True)
                error = values.pop("error", "" if ok else "boom")
                out.writerow({"run_id": run_id, "strategy": strategy, "phase": phase, "repeat": repeat,
                              "items": ITEMS, "threads": 4, "backend": "embedded", "pg_version": "18.1",
                              "duration_s": 0.1, "peak_memory_mb": 10.0 + repeat, "success": ok, "error": error,
                              "error_kind": error_kind(error), "counts_ok": ok, "values_ok": ok,
                              "wal_bytes": 60_000, "dead_tuples": 0, "hot_updates": 0,
                              "client_cpu_s": 0.03, "server_cpu_s": 0.04, "background_cpu_s": 0.0,
                              "library": "psycopg2", "technique": "on_conflict", "reference": strategy == "floor",
                              "order": order, "seed": 1, "server": "embedded:18",
                              "started_at": "2026-01-01T00:00:00+00:00", **(common or {}), **values})
    manifest = {"run_id": run_id, "started_at": "2026-01-02T03:04:05+00:00",
                "git": {"commit": "abcdef1234567", "dirty": False},
                "machine": {"cpu_model": "Test CPU", "cpu_count": 2, "memory_gb": 8, "python": "3.11.7"},
                "packages": {"installed": {}, "lock_sha256": "0123456789abcdef"},
                "config": config or {"CONTENTION": "0", "PG_SETTINGS": ""},
                "strategies": [{"name": s, "comprehensibility": {"loc": 10 + k, "complexity": 2, "apis": 3,
                                                                 "raw_sql": True}} for k, s in enumerate(strategies)]}
    (folder / "manifest.json").write_text(json.dumps(manifest))
    (folder / "git.diff").write_text("")
    return folder


# -- configurations -----------------------------------------------------------------------------

def test_old_runs_keep_their_variant_labels():
    """A manifest from before the rows group (no TABLE_ROWS, ...) and a pass without the columns:
    the label is what it always was, part for part."""
    config = {"CONTENTION": "1", "TRANSPORT": "tcp", "PG_SETTINGS": "synchronous_commit=off;fsync=off"}
    manifest = Manifest.from_dict({"config": config})
    assert variant_label(manifest, "embedded", True) == "contention+tcp+relay+synchronous_commit=off+fsync=off"
    assert variant_label(manifest, "docker", False) == "contention+synchronous_commit=off+fsync=off"
    assert variant_label(Manifest.from_dict({"config": {}})) == "default"
    blank = {"phase": "mixed", "table_rows": math.nan, "duplicate_keys": math.nan, "hit_ratio": math.nan}
    assert variant_label(Manifest.from_dict({"config": {}}), "embedded", False, checkpoint=False) == "no-checkpoint"
    assert variant_label(Manifest.from_dict({"config": {}}), "embedded", False, **blank) == "default"
    assert len(VARIANT_PARTS) == 8  # one place lists them: a new part is one more line there


def test_other_rows_duplicates_and_hit_ratio_are_configurations(tmp_path):
    """table_rows and duplicate_keys split every phase; a hit ratio other than 0.5 splits the mixed
    phase only; blank columns (older runs) pool with 0."""
    results = tmp_path / "r"
    shape = {("a", "insert"): {}, ("a", "mixed"): {}}
    write_run(results, "20260101-000000-aaaa", shape)  # the rows columns blank: an older run
    write_run(results, "20260102-000000-bbbb", {k: {"table_rows": 0, "duplicate_keys": 0,
                                                    "hit_ratio": 0.5 if k[1] == "mixed" else ""} for k in shape})
    write_run(results, "20260103-000000-cccc", {k: {"table_rows": 2000} for k in shape})
    write_run(results, "20260104-000000-dddd", {k: {"duplicate_keys": 10} for k in shape})
    write_run(results, "20260105-000000-eeee", {k: {"hit_ratio": 0.3 if k[1] == "mixed" else ""} for k in shape})
    passes = load_runs(results).passes
    variants = passes.groupby(["run_id", "phase"])["variant"].first().to_dict()
    assert variants[("20260101-000000-aaaa", "mixed")] == variants[("20260102-000000-bbbb", "mixed")] == "default"
    assert variants[("20260103-000000-cccc", "insert")] == "table_rows=2000"
    assert variants[("20260104-000000-dddd", "mixed")] == "duplicates=10%"
    assert variants[("20260105-000000-eeee", "insert")] == "default"
    assert variants[("20260105-000000-eeee", "mixed")] == "hit_ratio=0.3"
    variants_seen = {c[4] for c in configurations(passes)}
    assert variants_seen == {"default", "table_rows=2000", "duplicates=10%", "hit_ratio=0.3"}
    default = passes[(passes["variant"] == "default") & (passes["phase"] == "mixed")]
    assert set(default["run_id"]) == {"20260101-000000-aaaa", "20260102-000000-bbbb"}  # pooled: the same


# -- keys given twice ---------------------------------------------------------------------------

def test_kept_stale_reads_the_first_differing_row():
    assert kept_stale(stale_error(), ITEMS)
    assert not kept_stale(stale_error(stale=False), ITEMS)
    assert not kept_stale(CARDINALITY, ITEMS)


@pytest.fixture
def doubled(tmp_path):
    results = tmp_path / "r"
    write_run(results, "20260101-000000-aaaa", {
        ("row_by_row", "insert"): {}, ("row_by_row", "unchanged"): {},
        ("values", "insert"): {"success": False, "error": CARDINALITY + "\nCONTEXT: more"},
        ("values", "unchanged"): {"success": False, "error": CARDINALITY},
        ("then_insert", "insert"): {"success": False, "error": 'UniqueViolation: duplicate key value violates '
                                                             'unique constraint "users_pkey"'},
        ("then_insert", "unchanged"): {"success": False, "error": stale_error()},
        ("odd", "insert"): {"success": False, "error": stale_error(stale=False, rows=7)},
        ("odd", "unchanged"): lambda repeat: {"success": repeat != 2, "error": "" if repeat != 2 else CARDINALITY},
    }, config={"CONTENTION": "0", "PG_SETTINGS": "", "DUPLICATE_KEYS": "10"}, common={"duplicate_keys": 10})
    return results


def test_duplicate_outcomes_ok_fails_and_wrong_values(doubled):
    table = duplicate_outcomes(load_runs(doubled).passes).set_index(["strategy", "phase"])
    assert list(table.index.get_level_values("phase")[:2]) == ["insert", "unchanged"]  # PHASES order
    ok = table.loc[("row_by_row", "insert")]
    assert (ok["outcome"], ok["n"], ok["n_ok"], ok["error_kind"]) == ("ok", 3, 3, "")
    assert ok["median_duration"] == pytest.approx(0.1)
    fails = table.loc[("values", "insert")]
    assert (fails["outcome"], fails["error_kind"], fails["reason"]) == ("fails", "cardinality_violation", CARDINALITY)
    assert table.loc[("then_insert", "insert"), "error_kind"] == "unique_violation"
    stale = table.loc[("then_insert", "unchanged")]
    assert (stale["outcome"], stale["error_kind"], stale["rows_differ"], stale["kept_stale"]) == (
        "wrong values", "wrong_values", 30, True)
    assert stale["reason"] == "30 users rows differ, first id 10"
    odd = table.loc[("odd", "insert")]
    assert (odd["outcome"], odd["rows_differ"], odd["kept_stale"]) == ("wrong values", 7, False)
    split = table.loc[("odd", "unchanged")]
    assert (split["outcome"], split["n_ok"], split["error_kind"]) == ("ok / fails", 2, "cardinality_violation")
    assert table["variant"].unique().tolist() == ["duplicates=10%"]


def test_duplicates_report_section(doubled, tmp_path):
    build(doubled, tmp_path / "out", echo=lambda _: None, kinds=[])
    assert (tmp_path / "out" / "duplicates.csv").exists()
    report = (tmp_path / "out" / "REPORT.md").read_text()
    section = report[report.index("## Keys given twice in the input"):]
    header = next(line for line in section.splitlines() if line.startswith("| strategy"))
    assert [c.strip() for c in header.strip("|").split("|")] == ["strategy", "insert", "unchanged"]
    cells = {line.split("|")[1].strip(): [c.strip() for c in line.strip("|").split("|")[1:]]
             for line in section.splitlines() if line.startswith("| `")}
    assert cells["`row_by_row`"] == ["ok", "ok"]
    assert cells["`values`"] == ["fails: cardinality_violation", "fails: cardinality_violation"]
    assert cells["`then_insert`"] == ["fails: unique_violation", "wrong values: kept stale (30 of 300 rows)"]
    assert cells["`odd`"] == ["wrong values (7 of 300 rows)", "ok; fails: cardinality_violation (2/3 ok)"]
    assert "- **Safe** (the later row won in every phase and pass): `row_by_row`." in section
    assert "- **Silently wrong**" in section and "`then_insert` (unchanged)" in section


# -- skipping unchanged rows --------------------------------------------------------------------

def test_the_pairs_come_from_the_names():
    assert blind_counterpart("psycopg2_copy_merge_skip_unchanged") == "psycopg2_copy_merge"
    assert blind_counterpart("psycopg2_copy_merge") is None
    assert skip_pairs(["a_skip_unchanged", "a", "b_skip_unchanged", "c"]) == [("a_skip_unchanged", "a")]
    assert key_pairs(["a_skip_unchanged", "a"])[-1] == ("a", "a_skip_unchanged", SKIP_QUESTION)


def skipping_passes(rng):
    """blind writes 1,200 bytes of WAL per pass's row pair in every phase and leaves a dead tuple
    per row where it updates; skip the same, but in `unchanged` a quarter of the WAL and no dead
    tuple, in half the time (each round's own drift shared by both)."""
    drift = {r: float(np.exp(rng.normal(0, 0.2))) for r in range(1, 6)}
    passes = {}
    for phase in PHASES:
        dead = 0 if phase == "insert" else ITEMS * 2
        for strategy, wal, dead_tuples, speed in (("blind", 1.0, dead, 1.0),
                                                  ("blind_skip_unchanged", 0.25 if phase == "unchanged" else 1.0,
                                                   0 if phase == "unchanged" else dead,
                                                   0.5 if phase == "unchanged" else 1.0),
                                                  ("floor", 0.5, dead, 0.3)):
            passes[(strategy, phase)] = (lambda repeat, wal=wal, dead_tuples=dead_tuples, speed=speed: {
                "wal_bytes": int(wal * 600 * 2 * ITEMS), "dead_tuples": dead_tuples, "hot_updates": 0,
                "duration_s": round(0.2 * speed * drift[repeat] * float(np.exp(rng.normal(0, 0.02))), 6)})
    return passes


def test_writes_table_and_its_ratios(tmp_path):
    write_run(tmp_path / "r", "20260101-000000-aaaa", skipping_passes(np.random.default_rng(3)), rounds=5)
    passes = load_runs(tmp_path / "r").passes
    table = writes(passes)
    assert list(dict.fromkeys(table["phase"])) == list(PHASES)
    skip = table[table["strategy"] == "blind_skip_unchanged"].set_index("phase")
    assert set(table.loc[table["blind"] != "", "strategy"]) == {"blind_skip_unchanged"}
    assert skip.loc["unchanged", "wal_vs_blind"] == pytest.approx(0.25)
    assert skip.loc["update", "wal_vs_blind"] == pytest.approx(1.0)
    assert skip.loc["unchanged", "wal_per_row"] == pytest.approx(150)
    assert skip.loc["unchanged", "dead_tuples_vs_blind"] == 0 and skip.loc["update", "dead_tuples_per_row"] == 1
    assert skip.loc["unchanged", "duration_vs_blind"] == pytest.approx(0.5, rel=0.05)
    assert skip.loc["unchanged", "duration_vs_blind_low"] < 0.5 < skip.loc["unchanged", "duration_vs_blind_high"]
    assert skip.loc["update", "duration_vs_blind_low"] < 1 < skip.loc["update", "duration_vs_blind_high"]
    blind = table[table["strategy"] == "blind"]
    assert blind["wal_vs_blind"].isna().all() and (blind["blind"] == "").all()
    assert blind["geomean_duration"].notna().all() and (blind["ci_low"] < blind["ci_high"]).all()
    pairs = significance(passes)
    asked = pairs[(pairs["test"] == PAIR_TEST) & (pairs["question"] == SKIP_QUESTION)]
    assert sorted(asked["phase"]) == sorted(PHASES)


def test_no_pair_no_writes_table(tmp_path):
    write_run(tmp_path / "r", "20260101-000000-aaaa", {("a", "insert"): {}, ("b", "insert"): {}})
    assert writes(load_runs(tmp_path / "r").passes).empty


def test_four_phases_render_in_every_figure_and_the_report(tmp_path):
    passes = skipping_passes(np.random.default_rng(5))
    passes[("blind", "update")] = lambda repeat: {"success": False, "error": "boom"}  # failed: written so
    write_run(tmp_path / "r", "20260101-000000-aaaa", passes, rounds=4,
              strategies=("blind", "blind_skip_unchanged", "floor"))
    written = {p.name for p in build(tmp_path / "r", tmp_path / "out", echo=lambda _: None)}
    slug = "items300_threads4_pg18.1_embedded"
    for kind in ("duration", "memory", "x_floor", "wal_per_row", "zscores", "speed_vs_code", "time_split",
                 *(f"heatmap_{phase}" for phase in PHASES), "skipping_wal"):
        assert f"{kind}_{slug}.png" in written, kind
    report = (tmp_path / "out" / "REPORT.md").read_text()
    headings = [line for line in report.splitlines() if line.startswith("### ") and line.endswith(" pass")]
    assert headings == [f"### {phase} pass" for phase in PHASES]
    section = report[report.index("## What skipping unchanged rows saves"):]
    row = next(line for line in section.splitlines() if "| unchanged" in line)
    assert "0.25x" in row and "1.00 → 0.00" in row
    assert "| failed → " in next(line for line in section.splitlines() if "| update" in line)
    assert f"![skipping_wal_{slug}](skipping_wal_{slug}.png)" in section
    assert "writes.csv" in written
