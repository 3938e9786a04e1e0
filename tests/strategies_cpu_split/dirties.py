"""test: fills a scratch table (about 30 MB of dirty buffers), no CHECKPOINT (fails verification)."""

from tests.strategies_cpu_split._dirty import dirty

TAGS = {"library": "psycopg", "api": "driver", "technique": "none", "threaded": False}


def main(work):
    dirty(work, checkpoint=False)
