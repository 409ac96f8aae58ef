"""Entities as table rows and back, derived from the table and the entity's fields.

Each entity's columns are written once, in ``tables``; its fields once, in the domain.
A ``RowMapping`` pairs them by name when it is built (at import), and refuses a column
or a field the other side lacks, so a renamed or added field fails the import rather than
a request. Rows are read by position (``select(table)`` and ``RETURNING`` list the columns
in the table's order), which is much cheaper than by name on a page of messages
(bench/RESULTS.md).
"""

import dataclasses
import operator
from collections.abc import Callable, Collection, Mapping, Sequence
from typing import Any, Generic, TypeVar

from sqlalchemy import Column, Table

Convert = Callable[[Any], Any]
E = TypeVar("E")


class RowMapping(Generic[E]):
    """``entity`` stored as a row of ``table``.

    ``omit``: columns the entity does not carry (a secret kept beside it); they are not
    read, and a write names them itself. ``renamed``: a column whose field has another
    name, as ``{column: field}``. ``load``/``dump``: how a field's value differs in the
    column (an enum stored as its value), by field name.
    """

    def __init__(
        self,
        table: Table,
        entity: type[E],
        *,
        omit: Collection[str] = (),
        renamed: Mapping[str, str] | None = None,
        load: Mapping[str, Convert] | None = None,
        dump: Mapping[str, Convert] | None = None,
    ) -> None:
        self.columns: list[Column[Any]] = [c for c in table.c if c.key not in omit]
        renamed = renamed or {}
        # Each column's field, in the columns' order.
        names = [renamed.get(c.key, c.key) for c in self.columns]
        fields = [f.name for f in dataclasses.fields(entity)]  # type: ignore[arg-type]
        if sorted(names) != sorted(fields):
            raise RuntimeError(
                f"{table.name} and {entity.__name__} disagree: columns {sorted(names)}, "
                f"fields {sorted(fields)}"
            )
        self._entity = entity
        self._fields_and_columns = [
            (name, c.key) for name, c in zip(names, self.columns, strict=True)
        ]
        # The row's values in the order of the entity's fields, so it is built positionally.
        pick = operator.itemgetter(*(names.index(f) for f in fields))
        self._in_field_order: Callable[[Sequence[Any]], Sequence[Any]] = (
            pick if len(fields) > 1 else lambda row: (pick(row),)
        )
        load = load or {}
        self._loads = [(fields.index(name), convert) for name, convert in load.items()]
        self._dumps = dict(dump or {})

    def entity(self, row: Sequence[Any]) -> E:
        """The entity of a row whose values come in ``columns`` order."""
        values = self._in_field_order(row)
        if self._loads:
            values = list(values)
            for index, convert in self._loads:
                values[index] = convert(values[index])
        return self._entity(*values)

    def values(self, entity: E, suffix: str = "") -> dict[str, Any]:
        """The entity's columns as statement parameters, each named after its column
        (plus ``suffix``, for the rows of a many-row statement)."""
        dumps = self._dumps
        return {
            column + suffix: dumps[name](value) if name in dumps else value
            for name, column in self._fields_and_columns
            for value in (getattr(entity, name),)
        }
