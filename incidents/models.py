"""Teams, services, incidents, responders and the per-responder analysis sessions."""

import re
import secrets
import uuid
from datetime import timedelta
from decimal import Decimal
from typing import Any

from django.contrib.auth.models import AbstractUser
from django.core.exceptions import ValidationError
from django.core.validators import MinValueValidator
from django.db import models
from django.db.models.functions import Lower
from django.urls import reverse
from django.utils import timezone
from django.utils.text import slugify


def new_feed_token() -> str:
    return secrets.token_urlsafe(32)


def member_name(*, first_name: str, last_name: str, username: str) -> str:
    """How a member is named to others: their full name (`AbstractUser.get_full_name`), or their
    username when they gave none. A function of the columns, for lists read as values."""
    return f"{first_name} {last_name}".strip() or username


class User(AbstractUser):
    """A member of the organisation."""

    # The ids of the teams the user belongs to and manages, cached on the request's user object by
    # incidents.access (not fields: set on first use).
    _ybiyri_team_ids: frozenset[int]
    _ybiyri_managed_team_ids: frozenset[int]

    is_problem_manager = models.BooleanField(
        default=False,
        help_text="Organisation-wide problem manager: sees every incident, including confidential ones.",
    )
    broadcast_opt_out = models.BooleanField(
        default=False, help_text="Do not email this member when a narrative is published."
    )
    feed_token = models.CharField(max_length=64, unique=True, default=new_feed_token)

    class Meta:
        ordering = ["username"]

    def __str__(self) -> str:
        return self.display_name

    @property
    def display_name(self) -> str:
        return member_name(first_name=self.first_name, last_name=self.last_name, username=self.username)


class Team(models.Model):
    """A product team that builds and runs digital services."""

    class Tracker(models.TextChoices):
        NONE = "none", "No tracker"
        JIRA = "jira", "Jira"
        TRELLO = "trello", "Trello"

    name = models.CharField(max_length=100, unique=True)
    slug = models.SlugField(max_length=100, unique=True)
    members = models.ManyToManyField(User, related_name="teams", blank=True)
    product_managers = models.ManyToManyField(User, related_name="managed_teams", blank=True)
    tracker = models.CharField(max_length=10, choices=Tracker.choices, default=Tracker.NONE)
    jira_project_key = models.CharField(
        max_length=20, blank=True, help_text="Overrides JIRA_PROJECT_KEY for this team."
    )
    jira_issue_type = models.CharField(
        max_length=50, blank=True, help_text="Overrides JIRA_ISSUE_TYPE for this team."
    )
    jira_priority_map = models.JSONField(
        default=dict,
        blank=True,
        help_text='Action priority → Jira priority name, e.g. {"high": "High"}.',
    )
    jira_extra_fields = models.JSONField(
        default=dict,
        blank=True,
        help_text='Extra Jira fields, e.g. {"components": [{"name": "API"}], "customfield_10010": "x"}.',
    )
    trello_list_id = models.CharField(
        max_length=64, blank=True, help_text="Overrides TRELLO_LIST_ID for this team."
    )
    trello_done_list_id = models.CharField(
        max_length=64, blank=True, help_text="A card moved to this list marks the action done."
    )

    class Meta:
        ordering = ["name"]

    def __str__(self) -> str:
        return self.name

    def save(self, *args: Any, **kwargs: Any) -> None:
        if not self.slug:
            self.slug = slugify(self.name)[:100]
        super().save(*args, **kwargs)


# Prometheus label names (https://prometheus.io/docs/concepts/data_model/#metric-names-and-labels).
LABEL_NAME = re.compile(r"[a-zA-Z_][a-zA-Z0-9_]*")
PAGERDUTY_ID = re.compile(r"[A-Z0-9]{2,40}")
MAX_MAPPING_VALUES = 50


