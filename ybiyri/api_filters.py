"""Query-string filters for every API list, built so that they cannot leak what the viewer may not see.

A filter on a related row (an incident, a narrative, an analysis, …) takes the row's id and
nothing else: it offers no choices (the browsable API would otherwise render every incident title
in a drop-down) and validates nothing against the database. The list it narrows is already limited
to what the viewer may see by the view's ``*_q`` access rule, so a filter on a hidden id and a
filter on an id that does not exist give the same answer: an empty page, never an error that tells
them apart.
"""

from __future__ import annotations

from collections import OrderedDict
from typing import TYPE_CHECKING, Any

from django import forms
from django.core.exceptions import ImproperlyConfigured
from django.db import models
from django.db.models import QuerySet
from django_filters import rest_framework as filters
from django_filters.filters import QuerySetRequestMixin
from django_filters.filterset import FILTER_FOR_DBFIELD_DEFAULTS

if TYPE_CHECKING:
    from rest_framework.views import APIView

#: The largest id PostgreSQL's bigint holds: larger values are bad input, not a database error.
MAX_ID = 2**63 - 1


class IdField(forms.IntegerField):
    def __init__(self, **kwargs: Any) -> None:
        kwargs.setdefault("min_value", 1)
        kwargs.setdefault("max_value", MAX_ID)
        super().__init__(**kwargs)


class IdFilter(filters.NumberFilter):
    """The id of a related row; which rows exist is never consulted."""

    # The stubs narrow NumberFilter's field to DecimalField; the library takes any number field.
    field_class = IdField  # type: ignore[assignment]


RELATION_FIELDS = (
    models.ForeignKey,
    models.OneToOneField,
    models.ManyToManyField,
    models.OneToOneRel,
    models.ManyToOneRel,
    models.ManyToManyRel,
)


#: The longest text a filter takes: longer terms are bad input (SQLite refuses LIKE patterns of
#: tens of thousands of characters with an error), never a search.
MAX_FILTER_TEXT = 200


class ApiFilterSet(filters.FilterSet):
    """The base of every API filter set: relations are filtered by id, never by a model choice,
    and text filters take at most MAX_FILTER_TEXT characters."""

    FILTER_DEFAULTS = {
        **FILTER_FOR_DBFIELD_DEFAULTS,
        # The stubs key these defaults by Field alone; the library's own include the reverse relations.
        **{relation: {"filter_class": IdFilter} for relation in RELATION_FIELDS},  # type: ignore[misc]
    }

    @classmethod
    def get_filters(cls) -> OrderedDict[str, filters.Filter]:
        declared = super().get_filters()
        for name, declared_filter in declared.items():
            if isinstance(declared_filter, QuerySetRequestMixin):
                raise ImproperlyConfigured(
                    f"{cls.__name__}.{name} offers rows from a queryset: filter related rows by id "
                    "(IdFilter), so that the viewer's access rule alone decides what is listed."
                )
            if isinstance(declared_filter, filters.CharFilter):
                declared_filter.extra.setdefault("max_length", MAX_FILTER_TEXT)
        return declared


class ApiFilterBackend(filters.DjangoFilterBackend):
    """Builds ``filterset_fields`` on :class:`ApiFilterSet` and refuses any other filter set."""

    filterset_base = ApiFilterSet

    def get_filterset_class(
        self, view: APIView, queryset: QuerySet | None = None
    ) -> type[filters.FilterSet] | None:
        filterset_class = super().get_filterset_class(view, queryset)
        if filterset_class is not None and not issubclass(filterset_class, ApiFilterSet):
            raise ImproperlyConfigured(f"{type(view).__name__}'s filter set must derive from ApiFilterSet.")
        return filterset_class
