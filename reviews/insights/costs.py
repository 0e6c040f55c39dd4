"""The three costs of the learning culture, the analysis time-box and the lead times, per team
and month; `insights_for` puts the whole page together."""

from collections import defaultdict
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from decimal import Decimal

from django.conf import settings
from django.db.models import Count, DateTimeField, F, Q, QuerySet, Sum, Value
from django.db.models.functions import Coalesce, TruncMonth
from django.utils import timezone

from incidents.access import sees_everything, user_team_ids, visible_incident_ids
from incidents.models import AnalysisSession, Incident, Service, Team, User
from reviews.insights.compare import operating_models, recurring_themes
from reviews.insights.scope import InsightsScope, days_exact, elapsed, hours, month_key
from reviews.models import ImprovementAction, Narrative, Review, Training, Walkthrough

# Open actions by how long they have waited since they were raised.
AGE_BANDS = (("under_7d", 0, 7), ("7_to_30d", 7, 30), ("30_to_90d", 30, 90), ("over_90d", 90, None))
ALL = ""  # the team or month of a figure that covers them all
# The recurring themes the month-by-month chart follows (the most seen first).
THEMES_CHARTED = 5


@dataclass(frozen=True)
class Figure:
    section: str
    metric: str
    team: str
    month: str
    value: float | int | None
    unit: str


@dataclass(frozen=True)
class Panel:
    """One table of the page (and the chart drawn from it): columns are (section, metric, heading)
    of figures, rows are the months of the period or the teams, then the total."""

    id: str
    title: str
    by: str  # "month" or "team"
    columns: tuple[tuple[str, str, str], ...]
    chart: str = ""  # "", "bar", "stacked" or "line"
    unit: str = ""


