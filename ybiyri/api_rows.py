"""Rows of the API's longest lists, read as values and shown through their serializer's own fields.

A list of fifty rows through a ``ModelSerializer`` builds fifty model instances (and those of every
``select_related`` relation), a related manager and a queryset per row for each many-to-many field,
and walks DRF's per-field attribute lookup for every cell. The lists that grow with the organisation
read their rows with ``QuerySet.values()`` instead, the columns named by the serializer's fields,
and format each cell with that very field's ``to_representation``, so a row is byte for byte what
the serializer gives for the same object (the detail views still use the serializer itself).
"""

from collections.abc import Callable, Collection, Iterable
from typing import Any

from django.core.exceptions import ImproperlyConfigured
from rest_framework import serializers
from rest_framework.relations import ManyRelatedField, RelatedField


class ValueRows:
    """Shapes ``values()`` rows as `serializer_class` shapes instances.

    `columns` are what to pass to ``values()``: each field's source, with ``__`` for a dotted one (a
    related object's id comes as its id, as ``PrimaryKeyRelatedField`` shows it). The fields named in
    `given` are computed by the caller from its own columns and put in each row under the field's
    name, ready to show: many-to-many ids, nested rows, method fields and properties.
    """

    def __init__(
        self, serializer_class: type[serializers.Serializer], *, given: Collection[str] = ()
    ) -> None:
        self.columns: list[str] = []
        self.plan: list[tuple[str, str, Callable[[Any], Any] | None]] = []
        for name, field in serializer_class().fields.items():
            if name in given:
                self.plan.append((name, name, None))
                continue
            if isinstance(
                field, ManyRelatedField | serializers.SerializerMethodField | serializers.BaseSerializer
            ):
                raise ImproperlyConfigured(
                    f"{serializer_class.__name__}.{name} is not a column: name it in `given`."
                )
            column = (field.source or name).replace(".", "__")
            self.columns.append(column)
            self.plan.append(
                (name, column, None if isinstance(field, RelatedField) else field.to_representation)
            )

    def represent(self, rows: Iterable[dict[str, Any]]) -> list[dict[str, Any]]:
        """The rows as the serializer would show them (None stays None, as DRF leaves it)."""
        shown = []
        for row in rows:
            item = {}
            for name, column, show in self.plan:
                value = row[column]
                item[name] = value if show is None or value is None else show(value)
            shown.append(item)
        return shown
