"""Pagination for the API's collections that grow with the organisation.

Page-number pagination counts every row the requester may see and skips the earlier pages with
OFFSET, so its cost grows with the data. These collections page by cursor instead: each page is
read in the list's order, from an index, starting where the previous page ended; there is no
`count`, and `next`/`previous` carry opaque cursors (DRF's `CursorPagination`). Collections that
keep page numbers may have their total counted by the view, more cheaply than a COUNT over the
listing's own query.
"""

from collections.abc import Sequence
from functools import partial
from typing import Any, cast

from django.core.paginator import Paginator
from django.db.models import QuerySet
from rest_framework.pagination import CursorPagination, PageNumberPagination
from rest_framework.request import Request
from rest_framework.settings import api_settings
from rest_framework.views import APIView

from ybiyri.views import CountedPaginator


class KeysetPagination(CursorPagination):
    """Cursor pagination in the view's order (its `ordering`, or `?ordering=`), with the id
    appended so that rows sharing a value keep one order from page to page."""

    page_size = api_settings.PAGE_SIZE

    def get_ordering(self, request: Request, queryset: QuerySet, view: APIView) -> tuple[str, ...]:
        ordering = super().get_ordering(request, queryset, view)
        if not any(field.lstrip("-") in ("id", "pk") for field in ordering):
            ordering = (*ordering, "-id" if ordering[0].startswith("-") else "id")
        return ordering


class CountedPageNumberPagination(PageNumberPagination):
    """Page-number pagination whose total comes from the view's `count_listed()` when it returns
    one (None: a COUNT over the listing, as usual)."""

    def paginate_queryset(
        self, queryset: QuerySet[Any, Any] | Sequence[Any], request: Request, view: APIView | None = None
    ) -> list[Any] | None:
        count = getattr(view, "count_listed", lambda: None)()
        # DRF builds the paginator as `django_paginator_class(queryset, page_size)`.
        self.django_paginator_class = (
            Paginator if count is None else cast(type[Paginator], partial(CountedPaginator, count=count))
        )
        return super().paginate_queryset(queryset, request, view)
