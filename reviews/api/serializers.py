"""Serializers of the reviews, actions, narratives and deliveries API (see incidents/api/ for the
conventions)."""

from drf_spectacular.utils import OpenApiParameter
from rest_framework import serializers

from incidents.api.serializers import id_field
from incidents.models import Incident, KeyEvent, LearningTheme, Team, User
from reviews.broadcast.selectors import recipient_display
from reviews.markdown import render_markdown
from reviews.models import (
    ContributingFactor,
    Delivery,
    ImprovementAction,
    Learning,
    Narrative,
    Review,
    Training,
)
from reviews.selectors import ACTION_SORTS
from reviews.services import review as review_services
from ybiyri.fields import max_length

# Named choice sets for the schema (SPECTACULAR_SETTINGS["ENUM_NAME_OVERRIDES"]).
FactorKind = ContributingFactor.Kind


ActionKind = ImprovementAction.Kind


ActionStatus = ImprovementAction.Status


ReviewStatus = Review.Status


NarrativeStatus = Narrative.Status


class ReviewSerializer(serializers.ModelSerializer):
    video_url = serializers.CharField(read_only=True, help_text="A video call URL, or empty.")
    attendees: serializers.PrimaryKeyRelatedField[User] = serializers.PrimaryKeyRelatedField(
        many=True, read_only=True
    )
    ends_at = serializers.DateTimeField(read_only=True)

    class Meta:
        model = Review
        fields = [
            "id",
            "uid",
            "incident",
            "scheduled_at",
            "ends_at",
            "time_zone",
            "duration_minutes",
            "location",
            "video_url",
            "facilitator",
            "attendees",
            "scheduled_by",
            "status",
            "sequence",
            "completed_steps",
            "context_notes",
            "perspectives_notes",
            "held_at",
        ]
        read_only_fields = fields


class MeetingInputSerializer(serializers.Serializer):
    scheduled_at = serializers.DateTimeField()
    time_zone = serializers.CharField(max_length=max_length(Review, "time_zone"), default="UTC")
    duration_minutes = serializers.IntegerField(
        min_value=review_services.MIN_DURATION_MINUTES, max_value=review_services.MAX_DURATION_MINUTES
    )
    facilitator = serializers.PrimaryKeyRelatedField(queryset=User.objects.all())
    attendees = serializers.PrimaryKeyRelatedField(queryset=User.objects.all(), many=True, required=False)
    location = serializers.CharField(
        max_length=max_length(Review, "location"), required=False, allow_blank=True, default=""
    )
    video_url = serializers.URLField(
        max_length=max_length(Review, "video_url"), required=False, allow_blank=True, default=""
    )


class ReviewScheduleSerializer(MeetingInputSerializer):
    incident = id_field()


def id_list_field(help_text: str) -> serializers.ListField:
    """Ids of linked rows, written whole (the list replaces the links)."""
    return serializers.ListField(child=id_field(), max_length=200, required=False, help_text=help_text)


class ContributingFactorSerializer(serializers.ModelSerializer):
    themes: serializers.PrimaryKeyRelatedField[LearningTheme] = serializers.PrimaryKeyRelatedField(
        many=True, read_only=True
    )
    key_events: serializers.PrimaryKeyRelatedField[KeyEvent] = serializers.PrimaryKeyRelatedField(
        many=True, read_only=True
    )

    class Meta:
        model = ContributingFactor
        fields = ["id", "review", "description", "kind", "themes", "key_events", "created_by", "created_at"]
        read_only_fields = fields


class FactorLinksSerializer(serializers.Serializer):
    themes = id_list_field("Learning themes the factor shows.")
    key_events = id_list_field("Key events of the incident's merged timeline it contributed to.")


class ContributingFactorInputSerializer(FactorLinksSerializer):
    review = id_field()
    description = serializers.CharField(max_length=max_length(ContributingFactor, "description"))
    kind = serializers.ChoiceField(choices=ContributingFactor.Kind.choices)


class LearningSerializer(serializers.ModelSerializer):
    factors: serializers.PrimaryKeyRelatedField[ContributingFactor] = serializers.PrimaryKeyRelatedField(
        many=True, read_only=True
    )

    class Meta:
        model = Learning
        fields = ["id", "review", "description", "rank", "factors", "created_by", "created_at"]
        read_only_fields = fields


class LearningLinksSerializer(serializers.Serializer):
    factors = id_list_field("Contributing factors of the same review it was learned from.")


