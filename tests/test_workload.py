"""The workload: deterministic, every trap present, every non-key column changed by the update;
and the strategy API it is part of (`contract.workload`, also under its original address)."""

import dataclasses

import pytest

from contract.workload import COLUMNS, TRAPS, Workload, address_row, user_row

TOTAL = 200


def values(phase, total=TOTAL):
    work = Workload("postgresql:///unused", total, phase)
    return work.users(), work.addresses()


def test_rows_are_deterministic_and_in_column_order():
    assert values("insert") == values("insert")
    users, addresses = values("insert")
    assert [len(r) for r in users[:1] + addresses[:1]] == [len(COLUMNS["users"]), len(COLUMNS["addresses"])]
    assert [r[0] for r in users] == list(range(1, TOTAL + 1))
    assert all(a[1] == a[0] for a in addresses)  # insert phase: address i belongs to user i


def test_every_trap_appears():
    """The values that break hand-made escaping are in the rows every strategy writes.
    Rule R17 in docs/adding-a-strategy.md."""
    texts = [v for phase in ("insert", "update") for table in values(phase) for row in table for v in row[1:]]
    strings = [v for v in texts if isinstance(v, str)]
    for trap in TRAPS:
        assert trap in texts, f"trap {trap!r} never appears"
    for needle in ("'", '"', "\\", "\t", "\n", "\r", "🍕", "ü", "  "):
        assert any(needle in s for s in strings), f"no value contains {needle!r}"
    for exact in ("\\N", "NULL", "", " "):
        assert exact in strings
    assert None in texts
    assert any(s != s.strip() for s in strings)
    long_ones = [s for s in strings if len(s) >= 10_000]
    assert len(long_ones) >= 3


def test_update_changes_every_non_key_column_of_every_row():
    for table, make in (("users", user_row), ("addresses", address_row)):
        for i in range(1, TOTAL + 1):
            before, after = make(i, "insert", TOTAL), make(i, "update", TOTAL)
            assert before[0] == after[0]
            for name, old, new in zip(COLUMNS[table][1:], before[1:], after[1:]):
                assert old != new, f"{table} id {i}: {name} unchanged ({old!r})"


def test_null_to_value_and_value_to_null_both_happen():
    users_in, _ = values("insert")
    users_up, _ = values("update")
    pairs = [(a[2], b[2]) for a, b in zip(users_in, users_up)]
    assert any(a is None and b is not None for a, b in pairs)
    assert any(a is not None and b is None for a, b in pairs)


def test_update_addresses_reference_existing_users():
    _, addresses = values("update")
    assert {a[1] for a in addresses} == set(range(1, TOTAL + 1))


def test_dicts_match_tuples():
    work = Workload("postgresql:///unused", 5, "update")
    assert [tuple(d.values()) for d in work.user_dicts()] == work.users()
    assert list(work.address_dicts()[0]) == list(COLUMNS["addresses"])
    assert list(work.iter_users()) == work.users()


def test_sqlalchemy_url_keeps_host_and_options():
    work = Workload("postgresql://postgres@/postgres?host=/tmp/x&options=-csearch_path%3Ds", 1, "insert")
    assert work.sqlalchemy_url("psycopg2") == "postgresql+psycopg2://postgres@/postgres?host=/tmp/x&options=-csearch_path%3Ds"


def test_items_is_the_number_of_rows_and_total_its_read_only_alias():
    """`work.items` is what a strategy reads; `work.total`, the original project's name, stays
    for code written against it (a seed-style `main(total)` gets the same number)."""
    work = Workload("postgresql:///unused", 7, "insert")
    assert work.items == work.total == 7 == len(work.users()) == len(work.addresses())
    with pytest.raises(AttributeError):
        work.total = 8
    assert [f.name for f in dataclasses.fields(Workload)][:3] == ["dsn", "items", "phase"]
    with pytest.raises(ValueError, match="items must be at least 1"):
        Workload("postgresql:///unused", 0, "insert")


def test_the_original_address_re_exports_the_strategy_api():
    """Seed-style files and a user's own strategies import `experiments.workload`: the same objects."""
    import contract.workload
    import experiments.workload

    public = [name for name in vars(contract.workload) if name.isupper() or name in (
        "Workload", "user_row", "address_row", "stage_table", "sqlalchemy_url")]
    assert public and all(getattr(experiments.workload, name) is getattr(contract.workload, name)
                          for name in public)

