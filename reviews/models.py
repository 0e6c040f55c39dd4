"""The collective review, what it produces, the narrative and its deliveries."""

import uuid
from datetime import datetime, timedelta
from decimal import Decimal

from django.contrib.postgres.search import SearchVectorField
from django.core.validators import MaxValueValidator, MinValueValidator
from django.db import models
from django.urls import reverse
from django.utils import timezone

from incidents.models import Incident, KeyEvent, LearningTheme, User


class Review(models.Model):
    """The collective post-incident review of one incident."""

    class Status(models.TextChoices):
        SCHEDULED = "scheduled", "Scheduled"
        HELD = "held", "Held"
        CANCELLED = "cancelled", "Cancelled"

    class Step(models.TextChoices):
        REPORTS = "reports", "Review the analysis reports"
        CONTEXT = "context", "Build shared understanding in the organisational context"
        PERSPECTIVES = "perspectives", "Explore the different perspectives"
        FACTORS = "factors", "Discuss contributing factors"
        LEARNINGS = "learnings", "Identify the most valuable learnings and improvement actions"
        NARRATIVE = "narrative", "Blend it into the narrative"

    uid = models.UUIDField(default=uuid.uuid4, unique=True, editable=False)
    incident = models.OneToOneField(Incident, on_delete=models.CASCADE, related_name="review")
    scheduled_at = models.DateTimeField()
    time_zone = models.CharField(max_length=64, default="UTC")
    duration_minutes = models.PositiveIntegerField(default=90)
    location = models.CharField(max_length=200, blank=True)
    video_url = models.URLField(max_length=500, blank=True)
    facilitator = models.ForeignKey(User, on_delete=models.PROTECT, related_name="facilitated_reviews")
    attendees = models.ManyToManyField(User, related_name="reviews_attending", blank=True)
    scheduled_by = models.ForeignKey(User, on_delete=models.PROTECT, related_name="scheduled_reviews")
    status = models.CharField(max_length=10, choices=Status.choices, default=Status.SCHEDULED)
    sequence = models.PositiveIntegerField(default=0, help_text="iCalendar SEQUENCE of the invite.")
    completed_steps = models.JSONField(default=list, blank=True)
    context_notes = models.TextField(blank=True)
    perspectives_notes = models.TextField(blank=True)
    # Each notes field carries its own version, so that saving one never writes the other and a
    # save based on what someone read before another person's save is refused, not applied.
    context_notes_version = models.PositiveIntegerField(default=1)
    perspectives_notes_version = models.PositiveIntegerField(default=1)
    current_step = models.CharField(max_length=12, choices=Step.choices, default=Step.REPORTS)
    started_at = models.DateTimeField(null=True, blank=True)
    revision = models.PositiveIntegerField(
        default=0, help_text="Raised by every change the facilitation page shows; open pages poll it."
    )
    held_at = models.DateTimeField(null=True, blank=True)
    created_at = models.DateTimeField(default=timezone.now)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["scheduled_at"]

    def __str__(self) -> str:
        return f"Review of {self.incident}"

    def get_absolute_url(self) -> str:
        return reverse("reviews:facilitate", args=[self.pk])

    @property
    def ends_at(self) -> datetime:
        return self.scheduled_at + timedelta(minutes=self.duration_minutes)

    def step_done(self, step: str) -> bool:
        return step in self.completed_steps

    @property
    def all_steps_done(self) -> bool:
        return set(self.Step.values) <= set(self.completed_steps)

    @property
    def next_step(self) -> str:
        """The agenda step after the current one (the last step stays current)."""
        steps = list(self.Step.values)
        return steps[min(steps.index(self.current_step) + 1, len(steps) - 1)]


