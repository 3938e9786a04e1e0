"""One row model (issue 11): `contract.row.PassRow` is the only definition of a results.csv
row. The CSV header, the harness's row, the analysis loader's columns and DESIGN.md's table
follow from it; these tests fail when one of them drifts."""

from __future__ import annotations

import os
import re
from dataclasses import fields

from analysis.load import load_runs
from contract import REPO_ROOT
from contract.row import BOOL_COLUMNS, COLUMNS, GROUPS, NUMERIC_COLUMNS, REQUIRED, PassRow, markdown_table
from experiments.run.folder import RunFolder

DESIGN = REPO_ROOT / "DESIGN.md"
TABLE = re.compile(r"(<!-- row table: generated .*? -->\n)(.*?)(<!-- end of row table -->)", re.S)
# the columns every run ever written has, in order: renaming or removing one breaks old runs
HISTORICAL = [
    "run_id", "strategy", "phase", "repeat", "items", "threads", "backend", "pg_version",
    "duration_s", "wall_s", "peak_memory_mb", "allocations", "max_rss_mb", "users", "addresses",
    "counts_ok", "values_ok", "success", "error", "wal_bytes", "table_bytes", "dead_tuples",
    "hot_updates", "test", "connections", "statements", "library", "technique", "reference",
    "memory_duration_s", "memory_max_rss_mb", "order", "seed", "server", "started_at", "error_kind",
    "contention", "contender_rows", "contender_retries", "contender_errors",
    "rows_won_by_contender", "torn_rows",
]


def test_design_md_table_is_the_model():
    """DESIGN.md's table is generated from the model (UPDATE_DOCS=1 rewrites it)."""
    text = DESIGN.read_text(encoding="utf-8")
    match = TABLE.search(text)
    assert match, "DESIGN.md lost its row table markers"
    if os.environ.get("UPDATE_DOCS") == "1":
        DESIGN.write_text(text[:match.start(2)] + markdown_table() + text[match.end(2):], encoding="utf-8")
        text = DESIGN.read_text(encoding="utf-8")
        match = TABLE.search(text)
    assert match.group(2) == markdown_table(), "DESIGN.md's row table and contract/row.py disagree: " \
        "run the tests with UPDATE_DOCS=1 after changing the model"


def test_existing_columns_keep_their_names_and_order():
    assert COLUMNS[:len(HISTORICAL)] == HISTORICAL


def test_every_column_says_what_it_holds():
    for f in fields(PassRow):
        assert len(f.metadata["doc"]) > 5 and f.metadata["group"] in GROUPS
    assert set(REQUIRED) <= set(COLUMNS) and "success" in BOOL_COLUMNS and "duration_s" in NUMERIC_COLUMNS


def test_a_row_written_by_the_harness_is_read_back_by_the_analysis(tmp_path):
    """The harness's writer and the analysis's reader agree on every column's type."""
    row = PassRow(run_id="x", strategy="s", phase="insert", repeat=1, items=10, threads=2,
                  backend="embedded", pg_version="18.1", duration_s=0.25, peak_memory_mb=3.5,
                  counts_ok=True, values_ok=True, success=True, test="s-insert", library="psycopg",
                  technique="on_conflict", reference=False, order=1, seed=7, server="embedded:18",
                  started_at="2026-11-25T00:00:00+00:00", wal_bytes=1234)
    folder = RunFolder(tmp_path, "20261125-000000-abcd")
    folder.append(row)
    folder.append(PassRow(**{**row.as_dict(), "repeat": 2, "success": False, "error": "boom",
                             "error_kind": "other", "duration_s": None}))
    folder.close()
    header = (folder.path / "results.csv").read_text().splitlines()[0].split(",")
    assert header == COLUMNS
    passes = load_runs(tmp_path).passes
    assert list(passes["success"]) == [True, False] and passes["success"].dtype == bool
    assert passes["duration_s"].iloc[0] == 0.25 and passes["duration_s"].isna().iloc[1]
    assert passes["pg_version"].iloc[0] == "18.1"  # text, not the number 18.1
    assert passes["wal_bytes"].iloc[0] == 1234 and passes["error"].iloc[1] == "boom"
