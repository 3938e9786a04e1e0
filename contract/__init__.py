"""What the harness writes and the analysis reads: imported by both, imports neither.

- `row.py`: `PassRow`, one row of `results.csv` (the CSV header, the harness's row, the
  analysis loader's columns and DESIGN.md's table all follow from it);
- `libraries.py`: the registry of the libraries strategies use (name, display name, colour,
  API family, packages);
- `envfile.py`: the `.env` file format and where run folders live (`RESULTS_DIR`);
- `errors.py`: `UsageError`, the one exception either command line turns into one line.

The harness (`experiments`) and the analysis (`analysis`) never import each other: the
analysis knows a run only through its folder (results.csv, manifest.json) and this package.
"""

from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parent.parent
# a setting's name in the environment: UPSERT_BENCH_TOTAL_ITEMS, UPSERT_BENCH_RESULTS_DIR, ...
ENV_PREFIX = "UPSERT_BENCH_"
