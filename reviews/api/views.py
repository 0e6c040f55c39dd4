"""The API for reviews, their outcomes, improvement actions, narratives and deliveries: thin DRF
views over ``reviews.services``, ``reviews.selectors`` and ``reviews.access`` (see incidents/api/
for the conventions)."""

from typing import Any, cast

from django.db import transaction
from django.db.models import QuerySet
from drf_spectacular.utils import extend_schema, extend_schema_view
from rest_framework import mixins, status
from rest_framework.decorators import action
from rest_framework.exceptions import PermissionDenied
from rest_framework.request import Request
from rest_framework.response import Response

from incidents.access import (
    access_incident,
    can_manage_team,
)
from incidents.api.views import ApiViewSet, ChildViewSet, referenced
from incidents.models import User
from reviews import selectors
from reviews.access import (
    access_action,
    access_incident_for_draft,
    access_narrative,
    access_review,
    access_training,
    can_override_loop,
    can_record_outcomes,
)
from reviews.api.serializers import (
    ACTION_FILTERS,
    NARRATIVE_FILTERS,
    ActionFilterSerializer,
    ActionRaiseSerializer,
    ActionSerializer,
    ActionUpdateSerializer,
    ContributingFactorInputSerializer,
    ContributingFactorSerializer,
    DeliverySerializer,
    FactorLinksSerializer,
    LearningInputSerializer,
    LearningLinksSerializer,
    LearningSerializer,
    LoopOpenSerializer,
    MeetingInputSerializer,
    NarrativeDraftSerializer,
    NarrativeFilterSerializer,
    NarrativeListSerializer,
    NarrativePublishSerializer,
    NarrativeSaveSerializer,
    NarrativeSerializer,
    ReviewScheduleSerializer,
    ReviewSerializer,
    TrainingInputSerializer,
    TrainingSerializer,
)
from reviews.broadcast.selectors import broadcast_deliveries
from reviews.caches import BACKLOG, LIBRARY
from reviews.models import (
    ContributingFactor,
    Delivery,
    ImprovementAction,
    Learning,
    Narrative,
    Review,
    Training,
    delay_from_idea_to_practice,
)
from reviews.services import narrative as narrative_services
from reviews.services import review as review_services
from reviews.services.actions import ActionFields, action_raise, action_retry_sync, action_update
from reviews.services.effort import EFFORT_FIELDS, action_effort_set
from reviews.services.traceability import action_link, factor_link, learning_link
from reviews.services.trainings import training_delete, training_record
from ybiyri.api_filters import ApiFilterSet
from ybiyri.api_pagination import CountedPageNumberPagination
from ybiyri.api_rows import ValueRows
from ybiyri.request_types import SignedInApiRequest

ACTION_ROWS = ValueRows(ActionSerializer, given={"learnings", "factors", "cost_of_delay_seconds"})
NARRATIVE_ROWS = ValueRows(NarrativeListSerializer)