def alertmanager_matcher(text: str) -> str:
    """An Alertmanager matcher as the mapping keeps it, `label=value` (quotes around the value and
    spaces around `=` dropped); ValueError naming what is wrong when it is no label equality."""
    label, equals, value = text.partition("=")
    label, value = label.strip(), value.strip()
    if label.endswith("!") or value.startswith("~"):
        raise ValueError(f"“{text}”: only label equality (label=value) is matched, not != or =~.")
    if len(value) >= 2 and value[0] == value[-1] == '"':
        value = value[1:-1]
    if not equals or not LABEL_NAME.fullmatch(label) or not value:
        raise ValueError(f"“{text}” is not label=value (for example service=checkout-api).")
    return f"{label}={value}"


class Service(models.Model):
    """A digital service owned by a team, with its operating model.

    The practice's guidance: "you build it, you run it" for higher-demand, custom services; "ops
    run it" for off-the-shelf and foundational systems. `misfit_q` states where a service's model
    goes against it; medium or low demand custom services fit either model.
    """

    class OperatingModel(models.TextChoices):
        YOU_BUILD_IT = "ybiyri", "You build it, you run it"
        OPS_RUN_IT = "ops", "Ops run it"

    class Demand(models.TextChoices):
        HIGH = "high", "High"
        MEDIUM = "medium", "Medium"
        LOW = "low", "Low"

    class Sourcing(models.TextChoices):
        CUSTOM = "custom", "Custom"
        OFF_THE_SHELF = "off_the_shelf", "Off the shelf"

    team = models.ForeignKey(Team, on_delete=models.PROTECT, related_name="services")
    name = models.CharField(max_length=100)
    description = models.TextField(blank=True)
    operating_model = models.CharField(
        max_length=10, choices=OperatingModel.choices, default=OperatingModel.YOU_BUILD_IT
    )
    on_call_team = models.ForeignKey(
        Team,
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="on_call_services",
        help_text="Who is paged; empty means the owning team, or the central operations team under ops run it.",
    )
    demand = models.CharField(max_length=10, choices=Demand.choices, default=Demand.MEDIUM)
    sourcing = models.CharField(max_length=15, choices=Sourcing.choices, default=Sourcing.CUSTOM)
    cost_of_delay_per_day = models.DecimalField(
        max_digits=12,
        decimal_places=2,
        null=True,
        blank=True,
        validators=[MinValueValidator(Decimal(0))],
        help_text="What a day without an improvement costs, in the organisation's currency.",
    )

    # Which pages open draft incidents on this service (incidents.evidence.pagers).
    pagerduty_service_ids = models.JSONField(
        default=list, blank=True, help_text='PagerDuty service ids, e.g. ["PF9KMXH"].'
    )
    opsgenie_teams = models.JSONField(
        default=list, blank=True, help_text='Opsgenie team names or ids, e.g. ["checkout"].'
    )
    alertmanager_matchers = models.JSONField(
        default=list,
        blank=True,
        help_text='Alertmanager label equalities, all of which an alert must carry, e.g. ["service=checkout-api"].',
    )

    class Meta:
        ordering = ["name"]
        constraints = [models.UniqueConstraint(fields=["team", "name"], name="service_unique_name_per_team")]

    def __str__(self) -> str:
        return self.name

    def clean(self) -> None:
        """The pager mappings are lists of distinct texts, each in its source's syntax; matchers
        are stored as `label=value`. Whether another service maps them already is
        `incidents.evidence.pagers.check_pager_mapping_free`."""
        errors: dict[str, list[str]] = {}
        for name, normalise in (
            ("pagerduty_service_ids", self._pagerduty_id),
            ("opsgenie_teams", self._opsgenie_team),
            ("alertmanager_matchers", alertmanager_matcher),
        ):
            values = getattr(self, name)
            if not isinstance(values, list) or not all(isinstance(value, str) for value in values):
                errors[name] = ["Give a list of texts."]
                continue
            if len(values) > MAX_MAPPING_VALUES:
                errors[name] = [f"Give at most {MAX_MAPPING_VALUES}."]
                continue
            cleaned: list[str] = []
            problems: list[str] = []
            for value in values:
                try:
                    value = normalise(value)
                except ValueError as error:
                    problems.append(str(error))
                    continue
                if value and value.casefold() not in {known.casefold() for known in cleaned}:
                    cleaned.append(value)
            if problems:
                errors[name] = problems
            else:
                setattr(self, name, cleaned)
        if errors:
            raise ValidationError(errors)

    @staticmethod
    def _pagerduty_id(text: str) -> str:
        value = text.strip()
        if value and not PAGERDUTY_ID.fullmatch(value):
            raise ValueError(
                f"“{text}” is not a PagerDuty service id (capital letters and digits, e.g. PF9KMXH)."
            )
        return value

    @staticmethod
    def _opsgenie_team(text: str) -> str:
        value = " ".join(text.split())
        if len(value) > 200:
            raise ValueError("An Opsgenie team name has at most 200 characters.")
        return value

    @property
    def on_call(self) -> str:
        if self.on_call_team is not None:
            return self.on_call_team.name
        if self.operating_model == self.OperatingModel.YOU_BUILD_IT:
            return f"{self.team.name} (the owning product team)"
        return "The central operations team"

    @classmethod
    def misfit_q(cls, prefix: str = "") -> models.Q:
        """Services whose operating model goes against the practice's guidance."""
        return models.Q(
            **{
                f"{prefix}sourcing": cls.Sourcing.OFF_THE_SHELF,
                f"{prefix}operating_model": cls.OperatingModel.YOU_BUILD_IT,
            }
        ) | models.Q(
            **{
                f"{prefix}sourcing": cls.Sourcing.CUSTOM,
                f"{prefix}demand": cls.Demand.HIGH,
                f"{prefix}operating_model": cls.OperatingModel.OPS_RUN_IT,
            }
        )

    @property
    def guidance(self) -> str:
        """Why the operating model does not fit the guidance, or empty when it fits."""
        if (
            self.sourcing == self.Sourcing.OFF_THE_SHELF
            and self.operating_model == self.OperatingModel.YOU_BUILD_IT
        ):
            return "An off-the-shelf service: the practice suggests ops run it."
        if (
            self.sourcing == self.Sourcing.CUSTOM
            and self.demand == self.Demand.HIGH
            and self.operating_model == self.OperatingModel.OPS_RUN_IT
        ):
            return "A high-demand custom service: the practice suggests you build it, you run it."
        return ""


