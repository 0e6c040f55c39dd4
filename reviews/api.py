"""The API for reviews, their outcomes, improvement actions, narratives and deliveries: thin DRF
views over ``reviews.services``, ``reviews.selectors`` and ``reviews.access`` (see incidents/api.py
for the conventions)."""

from typing import Any

from django.db.models import Q, QuerySet
from django.shortcuts import get_object_or_404
from django_filters import rest_framework as filters
from drf_spectacular.utils import OpenApiParameter, extend_schema, extend_schema_view
from rest_framework import mixins, serializers, status
from rest_framework.decorators import action
from rest_framework.exceptions import PermissionDenied
from rest_framework.request import Request
from rest_framework.response import Response

from incidents.access import (
    access_incident,
    sees_everything,
    user_managed_team_ids,
    user_team_ids,
    visible_incidents_q,
)
from incidents.api import ApiViewSet, id_field, referenced
from incidents.models import Incident, User
from reviews import selectors
from reviews.access import (
    access_action,
    access_narrative,
    access_review,
    can_facilitate,
    in_narrative_team,
)
from reviews.markdown import render_markdown
from reviews.models import ContributingFactor, Delivery, ImprovementAction, Learning, Narrative, Review
from reviews.services import narrative as narrative_services
from reviews.services import review as review_services
from reviews.services.actions import action_raise, action_retry_sync, action_update

# Named choice sets for the schema (SPECTACULAR_SETTINGS["ENUM_NAME_OVERRIDES"]).
FactorKind = ContributingFactor.Kind
ActionKind = ImprovementAction.Kind
ActionStatus = ImprovementAction.Status
ReviewStatus = Review.Status
NarrativeStatus = Narrative.Status

# --- reviews --------------------------------------------------------------------------------


class ReviewSerializer(serializers.ModelSerializer):
    video_url = serializers.CharField(read_only=True, help_text="A video call URL, or empty.")
    attendees = serializers.PrimaryKeyRelatedField(many=True, read_only=True)
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
    time_zone = serializers.CharField(max_length=64, default="UTC")
    duration_minutes = serializers.IntegerField(
        min_value=review_services.MIN_DURATION_MINUTES, max_value=review_services.MAX_DURATION_MINUTES
    )
    facilitator = serializers.PrimaryKeyRelatedField(queryset=User.objects.all())
    attendees = serializers.PrimaryKeyRelatedField(queryset=User.objects.all(), many=True, required=False)
    location = serializers.CharField(max_length=200, required=False, allow_blank=True, default="")
    video_url = serializers.URLField(max_length=500, required=False, allow_blank=True, default="")


class ReviewScheduleSerializer(MeetingInputSerializer):
    incident = id_field()


class ReviewFilter(filters.FilterSet):
    class Meta:
        model = Review
        fields = ["incident", "status", "facilitator"]


