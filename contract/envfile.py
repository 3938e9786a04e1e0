"""The `.env` file format, and where run folders live (the one setting both sides read).

`.env_dist` holds every setting's default, `.env` the user's overrides, the environment
`UPSERT_BENCH_<NAME>`; the harness's `experiments.config` layers them all. The analysis and
`clean` need only `RESULTS_DIR`, resolved here the same way, without the harness's settings.
"""

from __future__ import annotations

import os
import re
from pathlib import Path

from contract import ENV_PREFIX, REPO_ROOT
from contract.errors import UsageError

_LINE = re.compile(r"^\s*(?:export\s+)?([A-Za-z_][A-Za-z0-9_]*)\s*=\s*(.*?)\s*$")


def read_env_file(path: Path) -> dict[str, str]:
    """Parse a `.env` file: KEY=value lines, `#` comments, optional quotes. Errors are one line."""
    try:
        text = path.read_text(encoding="utf-8")
    except UnicodeDecodeError:
        raise UsageError(f"{path.name} is not UTF-8 text: fix or remove {path}") from None
    except OSError as error:
        raise UsageError(f"cannot read {path}: {error.strerror or error}") from None
    values = {}
    for number, line in enumerate(text.splitlines(), start=1):
        if not line.strip() or line.lstrip().startswith("#"):
            continue
        match = _LINE.match(line)
        if not match:
            raise UsageError(f"{path.name} line {number}: expected KEY=value, got {line.strip()!r}")
        key, value = match.groups()
        values[key] = _value(value)
    return values


def _value(text: str) -> str:
    """The value of `KEY=text`: a quoted string (a comment may follow it), else the text up to
    a ` #` comment; `KEY=  # comment` is empty, as in every dotenv dialect."""
    if text[:1] in ("'", '"'):
        end = text.find(text[0], 1)
        rest = text[end + 1:].strip() if end > 0 else "x"
        if not rest or rest.startswith("#"):
            return text[1:end]
    if text.startswith("#"):
        return ""
    return text.split(" #", 1)[0].rstrip()


def env_line(key: str, value: str, comment: str = "") -> str:
    """`KEY=value  # comment`, quoted when needed, so that read_env_file gives `value` back."""
    if value != value.strip() or any(c in value for c in "#'\""):
        value = ("'" + value + "'") if '"' in value else ('"' + value + '"')
    return f"{key}={value}" + (f"  # {comment}" if comment else "")


def in_repo(value: str | Path) -> Path:
    """A folder setting as an absolute path (relative ones are relative to the repository)."""
    path = Path(value).expanduser()
    return path if path.is_absolute() else REPO_ROOT / path


def results_dir(flag: str | None = None) -> Path:
    """RESULTS_DIR: flag > environment (UPSERT_BENCH_RESULTS_DIR) > .env > .env_dist."""
    value = "results"
    for env_file in (REPO_ROOT / ".env_dist", REPO_ROOT / ".env"):
        if env_file.exists():
            value = read_env_file(env_file).get("RESULTS_DIR", value)
    return in_repo(flag or os.environ.get(ENV_PREFIX + "RESULTS_DIR", value))