class Incident(models.Model):
    class Severity(models.TextChoices):
        SEV1 = "sev1", "SEV1 — critical"
        SEV2 = "sev2", "SEV2 — major"
        SEV3 = "sev3", "SEV3 — moderate"
        SEV4 = "sev4", "SEV4 — minor"

    class Status(models.TextChoices):
        DRAFT = "draft", "Draft from the pager"
        DECLARED = "declared", "Declared"
        ANALYSING = "analysing", "Analysing"
        REVIEWING = "reviewing", "Reviewing"
        CLOSED = "closed", "Narrative published"
        DISMISSED = "dismissed", "Dismissed"

    class Source(models.TextChoices):
        MANUAL = "", "Declared by hand"
        PAGERDUTY = "pagerduty", "PagerDuty"
        OPSGENIE = "opsgenie", "Opsgenie"
        ALERTMANAGER = "alertmanager", "Alertmanager"

    uuid = models.UUIDField(default=uuid.uuid4, unique=True, editable=False)
    title = models.CharField(max_length=200)
    summary = models.TextField(blank=True)
    severity = models.CharField(max_length=4, choices=Severity.choices, default=Severity.SEV3)
    status = models.CharField(max_length=10, choices=Status.choices, default=Status.DECLARED)
    team = models.ForeignKey(Team, on_delete=models.PROTECT, related_name="incidents")
    service = models.ForeignKey(Service, on_delete=models.PROTECT, related_name="incidents")
    # The service's model when the incident was declared: a later change of model must not
    # rewrite how past incidents compare.
    operating_model = models.CharField(max_length=10, choices=Service.OperatingModel.choices)
    started_at = models.DateTimeField()
    detected_at = models.DateTimeField(null=True, blank=True)
    mitigated_at = models.DateTimeField(null=True, blank=True)
    resolved_at = models.DateTimeField(null=True, blank=True)
    acknowledged_at = models.DateTimeField(null=True, blank=True, help_text="When the page was acknowledged.")
    confidential = models.BooleanField(
        default=False, help_text="Only the team, its responders and problem managers can see it."
    )
    declared_by = models.ForeignKey(User, on_delete=models.PROTECT, related_name="declared_incidents")
    source = models.CharField(max_length=12, choices=Source.choices, default=Source.MANUAL, blank=True)
    external_id = models.CharField(
        max_length=200,
        blank=True,
        help_text="The page's id at its source (PagerDuty incident, Opsgenie alert).",
    )
    created_at = models.DateTimeField(default=timezone.now)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["-started_at", "-id"]
        indexes = [
            models.Index(fields=["team", "-started_at"], name="incident_team_started"),
            # A team's incidents in id order, read from the index alone: counting the rows of a
            # team's incidents (the backlog's total) merges it with their own incident index.
            models.Index(fields=["team", "id"], name="incident_team_id"),
            models.Index(fields=["-started_at", "-id"], name="incident_started"),
            models.Index(fields=["status"], name="incident_status"),
            # The few confidential incidents with their team, so that counting them, and those of
            # them a member may see, reads this index alone.
            models.Index(
                fields=["team", "id"], condition=models.Q(confidential=True), name="incident_confidential"
            ),
        ]
        constraints = [
            models.UniqueConstraint(
                fields=["source", "external_id"],
                condition=~models.Q(external_id=""),
                name="incident_once_per_page",
            )
        ]

    def __str__(self) -> str:
        return self.title

    def get_absolute_url(self) -> str:
        return reverse("incidents:detail", args=[self.pk])

    def clean(self) -> None:
        errors: dict[str, str] = {}
        if self.service_id and self.team_id and self.service.team_id != self.team_id:
            errors["service"] = "This service belongs to another team."
        previous_name, previous = "started_at", self.started_at
        for name, label in (
            ("detected_at", "Detected"),
            ("mitigated_at", "Mitigated"),
            ("resolved_at", "Resolved"),
        ):
            value = getattr(self, name)
            if value is None:
                continue
            if previous is not None and value < previous:
                errors[name] = f"{label} cannot be before {previous_name.removesuffix('_at')}."
            previous_name, previous = name, value
        if self.started_at and self.started_at > timezone.now() + timedelta(minutes=5):
            errors["started_at"] = "An incident cannot start in the future."
        if errors:
            raise ValidationError(errors)

    @property
    def is_confirmed(self) -> bool:
        """Whether the incident is one of consequence: declared by hand, or a draft from the pager
        that a product manager confirmed. Nothing is allocated, reviewed or announced before."""
        return self.status not in (self.Status.DRAFT, self.Status.DISMISSED)

    @property
    def time_to_detect(self) -> timedelta | None:
        return self.detected_at - self.started_at if self.detected_at else None

    @property
    def time_to_mitigate(self) -> timedelta | None:
        return self.mitigated_at - self.started_at if self.mitigated_at else None

    @property
    def time_to_resolve(self) -> timedelta | None:
        return self.resolved_at - self.started_at if self.resolved_at else None


