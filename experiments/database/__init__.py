"""Stage 4 of a run: what the harness does inside the server (tables, staged rows, a pass's
starting state, checksums of every value, the server's own counters)."""
