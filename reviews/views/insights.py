"""The insights page: the learning culture measured."""

from datetime import timedelta

from django.http import HttpRequest, HttpResponse
from django.shortcuts import render
from django.utils import timezone
from django.views.decorators.http import require_GET

from reviews.forms import InsightsFilterForm
from reviews.insights import insights_for


@require_GET
def insights(request: HttpRequest) -> HttpResponse:
    filters = InsightsFilterForm(request.GET or None)
    criteria = filters.cleaned_data if filters.is_valid() else {}
    days = int(criteria.get("days") or 180)
    team = criteria.get("team")
    figures = insights_for(
        viewer=request.user, since=timezone.now() - timedelta(days=days), team_id=team.pk if team else None
    )
    return render(request, "reviews/insights.html", {"filters": filters, "insights": figures, "days": days})
