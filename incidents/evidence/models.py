"""Evidence: the incident's own record — pager events and chat messages — kept with it.

Registered in the `incidents` app (imported at the end of `incidents.models`); foreign keys name
their targets by label so this module never imports the app's models while they load.
"""

from django.conf import settings
from django.db import models
from django.utils import timezone


class EvidenceSource(models.TextChoices):
    PAGERDUTY = "pagerduty", "PagerDuty"
    OPSGENIE = "opsgenie", "Opsgenie"
    ALERTMANAGER = "alertmanager", "Alertmanager"
    SLACK = "slack", "Slack"


PAGER_SOURCES = (EvidenceSource.PAGERDUTY, EvidenceSource.OPSGENIE, EvidenceSource.ALERTMANAGER)


class Evidence(models.Model):
    """One pager event or one chat message of an incident, stored once per incident by the source's id.

    `kind` is what happened: a pager event's normalised action (triggered, acknowledged, assigned,
    resolved, other) or "message". `raw` is the source's own payload; the retention purge clears it
    (and deletes unpromoted messages), so nothing here may be needed once raw is gone.
    """

    class Kind(models.TextChoices):
        TRIGGERED = "triggered", "Triggered"
        ACKNOWLEDGED = "acknowledged", "Acknowledged"
        ASSIGNED = "assigned", "Assigned"
        RESOLVED = "resolved", "Resolved"
        OTHER = "other", "Other pager event"
        MESSAGE = "message", "Message"

    incident = models.ForeignKey("incidents.Incident", on_delete=models.CASCADE, related_name="evidence")
    source = models.CharField(max_length=12, choices=EvidenceSource.choices)
    external_id = models.CharField(max_length=200, help_text="The source's own id: event id, or channel:ts.")
    kind = models.CharField(max_length=12, choices=Kind.choices)
    occurred_at = models.DateTimeField()
    text = models.TextField(blank=True)
    author = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )
    author_name = models.CharField(max_length=200, blank=True)
    author_email = models.EmailField(blank=True)
    channel = models.CharField(max_length=40, blank=True)
    thread_ts = models.CharField(
        max_length=40, blank=True, help_text="The thread's parent message, if a reply."
    )
    url = models.URLField(max_length=1000, blank=True)
    links = models.JSONField(default=list, blank=True, help_text="Files and links, kept as links.")
    edited_at = models.DateTimeField(null=True, blank=True)
    deleted_at = models.DateTimeField(null=True, blank=True)
    raw = models.JSONField(default=dict, blank=True)
    created_at = models.DateTimeField(default=timezone.now)

    class Meta:
        ordering = ["occurred_at", "id"]
        verbose_name_plural = "evidence"
        constraints = [
            models.UniqueConstraint(
                fields=["incident", "source", "external_id"], name="evidence_once_per_incident"
            )
        ]
        indexes = [
            models.Index(fields=["incident", "occurred_at", "id"], name="evidence_timeline"),
            models.Index(fields=["source", "external_id"], name="evidence_source_id"),
            models.Index(fields=["source", "created_at"], name="evidence_retention"),
        ]

    def __str__(self) -> str:
        return f"{self.get_source_display()} {self.kind} at {self.occurred_at:%Y-%m-%d %H:%M}"

    @property
    def is_message(self) -> bool:
        return self.kind == self.Kind.MESSAGE

    @property
    def who(self) -> str:
        if self.author is not None:
            return self.author.display_name
        return self.author_name or self.author_email or "unknown"


class SlackImport(models.Model):
    """A job importing one Slack channel into an incident's evidence: an outbox row (`ybiyri.outbox`).

    The task claims it, pages through the channel from `cursor` and records progress after each
    page, so a retry (429, a worker that died) resumes where the last one stopped.
    """

    class State(models.TextChoices):
        PENDING = "pending", "Waiting"
        RUNNING = "running", "Importing"
        DONE = "done", "Done"
        FAILED = "failed", "Failed"

    incident = models.ForeignKey("incidents.Incident", on_delete=models.CASCADE, related_name="slack_imports")
    channel = models.CharField(max_length=40)
    oldest = models.DateTimeField(null=True, blank=True)
    latest = models.DateTimeField(null=True, blank=True)
    requested_by = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+")
    state = models.CharField(max_length=10, choices=State.choices, default=State.PENDING)
    attempts = models.PositiveSmallIntegerField(default=0)
    last_error = models.TextField(blank=True)
    cursor = models.TextField(blank=True, help_text="Where the next page of the channel starts.")
    messages_seen = models.PositiveIntegerField(default=0)
    messages_added = models.PositiveIntegerField(default=0)
    created_at = models.DateTimeField(default=timezone.now)
    claimed_at = models.DateTimeField(null=True, blank=True)
    next_attempt_at = models.DateTimeField(null=True, blank=True)
    finished_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-created_at", "-id"]
        indexes = [models.Index(fields=["state", "next_attempt_at"], name="slackimport_due")]

    def __str__(self) -> str:
        return f"Slack import of {self.channel} for incident {self.incident_id}"

    @property
    def is_finished(self) -> bool:
        return self.state in (self.State.DONE, self.State.FAILED)
