"""What the harness writes and the analysis reads, and the strategy API: imported by both (and
by strategies), imports neither.

- `row.py`: `PassRow`, one row of `results.csv` (the CSV header, the harness's row, the
  analysis loader's columns and DESIGN.md's table all follow from it);
- `manifest.py`: `Manifest`, a run folder's `manifest.json` (the runner builds it; the analysis
  and `--from` read it through `Manifest.load`), with its `schema_version`; its parts are
  `parts.py`'s frozen, documented dataclasses that read and write JSON objects;
- `libraries.py`: the registry of the libraries strategies use (name, display name, colour,
  API family, packages);
- `envfile.py`: the `.env` file format and where run folders live (`RESULTS_DIR`);
- `errors.py`: `UsageError`, the one exception either command line turns into one line;
- `workload.py`: the strategy API, what a strategy's `main(work)` gets (`Workload`), the tables'
  columns and the rows it writes; shipped strategies import it and their libraries only;
- `strategy_rules.py` (with `strategy_code_rules.py`, `strategy_sql.py`, `strategy_source.py`):
  the static strategy rules of docs/adding-a-strategy.md, run by the tests and by discovery.

The harness (`experiments`) and the analysis (`analysis`) never import each other: the
analysis knows a run only through its folder (results.csv, manifest.json) and this package.
"""

from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parent.parent
# a setting's name in the environment: UPSERT_BENCH_TOTAL_ITEMS, UPSERT_BENCH_RESULTS_DIR, ...
ENV_PREFIX = "UPSERT_BENCH_"