class LearningInputSerializer(LearningLinksSerializer):
    review = id_field()
    description = serializers.CharField(max_length=max_length(Learning, "description"))


class ActionLinksSerializer(serializers.Serializer):
    learnings = id_list_field("Learnings of the incident's review it puts into practice.")
    factors = id_list_field("Contributing factors of the incident's review it addresses.")


class ActionSerializer(serializers.ModelSerializer):
    learnings: serializers.PrimaryKeyRelatedField[Learning] = serializers.PrimaryKeyRelatedField(
        many=True, read_only=True
    )
    factors: serializers.PrimaryKeyRelatedField[ContributingFactor] = serializers.PrimaryKeyRelatedField(
        many=True, read_only=True
    )
    external_url = serializers.CharField(read_only=True, help_text="The tracker's URL, empty until synced.")
    cost_of_delay_seconds = serializers.SerializerMethodField(
        help_text="From raised to done, or to now while not done: the cost of delay so far."
    )

    class Meta:
        model = ImprovementAction
        fields = [
            "id",
            "uuid",
            "incident",
            "review",
            "title",
            "description",
            "kind",
            "owner",
            "priority",
            "status",
            "due_date",
            "raised_by",
            "raised_at",
            "done_at",
            "learnings",
            "factors",
            "cost_of_delay_seconds",
            "effort_estimate_hours",
            "effort_actual_hours",
            "tracker",
            "sync_state",
            "sync_error",
            "external_key",
            "external_url",
            "synced_at",
        ]
        read_only_fields = fields

    def get_cost_of_delay_seconds(self, action: ImprovementAction) -> int:
        return int(action.cost_of_delay.total_seconds())


class ActionUpdateSerializer(ActionLinksSerializer):
    title = serializers.CharField(max_length=max_length(ImprovementAction, "title"))
    description = serializers.CharField(
        max_length=max_length(ImprovementAction, "description"), allow_blank=True
    )
    kind = serializers.ChoiceField(choices=ImprovementAction.Kind.choices)
    owner = serializers.PrimaryKeyRelatedField(queryset=User.objects.all(), allow_null=True)
    priority = serializers.ChoiceField(choices=ImprovementAction.Priority.choices)
    due_date = serializers.DateField(allow_null=True)
    status = serializers.ChoiceField(choices=ImprovementAction.Status.choices)
    effort_estimate_hours = serializers.DecimalField(
        max_digits=7, decimal_places=2, min_value=0, allow_null=True, help_text="Hours it should take."
    )
    effort_actual_hours = serializers.DecimalField(
        max_digits=7, decimal_places=2, min_value=0, allow_null=True, help_text="Hours it took."
    )


class ActionRaiseSerializer(ActionUpdateSerializer):
    incident = id_field()
    review = id_field(required=False, allow_null=True, default=None)
    description = serializers.CharField(
        max_length=max_length(ImprovementAction, "description"), allow_blank=True, required=False, default=""
    )
    owner = serializers.PrimaryKeyRelatedField(
        queryset=User.objects.all(), allow_null=True, required=False, default=None
    )
    priority = serializers.ChoiceField(
        choices=ImprovementAction.Priority.choices, default=ImprovementAction.Priority.MEDIUM
    )
    due_date = serializers.DateField(allow_null=True, required=False, default=None)
    # None drops an inherited field (DRF's way); the stubs type the attribute as the field only.
    status = None  # type: ignore[assignment]
    effort_estimate_hours = None  # type: ignore[assignment]
    effort_actual_hours = None  # type: ignore[assignment]


ACTION_FILTERS = [
    OpenApiParameter("team", int, description="Only this team's actions"),
    OpenApiParameter("status", str, enum=ImprovementAction.Status.values),
    OpenApiParameter("priority", str, enum=ImprovementAction.Priority.values),
    OpenApiParameter("owner", int),
    OpenApiParameter("incident", int),
    OpenApiParameter("ordering", str, enum=["-raised_at", "raised_at", "priority", "due_date", "status"]),
]


class ActionFilterSerializer(serializers.Serializer):
    team = id_field(required=False)
    status = serializers.ChoiceField(choices=ImprovementAction.Status.choices, required=False)
    priority = serializers.ChoiceField(choices=ImprovementAction.Priority.choices, required=False)
    owner = id_field(required=False)
    incident = id_field(required=False)
    ordering = serializers.ChoiceField(choices=list(ACTION_SORTS), required=False)


