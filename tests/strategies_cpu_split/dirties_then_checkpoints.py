"""test: fills the same scratch table, then forces a CHECKPOINT (fails verification)."""

from tests.strategies_cpu_split._dirty import dirty

TAGS = {"library": "psycopg", "api": "driver", "technique": "none", "threaded": False}


def main(work):
    dirty(work, checkpoint=True)
