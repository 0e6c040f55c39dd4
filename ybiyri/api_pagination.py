"""Keyset pagination for the API's collections that grow with the organisation.

Page-number pagination counts every row the requester may see and skips the earlier pages with
OFFSET, so its cost grows with the data. These collections page by cursor instead: each page is
read in the list's order, from an index, starting where the previous page ended; there is no
`count`, and `next`/`previous` carry opaque cursors (DRF's `CursorPagination`).
"""

from django.db.models import QuerySet
from rest_framework.pagination import CursorPagination
from rest_framework.request import Request
from rest_framework.settings import api_settings
from rest_framework.views import APIView


class KeysetPagination(CursorPagination):
    """Cursor pagination in the view's order (its `ordering`, or `?ordering=`), with the id
    appended so that rows sharing a value keep one order from page to page."""

    page_size = api_settings.PAGE_SIZE

    def get_ordering(self, request: Request, queryset: QuerySet, view: APIView) -> tuple[str, ...]:
        ordering = super().get_ordering(request, queryset, view)
        if not any(field.lstrip("-") in ("id", "pk") for field in ordering):
            ordering = (*ordering, "-id" if ordering[0].startswith("-") else "id")
        return ordering
