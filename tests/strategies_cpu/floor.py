"""test: the catalogue's server-only floor (its main()), under this folder's name."""

from strategies.server_only_floor import main  # noqa: F401

TAGS = {"library": "postgresql", "api": "server", "technique": "on_conflict", "threaded": False,
        "reference": True}