@extend_schema_view(
    create=extend_schema(request=ReviewScheduleSerializer, responses={201: ReviewSerializer}),
    partial_update=extend_schema(request=MeetingInputSerializer(partial=True), responses=ReviewSerializer),
)
class ReviewViewSet(ApiViewSet, mixins.ListModelMixin):
    """Post-incident reviews: scheduled, rescheduled, cancelled and held by the team's product
    managers (and the facilitator); every change sends calendar updates to the attendees."""

    serializer_class = ReviewSerializer
    filterset_class = ReviewFilter
    ordering_fields = ["scheduled_at"]
    http_method_names = ["get", "post", "patch", "head", "options"]

    schema_model = Review

    def visible_queryset(self) -> QuerySet[Review]:
        return (
            Review.objects.filter(visible_incidents_q(self.request.user, prefix="incident__"))
            .prefetch_related("attendees")
            .order_by("scheduled_at", "id")
        )

    def retrieve(self, request: Request, pk: str) -> Response:
        review = access_review(user=request.user, review_id=pk)
        return Response(ReviewSerializer(review).data)

    def create(self, request: Request) -> Response:
        serializer = ReviewScheduleSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        data = dict(serializer.validated_data)
        incident_id = data.pop("incident")
        incident = referenced(
            "incident",
            incident_id,
            lambda: access_incident(user=request.user, incident_id=incident_id, for_manage=True),
        )
        attendees = data.pop("attendees", None)
        if attendees is None:
            attendees = review_services.default_attendees(incident)
        review = review_services.review_schedule(
            incident=incident, by=request.user, attendees=attendees, **data
        )
        return Response(ReviewSerializer(review).data, status=status.HTTP_201_CREATED)

    def partial_update(self, request: Request, pk: str) -> Response:
        review = access_review(user=request.user, review_id=pk, for_manage=True)
        serializer = MeetingInputSerializer(data=request.data, partial=True)
        serializer.is_valid(raise_exception=True)
        current = {
            "scheduled_at": review.scheduled_at,
            "time_zone": review.time_zone,
            "duration_minutes": review.duration_minutes,
            "facilitator": review.facilitator,
            "attendees": list(review.attendees.all()),
            "location": review.location,
            "video_url": review.video_url,
        }
        review = review_services.review_reschedule(
            review=review, by=request.user, **(current | serializer.validated_data)
        )
        return Response(ReviewSerializer(review).data)

    @extend_schema(request=None, responses=ReviewSerializer)
    @action(detail=True, methods=["post"])
    def cancel(self, request: Request, pk: str) -> Response:
        """Cancel the review; attendees get a calendar CANCEL."""
        review = access_review(user=request.user, review_id=pk, for_manage=True)
        return Response(ReviewSerializer(review_services.review_cancel(review=review, by=request.user)).data)

    @extend_schema(request=None, responses=ReviewSerializer)
    @action(detail=True, methods=["post"])
    def held(self, request: Request, pk: str) -> Response:
        """Record that the review was held, now."""
        review = access_review(user=request.user, review_id=pk, for_manage=True)
        return Response(
            ReviewSerializer(review_services.review_mark_held(review=review, by=request.user)).data
        )


class ReviewOutcomeViewSet(ApiViewSet, mixins.ListModelMixin):
    """What a review produces: readable by whoever sees the incident, added and deleted by the
    facilitator and the team's product managers."""

    model: type[ContributingFactor] | type[Learning]
    input_serializer: type[serializers.Serializer]
    http_method_names = ["get", "post", "delete", "head", "options"]

    def visible_queryset(self) -> QuerySet:
        return self.model.objects.filter(visible_incidents_q(self.request.user, prefix="review__incident__"))

    def get_outcome(self, pk: str, *, for_manage: bool = False):
        outcome = get_object_or_404(self.model.objects.select_related("review"), pk=pk)
        outcome.review = access_review(
            user=self.request.user, review_id=outcome.review_id, for_manage=for_manage
        )
        return outcome

    def retrieve(self, request: Request, pk: str) -> Response:
        return Response(self.get_serializer(self.get_outcome(pk)).data)

    def create(self, request: Request) -> Response:
        serializer = self.input_serializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        data = dict(serializer.validated_data)
        review_id = data.pop("review")
        review = referenced(
            "review",
            review_id,
            lambda: access_review(user=request.user, review_id=review_id, for_manage=True),
        )
        outcome = self.add_part(review=review, by=request.user, **data)
        return Response(self.get_serializer(outcome).data, status=status.HTTP_201_CREATED)

    def destroy(self, request: Request, pk: str) -> Response:
        self.remove_part(self.get_outcome(pk, for_manage=True), by=request.user)
        return Response(status=status.HTTP_204_NO_CONTENT)


class ContributingFactorSerializer(serializers.ModelSerializer):
    class Meta:
        model = ContributingFactor
        fields = ["id", "review", "description", "kind", "created_by", "created_at"]
        read_only_fields = fields


