"""The insights page and its CSV export: the learning culture measured."""

import csv

from django.http import HttpRequest, HttpResponse
from django.shortcuts import render
from django.views.decorators.http import require_GET

from reviews.insights import AGE_BANDS, InsightsFilterForm, insights_for

CSV_HEADER = ["section", "metric", "team", "month", "value", "unit"]


@require_GET
def insights(request: HttpRequest) -> HttpResponse:
    filters = InsightsFilterForm(request.GET or None)
    figures = insights_for(viewer=request.user, scope=filters.scope())
    return render(
        request,
        "reviews/insights.html",
        {
            "filters": filters,
            "insights": figures,
            "age_bands": [name for name, _low, _high in AGE_BANDS],
            "query": request.GET.urlencode(),
        },
    )


@require_GET
def insights_export(request: HttpRequest) -> HttpResponse:
    """Every figure of the page for the same parameters, one per row."""
    figures = insights_for(viewer=request.user, scope=InsightsFilterForm(request.GET or None).scope())
    response = HttpResponse(content_type="text/csv; charset=utf-8")
    response["Content-Disposition"] = 'attachment; filename="ybiyri-insights.csv"'
    writer = csv.writer(response)
    writer.writerow(CSV_HEADER)
    for row in figures.rows:
        writer.writerow(
            [row.section, row.metric, row.team, row.month, "" if row.value is None else row.value, row.unit]
        )
    return response
