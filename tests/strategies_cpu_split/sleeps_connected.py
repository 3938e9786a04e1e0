"""test: connects, holds the connection open for a second without a query, closes (writes nothing,
fails verification; its CPU columns still count)."""

import time

import psycopg

TAGS = {"library": "psycopg", "api": "driver", "technique": "none", "threaded": False}


def main(work):
    with psycopg.connect(work.dsn):
        time.sleep(1.0)
