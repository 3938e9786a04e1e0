"""test: a second of pure Python CPU, no database at all (fails verification)."""

import time

TAGS = {"library": "postgresql", "api": "server", "technique": "none", "threaded": False}


def main(work):
    deadline = time.process_time() + 1.0
    total = 0
    while time.process_time() < deadline:
        total += sum(range(1000))
