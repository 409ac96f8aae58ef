"""Keyset paging: a position is the sort key of the last row a client saw."""

from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum
from typing import Generic, TypeVar
from uuid import UUID

T = TypeVar("T")


class Order(StrEnum):
    ASC = "asc"
    DESC = "desc"


@dataclass(frozen=True, slots=True)
class Position:
    """Timestamp plus id: unique even when two rows share a timestamp."""

    at: datetime
    id: UUID


@dataclass(frozen=True, slots=True)
class PageRequest:
    limit: int = 100
    after: Position | None = None
    order: Order = Order.ASC


@dataclass(frozen=True, slots=True)
class Page(Generic[T]):
    items: list[T]
    next: Position | None