class Responder(models.Model):
    """A person who took part in the response, with their role in it."""

    incident = models.ForeignKey(Incident, on_delete=models.CASCADE, related_name="responders")
    user = models.ForeignKey(User, on_delete=models.PROTECT, related_name="responses")
    role = models.CharField(max_length=100, blank=True, help_text="e.g. incident commander, on-call engineer")

    class Meta:
        ordering = ["id"]
        constraints = [
            models.UniqueConstraint(fields=["incident", "user"], name="responder_once_per_incident")
        ]

    def __str__(self) -> str:
        return f"{self.user} ({self.role or 'responder'})"


class LearningTheme(models.Model):
    """The organisation-wide taxonomy of learning themes, shared across incidents."""

    name = models.CharField(max_length=80)
    slug = models.SlugField(max_length=80, unique=True)
    description = models.TextField(blank=True)
    created_at = models.DateTimeField(default=timezone.now)

    class Meta:
        ordering = ["name"]
        constraints = [models.UniqueConstraint(Lower("name"), name="theme_unique_name_ci")]

    def __str__(self) -> str:
        return self.name


class AnalysisSession(models.Model):
    """One responder's time-boxed analysis of an incident."""

    class Status(models.TextChoices):
        SCHEDULED = "scheduled", "Scheduled"
        IN_PROGRESS = "in_progress", "In progress"
        SUBMITTED = "submitted", "Submitted"

    responder = models.OneToOneField(Responder, on_delete=models.CASCADE, related_name="analysis")
    incident = models.ForeignKey(Incident, on_delete=models.CASCADE, related_name="analyses")
    analyst = models.ForeignKey(User, on_delete=models.PROTECT, related_name="analyses")
    scheduled_by = models.ForeignKey(User, on_delete=models.PROTECT, related_name="scheduled_analyses")
    allocated_minutes = models.PositiveIntegerField()
    due_at = models.DateTimeField()
    status = models.CharField(max_length=12, choices=Status.choices, default=Status.SCHEDULED)
    report = models.TextField(blank=True)
    version = models.PositiveIntegerField(default=1)
    time_spent_minutes = models.PositiveIntegerField(default=0)
    themes = models.ManyToManyField(LearningTheme, related_name="analyses", blank=True)
    waived_at = models.DateTimeField(null=True, blank=True)
    waived_by = models.ForeignKey(User, on_delete=models.PROTECT, null=True, blank=True, related_name="+")
    waive_reason = models.TextField(
        blank=True, max_length=2000, help_text="Why the loop may close without this analysis."
    )
    created_at = models.DateTimeField(default=timezone.now)
    updated_at = models.DateTimeField(auto_now=True)
    submitted_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["due_at", "id"]
        indexes = [models.Index(fields=["analyst", "status"], name="analysis_analyst_status")]

    def __str__(self) -> str:
        return f"Analysis of {self.incident} by {self.analyst}"

    def get_absolute_url(self) -> str:
        return reverse("incidents:analysis", args=[self.pk])

    @property
    def is_submitted(self) -> bool:
        return self.status == self.Status.SUBMITTED

    @property
    def is_waived(self) -> bool:
        return self.waived_at is not None

    @property
    def closes_the_loop(self) -> bool:
        """Submitted, or waived by a product manager: the narrative need not wait for it."""
        return self.is_submitted or self.is_waived

    @property
    def is_overdue(self) -> bool:
        return not self.closes_the_loop and self.due_at < timezone.now()


