"""Test fixture: a module without main()."""

TAGS = {"library": "none"}
