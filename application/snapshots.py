"""Entities to and from JSON text, so an idempotent replay returns what was first returned.

One encoder for every dataclass entity: its fields and their types are read from the
dataclass itself, so a field added to an entity is snapshotted without a change here.
"""

import dataclasses
import hashlib
import json
import typing
from datetime import datetime
from enum import Enum
from typing import Any, TypeVar
from uuid import UUID

E = TypeVar("E")


def fingerprint(*parts: object) -> str:
    """A stable digest of a request's meaningful inputs."""
    return hashlib.sha256(json.dumps([str(p) for p in parts]).encode()).hexdigest()


def snapshot(entity: object) -> str:
    """``entity`` (a dataclass) as JSON text: UUIDs and enums as strings, times in ISO 8601."""
    assert dataclasses.is_dataclass(entity), entity
    return json.dumps(
        {field.name: _encode(getattr(entity, field.name)) for field in dataclasses.fields(entity)}
    )


def restore(kind: type[E], text: str) -> E:
    """The ``kind`` entity that ``snapshot`` turned into ``text``."""
    data = json.loads(text)
    return kind(**{name: _decode(hint, data[name]) for name, hint in _field_types(kind).items()})


def _encode(value: object) -> object:
    if isinstance(value, Enum):
        return value.value
    if isinstance(value, UUID):
        return str(value)
    if isinstance(value, datetime):
        return value.isoformat()
    return value


def _decode(hint: Any, value: Any) -> Any:
    if value is None:
        return None
    target = next((t for t in typing.get_args(hint) if t is not type(None)), hint)  # X | None
    if target is datetime:
        return datetime.fromisoformat(value)
    if isinstance(target, type) and issubclass(target, UUID | Enum):
        return target(value)
    return value


def _field_types(kind: Any) -> dict[str, Any]:
    assert dataclasses.is_dataclass(kind)
    hints = typing.get_type_hints(kind)
    return {field.name: hints[field.name] for field in dataclasses.fields(kind) if field.init}
