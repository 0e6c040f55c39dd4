"""The API for people, teams, incidents and analyses: thin DRF views over the same services,
selectors and ``access_*`` functions as the pages.

Each view fetches objects through ``incidents.access`` (404 where existence is private, 403 where
it is visible but not yours to change) and calls one service.
"""

from collections import defaultdict
from collections.abc import Callable
from typing import Any, cast

from django.db.models import Model, Q, QuerySet
from django.http import Http404
from django.shortcuts import get_object_or_404
from django_filters import rest_framework as filters
from drf_spectacular.utils import OpenApiParameter, extend_schema, extend_schema_view
from rest_framework import mixins, serializers, status, viewsets
from rest_framework.decorators import action
from rest_framework.exceptions import PermissionDenied
from rest_framework.pagination import PageNumberPagination
from rest_framework.request import Request
from rest_framework.response import Response

from incidents import selectors, services
from incidents.access import (
    access_analysis,
    access_analysis_to_manage,
    access_incident,
    access_service,
    access_team,
    can_edit_team,
    can_manage_team,
    viewer_key,
)
from incidents.api.serializers import (
    AnalysisAllocateSerializer,
    AnalysisSaveSerializer,
    AnalysisSerializer,
    AnalysisStateSerializer,
    AnalysisWaiveSerializer,
    IncidentInputSerializer,
    IncidentSerializer,
    IncidentUpdateSerializer,
    InterviewInputSerializer,
    InterviewSerializer,
    KeyEventInputSerializer,
    KeyEventPageSerializer,
    KeyEventSerializer,
    ResponderInputSerializer,
    ResponderSerializer,
    ServiceInputSerializer,
    ServiceSerializer,
    ServiceUpdateSerializer,
    TeamInputSerializer,
    TeamSerializer,
    ThemeSerializer,
    UserSerializer,
)
from incidents.models import (
    AnalysisSession,
    Incident,
    Interview,
    KeyEvent,
    LearningTheme,
    Service,
    Team,
    User,
    member_name,
)
from reviews.caches import INCIDENT_LIST, KEY_EVENTS
from ybiyri.api_errors import ErrorDocumentingSchema
from ybiyri.api_filters import ApiFilterSet
from ybiyri.api_pagination import KeysetPagination
from ybiyri.api_rows import ValueRows
from ybiyri.request_types import SignedInApiRequest
from ybiyri.versioned_cache import VersionedCache
from ybiyri.views import request_digest


class ApiViewSet(viewsets.GenericViewSet):
    """Base of every API view set: documented errors, no implicit writes."""

    schema = ErrorDocumentingSchema()
    versioned_writes = False
    lookup_value_regex = "[0-9]+"
    #: The model listed, for the schema generator (which has no signed-in user to ask).
    schema_model: type[Model]
    request: SignedInApiRequest

    def get_queryset(self) -> QuerySet:
        if getattr(self, "swagger_fake_view", False):
            return self.schema_model._default_manager.none()
        return self.visible_queryset()

    def visible_queryset(self) -> QuerySet:
        """What the requester may list, from the selector the pages use too."""
        raise NotImplementedError

    def page_rows(self, rows: QuerySet[Any, dict[str, Any]]) -> list[dict[str, Any]]:
        """The page of a list read as values (`ybiyri.api_rows`); the list view sets paginate."""
        return cast(list[dict[str, Any]], self.paginate_queryset(rows))

    def served_again(self, versioned: VersionedCache, build: Callable[[], Response]) -> Response:
        """The list `build` answers, from `versioned` while nothing it reads has changed, for this
        requester (`viewer_key`) at this address with these parameters (`request_digest`). A
        request `build` refuses (bad parameters) is refused each time, never cached."""
        request = self.request
        parts = [f"api-{self.basename}", viewer_key(request.user), request_digest(request)]
        return Response(versioned.remember(parts, lambda: build().data))

    def paginated(self, queryset: QuerySet, serializer_class: type[serializers.Serializer]) -> Response:
        page = self.paginate_queryset(queryset)
        context = self.get_serializer_context()
        return self.get_paginated_response(serializer_class(page, many=True, context=context).data)


