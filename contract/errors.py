"""The one exception the command lines turn into a one-line message and exit status 2."""


class UsageError(Exception):
    """Bad input or an unusable environment: reported as one line, never as a traceback."""