AGE_BAND_LABELS = {
    "under_7d": "Under 7 days",
    "7_to_30d": "7–30 days",
    "30_to_90d": "30–90 days",
    "over_90d": "Over 90 days",
}
PANELS = (
    Panel(
        "capex-month",
        "Capital expenditure by month (person-hours)",
        "month",
        (("setup", "setup_person_hours", "Setup"), ("run", "run_person_hours", "Run")),
        chart="stacked",
        unit="hours",
    ),
    Panel(
        "capex-team",
        "Capital expenditure by team",
        "team",
        (
            ("capex", "incidents", "Incidents"),
            ("setup", "setup_person_hours", "Setup (h)"),
            ("run", "run_person_hours", "Run (h)"),
            ("capex", "capex_person_hours", "Total (h)"),
            ("capex", "capex_person_hours_per_incident", "Per incident (h)"),
            ("opportunity", "cost_of_delay_days", "Cost of delay (days)"),
            ("opportunity", "cost_of_delay_money", "Cost of delay (money)"),
            ("capex", "cost_of_delay_money_per_incident", "Cost of delay per incident (money)"),
        ),
    ),
    Panel(
        "setup-month",
        "Setup by month (person-hours)",
        "month",
        (
            ("setup", "training_person_hours", "Training"),
            ("setup", "walkthrough_person_hours", "Walkthroughs"),
            ("setup", "playback_person_hours", "Playbacks"),
            ("setup", "preparation_person_hours", "Preparation"),
        ),
        chart="stacked",
        unit="hours",
    ),
    Panel(
        "setup-team",
        "Setup by team (person-hours)",
        "team",
        (
            ("setup", "training_person_hours", "Training"),
            ("setup", "walkthrough_person_hours", "Walkthroughs"),
            ("setup", "playback_person_hours", "Playbacks"),
            ("setup", "preparation_person_hours", "Preparation"),
            ("setup", "setup_person_hours", "Setup"),
        ),
    ),
    Panel(
        "delay-month",
        "Cost of delay by month (days)",
        "month",
        (
            ("opportunity", "mean_cost_of_delay_done", "Mean, actions done"),
            ("capex", "cost_of_delay_days_per_incident", "Per incident, so far"),
        ),
        chart="line",
        unit="days",
    ),
    Panel(
        "opportunity-month",
        "Improvement actions by month",
        "month",
        (
            ("opportunity", "actions_raised", "Raised"),
            ("opportunity", "actions_done", "Done"),
            ("opportunity", "open_action_days", "Delay of open actions (days)"),
            ("opportunity", "cost_of_delay_days", "Cost of delay (days)"),
            ("opportunity", "cost_of_delay_money", "Cost of delay (money)"),
        ),
    ),
    Panel(
        "age-team",
        "Open actions by age",
        "team",
        tuple(("opportunity", f"open_actions_{name}", label) for name, label in AGE_BAND_LABELS.items()),
        chart="stacked",
        unit="actions",
    ),
    Panel(
        "run-month",
        "Run by month (person-hours)",
        "month",
        (
            ("run", "effort_actual_hours", "Improvement effort"),
            ("run", "analysis_hours", "Analysis"),
            ("run", "review_person_hours", "Reviews"),
        ),
        chart="stacked",
        unit="hours",
    ),
    Panel(
        "run-team",
        "Run by team (hours)",
        "team",
        (
            ("run", "effort_estimate_hours", "Effort estimated"),
            ("run", "effort_actual_hours", "Effort actual"),
            ("run", "analysis_hours", "Analysis"),
            ("run", "review_person_hours", "Reviews"),
            ("run", "run_person_hours", "Run"),
        ),
    ),
    Panel(
        "analysis-team",
        "Analysis time-box by team",
        "team",
        (
            ("analysis", "sessions", "Sessions"),
            ("analysis", "sessions_submitted", "Submitted"),
            ("analysis", "sessions_overdue", "Overdue"),
            ("analysis", "allocated_hours", "Allocated (h)"),
            ("analysis", "spent_hours", "Spent (h)"),
            ("analysis", "sessions_over_time_box", "Over the time-box"),
            ("analysis", "mean_overrun_hours", "Mean overrun (h)"),
            ("analysis", "mean_resolved_to_allocated_days", "Resolved → allocated (days)"),
        ),
    ),
    Panel(
        "lead-team",
        "Lead times by team (mean days)",
        "team",
        (
            ("lead_times", "mean_time_to_resolve_days", "Started → resolved"),
            ("lead_times", "mean_resolved_to_review_days", "Resolved → review held"),
            ("lead_times", "mean_resolved_to_narrative_days", "Resolved → narrative published"),
        ),
    ),
)


@dataclass
class Insights:
    scope: InsightsScope
    rows: list[Figure]
    months: list[str]
    teams: list[str]
    models: list[dict]
    themes: list[dict]
    misfits: list[Service]
    most_read: list[Narrative] = field(default_factory=list)
    computed_at: datetime = field(default_factory=timezone.now)
    cost_of_failure_per_hour: Decimal | None = field(
        default_factory=lambda: settings.COST_OF_FAILURE_PER_HOUR
    )

    def __post_init__(self) -> None:
        self._index = {(f.section, f.metric, f.team, f.month): f.value for f in self.rows}

    def value(self, section: str, metric: str, team: str = ALL, month: str = ALL) -> float | int | None:
        return self._index.get((section, metric, team, month))

    @property
    def totals(self) -> dict[str, float | int | None]:
        """The whole-scope figures by metric name (metric names are unique across sections)."""
        return {f.metric: f.value for f in self.rows if f.team == ALL and f.month == ALL}

    @property
    def panels(self) -> list[dict]:
        return [self._table(panel) for panel in PANELS]

    @property
    def themes_panel(self) -> dict | None:
        """The recurring themes seen most, month by month (a chart of a few lines stays readable)."""
        shown = self.themes[:THEMES_CHARTED]
        if not shown:
            return None
        columns = tuple(
            ("themes", f"incidents:{theme['slug']}", theme["name"] + (" (rising)" if theme["rising"] else ""))
            for theme in shown
        )
        panel = Panel(
            "themes-month",
            "Recurring themes by month (incidents)",
            "month",
            columns,
            chart="line",
            unit="incidents",
        )
        return self._table(panel)

    def _table(self, panel: Panel) -> dict:
        keys = self.months if panel.by == "month" else self.teams
        rows = [
            {
                "label": key,
                "values": [
                    self.value(
                        section,
                        metric,
                        team=key if panel.by == "team" else ALL,
                        month=key if panel.by == "month" else ALL,
                    )
                    for section, metric, _heading in panel.columns
                ],
            }
            for key in keys
        ]
        total = [self.value(section, metric) for section, metric, _heading in panel.columns]
        return {"panel": panel, "rows": rows, "total": total}