def referenced[T](field: str, pk: Any, fetch: Callable[[], T]) -> T:
    """An object named in the request body, fetched through an ``access_*`` function.

    One the requester may not see is reported exactly like one that does not exist (400 on the
    field), so the answer reveals nothing about it.
    """
    try:
        return fetch()
    except Http404:
        raise serializers.ValidationError({field: [f'Invalid pk "{pk}" - object does not exist.']}) from None


class UserFilter(ApiFilterSet):
    username = filters.CharFilter(lookup_expr="iexact")
    search = filters.CharFilter(method="filter_search", label="Name or username contains")

    class Meta:
        model = User
        fields = ["username", "is_problem_manager"]

    def filter_search(self, queryset: QuerySet[User], name: str, value: str) -> QuerySet[User]:
        return queryset.filter(
            Q(username__icontains=value) | Q(first_name__icontains=value) | Q(last_name__icontains=value)
        )


class UserViewSet(ApiViewSet, mixins.ListModelMixin, mixins.RetrieveModelMixin):
    """The organisation's active members (read-only: accounts are managed in the admin or by SSO)."""

    serializer_class = UserSerializer
    filterset_class = UserFilter
    ordering_fields = ["username", "last_name"]

    schema_model = User

    def visible_queryset(self) -> QuerySet[User]:
        return selectors.member_directory()


@extend_schema_view(
    create=extend_schema(request=TeamInputSerializer, responses={201: TeamSerializer}),
    partial_update=extend_schema(request=TeamInputSerializer(partial=True), responses=TeamSerializer),
)
class TeamViewSet(ApiViewSet, mixins.ListModelMixin, mixins.RetrieveModelMixin):
    """Product teams, listed to every member; created and changed by administrators."""

    serializer_class = TeamSerializer
    filterset_fields = ["slug", "tracker"]
    ordering_fields = ["name"]
    http_method_names = ["get", "post", "patch", "head", "options"]

    schema_model = Team

    def visible_queryset(self) -> QuerySet[Team]:
        return selectors.team_directory()

    def create(self, request: SignedInApiRequest) -> Response:
        if not can_edit_team(request.user):
            raise PermissionDenied("Only administrators create teams.")
        serializer = TeamInputSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        data = dict(serializer.validated_data)
        team = services.team_create(
            by=request.user,
            name=data.pop("name"),
            members=data.pop("members", ()),
            product_managers=data.pop("product_managers", ()),
            fields=cast(services.TeamFields, data),
        )
        return Response(TeamSerializer(team).data, status=status.HTTP_201_CREATED)

    def partial_update(self, request: SignedInApiRequest, pk: str) -> Response:
        team = access_team(user=request.user, team_id=int(pk), for_edit=True)
        serializer = TeamInputSerializer(data=request.data, partial=True)
        serializer.is_valid(raise_exception=True)
        data = dict(serializer.validated_data)
        team = services.team_update(
            team=team,
            by=request.user,
            members=data.pop("members", None),
            product_managers=data.pop("product_managers", None),
            changes=cast(services.TeamFields, data),
        )
        return Response(TeamSerializer(team).data)


@extend_schema_view(
    create=extend_schema(request=ServiceInputSerializer, responses={201: ServiceSerializer}),
    partial_update=extend_schema(request=ServiceUpdateSerializer(partial=True), responses=ServiceSerializer),
)
class ServiceViewSet(ApiViewSet, mixins.ListModelMixin, mixins.RetrieveModelMixin):
    """Digital services and their operating model, listed to every member; added to and changed
    in a team by its product managers."""

    serializer_class = ServiceSerializer
    filterset_fields = ["team", "operating_model", "demand", "sourcing"]
    ordering_fields = ["name"]
    http_method_names = ["get", "post", "patch", "head", "options"]

    schema_model = Service

    def visible_queryset(self) -> QuerySet[Service]:
        return selectors.service_directory()

    def create(self, request: SignedInApiRequest) -> Response:
        serializer = ServiceInputSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        data = dict(serializer.validated_data)
        if not can_manage_team(request.user, data["team"]):
            raise PermissionDenied("Only the team's product managers add its services.")
        service = services.service_create(
            by=request.user,
            team=data.pop("team"),
            name=data.pop("name"),
            fields=cast(services.ServiceFields, data),
        )
        return Response(ServiceSerializer(service).data, status=status.HTTP_201_CREATED)

    def partial_update(self, request: SignedInApiRequest, pk: str) -> Response:
        service = access_service(user=request.user, service_id=int(pk), for_edit=True)
        serializer = ServiceUpdateSerializer(data=request.data, partial=True)
        serializer.is_valid(raise_exception=True)
        service = services.service_update(service=service, by=request.user, changes=serializer.validated_data)
        return Response(ServiceSerializer(service).data)


