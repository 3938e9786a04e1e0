"""The benchmark harness: settings, PostgreSQL servers, schema, workload, runner and worker."""

from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parent.parent

# Temporary folders a run creates (`nox -s clean` finds what a killed run left behind by these):
# a server's data and socket, a runner's worker scratch space, root's world-readable binary copy.
SERVER_DIR_PREFIX = "upsert-bench-pg-"
SCRATCH_DIR_PREFIX = "upsert-bench-worker-"
BIN_CACHE_PREFIX = "upsert-bench-pgbin-"
OWNER_FILE = "harness.pid"  # in each of the first two: the pid of the run that owns it
# Docker containers a run starts carry this label (and f"{DOCKER_LABEL}.run-id")
DOCKER_LABEL = "org.postgres-upsert-bench"
# contention mode: the worker creates the file this variable names when its clock starts
GO_FILE_ENV = "UPSERT_BENCH_GO_FILE"