class ReviewFilter(ApiFilterSet):
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
        return selectors.review_list(viewer=self.request.user)

    def retrieve(self, request: SignedInApiRequest, pk: str) -> Response:
        review = access_review(user=request.user, review_id=int(pk))
        return Response(ReviewSerializer(review).data)

    def create(self, request: SignedInApiRequest) -> Response:
        serializer = ReviewScheduleSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        data = dict(serializer.validated_data)
        incident_id = data.pop("incident")
        incident = referenced(
            "incident",
            incident_id,
            lambda: access_incident(user=request.user, incident_id=incident_id, for_manage=True),
        )
        review = review_services.review_schedule(incident=incident, by=request.user, **data)
        return Response(ReviewSerializer(review).data, status=status.HTTP_201_CREATED)

    def partial_update(self, request: SignedInApiRequest, pk: str) -> Response:
        review = access_review(user=request.user, review_id=int(pk), for_manage=True)
        serializer = MeetingInputSerializer(data=request.data, partial=True)
        serializer.is_valid(raise_exception=True)
        changes = dict(serializer.validated_data)
        attendees = changes.pop("attendees", None)
        review = review_services.review_reschedule(
            review=review,
            by=request.user,
            changes=cast(review_services.MeetingFields, changes),
            attendees=attendees,
        )
        return Response(ReviewSerializer(review).data)

    @extend_schema(request=None, responses=ReviewSerializer)
    @action(detail=True, methods=["post"])
    def cancel(self, request: SignedInApiRequest, pk: str) -> Response:
        """Cancel the review; attendees get a calendar CANCEL."""
        review = access_review(user=request.user, review_id=int(pk), for_manage=True)
        return Response(ReviewSerializer(review_services.review_cancel(review=review, by=request.user)).data)

    @extend_schema(request=None, responses=ReviewSerializer)
    @action(detail=True, methods=["post"])
    def held(self, request: SignedInApiRequest, pk: str) -> Response:
        """Record that the review was held, now."""
        review = access_review(user=request.user, review_id=int(pk), for_manage=True)
        return Response(
            ReviewSerializer(review_services.review_mark_held(review=review, by=request.user)).data
        )


def link_ids(data: dict, *names: str) -> dict[str, list[int]]:
    """Take the lists of linked ids out of validated input, keyed as the traceability services
    name them (``themes`` → ``theme_ids``); absent lists are left alone."""
    singular = {"themes": "theme", "key_events": "key_event", "factors": "factor", "learnings": "learning"}
    return {f"{singular[name]}_ids": data.pop(name) for name in names if name in data}


class ReviewOutcomeViewSet[P: (ContributingFactor, Learning)](ChildViewSet[P]):
    """What a review produces: readable by whoever sees the incident, added, linked and deleted by
    the facilitator and the team's product managers."""

    parent_field = "review"
    http_method_names = ["get", "post", "patch", "delete", "head", "options"]

    def access_parent(self, parent_id: int, *, for_change: bool) -> Review:
        return access_review(user=self.request.user, review_id=parent_id, for_manage=for_change)


@extend_schema_view(
    create=extend_schema(
        request=ContributingFactorInputSerializer, responses={201: ContributingFactorSerializer}
    )
)
class ContributingFactorViewSet(ReviewOutcomeViewSet[ContributingFactor]):
    """Contributing factors, each human or technical."""

    model = ContributingFactor
    serializer_class = ContributingFactorSerializer
    input_serializer = ContributingFactorInputSerializer
    filterset_fields = ["review", "kind"]
    ordering_fields = ["created_at"]

    schema_model = ContributingFactor

    def visible_queryset(self) -> QuerySet[ContributingFactor]:
        return selectors.review_factors(viewer=self.request.user)

    @extend_schema(request=FactorLinksSerializer, responses=ContributingFactorSerializer)
    def partial_update(self, request: SignedInApiRequest, pk: str) -> Response:
        """Change what the factor traces to: `themes` and/or `key_events` (each list replaces the links)."""
        factor = self.get_part(pk, for_change=True)
        serializer = FactorLinksSerializer(data=request.data, partial=True)
        serializer.is_valid(raise_exception=True)
        links = link_ids(dict(serializer.validated_data), "themes", "key_events")
        factor = factor_link(factor=factor, by=request.user, **links)
        return Response(self.get_serializer(factor).data)

    @transaction.atomic
    def add_part(self, **kwargs: Any) -> ContributingFactor:
        links = link_ids(kwargs, "themes", "key_events")
        factor = review_services.factor_add(**kwargs)
        return factor_link(factor=factor, by=kwargs["by"], **links)

    def remove_part(self, factor: ContributingFactor, *, by: User) -> None:
        review_services.factor_delete(factor=factor, by=by)


