"""Test fixture: does not parse."""

def main(work)
    pass