class ThemeViewSet(ApiViewSet, mixins.ListModelMixin, mixins.RetrieveModelMixin):
    """The organisation-wide taxonomy of learning themes; POST picks or creates one by name."""

    serializer_class = ThemeSerializer
    filterset_fields = {"name": ["iexact", "icontains"], "slug": ["exact"]}
    ordering_fields = ["name", "created_at"]

    schema_model = LearningTheme

    def visible_queryset(self) -> QuerySet[LearningTheme]:
        return selectors.theme_taxonomy()

    def create(self, request: SignedInApiRequest) -> Response:
        serializer = ThemeSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        theme = services.theme_get_or_create(name=serializer.validated_data["name"], by=request.user)
        return Response(ThemeSerializer(theme).data, status=status.HTTP_201_CREATED)


INCIDENT_ROWS = ValueRows(IncidentSerializer, given={"responders"})
RESPONDER_ROWS = ValueRows(ResponderSerializer, given={"display_name", "analysis"})
KEY_EVENT_ROWS = ValueRows(KeyEventSerializer, given={"analyst_name"})


class IncidentFilter(ApiFilterSet):
    search = filters.CharFilter(field_name="title", lookup_expr="icontains", label="Title contains")

    class Meta:
        model = Incident
        fields = ["team", "service", "severity", "status", "confidential"]


