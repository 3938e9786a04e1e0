"""The benchmark harness, by stage: settings (config, urls), strategies (catalog, workload,
comprehensibility), servers/, the tables inside them (database/), one pass (passes/), the whole
run and its folder (run/), and the command line (__main__, commands, clean).
It never imports `analysis`; what both sides share lives in `contract`."""

from contract import ENV_PREFIX, REPO_ROOT

# Temporary folders a run creates (`nox -s clean` finds what a killed run left behind by these):
# a server's data, socket (and root's copy of the binaries), a runner's worker scratch space.
SERVER_DIR_PREFIX = "upsert-bench-pg-"
SCRATCH_DIR_PREFIX = "upsert-bench-worker-"
OWNER_FILE = "harness.pid"  # in each: the pid of the run that owns it
# Docker containers a run starts carry this label (and f"{DOCKER_LABEL}.run-id")
DOCKER_LABEL = "org.postgres-upsert-bench"
# contention mode: the worker creates the file this variable names when its clock starts
GO_FILE_ENV = "UPSERT_BENCH_GO_FILE"
# the timed worker marks the start and end of main() on two pipes whose descriptors this names
# ("write,read"; experiments.process._MarkPipes)
MARKS_ENV = "UPSERT_BENCH_MARK_FDS"
MARK_ANSWER_TIMEOUT_S = 60  # the worker's longest wait for the harness's answer to a mark

__all__ = ["DOCKER_LABEL", "ENV_PREFIX", "GO_FILE_ENV", "MARK_ANSWER_TIMEOUT_S", "MARKS_ENV", "OWNER_FILE", "REPO_ROOT", "SCRATCH_DIR_PREFIX",
           "SERVER_DIR_PREFIX"]
