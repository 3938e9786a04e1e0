"""Test fixture: raises inside main()."""


def main(work):
    raise RuntimeError("boom on purpose")
