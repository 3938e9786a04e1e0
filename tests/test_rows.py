"""The rows around a pass: the mixed and unchanged phases, other rows in the tables
(`--table-rows`), duplicate keys in the input (`--duplicate-keys`); against the real server."""

import pytest

from contract.workload import PHASES, STALE, Keys, Workload, address_row, user_row
from experiments.database import schema
from experiments.database.verify import verify

from conftest import FIXTURES, read_results, run_cli

ITEMS = 60


def current(conn) -> str:
    return conn.execute("SELECT current_schema()").fetchone()[0]


def stored(conn, table: str) -> dict[int, tuple]:
    return {r[0]: r for r in conn.execute(f"SELECT * FROM {table} ORDER BY id").fetchall()}


@pytest.mark.parametrize("items, others", [(10, 0), (10, 25), (7, 3), (1000, 100_000), (3, 1)])
def test_pass_keys_spread_evenly_among_the_others(items, others):
    keys = Keys(items, others)
    ours = list(keys.pass_keys())
    assert len(set(ours)) == items and ours == sorted(ours)
    assert set(ours) | set(keys.other_keys()) == set(range(1, items + others + 1))
    assert not set(ours) & set(keys.other_keys())
    assert [keys.next_key(i) for i in ours] == ours[1:] + ours[:1]
    if others >= items:  # interleaved: an other row between every two pass keys
        assert all(b - a > 1 for a, b in zip(ours, ours[1:]))


def test_plain_layout_keeps_the_original_rows():
    """Without other rows and duplicates, the rows are the original's: ids 1..items, the update
    moving address i to user i+1."""
    for phase in ("insert", "update"):
        work = Workload("postgresql:///unused", ITEMS, phase)
        assert work.addresses() == [address_row(i, phase, ITEMS) for i in range(1, ITEMS + 1)]
    assert Workload("postgresql:///unused", ITEMS, "update").addresses()[-1][1] == 1


def test_phases_values():
    """unchanged is the insert values; mixed the update values with each address on its own
    user; the stale copy differs from every phase's in some column."""
    for i in range(1, 40):
        assert user_row(i, "unchanged", ITEMS) == user_row(i, "insert", ITEMS)
        assert user_row(i, "mixed", ITEMS) == user_row(i, "update", ITEMS)
        assert address_row(i, "mixed", ITEMS)[1] == i
        assert address_row(i, "mixed", ITEMS)[2:] == address_row(i, "update", ITEMS)[2:]
        for phase in PHASES:
            assert user_row(i, STALE, ITEMS) != user_row(i, phase, ITEMS)
            assert address_row(i, STALE, ITEMS) != address_row(i, phase, ITEMS)


def test_duplicate_keys_come_stale_first_then_the_row_that_must_win():
    work = Workload("postgresql:///unused", 100, "update", duplicate_keys=10)
    users = work.users()
    assert len(users) == 110
    twice = [u for u in users if sum(v[0] == u[0] for v in users) == 2]
    assert len({u[0] for u in twice}) == 10
    for position, row in enumerate(users):
        if row[0] in {u[0] for u in twice} and (position == 0 or users[position - 1][0] != row[0]):
            assert row == user_row(row[0], STALE, 100)
            assert users[position + 1] == user_row(row[0], "update", 100)


@pytest.mark.parametrize("others", [0, 500])
def test_sql_predicates_agree_with_python(conn, others):
    keys = Keys(ITEMS, others, hit_ratio=0.3)
    span = f"generate_series(1, {keys.span}) AS t(id)"
    ours = {r[0] for r in conn.execute(f"SELECT id FROM {span} WHERE {keys.pass_key_sql()}")}
    assert ours == set(keys.pass_keys())
    hits = {r[0] for r in conn.execute(f"SELECT id FROM {span} WHERE {keys.pass_key_sql()} AND {keys.hit_sql()}")}
    assert hits == {i for i in keys.pass_keys() if keys.hit(i)}
    assert len(hits) == int(ITEMS * 0.3)


@pytest.fixture
def laid_out(conn):
    """Tables with 500 other rows, the starting rows staged, every phase's input staged."""
    keys = Keys(ITEMS, 500, hit_ratio=0.5)
    schema.create_tables(conn, current(conn))
    schema.load_start(conn, current(conn), keys)
    for phase in PHASES:
        schema.load_stage(conn, Workload("", ITEMS, phase, schema=current(conn), table_rows=500))
    return conn, keys


