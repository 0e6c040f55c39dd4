"""The two operating models side by side, and the themes that recur across incidents."""

from collections import defaultdict
from datetime import timedelta
from typing import Any

from django.db.models import Count, DateTimeField, Max, Q, QuerySet, Sum, Value
from django.db.models.functions import Coalesce, TruncMonth
from django.utils import timezone

from incidents.models import AnalysisSession, Incident, LearningTheme, Service
from reviews.insights.scope import InsightsScope, days_exact, elapsed, hours, month_key
from reviews.models import ImprovementAction


def operating_models(incidents: QuerySet[Incident], incident_ids: QuerySet) -> list[dict[str, Any]]:
    """The two operating models side by side: detection and restoration by severity, cost of
    delay, share of actions done, analysis hours."""
    restored = Coalesce("mitigated_at", "resolved_at")
    per_severity: defaultdict[str, list[dict[str, Any]]] = defaultdict(list)
    for row in (
        incidents.values("operating_model", "severity")
        .annotate(
            n=Count("id"),
            detect_sum=Sum(elapsed("detected_at", "started_at")),
            detected=Count("id", filter=Q(detected_at__isnull=False)),
            restore_sum=Sum(elapsed(restored, "started_at")),
            restored=Count("id", filter=Q(mitigated_at__isnull=False) | Q(resolved_at__isnull=False)),
        )
        .order_by("operating_model", "severity")
    ):
        per_severity[row["operating_model"]].append(
            {
                "severity": row["severity"],
                "label": Incident.Severity(row["severity"]).label,
                "incidents": row["n"],
                "mean_time_to_detect_hours": mean_hours(row["detect_sum"], row["detected"]),
                "mean_time_to_restore_hours": mean_hours(row["restore_sum"], row["restored"]),
            }
        )
    now_value = Value(timezone.now(), output_field=DateTimeField())
    actions: dict[str, dict[str, Any]] = {
        row["incident__operating_model"]: dict(row)
        for row in ImprovementAction.objects.filter(incident_id__in=incident_ids)
        .values("incident__operating_model")
        .annotate(
            raised=Count("id"),
            done=Count("id", filter=Q(done_at__isnull=False)),
            delay=Sum(elapsed(Coalesce("done_at", now_value), "raised_at")),
        )
        .order_by()
    }
    analysis: dict[str, dict[str, Any]] = {
        row["incident__operating_model"]: dict(row)
        for row in AnalysisSession.objects.filter(incident_id__in=incident_ids)
        .values("incident__operating_model")
        .annotate(spent=Sum("time_spent_minutes"), incidents=Count("incident_id", distinct=True))
        .order_by()
    }
    top_themes: defaultdict[str, list[str]] = defaultdict(list)
    for theme in (
        LearningTheme.objects.filter(
            analyses__incident_id__in=incident_ids, analyses__status=AnalysisSession.Status.SUBMITTED
        )
        .values("analyses__incident__operating_model", "name")
        .annotate(incidents=Count("analyses__incident", distinct=True))
        .order_by("analyses__incident__operating_model", "-incidents", "name")
    ):
        if len(top_themes[theme["analyses__incident__operating_model"]]) < 3:
            top_themes[theme["analyses__incident__operating_model"]].append(theme["name"])
    result: list[dict[str, Any]] = []
    for model, label in Service.OperatingModel.choices:
        raised = actions.get(model, {}).get("raised", 0)
        done = actions.get(model, {}).get("done", 0)
        incidents_count = sum(row["incidents"] for row in per_severity[model])
        result.append(
            {
                "model": model,
                "label": label,
                "by_severity": per_severity[model],
                "themes": top_themes[model],
                "figures": {
                    "incidents": (incidents_count, "count"),
                    "mean_cost_of_delay_days": (
                        round(days_exact(actions.get(model, {}).get("delay")) / raised, 1)
                        if raised
                        else None,
                        "days",
                    ),
                    "actions_done_percent": (round(100 * done / raised) if raised else None, "percent"),
                    "analysis_hours": (hours(analysis.get(model, {}).get("spent")), "hours"),
                    "analysis_hours_per_incident": (
                        round(hours(analysis.get(model, {}).get("spent")) / incidents_count, 1)
                        if incidents_count
                        else None,
                        "hours",
                    ),
                },
            }
        )
    return result


def mean_hours(total: timedelta | None, count: int) -> float | None:
    return round(total.total_seconds() / 3600 / count, 1) if total is not None and count else None


def recurring_themes(incident_ids: QuerySet, scope: InsightsScope) -> list[dict[str, Any]]:
    """Recurring themes (seen in at least two incidents), rising when seen in more incidents in the
    later half of the period than in the earlier, with the teams they appear in and the incidents
    that show them in each month (by when the incident started)."""
    middle = scope.start + (scope.end - scope.start) / 2
    submitted = LearningTheme.objects.filter(
        analyses__incident_id__in=incident_ids, analyses__status=AnalysisSession.Status.SUBMITTED
    )
    recurring: list[dict[str, Any]] = [
        dict(theme)
        for theme in submitted.annotate(
            incidents=Count("analyses__incident", distinct=True),
            later=Count(
                "analyses__incident", distinct=True, filter=Q(analyses__incident__started_at__gte=middle)
            ),
            last_seen=Max("analyses__incident__started_at"),
        )
        .filter(incidents__gte=2)
        .order_by("-incidents", "name")
        .values("id", "name", "slug", "incidents", "later", "last_seen")[:15]
    ]
    by_team: defaultdict[int, list[tuple[str, int]]] = defaultdict(list)
    for team_row in (
        submitted.filter(id__in=[theme["id"] for theme in recurring])
        .values("id", "analyses__incident__team__name")
        .annotate(incidents=Count("analyses__incident", distinct=True))
        .order_by("id", "-incidents", "analyses__incident__team__name")
    ):
        by_team[team_row["id"]].append((team_row["analyses__incident__team__name"], team_row["incidents"]))
    by_month: defaultdict[int, dict[str, int]] = defaultdict(dict)
    for month_row in (
        submitted.filter(id__in=[theme["id"] for theme in recurring])
        .values(
            "id", month=TruncMonth("analyses__incident__started_at", tzinfo=timezone.get_current_timezone())
        )
        .annotate(incidents=Count("analyses__incident", distinct=True))
        .order_by()
    ):
        by_month[month_row["id"]][month_key(month_row["month"])] = month_row["incidents"]
    for theme in recurring:
        theme["earlier"] = theme["incidents"] - theme["later"]
        theme["rising"] = theme["later"] > theme["earlier"]
        theme["by_team"] = by_team[theme["id"]]
        theme["by_month"] = by_month[theme["id"]]
    return recurring
