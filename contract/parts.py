"""Frozen, documented dataclasses that read and write JSON objects (the parts of
contract.manifest): each field's `doc` in its metadata, nested parts and tuples following the
type hints, keys a part does not name kept in its `extra` (so dict -> part -> dict is lossless).
"""

from __future__ import annotations

import types
import typing
from dataclasses import field, fields


def entry(doc: str, default=None, *, factory=None, omitted_when_none: bool = False):
    """A field of a part: `doc` says what it holds; `default` (or `factory`) what a JSON object
    without the key reads as. `omitted_when_none`: a key the writer leaves out rather than
    writing null (e.g. a --dsn server has no requested settings)."""
    meta = {"doc": doc, "omit_none": omitted_when_none}
    if factory is not None:
        return field(default_factory=factory, metadata=meta)
    return field(default=default, metadata=meta)


def extra_keys():
    """A part's last field, `extra: dict = extra_keys()`."""
    return field(default_factory=dict, metadata={
        "doc": "keys this model does not name (a backend's own details, keys of a newer writer), "
               "kept as recorded and written back", "omit_none": False})


class Part:
    """Base of a frozen dataclass whose fields are `entry(...)`s and whose last field is
    `extra`: from_dict / to_dict, driven by its type hints."""

    @classmethod
    def from_dict(cls, data: dict | None):
        """The part from its JSON object; a key that is missing takes the field's default."""
        if data is None:
            data = {}
        if not isinstance(data, dict):
            raise ValueError(f"{cls.__name__}: expected an object, got {type(data).__name__}")
        hints = typing.get_type_hints(cls)
        names = {f.name for f in fields(cls)} - {"extra"}
        values = {name: _convert(hints[name], data[name], name) for name in names
                  if name in data and (data[name] is not None or _optional(hints[name]))}  # null: default
        return cls(**values, extra={k: v for k, v in data.items() if k not in names})

    def to_dict(self) -> dict:
        """The JSON object: every named field (but an `omitted_when_none` one that is None),
        then the `extra` keys, as they were read."""
        out = {}
        for f in fields(self):
            value = getattr(self, f.name)
            if f.name == "extra" or (value is None and f.metadata["omit_none"]):
                continue
            out[f.name] = _plain(value)
        out.update(_plain(self.extra))
        return out


def _optional(hint) -> bool:
    return (isinstance(hint, types.UnionType) or typing.get_origin(hint) is typing.Union) \
        and type(None) in typing.get_args(hint)


def _convert(hint, value, name: str):
    """A JSON value as the type hint says: nested parts, tuples for lists."""
    if value is None:
        return None
    origin, args = typing.get_origin(hint), typing.get_args(hint)
    if isinstance(hint, types.UnionType) or origin is typing.Union:
        inner = [a for a in args if a is not type(None)]
        part = next((a for a in inner if isinstance(a, type) and issubclass(a, Part)), None)
        if part is not None:
            return part.from_dict(value)
        return _convert(inner[0], value, name) if len(inner) == 1 else value
    if isinstance(hint, type) and issubclass(hint, Part):
        return hint.from_dict(value)
    if origin is tuple:
        if not isinstance(value, list):
            raise ValueError(f"{name}: expected a list, got {type(value).__name__}")
        return tuple(_convert(args[0], item, name) for item in value)
    if origin is dict and len(args) == 2:
        if not isinstance(value, dict):
            raise ValueError(f"{name}: expected an object, got {type(value).__name__}")
        return {key: _convert(args[1], item, name) for key, item in value.items()}
    return value


def _plain(value):
    if isinstance(value, Part):
        return value.to_dict()
    if isinstance(value, (tuple, list)):
        return [_plain(v) for v in value]
    if isinstance(value, dict):
        return {k: _plain(v) for k, v in value.items()}
    return value