@extend_schema_view(
    create=extend_schema(request=IncidentInputSerializer, responses={201: IncidentSerializer}),
    partial_update=extend_schema(request=IncidentUpdateSerializer, responses=IncidentSerializer),
)
class IncidentViewSet(ApiViewSet, mixins.ListModelMixin):
    """Incidents the requester may see (404 for the others), declared and changed by the team's
    product managers and problem managers."""

    serializer_class = IncidentSerializer
    filterset_class = IncidentFilter
    ordering_fields = ["started_at", "severity", "title", "created_at"]
    ordering = ("-started_at", "-id")
    pagination_class = KeysetPagination
    http_method_names = ["get", "post", "patch", "delete", "head", "options"]

    schema_model = Incident

    def visible_queryset(self) -> QuerySet[Incident]:
        return selectors.incident_list_with_responders(viewer=self.request.user)

    def list(self, request: Request, *args: Any, **kwargs: Any) -> Response:
        return self.served_again(INCIDENT_LIST, self.page_of_incidents)

    def page_of_incidents(self) -> Response:
        """A page of incidents read as values (`ybiyri.api_rows`), with their responders in one query."""
        listed = self.filter_queryset(selectors.incident_list(viewer=self.request.user))
        page = self.page_rows(listed.values(*INCIDENT_ROWS.columns))
        responders: dict[int, list[dict[str, Any]]] = defaultdict(list)
        rows = selectors.responders_of(incident_ids=[row["id"] for row in page]).values(
            *RESPONDER_ROWS.columns, "incident_id", "user__first_name", "user__last_name", "analysis"
        )
        for row in rows:
            row["display_name"] = member_name(
                first_name=row["user__first_name"],
                last_name=row["user__last_name"],
                username=row["user__username"],
            )
            responders[row["incident_id"]].append(row)
        for row in page:
            row["responders"] = RESPONDER_ROWS.represent(responders[row["id"]])
        return self.get_paginated_response(INCIDENT_ROWS.represent(page))

    def retrieve(self, request: SignedInApiRequest, pk: str) -> Response:
        access_incident(user=request.user, incident_id=int(pk))
        return Response(IncidentSerializer(get_object_or_404(self.visible_queryset(), pk=pk)).data)

    def create(self, request: SignedInApiRequest) -> Response:
        serializer = IncidentInputSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        data = dict(serializer.validated_data)
        if not can_manage_team(request.user, data["team"]):
            raise PermissionDenied(
                "Only the team's product managers and problem managers declare its incidents."
            )
        responders = [(item["user"], item["role"]) for item in data.pop("responders")]
        incident = services.incident_declare(by=request.user, responders=responders, **data)
        incident = get_object_or_404(self.visible_queryset(), pk=incident.pk)
        return Response(IncidentSerializer(incident).data, status=status.HTTP_201_CREATED)

    def partial_update(self, request: SignedInApiRequest, pk: str) -> Response:
        incident = access_incident(user=request.user, incident_id=int(pk), for_manage=True)
        serializer = IncidentUpdateSerializer(data=request.data, partial=True)
        serializer.is_valid(raise_exception=True)
        changes = dict(serializer.validated_data)
        if "team" in changes and not can_manage_team(request.user, changes["team"]):
            raise PermissionDenied("You can only move an incident to a team you manage.")
        services.incident_update(
            incident=incident, by=request.user, changes=cast(services.IncidentFields, changes)
        )
        return Response(IncidentSerializer(get_object_or_404(self.visible_queryset(), pk=pk)).data)

    @extend_schema(
        request=ResponderInputSerializer,
        responses={200: ResponderSerializer(many=True), 201: ResponderSerializer},
    )
    @action(
        detail=True,
        methods=["get", "post"],
        serializer_class=ResponderSerializer,
        pagination_class=PageNumberPagination,
    )
    def responders(self, request: SignedInApiRequest, pk: str) -> Response:
        """The incident's responders; POST adds one (product managers)."""
        if request.method == "POST":
            incident = access_incident(user=request.user, incident_id=int(pk), for_manage=True)
            serializer = ResponderInputSerializer(data=request.data)
            serializer.is_valid(raise_exception=True)
            responder = services.responder_add(
                incident=incident, by=request.user, **serializer.validated_data
            )
            return Response(ResponderSerializer(responder).data, status=status.HTTP_201_CREATED)
        incident = access_incident(user=request.user, incident_id=int(pk))
        return self.paginated(selectors.incident_responders(incident=incident), ResponderSerializer)

    @extend_schema(
        request=None,
        responses={204: None},
        parameters=[OpenApiParameter("responder_id", int, OpenApiParameter.PATH)],
    )
    @action(detail=True, methods=["delete"], url_path=r"responders/(?P<responder_id>[0-9]+)")
    def remove_responder(self, request: SignedInApiRequest, pk: str, responder_id: str) -> Response:
        """Remove a responder who has not analysed the incident yet (product managers)."""
        incident = access_incident(user=request.user, incident_id=int(pk), for_manage=True)
        responder = get_object_or_404(incident.responders.select_related("user"), pk=responder_id)
        services.responder_remove(responder=responder, by=request.user)
        return Response(status=status.HTTP_204_NO_CONTENT)

    @extend_schema(responses=KeyEventPageSerializer)
    @action(
        detail=True,
        methods=["get"],
        serializer_class=KeyEventSerializer,
        pagination_class=PageNumberPagination,
    )
    def timeline(self, request: SignedInApiRequest, pk: str) -> Response:
        """The merged timeline: key events of the submitted analyses (and the caller's own), in time order."""
        incident = access_incident(user=request.user, incident_id=int(pk))
        return self.paginated(
            selectors.incident_timeline(incident=incident, viewer=request.user), KeyEventSerializer
        )


class AnalysisFilter(ApiFilterSet):
    class Meta:
        model = AnalysisSession
        fields = ["incident", "analyst", "status"]