class ContributingFactorInputSerializer(serializers.Serializer):
    review = id_field()
    description = serializers.CharField(max_length=2000)
    kind = serializers.ChoiceField(choices=ContributingFactor.Kind.choices)


@extend_schema_view(
    create=extend_schema(
        request=ContributingFactorInputSerializer, responses={201: ContributingFactorSerializer}
    )
)
class ContributingFactorViewSet(ReviewOutcomeViewSet):
    """Contributing factors, each human or technical."""

    model = ContributingFactor
    serializer_class = ContributingFactorSerializer
    input_serializer = ContributingFactorInputSerializer
    filterset_fields = ["review", "kind"]
    ordering_fields = ["created_at"]

    schema_model = ContributingFactor

    def visible_queryset(self) -> QuerySet[ContributingFactor]:
        return super().visible_queryset().order_by("created_at", "id")

    def add_part(self, **kwargs: Any) -> ContributingFactor:
        return review_services.factor_add(**kwargs)

    def remove_part(self, factor: ContributingFactor, *, by: User) -> None:
        review_services.factor_delete(factor=factor, by=by)


class LearningSerializer(serializers.ModelSerializer):
    class Meta:
        model = Learning
        fields = ["id", "review", "description", "rank", "created_by", "created_at"]
        read_only_fields = fields


class LearningInputSerializer(serializers.Serializer):
    review = id_field()
    description = serializers.CharField(max_length=2000)


@extend_schema_view(
    create=extend_schema(request=LearningInputSerializer, responses={201: LearningSerializer})
)
class LearningViewSet(ReviewOutcomeViewSet):
    """The most valuable learnings, ranked (1 is the most valuable); new ones join at the bottom."""

    model = Learning
    serializer_class = LearningSerializer
    input_serializer = LearningInputSerializer
    filterset_fields = ["review"]
    ordering_fields = ["rank"]

    schema_model = Learning

    def visible_queryset(self) -> QuerySet[Learning]:
        return super().visible_queryset().order_by("review_id", "rank", "id")

    def add_part(self, **kwargs: Any) -> Learning:
        return review_services.learning_add(**kwargs)

    def remove_part(self, learning: Learning, *, by: User) -> None:
        review_services.learning_delete(learning=learning, by=by)


# --- improvement actions --------------------------------------------------------------------


class ActionSerializer(serializers.ModelSerializer):
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
            "cost_of_delay_seconds",
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


class ActionUpdateSerializer(serializers.Serializer):
    title = serializers.CharField(max_length=200)
    description = serializers.CharField(max_length=10000, allow_blank=True)
    kind = serializers.ChoiceField(choices=ImprovementAction.Kind.choices)
    owner = serializers.PrimaryKeyRelatedField(queryset=User.objects.all(), allow_null=True)
    priority = serializers.ChoiceField(choices=ImprovementAction.Priority.choices)
    due_date = serializers.DateField(allow_null=True)
    status = serializers.ChoiceField(choices=ImprovementAction.Status.choices)


class ActionRaiseSerializer(ActionUpdateSerializer):
    incident = id_field()
    review = id_field(required=False, allow_null=True, default=None)
    description = serializers.CharField(max_length=10000, allow_blank=True, required=False, default="")
    owner = serializers.PrimaryKeyRelatedField(
        queryset=User.objects.all(), allow_null=True, required=False, default=None
    )
    priority = serializers.ChoiceField(
        choices=ImprovementAction.Priority.choices, default=ImprovementAction.Priority.MEDIUM
    )
    due_date = serializers.DateField(allow_null=True, required=False, default=None)
    status = None


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
    ordering = serializers.ChoiceField(
        choices=["-raised_at", "raised_at", "priority", "due_date", "status"], required=False
    )