class Interview(models.Model):
    analysis = models.ForeignKey(AnalysisSession, on_delete=models.CASCADE, related_name="interviews")
    interviewee = models.CharField(max_length=120)
    held_at = models.DateTimeField()
    notes = models.TextField(blank=True)

    class Meta:
        ordering = ["held_at", "id"]

    def __str__(self) -> str:
        return f"Interview with {self.interviewee}"


class KeyEvent(models.Model):
    """An event of the incident established by one analysis; the incident is kept for the timeline."""

    class Marker(models.TextChoices):
        DETECTION = "detection", "Detection"
        DIAGNOSIS = "diagnosis", "Diagnosis"
        REPAIR = "repair", "Repair"
        KEY_MOMENT = "key_moment", "Key moment"

    analysis = models.ForeignKey(AnalysisSession, on_delete=models.CASCADE, related_name="key_events")
    incident = models.ForeignKey(Incident, on_delete=models.CASCADE, related_name="key_events")
    occurred_at = models.DateTimeField()
    description = models.TextField(max_length=2000)
    evidence_url = models.URLField(max_length=500, blank=True)
    # The imported message or pager event this key event was promoted from; kept when raw
    # transcripts are purged (incidents.evidence.services.evidence_purge keeps promoted rows).
    evidence = models.ForeignKey(
        "incidents.Evidence", on_delete=models.SET_NULL, null=True, blank=True, related_name="key_events"
    )
    marker = models.CharField(max_length=12, choices=Marker.choices, blank=True)

    class Meta:
        ordering = ["occurred_at", "id"]
        indexes = [
            models.Index(fields=["incident", "occurred_at", "id"], name="keyevent_timeline"),
            # The API's list of every key event the reader may see, oldest first, read in this order.
            models.Index(fields=["occurred_at", "id"], name="keyevent_time"),
        ]

    def __str__(self) -> str:
        return self.description[:60]


