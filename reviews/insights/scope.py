"""What the insights cover (period, team, severity, operating model), parsed from the query string,
and the small measures every section shares."""

from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from decimal import Decimal
from typing import Any, cast

from django import forms
from django.db.models import DurationField, ExpressionWrapper, F
from django.db.models.functions import Coalesce
from django.utils import timezone

from incidents.models import Incident, Service, Team
from reviews.insights.cache import remember

ZERO = timedelta(0)
PERIODS = {"30d": 30, "90d": 90, "180d": 180, "365d": 365}
DEFAULT_PERIOD = "90d"
# A custom period is at most this long: the page groups by month, and ten years is plenty.
MAX_PERIOD_DAYS = 3660


@dataclass(frozen=True)
class InsightsScope:
    """What the figures cover: incidents started in [start, end) (aware datetimes), optionally of
    one team, one severity and one operating model."""

    start: datetime
    end: datetime
    team: Team | None = None
    severity: str = ""
    operating_model: str = ""

    def months(self) -> list[str]:
        """Every month of the period, "YYYY-MM" in the current time zone, so that months without
        data show as zero."""
        first = timezone.localtime(self.start).date().replace(day=1)
        last = timezone.localtime(self.end - timedelta(microseconds=1)).date()
        months, current = [], first
        while current <= last:
            months.append(current.strftime("%Y-%m"))
            current = (current + timedelta(days=32)).replace(day=1)
        return months

    @property
    def first_day(self) -> date:
        return timezone.localtime(self.start).date()

    @property
    def last_day(self) -> date:
        return timezone.localtime(self.end - timedelta(microseconds=1)).date()

    def describe(self) -> str:
        """The filters in words, as the page states what it applies."""
        parts = [f"incidents that started from {self.first_day:%-d %b %Y} to {self.last_day:%-d %b %Y}"]
        if self.team:
            parts.append(f"of team {self.team.name}")
        if self.severity:
            parts.append(f"of severity {Incident.Severity(self.severity).label}")
        if self.operating_model:
            parts.append(f"declared under “{Service.OperatingModel(self.operating_model).label}”")
        return " ".join(parts)


class InsightsFilterForm(forms.Form):
    """`period` (30d, 90d, 180d, 365d) or `from`/`to` dates; `team`, `severity`, `model`."""

    period = forms.ChoiceField(
        choices=[
            ("30d", "Last 30 days"),
            ("90d", "Last 90 days"),
            ("180d", "Last 180 days"),
            ("365d", "Last 365 days"),
        ],
        required=False,
        label="Period",
    )
    team = forms.TypedChoiceField(coerce=int, required=False, label="Team")
    severity = forms.ChoiceField(choices=[("", "Any severity"), *Incident.Severity.choices], required=False)
    model = forms.ChoiceField(
        choices=[("", "Both operating models"), *Service.OperatingModel.choices],
        required=False,
        label="Operating model",
    )

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        # "from" is a Python keyword, so these two are added by name.
        self.fields["from"] = forms.DateField(
            required=False, label="From", widget=forms.DateInput(attrs={"type": "date"})
        )
        self.fields["to"] = forms.DateField(
            required=False, label="To", widget=forms.DateInput(attrs={"type": "date"})
        )
        self.order_fields(["period", "from", "to", "team", "severity", "model"])
        cast(forms.ChoiceField, self.fields["team"]).choices = [
            ("", "All teams"),
            *remember(["teams"], team_choices),
        ]

    def clean(self) -> dict[str, Any]:
        super().clean()
        cleaned = self.cleaned_data
        first, last = cleaned.get("from"), cleaned.get("to")
        if first and last and first > last:
            self.add_error("to", "The end of the period comes before its start.")
        elif first and last and (last - first).days > MAX_PERIOD_DAYS:
            self.add_error("to", "A period is at most ten years long.")
        return cleaned

    def key(self) -> str:
        """The filters as they apply (a filter that is not valid is its default), as one word."""
        data = self.cleaned_data if self.is_bound and self.is_valid() else {}
        if data.get("from") or data.get("to"):
            period = f"{data.get('from') or ''}..{data.get('to') or ''}"
        else:
            period = data.get("period") or DEFAULT_PERIOD
        return ",".join(
            [period, str(data.get("team") or ""), data.get("severity", ""), data.get("model", "")]
        )

    def scope(self) -> InsightsScope:
        """The scope asked for; a filter that is not valid falls back to its default."""
        data = self.cleaned_data if self.is_bound and self.is_valid() else {}
        now = timezone.now()
        first, last = data.get("from"), data.get("to")
        if first or last:
            last = last or timezone.localdate()
            first = first or last - timedelta(days=PERIODS[DEFAULT_PERIOD] - 1)
            start = timezone.make_aware(datetime.combine(first, time.min))
            end = timezone.make_aware(datetime.combine(last + timedelta(days=1), time.min))
        else:
            start, end = now - timedelta(days=PERIODS[data.get("period") or DEFAULT_PERIOD]), now
        team = Team.objects.filter(pk=data["team"]).first() if data.get("team") else None
        return InsightsScope(
            start=start,
            end=end,
            team=team,
            severity=data.get("severity", ""),
            operating_model=data.get("model", ""),
        )


def month_key(value: date | datetime | None) -> str:
    """A month of the figures, "YYYY-MM" in the current time zone; "" (all months) for none."""
    if value is None:
        return ""
    if isinstance(value, datetime):
        value = timezone.localtime(value)
    return value.strftime("%Y-%m")


def team_choices() -> list[tuple[int, str]]:
    return list(Team.objects.order_by("name").values_list("id", "name"))


def elapsed(end: str | Coalesce, start: str) -> ExpressionWrapper:
    end_expression = F(end) if isinstance(end, str) else end
    return ExpressionWrapper(end_expression - F(start), output_field=DurationField())


def hours(minutes: float | Decimal | None) -> float:
    """Minutes as hours, to one decimal."""
    return round(float(minutes or 0) / 60, 1)


def days_exact(value: timedelta | None) -> float:
    return (value or ZERO).total_seconds() / 86400