class ContributingFactor(models.Model):
    class Kind(models.TextChoices):
        HUMAN = "human", "Human"
        TECHNICAL = "technical", "Technical"

    review = models.ForeignKey(Review, on_delete=models.CASCADE, related_name="factors")
    description = models.TextField(max_length=2000)
    kind = models.CharField(max_length=10, choices=Kind.choices)
    themes = models.ManyToManyField(
        LearningTheme, related_name="factors", blank=True, help_text="The learning themes it shows."
    )
    key_events = models.ManyToManyField(
        KeyEvent, related_name="factors", blank=True, help_text="The key events it contributed to."
    )
    version = models.PositiveIntegerField(default=1)
    created_by = models.ForeignKey(User, on_delete=models.PROTECT, related_name="+")
    created_at = models.DateTimeField(default=timezone.now)

    class Meta:
        ordering = ["created_at", "id"]

    def __str__(self) -> str:
        return self.description[:60]

    @property
    def theme_names(self) -> list[str]:
        """Its themes' names (from the prefetched themes when the caller prefetched them)."""
        return [theme.name for theme in self.themes.all()]


class Learning(models.Model):
    review = models.ForeignKey(Review, on_delete=models.CASCADE, related_name="learnings")
    description = models.TextField(max_length=2000)
    rank = models.PositiveIntegerField(help_text="1 is the most valuable.")
    factors = models.ManyToManyField(
        ContributingFactor, related_name="learnings", blank=True, help_text="The factors it was learned from."
    )
    version = models.PositiveIntegerField(default=1)
    created_by = models.ForeignKey(User, on_delete=models.PROTECT, related_name="+")
    created_at = models.DateTimeField(default=timezone.now)

    class Meta:
        ordering = ["rank", "id"]

    def __str__(self) -> str:
        return self.description[:60]


class Perspective(models.Model):
    """How the incident looked to one participant of the review: one per person, edited by them."""

    review = models.ForeignKey(Review, on_delete=models.CASCADE, related_name="perspectives")
    author = models.ForeignKey(User, on_delete=models.CASCADE, related_name="+")
    body = models.TextField(max_length=20000)
    version = models.PositiveIntegerField(default=1)
    created_at = models.DateTimeField(default=timezone.now)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["created_at", "id"]
        constraints = [
            models.UniqueConstraint(fields=["review", "author"], name="perspective_once_per_author")
        ]

    def __str__(self) -> str:
        return f"{self.author} on {self.review}"


class FactorSuggestion(models.Model):
    """A contributing factor an attendee proposes; the facilitator accepts it (as a factor) or not."""

    review = models.ForeignKey(Review, on_delete=models.CASCADE, related_name="factor_suggestions")
    description = models.TextField(max_length=2000)
    kind = models.CharField(max_length=10, choices=ContributingFactor.Kind.choices)
    suggested_by = models.ForeignKey(User, on_delete=models.CASCADE, related_name="+")
    created_at = models.DateTimeField(default=timezone.now)

    class Meta:
        ordering = ["created_at", "id"]

    def __str__(self) -> str:
        return self.description[:60]


def delay_from_idea_to_practice(*, raised_at: datetime, done_at: datetime | None) -> timedelta:
    """An action's cost of delay (`ImprovementAction.cost_of_delay`), from its two columns."""
    return (done_at or timezone.now()) - raised_at