@extend_schema_view(
    create=extend_schema(request=AnalysisAllocateSerializer, responses={201: AnalysisSerializer}),
    partial_update=extend_schema(request=AnalysisSaveSerializer, responses=AnalysisSerializer),
)
class AnalysisViewSet(ApiViewSet, mixins.ListModelMixin):
    """Analysis sessions: allocated by product managers, written and submitted by their analyst,
    readable by the incident's team once submitted. Saves carry `version` (409 when stale)."""

    serializer_class = AnalysisSerializer
    filterset_class = AnalysisFilter
    ordering_fields = ["due_at", "created_at", "submitted_at"]
    versioned_writes = True
    http_method_names = ["get", "post", "patch", "head", "options"]

    schema_model = AnalysisSession

    def visible_queryset(self) -> QuerySet[AnalysisSession]:
        return selectors.readable_analyses(viewer=self.request.user)

    def retrieve(self, request: SignedInApiRequest, pk: str) -> Response:
        return Response(AnalysisSerializer(access_analysis(user=request.user, analysis_id=int(pk))).data)

    def create(self, request: SignedInApiRequest) -> Response:
        serializer = AnalysisAllocateSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        data = serializer.validated_data
        responder = data["responder"]
        incident = referenced(
            "responder",
            responder.pk,
            lambda: access_incident(user=request.user, incident_id=responder.incident_id, for_manage=True),
        )
        allocation = services.Allocation(
            responder=responder, allocated_minutes=data["allocated_minutes"], due_at=data["due_at"]
        )
        (analysis,) = services.analysis_allocate(incident=incident, by=request.user, allocations=[allocation])
        return Response(AnalysisSerializer(analysis).data, status=status.HTTP_201_CREATED)

    def partial_update(self, request: SignedInApiRequest, pk: str) -> Response:
        analysis = access_analysis(user=request.user, analysis_id=int(pk), for_edit=True)
        serializer = AnalysisSaveSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        changes = dict(serializer.validated_data)
        version = changes.pop("version")
        saved = services.analysis_save(
            analysis=analysis,
            by=request.user,
            version=version,
            changes=cast(services.AnalysisReportFields, changes),
        )
        return Response(AnalysisSerializer(saved).data)

    @extend_schema(request=AnalysisWaiveSerializer, responses=AnalysisStateSerializer)
    @action(detail=True, methods=["post"])
    def waive(self, request: SignedInApiRequest, pk: str) -> Response:
        """Let the learning loop close without this analysis, giving the reason (product and
        problem managers); the narrative may then be published without it."""
        analysis = access_analysis_to_manage(user=request.user, analysis_id=int(pk))
        serializer = AnalysisWaiveSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        waived = services.analysis_waive(analysis=analysis, by=request.user, **serializer.validated_data)
        return Response(AnalysisStateSerializer(waived).data)

    @extend_schema(request=None, responses=AnalysisSerializer)
    @action(detail=True, methods=["post"])
    def submit(self, request: SignedInApiRequest, pk: str) -> Response:
        """Submit the analysis: it is locked and the product managers are told (analyst only)."""
        analysis = access_analysis(user=request.user, analysis_id=int(pk), for_edit=True)
        return Response(AnalysisSerializer(services.analysis_submit(analysis=analysis, by=request.user)).data)