@extend_schema_view(
    create=extend_schema(request=LearningInputSerializer, responses={201: LearningSerializer})
)
class LearningViewSet(ReviewOutcomeViewSet[Learning]):
    """The most valuable learnings, ranked (1 is the most valuable); new ones join at the bottom."""

    model = Learning
    serializer_class = LearningSerializer
    input_serializer = LearningInputSerializer
    filterset_fields = ["review"]
    ordering_fields = ["rank"]

    schema_model = Learning

    def visible_queryset(self) -> QuerySet[Learning]:
        return selectors.review_learnings(viewer=self.request.user)

    @extend_schema(request=LearningLinksSerializer, responses=LearningSerializer)
    def partial_update(self, request: SignedInApiRequest, pk: str) -> Response:
        """Change the factors the learning was learned from (the list replaces the links)."""
        learning = self.get_part(pk, for_change=True)
        serializer = LearningLinksSerializer(data=request.data, partial=True)
        serializer.is_valid(raise_exception=True)
        links = link_ids(dict(serializer.validated_data), "factors")
        if links:
            learning = learning_link(learning=learning, by=request.user, **links)
        return Response(self.get_serializer(learning).data)

    @transaction.atomic
    def add_part(self, **kwargs: Any) -> Learning:
        links = link_ids(kwargs, "factors")
        learning = review_services.learning_add(**kwargs)
        return learning_link(learning=learning, by=kwargs["by"], **links) if links else learning

    def remove_part(self, learning: Learning, *, by: User) -> None:
        review_services.learning_delete(learning=learning, by=by)


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
    pagination_class = CountedPageNumberPagination
    http_method_names = ["get", "post", "patch", "head", "options"]

    schema_model = ImprovementAction

    def criteria(self) -> dict[str, Any]:
        params = ActionFilterSerializer(data=self.request.query_params)
        params.is_valid(raise_exception=True)
        criteria = params.validated_data
        return {
            "team_id": criteria.get("team"),
            "status": criteria.get("status", ""),
            "priority": criteria.get("priority", ""),
            "owner_id": criteria.get("owner"),
            "incident_id": criteria.get("incident"),
            "ordering": criteria.get("ordering", "-raised_at"),
        }

    def visible_queryset(self) -> QuerySet[ImprovementAction]:
        return selectors.action_backlog(viewer=self.request.user, **self.criteria())

    def list(self, request: Request, *args: Any, **kwargs: Any) -> Response:
        return self.served_again(BACKLOG, self.page_of_actions)

    def page_of_actions(self) -> Response:
        """A page of the backlog read as values (`ybiyri.api_rows`), with its links in two queries."""
        page = self.page_rows(self.get_queryset().prefetch_related(None).values(*ACTION_ROWS.columns))
        learnings, factors = selectors.action_links(action_ids=[row["id"] for row in page])
        for row in page:
            row["learnings"], row["factors"] = learnings[row["id"]], factors[row["id"]]
            delay = delay_from_idea_to_practice(raised_at=row["raised_at"], done_at=row["done_at"])
            row["cost_of_delay_seconds"] = int(delay.total_seconds())
        return self.get_paginated_response(ACTION_ROWS.represent(page))

    def count_listed(self) -> int:
        """The backlog's total counted by index (`CountedPageNumberPagination`)."""
        chosen = self.criteria()
        del chosen["ordering"]
        return selectors.action_backlog_count(viewer=self.request.user, **chosen)

    def retrieve(self, request: SignedInApiRequest, pk: str) -> Response:
        return Response(ActionSerializer(access_action(user=request.user, action_id=int(pk))).data)

    def create(self, request: SignedInApiRequest) -> Response:
        serializer = ActionRaiseSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        data = dict(serializer.validated_data)
        incident_id, review_id = data.pop("incident"), data.pop("review")
        incident = referenced(
            "incident", incident_id, lambda: access_incident(user=request.user, incident_id=incident_id)
        )
        if not can_record_outcomes(request.user, incident):
            raise PermissionDenied("Only the incident's team and the review's facilitator record actions.")
        review = None
        if review_id is not None:
            review = referenced(
                "review", review_id, lambda: access_review(user=request.user, review_id=review_id)
            )
        links = link_ids(data, "learnings", "factors")
        with transaction.atomic():  # raised with its links, or not at all
            action = action_raise(incident=incident, review=review, by=request.user, **data)
            action_link(action=action, by=request.user, **links)
        return Response(ActionSerializer(action).data, status=status.HTTP_201_CREATED)

    def partial_update(self, request: SignedInApiRequest, pk: str) -> Response:
        action = access_action(user=request.user, action_id=int(pk), for_edit=True)
        serializer = ActionUpdateSerializer(data=request.data, partial=True)
        serializer.is_valid(raise_exception=True)
        changes = dict(serializer.validated_data)
        effort = {name: changes.pop(name) for name in EFFORT_FIELDS if name in changes}
        links = link_ids(changes, "learnings", "factors")
        with transaction.atomic():  # every change of the request, or none
            if changes:
                action = action_update(action=action, by=request.user, changes=cast(ActionFields, changes))
            if effort:
                action = action_effort_set(action=action, by=request.user, **effort)
            if links:
                action = action_link(action=action, by=request.user, **links)
        return Response(ActionSerializer(action).data)

    @extend_schema(request=None, responses=ActionSerializer)
    @action(detail=True, methods=["post"], url_path="retry-sync")
    def retry_sync(self, request: SignedInApiRequest, pk: str) -> Response:
        """Push the action to the team's tracker again (after a failure or a configuration fix)."""
        action = access_action(user=request.user, action_id=int(pk), for_edit=True)
        action = action_retry_sync(action=action, by=request.user)
        # Without a broker the push ran as the transaction committed: answer with what it left.
        action.refresh_from_db()
        return Response(ActionSerializer(action).data)


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
    pagination_class = CountedPageNumberPagination
    versioned_writes = True
    http_method_names = ["get", "post", "patch", "head", "options"]

    schema_model = Narrative

    def criteria(self) -> dict[str, Any]:
        params = NarrativeFilterSerializer(data=self.request.query_params)
        params.is_valid(raise_exception=True)
        criteria = params.validated_data
        return {
            "status": criteria.get("status"),
            "query": criteria.get("search", ""),
            "team_id": criteria.get("team"),
            "service_id": criteria.get("service"),
            "severity": criteria.get("severity", ""),
            "theme_id": criteria.get("theme"),
        }

    def visible_queryset(self) -> QuerySet[Narrative]:
        chosen = self.criteria()
        if chosen.pop("status") == Narrative.Status.DRAFT:
            return selectors.narrative_drafts(viewer=self.request.user)
        library = selectors.narrative_library(viewer=self.request.user, **chosen)
        # A search's two tiers (SearchResults) are a sequence that the paginator reads as it reads a
        # queryset; this view set has no filter backend that would need more.
        return cast(QuerySet[Narrative], library)

    def list(self, request: Request, *args: Any, **kwargs: Any) -> Response:
        return self.served_again(LIBRARY, self.page_of_narratives)

    def page_of_narratives(self) -> Response:
        """A page of the library or of the drafts read as values (`ybiyri.api_rows`); a search's
        page, read by id from its two tiers (`SearchResults`), through the serializer."""
        listed = self.get_queryset()
        if not isinstance(listed, QuerySet):
            return super().list(self.request)
        return self.get_paginated_response(
            NARRATIVE_ROWS.represent(self.page_rows(listed.values(*NARRATIVE_ROWS.columns)))
        )

    def count_listed(self) -> int | None:
        """The library's total counted by index (`CountedPageNumberPagination`); drafts and search
        results count their own."""
        chosen = self.criteria()
        if chosen.pop("status") == Narrative.Status.DRAFT or chosen.pop("query"):
            return None
        return selectors.narrative_library_count(viewer=self.request.user, **chosen)

    def retrieve(self, request: SignedInApiRequest, pk: str) -> Response:
        return Response(NarrativeSerializer(access_narrative(user=request.user, narrative_id=int(pk))).data)

    def create(self, request: SignedInApiRequest) -> Response:
        serializer = NarrativeDraftSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        incident_id = serializer.validated_data["incident"]
        incident = referenced(
            "incident",
            incident_id,
            lambda: access_incident_for_draft(user=request.user, incident_id=incident_id),
        )
        narrative = narrative_services.narrative_draft(incident=incident, by=request.user)
        return Response(NarrativeSerializer(narrative).data, status=status.HTTP_201_CREATED)

    def partial_update(self, request: SignedInApiRequest, pk: str) -> Response:
        narrative = access_narrative(user=request.user, narrative_id=int(pk), for_edit=True)
        serializer = NarrativeSaveSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        changes = dict(serializer.validated_data)
        version = changes.pop("version")
        saved = narrative_services.narrative_save(
            narrative=narrative,
            by=request.user,
            version=version,
            changes=cast(narrative_services.NarrativeFields, changes),
        )
        return Response(NarrativeSerializer(saved).data)

    @extend_schema(
        request=NarrativePublishSerializer, responses={200: NarrativeSerializer, 409: LoopOpenSerializer}
    )
    @action(detail=True, methods=["post"])
    def publish(self, request: SignedInApiRequest, pk: str) -> Response:
        """Publish to the whole organisation and broadcast (the incident's team and the review's
        facilitator), once every analysis is submitted or waived and the review held: 409 with
        `missing` otherwise. Product and problem managers may publish anyway with `override_reason`."""
        narrative = access_narrative(user=request.user, narrative_id=int(pk), for_publish=True)
        serializer = NarrativePublishSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        data = serializer.validated_data
        if data["override_reason"].strip() and not can_override_loop(request.user, narrative.incident):
            raise PermissionDenied("Only product and problem managers publish before the loop is closed.")
        published = narrative_services.narrative_publish(
            narrative=narrative,
            by=request.user,
            broadcast=data["broadcast"],
            override_reason=data["override_reason"],
        )
        return Response(NarrativeSerializer(published).data)


