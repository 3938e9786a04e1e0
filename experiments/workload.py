"""The strategy API under its original address: everything here is `contract.workload`'s.

The workload (`Workload`, the column names and types, the row generator) lives in
`contract/workload.py`, the interface shipped strategies import. This module stays so that code
written against `experiments.workload` (the original project's seed-style strategy files, a
user's own strategies) keeps working unchanged; the harness and the shipped strategies import
`contract.workload`.
"""

from contract.workload import (  # noqa: F401 (re-exported)
    ADDRESS_COLUMNS,
    CITIES,
    COLUMN_TYPES,
    COLUMNS,
    CONTEND,
    DEFAULT_PHASES,
    FIRST_NAMES,
    LAST_NAMES,
    Keys,
    LONG_TEXT_CHARS,
    LONG_TEXT_UNIT,
    PHASES,
    ROW_FUNCTIONS,
    ROW_PHASES,
    STALE,
    SCHEMA_NAME,
    STREETS,
    TRAPS,
    USER_COLUMNS,
    Workload,
    address_row,
    row,
    sqlalchemy_url,
    stage_table,
    user_row,
)