DEFAULT_REPORT_PROMPTS = """What happened, in the order people saw it?
What made sense to the people involved at the time, and why?
What surprised you?
What helped: what did people do or have that made things better?
What got in the way?"""


class ReportGuide(models.Model):
    """The organisation's guiding prompts for analysis reports: one row, edited in the admin."""

    prompts = models.TextField(
        default=DEFAULT_REPORT_PROMPTS,
        help_text="One question per line, shown beside every analysis report while it is written.",
    )
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        verbose_name = "report guide"
        constraints = [models.CheckConstraint(condition=models.Q(id=1), name="report_guide_single_row")]

    def __str__(self) -> str:
        return "Guiding prompts for analysis reports"

    def save(self, *args: Any, **kwargs: Any) -> None:
        # There is one guide for the organisation: every save writes the same row.
        self.pk = 1
        super().save(*args, **kwargs)

    @property
    def prompt_list(self) -> list[str]:
        return [line.strip() for line in self.prompts.splitlines() if line.strip()]


class Notification(models.Model):
    """An email waiting to leave the process: the outbox row written with the change that caused it."""

    class State(models.TextChoices):
        PENDING = "pending", "Pending"
        SENDING = "sending", "Sending"
        SENT = "sent", "Sent"
        FAILED = "failed", "Failed"

    key = models.CharField(max_length=200, unique=True, help_text="Idempotency key: one email per key.")
    recipient = models.ForeignKey(User, on_delete=models.CASCADE, related_name="notifications", null=True)
    to_email = models.EmailField()
    subject = models.CharField(max_length=250)
    body = models.TextField()
    ics = models.TextField(blank=True, help_text="iCalendar attachment, if any.")
    ics_method = models.CharField(max_length=10, blank=True)
    state = models.CharField(max_length=10, choices=State.choices, default=State.PENDING)
    attempts = models.PositiveSmallIntegerField(default=0)
    last_error = models.TextField(blank=True)
    created_at = models.DateTimeField(default=timezone.now)
    claimed_at = models.DateTimeField(null=True, blank=True)
    next_attempt_at = models.DateTimeField(null=True, blank=True, help_text="When a retry is due.")
    sent_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-created_at"]
        indexes = [
            models.Index(fields=["state", "created_at"], name="notification_state"),
            models.Index(fields=["state", "next_attempt_at"], name="notification_due"),
        ]

    def __str__(self) -> str:
        return f"{self.subject} → {self.to_email}"


class AuditEntry(models.Model):
    """Who changed what, when."""

    actor = models.ForeignKey(User, on_delete=models.SET_NULL, null=True, related_name="audit_entries")
    verb = models.CharField(max_length=60)
    target_type = models.CharField(max_length=60)
    target_id = models.CharField(max_length=64)
    target_repr = models.CharField(max_length=250)
    team = models.ForeignKey(Team, on_delete=models.SET_NULL, null=True, blank=True, related_name="+")
    changes = models.JSONField(default=dict, blank=True)
    created_at = models.DateTimeField(default=timezone.now, db_index=True)

    class Meta:
        ordering = ["-created_at", "-id"]
        verbose_name_plural = "audit entries"

    def __str__(self) -> str:
        return f"{self.actor} {self.verb} {self.target_type} {self.target_repr}"


# Evidence lives in its own module of this app; importing it here registers its models.
from incidents.evidence.models import Evidence, SlackImport  # noqa: E402, F401
