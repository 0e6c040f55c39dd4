"""Insights: the learning culture measured, over the incidents the viewer can see.

Every figure is one aggregate query, so the page costs the same whatever the data.
"""

from dataclasses import dataclass
from datetime import datetime

from django.db.models import Avg, Count, DurationField, ExpressionWrapper, F, Q, QuerySet, Sum
from django.utils import timezone

from incidents.access import visible_incidents_q
from incidents.models import AnalysisSession, Incident, LearningTheme, Service, User
from reviews.access import readable_narratives_q
from reviews.models import ImprovementAction, Narrative, Walkthrough


def elapsed(end: str, start: str) -> ExpressionWrapper:
    return ExpressionWrapper(F(end) - F(start), output_field=DurationField())


@dataclass(frozen=True)
class Insights:
    since: datetime
    incidents: dict
    analysis: dict
    actions: dict
    lead_times: dict
    walkthrough_hours: float
    by_operating_model: list[dict]
    recurring_themes: QuerySet
    reach: dict
    most_read: QuerySet


def insights_for(*, viewer: User, since: datetime, team_id: int | None = None) -> Insights:
    incidents = Incident.objects.filter(visible_incidents_q(viewer), started_at__gte=since)
    if team_id:
        incidents = incidents.filter(team_id=team_id)
    incident_ids = incidents.values("id")
    incident_figures = incidents.aggregate(
        total=Count("id"),
        sev1=Count("id", filter=Q(severity=Incident.Severity.SEV1)),
        mean_time_to_resolve=Avg(elapsed("resolved_at", "started_at")),
    )
    analysis = AnalysisSession.objects.filter(incident_id__in=incident_ids).aggregate(
        sessions=Count("id"),
        submitted=Count("id", filter=Q(status=AnalysisSession.Status.SUBMITTED)),
        allocated_minutes=Sum("allocated_minutes"),
        spent_minutes=Sum("time_spent_minutes"),
    )
    now = timezone.now()
    actions = ImprovementAction.objects.filter(incident_id__in=incident_ids).aggregate(
        raised=Count("id"),
        done=Count("id", filter=Q(done_at__isnull=False)),
        mean_cost_of_delay_done=Avg(elapsed("done_at", "raised_at"), filter=Q(done_at__isnull=False)),
        open_age_total=Sum(
            ExpressionWrapper(now - F("raised_at"), output_field=DurationField()),
            filter=Q(done_at__isnull=True),
        ),
    )
    lead_times = incidents.aggregate(
        resolved_to_review=Avg(elapsed("review__held_at", "resolved_at")),
        review_to_narrative=Avg(elapsed("narrative__published_at", "review__held_at")),
        resolved_to_narrative=Avg(elapsed("narrative__published_at", "resolved_at")),
    )
    walkthrough_minutes = (
        Walkthrough.objects.filter(
            narrative__incident_id__in=incident_ids, status=Walkthrough.Status.SCHEDULED
        )
        .annotate(people=Count("attendees") + 1)
        .aggregate(total=Sum(F("duration_minutes") * F("people")))["total"]
    )
    by_operating_model = list(
        incidents.values("service__operating_model")
        .annotate(
            incidents=Count("id", distinct=True),
            mean_time_to_resolve=Avg(elapsed("resolved_at", "started_at")),
        )
        .order_by("service__operating_model")
    )
    labels = dict(Service.OperatingModel.choices)
    for row in by_operating_model:
        row["label"] = labels.get(row["service__operating_model"], row["service__operating_model"])
    themes = (
        LearningTheme.objects.filter(
            analyses__incident_id__in=incident_ids, analyses__status=AnalysisSession.Status.SUBMITTED
        )
        .annotate(incident_count=Count("analyses__incident", distinct=True))
        .filter(incident_count__gte=1)
        .order_by("-incident_count", "name")[:10]
    )
    narratives = Narrative.objects.filter(readable_narratives_q(viewer), incident_id__in=incident_ids)
    reach = narratives.aggregate(published=Count("id", distinct=True), reads=Count("reads", distinct=True))
    most_read = (
        narratives.annotate(read_count=Count("reads", distinct=True))
        .select_related("incident__team")
        .order_by("-read_count", "-published_at")[:5]
    )
    return Insights(
        since=since,
        incidents=incident_figures,
        analysis=analysis,
        actions=actions,
        lead_times=lead_times,
        walkthrough_hours=round((walkthrough_minutes or 0) / 60, 1),
        by_operating_model=by_operating_model,
        recurring_themes=themes,
        reach=reach,
        most_read=most_read,
    )