class Ledger:
    """Sums per (metric, team id, month), rolled up into per-team, per-month and total figures."""

    def __init__(self) -> None:
        self.sums: dict[str, dict[tuple[int | None, str], float]] = defaultdict(lambda: defaultdict(float))

    def add(self, metric: str, team_id: int | None, month: str, value: float | int | Decimal | None) -> None:
        if value:
            cell = self.sums[metric]
            for key in ((team_id, month), (team_id, ALL), (None, month), (None, ALL)):
                cell[key] += float(value)

    def get(self, metric: str, team_id: int | None = None, month: str = ALL) -> float:
        return self.sums[metric].get((team_id, month), 0.0)

    def cells(self) -> set[tuple[int | None, str]]:
        return {key for cell in self.sums.values() for key in cell}


def insights_for(*, viewer: User, scope: InsightsScope) -> Insights:
    now = timezone.now()
    tz = timezone.get_current_timezone()
    in_scope = Incident.objects.filter(started_at__gte=scope.start, started_at__lt=scope.end)
    if scope.team:
        in_scope = in_scope.filter(team=scope.team)
    if scope.severity:
        in_scope = in_scope.filter(severity=scope.severity)
    if scope.operating_model:
        in_scope = in_scope.filter(operating_model=scope.operating_model)
    incident_ids = visible_incident_ids(viewer, in_scope)
    incidents = Incident.objects.filter(id__in=incident_ids)
    ledger = Ledger()

    def by_team_month(queryset: QuerySet, team: str, started: str, *, day: bool = False) -> QuerySet:
        # A date (a training's day) has no time zone; a moment is put in the organisation's.
        month = TruncMonth(started) if day else TruncMonth(started, tzinfo=tz)
        return queryset.values(group_team=F(team), month=month)

    # Incidents and their lead times (sums and counts, so that every mean rolls up exactly).
    for row in by_team_month(incidents, "team_id", "started_at").annotate(
        n=Count("id"),
        resolved=Count("id", filter=Q(resolved_at__isnull=False)),
        resolve_sum=Sum(elapsed("resolved_at", "started_at")),
        reviewed=Count("id", filter=Q(review__held_at__isnull=False, resolved_at__isnull=False)),
        review_sum=Sum(elapsed("review__held_at", "resolved_at")),
        published=Count("id", filter=Q(narrative__published_at__isnull=False, resolved_at__isnull=False)),
        publish_sum=Sum(elapsed("narrative__published_at", "resolved_at")),
    ):
        team_id, month = row["group_team"], month_key(row["month"])
        ledger.add("incidents", team_id, month, row["n"])
        ledger.add("resolved", team_id, month, row["resolved"])
        ledger.add("resolve_days", team_id, month, days_exact(row["resolve_sum"]))
        ledger.add("reviewed", team_id, month, row["reviewed"])
        ledger.add("review_days", team_id, month, days_exact(row["review_sum"]))
        ledger.add("published", team_id, month, row["published"])
        ledger.add("publish_days", team_id, month, days_exact(row["publish_sum"]))

    # Setup: trainings (trainer and attendees), walkthroughs once held (presenter and attendees).
    # Held on a day of the period, and not in the future: a planned training has cost nothing yet.
    trainings = Training.objects.filter(
        held_on__gte=timezone.localtime(scope.start).date(),
        held_on__lte=min(
            timezone.localtime(scope.end - timedelta(microseconds=1)).date(), timezone.localdate()
        ),
    )
    if scope.team:
        trainings = trainings.filter(team=scope.team)
    elif not sees_everything(viewer):
        trainings = trainings.filter(team_id__in=user_team_ids(viewer))
    for row in by_team_month(trainings, "team_id", "held_on", day=True).annotate(
        minutes=Sum("duration_minutes")
    ):
        ledger.add("training_minutes", row["group_team"], month_key(row["month"]), row["minutes"])
    attendances = Training.attendees.through.objects.filter(training__in=trainings.values("id"))
    for row in by_team_month(attendances, "training__team_id", "training__held_on", day=True).annotate(
        minutes=Sum("training__duration_minutes")
    ):
        ledger.add("training_minutes", row["group_team"], month_key(row["month"]), row["minutes"])

    # Walkthroughs and playbacks once held: everyone's time in the room, and the presenter's
    # preparation, each counted under its kind.
    held_walkthroughs = Walkthrough.objects.filter(
        narrative__incident_id__in=incident_ids, status=Walkthrough.Status.SCHEDULED, scheduled_at__lte=now
    )
    for row in (
        by_team_month(held_walkthroughs, "narrative__incident__team_id", "narrative__incident__started_at")
        .values("group_team", "month", "kind")
        .annotate(minutes=Sum("duration_minutes"), preparation=Sum("preparation_minutes"))
    ):
        team_id, month = row["group_team"], month_key(row["month"])
        ledger.add(f"{row['kind']}_minutes", team_id, month, row["minutes"])
        ledger.add("preparation_minutes", team_id, month, row["preparation"])
    walkthrough_attendances = Walkthrough.attendees.through.objects.filter(
        walkthrough__in=held_walkthroughs.values("id")
    )
    for row in (
        by_team_month(
            walkthrough_attendances,
            "walkthrough__narrative__incident__team_id",
            "walkthrough__narrative__incident__started_at",
        )
        .values("group_team", "month", "walkthrough__kind")
        .annotate(minutes=Sum("walkthrough__duration_minutes"))
    ):
        ledger.add(
            f"{row['walkthrough__kind']}_minutes", row["group_team"], month_key(row["month"]), row["minutes"]
        )

    # Opportunity and run from the actions: delay so far, age of the open ones, effort.
    now_value = Value(now, output_field=DateTimeField())
    delay = elapsed(Coalesce("done_at", now_value), "raised_at")
    open_q = Q(done_at__isnull=True)
    bands = {
        f"open_{name}": Count(
            "id",
            filter=open_q
            & Q(raised_at__lte=now - timedelta(days=low))
            & (Q(raised_at__gt=now - timedelta(days=high)) if high else Q()),
        )
        for name, low, high in AGE_BANDS
    }
    actions = ImprovementAction.objects.filter(incident_id__in=incident_ids)
    for row in by_team_month(actions, "incident__team_id", "incident__started_at").annotate(
        rate=F("incident__service__cost_of_delay_per_day"),
        raised=Count("id"),
        done=Count("id", filter=~open_q),
        done_delay=Sum(delay, filter=~open_q),
        open_delay=Sum(delay, filter=open_q),
        estimate=Sum("effort_estimate_hours"),
        actual=Sum("effort_actual_hours"),
        **bands,
    ):
        team_id, month = row["group_team"], month_key(row["month"])
        delay_days = days_exact(row["done_delay"]) + days_exact(row["open_delay"])
        ledger.add("actions_raised", team_id, month, row["raised"])
        ledger.add("actions_done", team_id, month, row["done"])
        ledger.add("done_delay_days", team_id, month, days_exact(row["done_delay"]))
        ledger.add("open_delay_days", team_id, month, days_exact(row["open_delay"]))
        ledger.add("cost_of_delay_money", team_id, month, _money(delay_days, row["rate"]))
        ledger.add("effort_estimate_hours", team_id, month, row["estimate"])
        ledger.add("effort_actual_hours", team_id, month, row["actual"])
        for name, _low, _high in AGE_BANDS:
            ledger.add(f"open_{name}", team_id, month, row[f"open_{name}"])

    # Run: analysis time, and the time-box (overruns, overdue sessions, lead time to allocation).
    sessions = AnalysisSession.objects.filter(incident_id__in=incident_ids)
    over_q = Q(time_spent_minutes__gt=F("allocated_minutes"))
    for row in by_team_month(sessions, "incident__team_id", "incident__started_at").annotate(
        n=Count("id"),
        submitted=Count("id", filter=Q(status=AnalysisSession.Status.SUBMITTED)),
        overdue=Count("id", filter=~Q(status=AnalysisSession.Status.SUBMITTED) & Q(due_at__lt=now)),
        allocated=Sum("allocated_minutes"),
        spent=Sum("time_spent_minutes"),
        over=Count("id", filter=over_q),
        over_minutes=Sum(F("time_spent_minutes") - F("allocated_minutes"), filter=over_q),
        allocation_lead=Sum(
            elapsed("created_at", "incident__resolved_at"), filter=Q(incident__resolved_at__isnull=False)
        ),
        allocation_leads=Count("id", filter=Q(incident__resolved_at__isnull=False)),
    ):
        team_id, month = row["group_team"], month_key(row["month"])
        ledger.add("sessions", team_id, month, row["n"])
        ledger.add("sessions_submitted", team_id, month, row["submitted"])
        ledger.add("sessions_overdue", team_id, month, row["overdue"])
        ledger.add("allocated_minutes", team_id, month, row["allocated"])
        ledger.add("analysis_minutes", team_id, month, row["spent"])
        ledger.add("sessions_over", team_id, month, row["over"])
        ledger.add("overrun_minutes", team_id, month, row["over_minutes"])
        ledger.add("allocation_lead_days", team_id, month, days_exact(row["allocation_lead"]))
        ledger.add("allocation_leads", team_id, month, row["allocation_leads"])

    held_reviews = Review.objects.filter(incident_id__in=incident_ids, status=Review.Status.HELD)
    for row in by_team_month(held_reviews, "incident__team_id", "incident__started_at").annotate(
        minutes=Sum("duration_minutes")
    ):
        ledger.add("review_minutes", row["group_team"], month_key(row["month"]), row["minutes"])
    review_attendances = Review.attendees.through.objects.filter(review__in=held_reviews.values("id"))
    for row in by_team_month(
        review_attendances, "review__incident__team_id", "review__incident__started_at"
    ).annotate(minutes=Sum("review__duration_minutes")):
        ledger.add("review_minutes", row["group_team"], month_key(row["month"]), row["minutes"])

    team_names = dict(
        Team.objects.filter(id__in={team_id for team_id, _ in ledger.cells() if team_id}).values_list(
            "id", "name"
        )
    )
    rows = _figures(ledger, scope.months(), team_names)
    models = operating_models(incidents, incident_ids)
    themes = recurring_themes(incident_ids, scope)
    for theme in themes:
        rows.append(Figure("themes", f"incidents:{theme['slug']}", ALL, ALL, theme["incidents"], "count"))
        rows.append(Figure("themes", f"earlier_half:{theme['slug']}", ALL, ALL, theme["earlier"], "count"))
        rows.append(Figure("themes", f"later_half:{theme['slug']}", ALL, ALL, theme["later"], "count"))
        for month in scope.months():
            rows.append(
                Figure(
                    "themes",
                    f"incidents:{theme['slug']}",
                    ALL,
                    month,
                    theme["by_month"].get(month, 0),
                    "count",
                )
            )
        for team, count in theme["by_team"]:
            rows.append(Figure("themes", f"incidents:{theme['slug']}", team, ALL, count, "count"))
    for model in models:
        for metric, (value, unit) in model["figures"].items():
            rows.append(Figure("operating_models", f"{model['model']}:{metric}", ALL, ALL, value, unit))
        for severity in model["by_severity"]:
            for metric in ("incidents", "mean_time_to_detect_hours", "mean_time_to_restore_hours"):
                unit = "count" if metric == "incidents" else "hours"
                rows.append(
                    Figure(
                        "operating_models",
                        f"{model['model']}:{severity['severity']}:{metric}",
                        ALL,
                        ALL,
                        severity[metric],
                        unit,
                    )
                )
    services = Service.objects.filter(Service.misfit_q())
    if scope.team:
        services = services.filter(team=scope.team)
    elif not sees_everything(viewer):
        services = services.filter(team_id__in=user_team_ids(viewer))
    misfits = list(services.select_related("team").order_by("team__name", "name")[:20])
    for service in misfits:
        rows.append(Figure("operating_models", f"misfit:{service.name}", service.team.name, ALL, 1, "flag"))
    if settings.COST_OF_FAILURE_PER_HOUR is not None:
        rows.append(
            Figure(
                "opportunity",
                "cost_of_failure_per_hour",
                ALL,
                ALL,
                float(settings.COST_OF_FAILURE_PER_HOUR),
                "money",
            )
        )
    # Reach is of published narratives, which every member may read.
    narratives = Narrative.objects.filter(status=Narrative.Status.PUBLISHED, incident_id__in=incident_ids)
    reach = narratives.aggregate(published=Count("id", distinct=True), reads=Count("reads", distinct=True))
    rows.append(Figure("reach", "narratives_published", ALL, ALL, reach["published"], "count"))
    rows.append(Figure("reach", "reads", ALL, ALL, reach["reads"], "count"))
    most_read: list[Narrative] = list(
        narratives.annotate(read_count=Count("reads", distinct=True))
        .only("id", "title", "published_at")
        .order_by("-read_count", "-published_at")[:5]
    )
    return Insights(
        scope=scope,
        rows=rows,
        months=scope.months(),
        teams=sorted(team_names.values()),
        models=models,
        themes=themes,
        misfits=misfits,
        most_read=most_read,
    )


