"""The browsable API: the JSON answers as HTML pages, without forms that list rows.

DRF renders an HTML form for each write a view allows, and a form's related fields are drop-downs
of every row of the related model (all incidents, all narratives), whatever the viewer may see.
The pages keep the raw JSON form, which offers no choices, so they show exactly what the JSON
answer shows.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, Literal

from rest_framework import renderers

if TYPE_CHECKING:
    from rest_framework.request import Request
    from rest_framework.views import APIView


class BrowsableAPIRenderer(renderers.BrowsableAPIRenderer):
    def get_rendered_html_form(
        self, data: Any, view: APIView, method: str, request: Request
    ) -> str | Literal[True] | None:
        if method in {"DELETE", "OPTIONS"}:  # a button, not a form: nothing listed
            return super().get_rendered_html_form(data, view, method, request)
        return None