class ImprovementAction(models.Model):
    """An improvement action, pushed to the team's backlog and kept in sync with it."""

    class Kind(models.TextChoices):
        HUMAN = "human", "Human (e.g. accountability change)"
        TECHNICAL = "technical", "Technical (e.g. code fix, configuration change)"

    class Priority(models.TextChoices):
        HIGHEST = "highest", "Highest"
        HIGH = "high", "High"
        MEDIUM = "medium", "Medium"
        LOW = "low", "Low"
        LOWEST = "lowest", "Lowest"

    class Status(models.TextChoices):
        OPEN = "open", "Open"
        IN_PROGRESS = "in_progress", "In progress"
        DONE = "done", "Done"

    class SyncState(models.TextChoices):
        NOT_SYNCED = "not_synced", "Not synced (no tracker)"
        PENDING = "pending", "Pending"
        SYNCING = "syncing", "Syncing"
        SYNCED = "synced", "Synced"
        FAILED = "failed", "Failed"

    uuid = models.UUIDField(default=uuid.uuid4, unique=True, editable=False)
    incident = models.ForeignKey(Incident, on_delete=models.CASCADE, related_name="actions")
    review = models.ForeignKey(
        Review, on_delete=models.SET_NULL, null=True, blank=True, related_name="actions"
    )
    title = models.CharField(max_length=200)
    description = models.TextField(blank=True, max_length=10000)
    kind = models.CharField(max_length=10, choices=Kind.choices)
    owner = models.ForeignKey(
        User, on_delete=models.SET_NULL, null=True, blank=True, related_name="owned_actions"
    )
    priority = models.CharField(max_length=10, choices=Priority.choices, default=Priority.MEDIUM)
    status = models.CharField(max_length=12, choices=Status.choices, default=Status.OPEN)
    due_date = models.DateField(null=True, blank=True)
    learnings = models.ManyToManyField(
        Learning, related_name="actions", blank=True, help_text="The learnings it puts into practice."
    )
    factors = models.ManyToManyField(
        ContributingFactor, related_name="actions", blank=True, help_text="The factors it addresses."
    )
    raised_by = models.ForeignKey(User, on_delete=models.PROTECT, related_name="raised_actions")
    raised_at = models.DateTimeField(default=timezone.now)
    done_at = models.DateTimeField(null=True, blank=True)
    updated_at = models.DateTimeField(auto_now=True)
    effort_estimate_hours = models.DecimalField(
        max_digits=7, decimal_places=2, null=True, blank=True, validators=[MinValueValidator(Decimal(0))]
    )
    effort_actual_hours = models.DecimalField(
        max_digits=7,
        decimal_places=2,
        null=True,
        blank=True,
        validators=[MinValueValidator(Decimal(0))],
        help_text="Entered, or the time logged in the tracker when it keeps time.",
    )
    # Whether each came from the tracker's time tracking, which keeps it up to date there until
    # someone enters a value here: what a person enters wins.
    effort_estimate_from_tracker = models.BooleanField(default=False)
    effort_actual_from_tracker = models.BooleanField(default=False)

    tracker = models.CharField(max_length=10, blank=True, help_text="The tracker the action was pushed to.")
    sync_state = models.CharField(max_length=10, choices=SyncState.choices, default=SyncState.NOT_SYNCED)
    sync_error = models.TextField(blank=True)
    sync_attempts = models.PositiveSmallIntegerField(default=0)
    sync_requested_at = models.DateTimeField(null=True, blank=True)
    claimed_at = models.DateTimeField(null=True, blank=True, help_text="When a worker claimed the push.")
    next_attempt_at = models.DateTimeField(null=True, blank=True, help_text="When a retry is due.")
    synced_at = models.DateTimeField(null=True, blank=True)
    external_key = models.CharField(max_length=64, blank=True, db_index=True)
    external_url = models.URLField(max_length=500, blank=True)

    class Meta:
        ordering = ["-raised_at", "-id"]
        indexes = [
            models.Index(fields=["sync_state", "sync_requested_at"], name="action_sync_state"),
            models.Index(fields=["incident", "status"], name="action_incident_status"),
            # The backlog's default order, newest first, read in this order rather than sorted.
            models.Index(fields=["-raised_at", "-id"], name="action_raised"),
        ]

    def __str__(self) -> str:
        return self.title

    @property
    def status_set_by_people(self) -> bool:
        """Whether people set the status; a tracked action's status follows its tracker."""
        return self.sync_state == self.SyncState.NOT_SYNCED

    @property
    def idempotency_label(self) -> str:
        return f"ybiyri-{self.uuid}"

    @property
    def cost_of_delay(self) -> timedelta:
        """Time from idea (raised) to practice (done), or so far if not done yet."""
        return delay_from_idea_to_practice(raised_at=self.raised_at, done_at=self.done_at)


class NarrativeTemplate(models.Model):
    """The organisation's template for new narrative drafts (Django template syntax, Markdown output)."""

    name = models.CharField(max_length=100, unique=True)
    body = models.TextField()
    is_default = models.BooleanField(default=False)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["-is_default", "name"]

    def __str__(self) -> str:
        return self.name