class NarrativeSerializer(serializers.ModelSerializer):
    body_html = serializers.SerializerMethodField(help_text="The body rendered and sanitised.")

    class Meta:
        model = Narrative
        fields = [
            "id",
            "incident",
            "title",
            "body",
            "body_html",
            "status",
            "version",
            "publication",
            "created_by",
            "created_at",
            "updated_at",
            "published_at",
            "published_by",
            "override_reason",
        ]
        read_only_fields = fields

    def get_body_html(self, narrative: Narrative) -> str:
        return str(render_markdown(narrative.body))


class NarrativeListSerializer(NarrativeSerializer):
    """A narrative in a list: everything but the body (read one narrative for its text)."""

    class Meta(NarrativeSerializer.Meta):
        fields = [name for name in NarrativeSerializer.Meta.fields if name not in {"body", "body_html"}]
        read_only_fields = fields


class NarrativeDraftSerializer(serializers.Serializer):
    incident = id_field()


class NarrativeSaveSerializer(serializers.Serializer):
    version = serializers.IntegerField(min_value=1, help_text="The version your edit is based on.")
    title = serializers.CharField(max_length=max_length(Narrative, "title"), required=False)
    body = serializers.CharField(max_length=max_length(Narrative, "body"), required=False)


class NarrativePublishSerializer(serializers.Serializer):
    broadcast = serializers.BooleanField(
        default=True, help_text="For a narrative already published: broadcast it again."
    )
    override_reason = serializers.CharField(
        max_length=max_length(Narrative, "override_reason"),
        required=False,
        allow_blank=True,
        default="",
        help_text="Publish before the loop is closed, and why (product and problem managers).",
    )


class LoopOpenSerializer(serializers.Serializer):
    """The answer (409) to publishing while the learning loop is open."""

    detail = serializers.CharField()
    missing = serializers.ListField(child=serializers.ChoiceField(choices=["analyses", "review"]))


NARRATIVE_FILTERS = [
    OpenApiParameter("search", str, description="Full-text search (title matches rank first)"),
    OpenApiParameter("status", str, enum=Narrative.Status.values, description="`draft`: your teams' drafts"),
    OpenApiParameter("team", int),
    OpenApiParameter("service", int),
    OpenApiParameter("severity", str, enum=Incident.Severity.values),
    OpenApiParameter("theme", int),
]


class NarrativeFilterSerializer(serializers.Serializer):
    search = serializers.CharField(max_length=200, required=False, allow_blank=True)
    status = serializers.ChoiceField(choices=Narrative.Status.choices, required=False)
    team = id_field(required=False)
    service = id_field(required=False)
    severity = serializers.ChoiceField(choices=Incident.Severity.choices, required=False)
    theme = id_field(required=False)


class DeliverySerializer(serializers.ModelSerializer):
    recipient = serializers.SerializerMethodField(
        help_text="The address; webhook URLs are shortened to their origin (their path often holds a "
        "token), except for superusers."
    )

    class Meta:
        model = Delivery
        fields = [
            "id",
            "uuid",
            "narrative",
            "publication",
            "channel",
            "recipient",
            "state",
            "attempts",
            "last_error",
            "created_at",
            "delivered_at",
        ]
        read_only_fields = fields

    def get_recipient(self, delivery: Delivery) -> str:
        request = self.context.get("request")
        if request is not None and request.user.is_superuser:
            return delivery.recipient
        return recipient_display(delivery.channel, delivery.recipient)


TrainingKind = Training.Kind


class TrainingSerializer(serializers.ModelSerializer):
    attendees: serializers.PrimaryKeyRelatedField[User] = serializers.PrimaryKeyRelatedField(
        many=True, read_only=True
    )

    class Meta:
        model = Training
        fields = [
            "id",
            "kind",
            "title",
            "team",
            "held_on",
            "duration_minutes",
            "trainer",
            "attendees",
            "recorded_by",
            "created_at",
        ]
        read_only_fields = fields


class TrainingInputSerializer(serializers.Serializer):
    kind = serializers.ChoiceField(choices=Training.Kind.choices)
    title = serializers.CharField(
        max_length=max_length(Training, "title"), allow_blank=True, required=False, default=""
    )
    team = serializers.PrimaryKeyRelatedField(queryset=Team.objects.all())
    held_on = serializers.DateField()
    duration_minutes = serializers.IntegerField(min_value=1, max_value=7 * 24 * 60)
    trainer = serializers.PrimaryKeyRelatedField(queryset=User.objects.filter(is_active=True))
    attendees = serializers.PrimaryKeyRelatedField(
        queryset=User.objects.filter(is_active=True), many=True, required=False, default=list
    )
