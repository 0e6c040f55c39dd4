"""The insights page and its CSV export: the learning culture measured."""

import csv
import io

from django.http import HttpResponse
from django.shortcuts import render
from django.template.loader import render_to_string
from django.utils.safestring import mark_safe
from django.views.decorators.http import require_GET

from reviews.insights import AGE_BANDS, InsightsFilterForm, insights_for
from reviews.insights.cache import cached
from ybiyri.request_types import SignedInRequest

CSV_HEADER = ["section", "metric", "team", "month", "value", "unit"]


@require_GET
def insights(request: SignedInRequest) -> HttpResponse:
    filters = InsightsFilterForm(request.GET or None)

    def figures() -> str:
        return render_to_string(
            "reviews/_insights_figures.html",
            {
                "insights": insights_for(viewer=request.user, scope=filters.scope()),
                "age_bands": [name for name, _low, _high in AGE_BANDS],
            },
        )

    # Text that the template engine escaped when it rendered it, kept as text in the cache.
    html = mark_safe(cached(kind="page", viewer=request.user, filters=filters.key(), build=figures))  # noqa: S308
    return render(
        request,
        "reviews/insights.html",
        {"filters": filters, "figures": html, "query": request.GET.urlencode()},
    )


@require_GET
def insights_export(request: SignedInRequest) -> HttpResponse:
    """Every figure of the page for the same parameters, one per row."""
    filters = InsightsFilterForm(request.GET or None)

    def rows() -> str:
        figures = insights_for(viewer=request.user, scope=filters.scope())
        text = io.StringIO()
        writer = csv.writer(text)
        writer.writerow(CSV_HEADER)
        for row in figures.rows:
            writer.writerow(
                [
                    row.section,
                    row.metric,
                    row.team,
                    row.month,
                    "" if row.value is None else row.value,
                    row.unit,
                ]
            )
        return text.getvalue()

    response = HttpResponse(
        cached(kind="csv", viewer=request.user, filters=filters.key(), build=rows),
        content_type="text/csv; charset=utf-8",
    )
    response["Content-Disposition"] = 'attachment; filename="ybiyri-insights.csv"'
    return response