class Narrative(models.Model):
    """The story of an incident, drafted then published to the whole organisation."""

    class Status(models.TextChoices):
        DRAFT = "draft", "Draft"
        PUBLISHED = "published", "Published"

    incident = models.OneToOneField(Incident, on_delete=models.CASCADE, related_name="narrative")
    title = models.CharField(max_length=200)
    body = models.TextField(max_length=200000)
    status = models.CharField(max_length=10, choices=Status.choices, default=Status.DRAFT)
    version = models.PositiveIntegerField(default=1)
    publication = models.PositiveIntegerField(
        default=0, help_text="How many times it has been broadcast; deliveries belong to one publication."
    )
    created_by = models.ForeignKey(User, on_delete=models.PROTECT, related_name="+")
    created_at = models.DateTimeField(default=timezone.now)
    updated_at = models.DateTimeField(default=timezone.now)
    published_at = models.DateTimeField(null=True, blank=True, db_index=True)
    published_by = models.ForeignKey(User, on_delete=models.PROTECT, null=True, blank=True, related_name="+")
    override_reason = models.TextField(
        blank=True, max_length=2000, help_text="Why it was published before the loop was closed."
    )
    blend = models.JSONField(
        default=dict,
        blank=True,
        help_text="Each section of the blend as last drafted from its sources, to tell what changed since.",
    )
    search_vector = SearchVectorField(null=True, editable=False)

    class Meta:
        ordering = ["-published_at", "-id"]
        indexes = [
            models.Index(fields=["status", "-published_at"], name="narrative_library"),
            # The published narratives' incidents, so that the library's total is counted from this
            # index alone (`reviews.selectors.narrative_library_count`).
            models.Index(
                fields=["incident"],
                condition=models.Q(status="published"),
                name="narrative_published_incident",
            ),
        ]

    def __str__(self) -> str:
        return self.title

    def get_absolute_url(self) -> str:
        return reverse("reviews:narrative", args=[self.pk])

    @property
    def is_published(self) -> bool:
        return self.status == self.Status.PUBLISHED


class NarrativeRevision(models.Model):
    narrative = models.ForeignKey(Narrative, on_delete=models.CASCADE, related_name="revisions")
    version = models.PositiveIntegerField()
    title = models.CharField(max_length=200)
    body = models.TextField()
    created_by = models.ForeignKey(User, on_delete=models.PROTECT, related_name="+")
    created_at = models.DateTimeField(default=timezone.now)

    class Meta:
        ordering = ["-version"]
        constraints = [
            models.UniqueConstraint(fields=["narrative", "version"], name="revision_unique_version")
        ]

    def __str__(self) -> str:
        return f"{self.narrative} v{self.version}"


class NarrativeRead(models.Model):
    narrative = models.ForeignKey(Narrative, on_delete=models.CASCADE, related_name="reads")
    reader = models.ForeignKey(User, on_delete=models.CASCADE, related_name="narrative_reads")
    first_read_at = models.DateTimeField(default=timezone.now)

    class Meta:
        constraints = [models.UniqueConstraint(fields=["narrative", "reader"], name="read_once_per_reader")]

    def __str__(self) -> str:
        return f"{self.reader} read {self.narrative}"


class Walkthrough(models.Model):
    """An internal presentation of a published narrative: a walkthrough, for anyone in the
    organisation, or a playback, the incident played back to the people who took part and their
    stakeholders. Both are setup cost of the learning culture once held: the presenter's
    preparation and everyone's time in the room."""

    class Kind(models.TextChoices):
        WALKTHROUGH = "walkthrough", "Walkthrough"
        PLAYBACK = "playback", "Playback"

    class Status(models.TextChoices):
        SCHEDULED = "scheduled", "Scheduled"
        CANCELLED = "cancelled", "Cancelled"

    MAX_PREPARATION_MINUTES = 40 * 60

    uid = models.UUIDField(default=uuid.uuid4, unique=True, editable=False)
    narrative = models.ForeignKey(Narrative, on_delete=models.CASCADE, related_name="walkthroughs")
    kind = models.CharField(max_length=12, choices=Kind.choices, default=Kind.WALKTHROUGH)
    scheduled_at = models.DateTimeField()
    time_zone = models.CharField(max_length=64, default="UTC")
    duration_minutes = models.PositiveIntegerField(default=45)
    location = models.CharField(max_length=200, blank=True)
    audience_email = models.EmailField(blank=True, help_text="A list address that receives the invite.")
    attendees = models.ManyToManyField(User, related_name="walkthroughs", blank=True)
    presenter = models.ForeignKey(User, on_delete=models.PROTECT, related_name="+")
    preparation_minutes = models.PositiveIntegerField(
        default=0,
        validators=[MaxValueValidator(MAX_PREPARATION_MINUTES)],
        help_text="Time spent getting it ready, counted in setup cost once it is held.",
    )
    status = models.CharField(max_length=10, choices=Status.choices, default=Status.SCHEDULED)
    sequence = models.PositiveIntegerField(default=0)
    created_at = models.DateTimeField(default=timezone.now)

    class Meta:
        ordering = ["scheduled_at"]

    def __str__(self) -> str:
        return f"{self.get_kind_display()} of {self.narrative}"

    @property
    def ends_at(self) -> datetime:
        return self.scheduled_at + timedelta(minutes=self.duration_minutes)

    @property
    def is_held(self) -> bool:
        """Held once its time has come and it was not cancelled (no one records attendance)."""
        return self.status == self.Status.SCHEDULED and self.scheduled_at <= timezone.now()