@extend_schema_view(
    list=extend_schema(parameters=ACTION_FILTERS),
    create=extend_schema(request=ActionRaiseSerializer, responses={201: ActionSerializer}),
    partial_update=extend_schema(request=ActionUpdateSerializer(partial=True), responses=ActionSerializer),
)
class ActionViewSet(ApiViewSet, mixins.ListModelMixin):
    """Improvement actions across the incidents the requester sees (the backlog), raised and changed
    by the facilitator and the team's product managers; synced to the team's tracker."""

    serializer_class = ActionSerializer
    filter_backends: list = []  # the backlog selector owns filtering and ordering
    http_method_names = ["get", "post", "patch", "head", "options"]

    schema_model = ImprovementAction

    def visible_queryset(self) -> QuerySet[ImprovementAction]:
        params = ActionFilterSerializer(data=self.request.query_params)
        params.is_valid(raise_exception=True)
        criteria = params.validated_data
        actions = selectors.action_backlog(
            viewer=self.request.user,
            team_id=criteria.get("team"),
            status=criteria.get("status", ""),
            priority=criteria.get("priority", ""),
            owner_id=criteria.get("owner"),
            ordering=criteria.get("ordering", "-raised_at"),
        )
        if "incident" in criteria:
            actions = actions.filter(incident_id=criteria["incident"])
        return actions

    def retrieve(self, request: Request, pk: str) -> Response:
        return Response(ActionSerializer(access_action(user=request.user, action_id=pk)).data)

    def create(self, request: Request) -> Response:
        serializer = ActionRaiseSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        data = dict(serializer.validated_data)
        incident_id, review_id = data.pop("incident"), data.pop("review")
        incident = referenced(
            "incident", incident_id, lambda: access_incident(user=request.user, incident_id=incident_id)
        )
        if not can_facilitate(request.user, incident):
            raise PermissionDenied("Only the facilitator and the team's product managers raise actions.")
        review = None
        if review_id is not None:
            review = referenced(
                "review", review_id, lambda: access_review(user=request.user, review_id=review_id)
            )
        action = action_raise(incident=incident, review=review, by=request.user, **data)
        return Response(ActionSerializer(action).data, status=status.HTTP_201_CREATED)

    def partial_update(self, request: Request, pk: str) -> Response:
        action = access_action(user=request.user, action_id=pk, for_edit=True)
        serializer = ActionUpdateSerializer(data=request.data, partial=True)
        serializer.is_valid(raise_exception=True)
        return Response(
            ActionSerializer(action_update(action=action, by=request.user, **serializer.validated_data)).data
        )

    @extend_schema(request=None, responses=ActionSerializer)
    @action(detail=True, methods=["post"], url_path="retry-sync")
    def retry_sync(self, request: Request, pk: str) -> Response:
        """Push the action to the team's tracker again (after a failure or a configuration fix)."""
        action = access_action(user=request.user, action_id=pk, for_edit=True)
        action = action_retry_sync(action=action, by=request.user)
        # Without a broker the push ran as the transaction committed: answer with what it left.
        action.refresh_from_db()
        return Response(ActionSerializer(action).data)


# --- narratives and deliveries --------------------------------------------------------------


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
    title = serializers.CharField(max_length=200, required=False)
    body = serializers.CharField(max_length=200000, required=False)


class NarrativePublishSerializer(serializers.Serializer):
    broadcast = serializers.BooleanField(
        default=True, help_text="For a narrative already published: broadcast it again."
    )


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


