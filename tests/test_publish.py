"""Published figure sets (issue 13): their run folders travel with them, a rebuild is
byte-identical, and only the work of one clean commit can be published."""

from __future__ import annotations

import gzip
import hashlib
import json

import pytest

from analysis.publish import publish, published_sets, rebuild_all
from contract.errors import UsageError
from test_analysis import make_run


def digest(folder):
    return {str(p.relative_to(folder)): hashlib.sha256(p.read_bytes()).hexdigest()
            for p in sorted(folder.rglob("*")) if p.is_file()}


def two_runs(results):
    for run_id, center in (("20260101-000000-aaaa", 1.0), ("20260102-000000-bbbb", 1.1)):
        folder = make_run(results, run_id, {("floor", "insert"): [0.5 * center, 0.52, 0.49],
                                            ("fast", "insert"): [center, 1.02, 0.98]})
        (folder / "run.log").write_text("2026-01-01 12:00:00 INFO a line of the run's log\n" * 50)
        (folder / "captures").mkdir()
        (folder / "captures" / "x.bin").write_bytes(b"memray")


def test_a_published_set_carries_its_runs_and_rebuilds_byte_for_byte(tmp_path):
    results, figures = tmp_path / "results", tmp_path / "figures"
    two_runs(results)
    written = publish("main", results, figures=figures, echo=lambda _: None)
    main = figures / "main"
    assert published_sets(figures) == [main]
    assert {p.name for p in written} >= {"REPORT.md", "aggregate.csv", "manifest.json"}
    assert not (main / "passes.csv").exists()  # runs/ hold the passes: figures/ stays small
    assert "raw passes in the run folders' `results.csv` (`runs/`)" in (main / "REPORT.md").read_text()
    copied = main / "runs" / "20260101-000000-aaaa"
    assert sorted(p.name for p in copied.iterdir()) == ["git.diff", "manifest.json", "results.csv", "run.log.gz"]
    assert gzip.decompress((copied / "run.log.gz").read_bytes()).startswith(b"2026-01-01 12:00:00 INFO")
    before = digest(main)
    (main / "REPORT.md").write_text("edited by hand")
    (main / "aggregate.csv").unlink()
    rebuild_all(figures, echo=lambda _: None)
    assert digest(main) == before


def test_a_set_can_keep_to_some_figure_kinds_and_its_rebuild_does_too(tmp_path):
    results, figures = tmp_path / "results", tmp_path / "figures"
    two_runs(results)
    publish("small", results, figures=figures, echo=lambda _: None, kinds=["duration"])
    drawn = {p.name.split("_items")[0] for p in (figures / "small").glob("*.png")}
    assert drawn == {"duration"}
    before = digest(figures / "small")
    rebuild_all(figures, echo=lambda _: None)
    assert digest(figures / "small") == before
    with pytest.raises(UsageError, match="--figures nonsense"):
        publish("small", results, figures=figures, echo=lambda _: None, kinds=["nonsense"])


def test_a_set_naming_a_figure_kind_by_its_former_name_still_draws_it(tmp_path):
    """`floor_multiple` became `x_floor` (the figure draws floor_ratio, not the floor_multiple
    column): an old set.json still gets the figure, and the old files go."""
    results, figures = tmp_path / "results", tmp_path / "figures"
    two_runs(results)
    publish("old", results, figures=figures, echo=lambda _: None, kinds=["floor_multiple"])
    assert json.loads((figures / "old" / "set.json").read_text()) == {"figures": ["x_floor"]}
    (figures / "old" / "set.json").write_text(json.dumps({"figures": ["floor_multiple"]}))
    (figures / "old" / "floor_multiple_items1000_threads4_pg18.4_embedded.png").write_bytes(b"stale")
    rebuild_all(figures, echo=lambda _: None)
    drawn = {p.name.split("_items")[0] for p in (figures / "old").glob("*.png")}
    assert drawn == {"x_floor"}


def test_only_the_work_of_one_clean_commit_is_published(tmp_path):
    results = tmp_path / "results"
    make_run(results, "20260101-000000-aaaa", {("a", "insert"): [1.0, 1.1, 0.9]}, dirty=True, diff="x")
    with pytest.raises(UsageError, match="uncommitted changes"):
        publish("main", results, figures=tmp_path / "figures", echo=lambda _: None)
    with pytest.raises(UsageError, match="set name"):
        publish("latest", results, figures=tmp_path / "figures", echo=lambda _: None)
    assert not (tmp_path / "figures" / "main").exists()