class ChildViewSet[P: Model](ApiViewSet, mixins.ListModelMixin):
    """Rows that belong to a parent (an analysis, a review): read, added and deleted under the
    parent's access rule, through the services named by `add_part` and `remove_part`."""

    model: type[P]
    parent_field: str
    input_serializer: type[serializers.Serializer]
    http_method_names = ["get", "post", "delete", "head", "options"]

    def access_parent(self, parent_id: int, *, for_change: bool) -> Model:
        """The parent through its `access_*` function (404/403 raised there)."""
        raise NotImplementedError

    def add_part(self, **kwargs: Any) -> P:
        """Add a row to the parent named in `kwargs`, through its service."""
        raise NotImplementedError

    def remove_part(self, part: P, *, by: User) -> None:
        """Delete a row, through its service."""
        raise NotImplementedError

    def get_part(self, pk: str, *, for_change: bool = False) -> P:
        part = get_object_or_404(self.model._default_manager.select_related(self.parent_field), pk=pk)
        parent = self.access_parent(getattr(part, f"{self.parent_field}_id"), for_change=for_change)
        setattr(part, self.parent_field, parent)
        return part

    def retrieve(self, request: SignedInApiRequest, pk: str) -> Response:
        return Response(self.get_serializer(self.get_part(pk)).data)

    def create(self, request: SignedInApiRequest) -> Response:
        serializer = self.input_serializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        data = dict(serializer.validated_data)
        parent_id = data.pop(self.parent_field)
        parent = referenced(
            self.parent_field, parent_id, lambda: self.access_parent(parent_id, for_change=True)
        )
        part = self.add_part(**{self.parent_field: parent}, by=request.user, **data)
        return Response(self.get_serializer(part).data, status=status.HTTP_201_CREATED)

    def destroy(self, request: SignedInApiRequest, pk: str) -> Response:
        self.remove_part(self.get_part(pk, for_change=True), by=request.user)
        return Response(status=status.HTTP_204_NO_CONTENT)


class AnalysisPartViewSet[P: (Interview, KeyEvent)](ChildViewSet[P]):
    """What an analysis holds: listed for readers, added and deleted by the analyst only."""

    parent_field = "analysis"

    def access_parent(self, parent_id: int, *, for_change: bool) -> AnalysisSession:
        return access_analysis(user=self.request.user, analysis_id=parent_id, for_edit=for_change)


@extend_schema_view(
    create=extend_schema(request=InterviewInputSerializer, responses={201: InterviewSerializer})
)
class InterviewViewSet(AnalysisPartViewSet[Interview]):
    """Interviews held during an analysis."""

    model = Interview
    serializer_class = InterviewSerializer
    input_serializer = InterviewInputSerializer
    filterset_fields = ["analysis"]
    ordering_fields = ["held_at"]

    schema_model = Interview

    def visible_queryset(self) -> QuerySet[Interview]:
        return selectors.readable_interviews(viewer=self.request.user)

    def add_part(self, **kwargs: Any) -> Interview:
        return services.interview_add(**kwargs)

    def remove_part(self, interview: Interview, *, by: User) -> None:
        services.interview_delete(interview=interview, by=by)


@extend_schema_view(
    create=extend_schema(request=KeyEventInputSerializer, responses={201: KeyEventSerializer})
)
class KeyEventViewSet(AnalysisPartViewSet[KeyEvent]):
    """Key events established by analyses (the incident's merged timeline is on the incident)."""

    model = KeyEvent
    serializer_class = KeyEventSerializer
    input_serializer = KeyEventInputSerializer
    filterset_fields = ["analysis", "incident"]
    ordering_fields = ["occurred_at"]
    ordering = ("occurred_at", "id")
    pagination_class = KeysetPagination

    schema_model = KeyEvent

    def visible_queryset(self) -> QuerySet[KeyEvent]:
        return selectors.readable_key_events(viewer=self.request.user)

    def list(self, request: Request, *args: Any, **kwargs: Any) -> Response:
        return self.served_again(KEY_EVENTS, self.page_of_key_events)

    def page_of_key_events(self) -> Response:
        """A page of key events read as values (`ybiyri.api_rows`)."""
        listed = self.filter_queryset(self.get_queryset())
        analyst = (
            "analysis__analyst__first_name",
            "analysis__analyst__last_name",
            "analysis__analyst__username",
        )
        page = self.page_rows(listed.values(*KEY_EVENT_ROWS.columns, *analyst))
        for row in page:
            first_name, last_name, username = (row[column] for column in analyst)
            row["analyst_name"] = member_name(first_name=first_name, last_name=last_name, username=username)
        return self.get_paginated_response(KEY_EVENT_ROWS.represent(page))

    def add_part(self, **kwargs: Any) -> KeyEvent:
        event = services.key_event_add(**kwargs)
        return KeyEvent.objects.select_related("analysis__analyst").get(pk=event.pk)

    def remove_part(self, key_event: KeyEvent, *, by: User) -> None:
        services.key_event_delete(key_event=key_event, by=by)