def _money(delay_days: float, rate: Decimal | None) -> float:
    """The delay in money at the service's cost of delay per day, else at the organisation's cost of
    failure for each hour of it, else none."""
    if rate is None:
        if settings.COST_OF_FAILURE_PER_HOUR is None:
            return 0.0
        rate = settings.COST_OF_FAILURE_PER_HOUR * 24
    return delay_days * float(rate)


def _figures(ledger: Ledger, months: list[str], team_names: dict[int, str]) -> list[Figure]:
    """Every figure of the costs, time-box and lead-time sections: in total, per month, per team,
    and per team and month where that team has data."""

    def ratio(numerator: float, denominator: float, digits: int = 1) -> float | None:
        return round(numerator / denominator, digits) if denominator else None

    def figures_at(team_id: int | None, month: str) -> list[tuple[str, str, float | None, str]]:
        g = lambda metric: ledger.get(metric, team_id, month)  # noqa: E731 — a short local reader
        training = hours(g("training_minutes"))
        walkthroughs = hours(g("walkthrough_minutes"))
        playbacks = hours(g("playback_minutes"))
        preparation = hours(g("preparation_minutes"))
        analysis = hours(g("analysis_minutes"))
        reviews = hours(g("review_minutes"))
        actual = round(g("effort_actual_hours"), 1)
        setup = round(training + walkthroughs + playbacks + preparation, 1)
        run = round(actual + analysis + reviews, 1)
        incidents = g("incidents")
        money = round(g("cost_of_delay_money"), 2)
        delay = g("done_delay_days") + g("open_delay_days")
        return [
            ("setup", "training_person_hours", training, "hours"),
            ("setup", "walkthrough_person_hours", walkthroughs, "hours"),
            ("setup", "playback_person_hours", playbacks, "hours"),
            ("setup", "preparation_person_hours", preparation, "hours"),
            ("setup", "setup_person_hours", setup, "hours"),
            ("opportunity", "actions_raised", int(g("actions_raised")), "count"),
            ("opportunity", "actions_done", int(g("actions_done")), "count"),
            (
                "opportunity",
                "mean_cost_of_delay_done",
                ratio(g("done_delay_days"), g("actions_done")),
                "days",
            ),
            ("opportunity", "open_action_days", round(g("open_delay_days"), 1), "days"),
            ("opportunity", "cost_of_delay_days", round(delay, 1), "days"),
            ("opportunity", "cost_of_delay_money", money, "money"),
            *(
                ("opportunity", f"open_actions_{name}", int(g(f"open_{name}")), "count")
                for name, _low, _high in AGE_BANDS
            ),
            ("run", "effort_estimate_hours", round(g("effort_estimate_hours"), 1), "hours"),
            ("run", "effort_actual_hours", actual, "hours"),
            ("run", "analysis_hours", analysis, "hours"),
            ("run", "review_person_hours", reviews, "hours"),
            ("run", "run_person_hours", run, "hours"),
            ("capex", "incidents", int(incidents), "count"),
            ("capex", "capex_person_hours", round(setup + run, 1), "hours"),
            ("capex", "capex_person_hours_per_incident", ratio(setup + run, incidents), "hours"),
            ("capex", "cost_of_delay_days_per_incident", ratio(delay, incidents), "days"),
            ("capex", "cost_of_delay_money_per_incident", ratio(money, incidents, 2), "money"),
            ("analysis", "sessions", int(g("sessions")), "count"),
            ("analysis", "sessions_submitted", int(g("sessions_submitted")), "count"),
            ("analysis", "sessions_overdue", int(g("sessions_overdue")), "count"),
            ("analysis", "allocated_hours", hours(g("allocated_minutes")), "hours"),
            ("analysis", "spent_hours", analysis, "hours"),
            ("analysis", "sessions_over_time_box", int(g("sessions_over")), "count"),
            (
                "analysis",
                "mean_overrun_hours",
                ratio(hours(g("overrun_minutes")), g("sessions_over")),
                "hours",
            ),
            (
                "analysis",
                "mean_resolved_to_allocated_days",
                ratio(g("allocation_lead_days"), g("allocation_leads")),
                "days",
            ),
            ("lead_times", "mean_time_to_resolve_days", ratio(g("resolve_days"), g("resolved")), "days"),
            ("lead_times", "mean_resolved_to_review_days", ratio(g("review_days"), g("reviewed")), "days"),
            (
                "lead_times",
                "mean_resolved_to_narrative_days",
                ratio(g("publish_days"), g("published")),
                "days",
            ),
        ]

    team_months = sorted(
        ((team_id, month) for team_id, month in ledger.cells() if team_id and month),
        key=lambda key: (team_names.get(key[0], ""), key[1]),
    )
    cells: list[tuple[int | None, str]] = [(None, month) for month in (ALL, *months)]
    cells += [(team_id, ALL) for team_id in sorted(team_names, key=team_names.__getitem__)]
    cells += team_months
    rows = []
    for team_id, month in cells:
        team = team_names.get(team_id, ALL) if team_id else ALL
        for section, metric, value, unit in figures_at(team_id, month):
            rows.append(Figure(section, metric, team, month, value, unit))
    return rows