def test_each_phase_starts_from_its_state_and_the_other_rows_stay(laid_out):
    conn, keys = laid_out
    others = stored(conn, "users")
    others = {i: r for i, r in others.items() if not keys.is_pass_key(i)}
    assert len(others) == 500
    for phase, present in (("insert", 0), ("update", ITEMS), ("unchanged", ITEMS), ("mixed", ITEMS // 2)):
        schema.prepare_pass(conn, current(conn), phase, keys)
        rows = stored(conn, "users")
        ours = {i: r for i, r in rows.items() if keys.is_pass_key(i)}
        assert len(ours) == present, phase
        assert all(r == user_row(i, "insert", ITEMS) for i, r in ours.items())
        if phase == "mixed":
            assert set(ours) == {i for i in keys.pass_keys() if keys.hit(i)}
        assert {i: r for i, r in rows.items() if not keys.is_pass_key(i)} == others


def test_restore_leaves_the_other_rows_where_they_are(laid_out):
    """A pass's restore costs its own keys, not the table's: the other rows keep their tuple
    (same xmin and ctid) from one pass to the next; a rebuild rewrites them all."""
    conn, keys = laid_out
    where = f"NOT ({keys.pass_key_sql()})"
    before = conn.execute(f"SELECT id, xmin::text, ctid::text FROM users WHERE {where} ORDER BY id").fetchall()
    for phase in ("update", "insert", "mixed"):
        schema.prepare_pass(conn, current(conn), phase, keys)
    assert conn.execute(f"SELECT id, xmin::text, ctid::text FROM users WHERE {where} ORDER BY id").fetchall() == before
    schema.prepare_pass(conn, current(conn), "update", keys, rebuild=True)
    after = conn.execute(f"SELECT id, xmin::text FROM users WHERE {where} ORDER BY id").fetchall()
    assert all(a[1] != b[1] for a, b in zip(after, before))


@pytest.mark.parametrize("phase", PHASES)
def test_every_phase_verifies_after_a_correct_upsert(laid_out, phase):
    conn, keys = laid_out
    schema.prepare_pass(conn, current(conn), phase, keys)
    assert not verify(conn, current(conn), phase, keys).success or phase == "unchanged"
    work = Workload("", ITEMS, phase, schema=current(conn), table_rows=500)
    with conn.transaction():
        for table in ("users", "addresses"):
            cols = ", ".join(work.columns[table])
            sets = ", ".join(f"{c} = excluded.{c}" for c in work.columns[table][1:])
            conn.cursor().executemany(
                f"INSERT INTO {table} ({cols}) VALUES ({', '.join(['%s'] * len(work.columns[table]))}) "
                f"ON CONFLICT (id) DO UPDATE SET {sets}", work.rows(table))
    check = verify(conn, current(conn), phase, keys)
    assert check.success, check.problem


def test_a_touched_other_row_is_found(laid_out):
    conn, keys = laid_out
    other = next(keys.other_keys())
    conn.execute("UPDATE users SET karma = karma + 1 WHERE id = %s", (other,))
    check = verify(conn, current(conn), "insert", keys)
    assert not check.success and f"first id {other}: karma expected" in check.problem
    conn.execute("DELETE FROM addresses WHERE id = %s", (other,))
    check = verify(conn, current(conn), "insert", keys)
    assert not check.counts_ok and "addresses rows missing" in check.problem


def test_the_stage_holds_the_input_duplicates_too(conn):
    schema.create_tables(conn, current(conn))
    work = Workload("", ITEMS, "update", schema=current(conn), duplicate_keys=20)
    schema.load_stage(conn, work)
    count = conn.execute("SELECT count(*), count(DISTINCT id) FROM bench_stage_update_users").fetchone()
    assert count == (ITEMS + ITEMS // 5, ITEMS)


@pytest.fixture(scope="module")
def rows_run(pg_dsn, tmp_path_factory):
    """A run of three strategies through all four phases, with other rows and duplicate keys."""
    results = tmp_path_factory.mktemp("results")
    done = run_cli("run", "--dsn", pg_dsn, "--items", "100", "--repeat", "1", "--memory-repeats", "1",
                   "--phases", "insert,update,mixed,unchanged", "--table-rows", "300", "--duplicate-keys", "10",
                   "--strategies", "psycopg_executemany,psycopg2_execute_values,psycopg2_update_then_insert",
                   "--results-dir", str(results))
    return done, {(r["strategy"], r["phase"]): r for r in read_results(results)[1]}


@pytest.mark.slow  # a whole run: make test, not the quick lane
def test_every_phase_is_recorded_with_its_configuration(rows_run):
    done, rows = rows_run
    assert {phase for _, phase in rows} == set(PHASES) and len(rows) == 12, done.stdout[-2000:]
    for (strategy, phase), row in rows.items():
        assert (row["table_rows"], row["duplicate_keys"]) == ("300", "10.0")
        assert row["hit_ratio"] == ("0.5" if phase == "mixed" else "")
        assert not row["error"].startswith("harness"), row["error"]
    for phase in PHASES:  # one statement per row, in input order: the later row wins
        row = rows[("psycopg_executemany", phase)]
        assert row["success"] == "True" and row["peak_memory_mb"], (phase, row["error"])


@pytest.mark.slow  # a whole run: make test, not the quick lane
def test_duplicate_keys_are_a_finding_with_the_servers_reason(rows_run):
    done, rows = rows_run
    assert done.returncode == 1  # strategies failed; the run itself completed
    for phase in PHASES:
        row = rows[("psycopg2_execute_values", phase)]
        assert row["error_kind"] == "cardinality_violation", row["error"]
        assert "cannot affect row a second time" in row["error"]
    assert rows[("psycopg2_update_then_insert", "insert")]["error_kind"] == "unique_violation"
    # its update (UPDATE ... FROM a VALUES list) takes either of a key's two rows: either outcome
    assert rows[("psycopg2_update_then_insert", "update")]["error_kind"] in ("", "wrong_values")


@pytest.mark.slow  # a whole run: make test, not the quick lane
def test_keeping_the_stale_copy_is_caught_by_the_value_check(pg_dsn, tmp_path):
    done = run_cli("run", "--dsn", pg_dsn, "--items", "50", "--repeat", "1", "--no-memory", "--phases", "update",
                   "--duplicate-keys", "20", "--strategies-dir", str(FIXTURES), "--strategies", "first_wins",
                   "--results-dir", str(tmp_path))
    row = read_results(tmp_path)[1][0]
    assert done.returncode == 1 and row["success"] == "False" and row["error_kind"] == "wrong_values"
    assert row["error"].startswith("10 users rows differ"), row["error"]
