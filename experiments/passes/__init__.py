"""Stage 5 of a run: one pass (`one_pass.py`) and the child processes it starts: the worker
that times `main(work)`, memray's tracked run, and contention mode's second writer."""