class DeliveryViewSet(ApiViewSet, mixins.ListModelMixin, mixins.RetrieveModelMixin):
    """Where each publication was broadcast, and how it went (read-only), for the incident's
    managers and the review's facilitator (`reviews.access.can_manage_broadcast`, as the pages)."""

    serializer_class = DeliverySerializer
    filterset_fields = ["narrative", "publication", "channel", "state"]
    ordering_fields = ["created_at", "delivered_at"]

    schema_model = Delivery

    def visible_queryset(self) -> QuerySet[Delivery]:
        return broadcast_deliveries(viewer=self.request.user)


@extend_schema_view(
    create=extend_schema(request=TrainingInputSerializer, responses={201: TrainingSerializer})
)
class TrainingViewSet(ApiViewSet, mixins.ListModelMixin, mixins.RetrieveModelMixin):
    """Trainings in incident analysis and review facilitation, listed to every member; recorded
    and removed by the product managers of the team trained."""

    serializer_class = TrainingSerializer
    filterset_fields = ["team", "kind", "held_on"]
    ordering_fields = ["held_on"]
    http_method_names = ["get", "post", "delete", "head", "options"]

    schema_model = Training

    def visible_queryset(self) -> QuerySet[Training]:
        return selectors.training_list()

    def create(self, request: SignedInApiRequest) -> Response:
        serializer = TrainingInputSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        data = dict(serializer.validated_data)
        if not can_manage_team(request.user, data["team"]):
            raise PermissionDenied("Only the team's product managers record its trainings.")
        training = training_record(by=request.user, **data)
        return Response(TrainingSerializer(training).data, status=status.HTTP_201_CREATED)

    def destroy(self, request: SignedInApiRequest, pk: str) -> Response:
        training_delete(
            training=access_training(user=request.user, training_id=int(pk), for_manage=True), by=request.user
        )
        return Response(status=status.HTTP_204_NO_CONTENT)
