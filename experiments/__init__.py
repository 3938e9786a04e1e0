"""The benchmark harness: settings, PostgreSQL servers, schema, workload, runner and worker."""

from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parent.parent

# Temporary folders a run creates (`nox -s clean` finds what a killed run left behind by these):
# a server's data, socket (and root's copy of the binaries), a runner's worker scratch space.
SERVER_DIR_PREFIX = "upsert-bench-pg-"
SCRATCH_DIR_PREFIX = "upsert-bench-worker-"
OWNER_FILE = "harness.pid"  # in each: the pid of the run that owns it
# Docker containers a run starts carry this label (and f"{DOCKER_LABEL}.run-id")
DOCKER_LABEL = "org.postgres-upsert-bench"
# a setting's name in the environment: UPSERT_BENCH_TOTAL_ITEMS, UPSERT_BENCH_DATABASE_URL, ...
ENV_PREFIX = "UPSERT_BENCH_"
# contention mode: the worker creates the file this variable names when its clock starts
GO_FILE_ENV = "UPSERT_BENCH_GO_FILE"