class Delivery(models.Model):
    """One broadcast message to one recipient on one channel, for one publication of a narrative."""

    class Channel(models.TextChoices):
        EMAIL = "email", "Email"
        SLACK = "slack", "Slack"
        TEAMS = "teams", "Microsoft Teams"
        WEBHOOK = "webhook", "Webhook"
        CONFLUENCE = "confluence", "Confluence"

    class State(models.TextChoices):
        PENDING = "pending", "Pending"
        SENDING = "sending", "Sending"
        DELIVERED = "delivered", "Delivered"
        FAILED = "failed", "Failed"

    uuid = models.UUIDField(default=uuid.uuid4, unique=True, editable=False)
    narrative = models.ForeignKey(Narrative, on_delete=models.CASCADE, related_name="deliveries")
    publication = models.PositiveIntegerField()
    channel = models.CharField(max_length=10, choices=Channel.choices)
    recipient = models.CharField(max_length=500)
    state = models.CharField(max_length=10, choices=State.choices, default=State.PENDING)
    attempts = models.PositiveSmallIntegerField(default=0)
    last_error = models.TextField(blank=True)
    created_at = models.DateTimeField(default=timezone.now)
    claimed_at = models.DateTimeField(null=True, blank=True)
    next_attempt_at = models.DateTimeField(null=True, blank=True)
    delivered_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["id"]
        verbose_name_plural = "deliveries"
        constraints = [
            models.UniqueConstraint(
                fields=["narrative", "publication", "channel", "recipient"],
                name="delivery_once_per_recipient",
            )
        ]
        indexes = [models.Index(fields=["state", "next_attempt_at"], name="delivery_state")]

    def __str__(self) -> str:
        return f"{self.get_channel_display()} → {self.recipient}"


class Training(models.Model):
    """A training session in the practice: part of the setup cost of a learning culture."""

    class Kind(models.TextChoices):
        ANALYSIS = "analysis", "Incident analysis"
        REVIEW = "review", "Review facilitation"
        OTHER = "other", "Other"

    kind = models.CharField(max_length=10, choices=Kind.choices)
    title = models.CharField(max_length=200, blank=True)
    team = models.ForeignKey("incidents.Team", on_delete=models.PROTECT, related_name="trainings")
    held_on = models.DateField()
    duration_minutes = models.PositiveIntegerField(
        validators=[MinValueValidator(1), MaxValueValidator(7 * 24 * 60)]
    )
    trainer = models.ForeignKey(User, on_delete=models.PROTECT, related_name="trainings_given")
    attendees = models.ManyToManyField(User, related_name="trainings_attended", blank=True)
    recorded_by = models.ForeignKey(User, on_delete=models.PROTECT, related_name="+")
    created_at = models.DateTimeField(default=timezone.now)

    class Meta:
        ordering = ["-held_on", "-id"]
        indexes = [models.Index(fields=["team", "held_on"], name="training_team_held")]

    def __str__(self) -> str:
        return f"{self.get_kind_display()} training on {self.held_on}"
