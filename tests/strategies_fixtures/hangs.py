"""Test fixture: never returns (the runner's timeout must kill it)."""

import time


def main(work):
    while True:
        time.sleep(1)
