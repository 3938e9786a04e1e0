"""The manifest model (contract/manifest.py): every committed run folder loads, a manifest
survives dict -> model -> dict, a newer format is refused in one line, a missing section reads
as its documented default. No PostgreSQL."""

from __future__ import annotations

import json
from dataclasses import fields

import pytest

from contract import REPO_ROOT
from contract.errors import UsageError
from contract.manifest import PARTS, SCHEMA_VERSION, Git, Machine, Manifest, Packages, Server

COMMITTED = sorted((REPO_ROOT / "figures").glob("*/runs/*/manifest.json"))


def test_the_committed_sets_have_manifests():
    assert len(COMMITTED) >= 4 and {p.parents[2].name for p in COMMITTED} >= {"main", "sweep"}


@pytest.mark.parametrize("path", COMMITTED, ids=lambda p: f"{p.parents[2].name}/{p.parent.name}")
def test_every_committed_manifest_loads(path):
    manifest = Manifest.load(path.parent)
    assert manifest.schema_version == 1  # the key written since the model, or none (before it): 1
    assert manifest.run_id == path.parent.name
    assert manifest.git.commit and manifest.git.dirty is False
    assert manifest.machine.python and manifest.packages.lock_sha256
    assert manifest.servers and all(s.label and s.server_version for s in manifest.servers)
    assert manifest.strategies and all(s.name and s.comprehensibility.loc for s in manifest.strategies)
    assert manifest.repeats and all(r.repeats >= 1 for per in manifest.repeats.values() for r in per.values())


@pytest.mark.parametrize("path", COMMITTED, ids=lambda p: f"{p.parents[2].name}/{p.parent.name}")
def test_a_committed_manifest_survives_dict_model_dict(path):
    data = json.loads(path.read_text())
    out = Manifest.from_dict(data).to_dict()
    assert out.pop("schema_version") == SCHEMA_VERSION
    assert data.pop("schema_version", SCHEMA_VERSION) == SCHEMA_VERSION  # written since the model, or not
    assert out == data
    # what the runner writes: the same bytes the committed file would have had
    dump = json.dumps(out, indent=2, sort_keys=True, default=str) + "\n"
    assert dump == json.dumps(data, indent=2, sort_keys=True, default=str) + "\n"
    assert json.loads(json.dumps(Manifest.from_dict(data).to_dict())) == {**data, "schema_version": 1}


def test_a_backends_own_keys_and_a_newer_writers_keys_are_kept():
    data = {"run_id": "r", "future_key": {"a": 1}, "servers": [
        {"kind": "dsn", "label": "dsn", "kept_schema": True, "data_dir_filesystem": "unknown"}]}
    manifest = Manifest.from_dict(data)
    assert manifest.extra == {"future_key": {"a": 1}}
    assert manifest.servers[0].extra == {"kept_schema": True, "data_dir_filesystem": "unknown"}
    server = manifest.to_dict()["servers"][0]
    assert "requested_settings" not in server and "statement_counting" not in server  # not written as null
    assert server == {**data["servers"][0], "schema": None, "dsn": None, "server_version": None,
                      "server_version_string": None, "version": None, "non_default_settings": {}}


def test_a_newer_schema_version_is_one_line_naming_the_folder(tmp_path):
    folder = tmp_path / "20300101-000000-aaaa"
    folder.mkdir()
    (folder / "manifest.json").write_text(json.dumps({"schema_version": SCHEMA_VERSION + 1, "run_id": "x"}))
    with pytest.raises(UsageError) as caught:
        Manifest.load(folder)
    message = str(caught.value)
    assert str(folder) in message and f"schema_version {SCHEMA_VERSION + 1}" in message
    assert "newer" in message and len(message.splitlines()) == 1


@pytest.mark.parametrize("version", ["2", 0, True])
def test_a_schema_version_that_is_no_version_is_one_line(version):
    with pytest.raises(UsageError, match="schema_version"):
        Manifest.from_dict({"schema_version": version}, where="somewhere/manifest.json")


def test_a_malformed_section_is_one_line_naming_the_file():
    with pytest.raises(UsageError) as caught:
        Manifest.from_dict({"git": "abc"}, where="runs/r/manifest.json")
    assert "runs/r/manifest.json" in str(caught.value) and "Git" in str(caught.value)


def test_missing_sections_read_as_their_documented_defaults(tmp_path):
    manifest = Manifest.from_dict({"run_id": "r"})
    assert manifest.schema_version == 1 and manifest.run_id == "r"
    assert manifest.git == Git() and manifest.git.commit is None and manifest.git.dirty is None
    assert manifest.machine == Machine() and manifest.packages == Packages()
    assert manifest.packages.installed == {} and manifest.config == {} and manifest.repeats == {}
    assert manifest.strategies == () and manifest.servers == ()
    assert manifest.sweep is None and manifest.rerun_of is None and manifest.auto_repeat is None
    assert Manifest.from_dict({"git": None, "strategies": None}).git == Git()  # null: the default
    assert Manifest.load(tmp_path) == Manifest()  # no manifest.json (or an unreadable one)
    (tmp_path / "manifest.json").write_text("{not json")
    assert Manifest.load(tmp_path) == Manifest()
    assert Server.from_dict({"label": "x"}).requested_settings is None
    assert Server.from_dict({"label": "x"}).non_default_settings == {}


def test_a_part_holds_parts_and_tuples_not_raw_json():
    manifest = Manifest.load(COMMITTED[0].parent)
    server = manifest.servers[0]
    setting = next(iter(server.non_default_settings.values()))
    assert setting.setting is not None and hasattr(setting, "unit")
    assert isinstance(manifest.strategies, tuple) and isinstance(manifest.machine.load_average, tuple)
    sweep = Manifest.from_dict({"sweep": {"id": "s", "items": [1, 2], "threads": [4], "point": [1, 4]}}).sweep
    assert sweep.id == "s" and sweep.items == (1, 2) and sweep.point == (1, 4)
    with pytest.raises(AttributeError):
        manifest.run_id = "other"  # frozen


def test_every_field_says_what_it_holds():
    for part in PARTS:
        for f in fields(part):
            assert len(f.metadata.get("doc", "")) > 3, f"{part.__name__}.{f.name}"
        assert part.__doc__, part.__name__


def test_contract_imports_neither_the_harness_nor_the_analysis():
    for name in ("manifest.py", "parts.py"):
        source = (REPO_ROOT / "contract" / name).read_text()
        assert "import experiments" not in source and "from experiments" not in source
        assert "import analysis" not in source and "from analysis" not in source
