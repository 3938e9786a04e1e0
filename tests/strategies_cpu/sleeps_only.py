"""test: sleeps for a second and writes nothing (fails verification; its CPU columns still count)."""

import time

TAGS = {"library": "postgresql", "api": "server", "technique": "none", "threaded": False}


def main(work):
    time.sleep(1.0)