@extend_schema_view(
    list=extend_schema(parameters=NARRATIVE_FILTERS),
    retrieve=extend_schema(responses=NarrativeSerializer),
    create=extend_schema(request=NarrativeDraftSerializer, responses={201: NarrativeSerializer}),
    partial_update=extend_schema(request=NarrativeSaveSerializer, responses=NarrativeSerializer),
)
class NarrativeViewSet(ApiViewSet, mixins.ListModelMixin):
    """The narrative library (published narratives, newest first or by relevance with `search`),
    and the team's drafts. Saves carry `version` (409 when stale); publishing broadcasts."""

    serializer_class = NarrativeListSerializer
    filter_backends: list = []  # the library selector owns search, filters and ordering
    versioned_writes = True
    http_method_names = ["get", "post", "patch", "head", "options"]

    schema_model = Narrative

    def visible_queryset(self) -> QuerySet[Narrative]:
        params = NarrativeFilterSerializer(data=self.request.query_params)
        params.is_valid(raise_exception=True)
        criteria = params.validated_data
        viewer = self.request.user
        if criteria.get("status") == Narrative.Status.DRAFT:
            drafts = Narrative.objects.filter(status=Narrative.Status.DRAFT).select_related("incident")
            if not sees_everything(viewer):
                drafts = drafts.filter(incident__team_id__in=user_team_ids(viewer))
            return drafts.defer("body", "search_vector").order_by("-updated_at", "-id")
        return selectors.narrative_library(
            viewer=viewer,
            query=criteria.get("search", ""),
            team_id=criteria.get("team"),
            service_id=criteria.get("service"),
            severity=criteria.get("severity", ""),
            theme_id=criteria.get("theme"),
        )

    def retrieve(self, request: Request, pk: str) -> Response:
        return Response(NarrativeSerializer(access_narrative(user=request.user, narrative_id=pk)).data)

    def create(self, request: Request) -> Response:
        serializer = NarrativeDraftSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        incident_id = serializer.validated_data["incident"]
        incident = referenced(
            "incident", incident_id, lambda: access_incident(user=request.user, incident_id=incident_id)
        )
        if not in_narrative_team(request.user, incident):
            raise PermissionDenied("Only the incident's team can draft its narrative.")
        narrative = narrative_services.narrative_draft(incident=incident, by=request.user)
        return Response(NarrativeSerializer(narrative).data, status=status.HTTP_201_CREATED)

    def partial_update(self, request: Request, pk: str) -> Response:
        narrative = access_narrative(user=request.user, narrative_id=pk, for_edit=True)
        serializer = NarrativeSaveSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        data = serializer.validated_data
        saved = narrative_services.narrative_save(
            narrative=narrative,
            by=request.user,
            version=data["version"],
            title=data.get("title", narrative.title),
            body=data.get("body", narrative.body),
        )
        return Response(NarrativeSerializer(saved).data)

    @extend_schema(request=NarrativePublishSerializer, responses=NarrativeSerializer)
    @action(detail=True, methods=["post"])
    def publish(self, request: Request, pk: str) -> Response:
        """Publish to the whole organisation and broadcast (facilitator and product managers)."""
        narrative = access_narrative(user=request.user, narrative_id=pk, for_publish=True)
        serializer = NarrativePublishSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        published = narrative_services.narrative_publish(
            narrative=narrative, by=request.user, broadcast=serializer.validated_data["broadcast"]
        )
        return Response(NarrativeSerializer(published).data)


class DeliverySerializer(serializers.ModelSerializer):
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


class DeliveryViewSet(ApiViewSet, mixins.ListModelMixin, mixins.RetrieveModelMixin):
    """Where each publication was broadcast, and how it went (read-only), for those who may
    publish the narrative: the team's product managers, the facilitator and problem managers."""

    serializer_class = DeliverySerializer
    filterset_fields = ["narrative", "publication", "channel", "state"]
    ordering_fields = ["created_at", "delivered_at"]

    schema_model = Delivery

    def visible_queryset(self) -> QuerySet[Delivery]:
        viewer = self.request.user
        deliveries = Delivery.objects.order_by("-id")
        if sees_everything(viewer):
            return deliveries
        return deliveries.filter(
            Q(narrative__incident__team_id__in=user_managed_team_ids(viewer))
            | Q(narrative__incident__review__facilitator=viewer)
        )
