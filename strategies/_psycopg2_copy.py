"""COPY text format for psycopg2, shared by psycopg2_copy_staging and psycopg2_copy_merge.

psycopg2 does not adapt values for COPY. Its docs say: "Currently no adaptation is provided
between Python and PostgreSQL types on COPY: the file can be any Python file-like object but
its format must be in the format accepted by PostgreSQL COPY command (data format, escaped
characters, etc)". `cursor.copy_expert(sql, file, size)` calls `file.read(size)` until it
returns an empty string and passes every chunk to the server unchanged (a `str` is first
encoded in the connection's encoding). Whatever escaping the data needs is up to the caller.

The trap: joining `str(value)` with tabs and newlines looks right and silently corrupts data.
In COPY's text format (the PostgreSQL COPY docs, "File Formats"): a backslash starts an escape
sequence; "backslash itself, newline, carriage return, and the current delimiter character"
must be preceded by a backslash when they are part of a value; `\\N` means NULL; a line holding
only `\\.` ends the data. So, unescaped, the string `\\N` becomes NULL, `C:\\new` gets a
newline, a tab splits a value into two columns, a newline or carriage return splits a row,
and `None` written as `None` (or as an empty string) is the text "None" (or ""), not NULL.

This module writes the text format correctly: `None` -> `\\N`; in strings, backslash first
(so the later escapes are not doubled), then tab -> `\\t`, newline -> `\\n`, carriage return
-> `\\r`. The literal strings `\\N`, `NULL` and `\\.` then come through as data (`\\\\N`, `NULL`,
`\\\\.`), and the empty string stays an empty string, distinct from NULL. The default CSV
alternative is harder with Python 3.11's `csv` module: it writes `None` and `""` the same way
(an empty field), and `csv.QUOTE_NOTNULL`, which tells them apart, only exists from Python 3.12.

`CopyTextReader` streams: it formats rows only as `copy_expert` asks for the next chunk, so the
whole table is never one giant string.
"""

from collections.abc import Iterable, Iterator

NULL = "\\N"


def copy_text_value(value) -> str:
    """One value in COPY text format (tab-delimited, `\\N` for NULL)."""
    if value is None:
        return NULL
    if isinstance(value, str):
        # Backslash first: the escapes added below must not be doubled.
        return value.replace("\\", "\\\\").replace("\t", "\\t").replace("\n", "\\n").replace("\r", "\\r")
    return str(value)  # int here; right for numbers, not for bytes or other types


def copy_text_line(row: Iterable) -> str:
    """One row in COPY text format, newline-terminated."""
    return "\t".join(map(copy_text_value, row)) + "\n"


class CopyTextReader:
    """The read-only file object `cursor.copy_expert()` (and `copy_from()`) reads from.

    `read(size)` returns whole rows, at least `size` characters of them (or the rest), and ""
    at the end; `readline()` is there because the psycopg2 docs require it for `copy_from()`.
    """

    def __init__(self, rows: Iterable[Iterable]) -> None:
        self._lines: Iterator[str] = map(copy_text_line, rows)

    def read(self, size: int = -1) -> str:
        parts, length = [], 0
        for line in self._lines:  # resumes where the previous read stopped
            parts.append(line)
            length += len(line)
            if 0 < size <= length:
                break
        return "".join(parts)

    def readline(self, size: int = -1) -> str:
        return next(self._lines, "")
