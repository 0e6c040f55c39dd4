"""The API for walkthroughs and playbacks of published narratives: listed with the narratives
readers may read; scheduled (with invites) by those the narrative page lets schedule them; their
preparation time recorded or corrected by the presenter and those who may change them."""

from django.db.models import QuerySet
from drf_spectacular.utils import extend_schema, extend_schema_view
from rest_framework import mixins, serializers, status
from rest_framework.exceptions import PermissionDenied
from rest_framework.response import Response

from incidents.api.serializers import id_field
from incidents.api.views import ApiViewSet, referenced
from incidents.models import User
from reviews.access import (
    access_narrative,
    access_walkthrough,
    can_schedule_walkthrough,
    readable_walkthroughs_q,
)
from reviews.models import Walkthrough
from reviews.services import narrative as narrative_services
from reviews.services import review as review_services
from ybiyri.api_filters import ApiFilterSet
from ybiyri.request_types import SignedInApiRequest

WalkthroughKind = Walkthrough.Kind


class WalkthroughSerializer(serializers.ModelSerializer):
    attendees: serializers.PrimaryKeyRelatedField[User] = serializers.PrimaryKeyRelatedField(
        many=True, read_only=True
    )
    is_held = serializers.BooleanField(read_only=True)

    class Meta:
        model = Walkthrough
        fields = [
            "id",
            "narrative",
            "kind",
            "status",
            "scheduled_at",
            "time_zone",
            "duration_minutes",
            "location",
            "audience_email",
            "presenter",
            "attendees",
            "preparation_minutes",
            "is_held",
            "created_at",
        ]
        read_only_fields = fields


class WalkthroughScheduleSerializer(serializers.Serializer):
    narrative = id_field()
    kind = serializers.ChoiceField(choices=Walkthrough.Kind.choices, default=Walkthrough.Kind.WALKTHROUGH)
    scheduled_at = serializers.DateTimeField()
    time_zone = serializers.CharField(max_length=64, default="UTC")
    duration_minutes = serializers.IntegerField(
        min_value=review_services.MIN_DURATION_MINUTES, max_value=review_services.MAX_DURATION_MINUTES
    )
    location = serializers.CharField(max_length=200, required=False, allow_blank=True, default="")
    audience_email = serializers.EmailField(required=False, allow_blank=True, default="")
    attendees = serializers.PrimaryKeyRelatedField(
        queryset=User.objects.filter(is_active=True), many=True, required=False, default=list
    )
    preparation_minutes = serializers.IntegerField(
        min_value=0, max_value=Walkthrough.MAX_PREPARATION_MINUTES, required=False, default=0
    )


class WalkthroughPreparationSerializer(serializers.Serializer):
    preparation_minutes = serializers.IntegerField(min_value=0, max_value=Walkthrough.MAX_PREPARATION_MINUTES)


class WalkthroughFilter(ApiFilterSet):
    class Meta:
        model = Walkthrough
        fields = ["narrative", "kind", "status", "presenter"]


@extend_schema_view(
    create=extend_schema(request=WalkthroughScheduleSerializer, responses={201: WalkthroughSerializer}),
    partial_update=extend_schema(request=WalkthroughPreparationSerializer, responses=WalkthroughSerializer),
)
class WalkthroughViewSet(ApiViewSet, mixins.ListModelMixin):
    """Walkthroughs (for anyone) and playbacks (for those who took part and their stakeholders) of
    published narratives. `preparation_minutes` counts in the insights' setup cost once held."""

    serializer_class = WalkthroughSerializer
    filterset_class = WalkthroughFilter
    ordering_fields = ["scheduled_at"]
    http_method_names = ["get", "post", "patch", "head", "options"]

    schema_model = Walkthrough

    def visible_queryset(self) -> QuerySet[Walkthrough]:
        return (
            Walkthrough.objects.filter(readable_walkthroughs_q(self.request.user))
            .prefetch_related("attendees")
            .order_by("scheduled_at", "id")
        )

    def retrieve(self, request: SignedInApiRequest, pk: str) -> Response:
        return Response(
            WalkthroughSerializer(access_walkthrough(user=request.user, walkthrough_id=int(pk))).data
        )

    def create(self, request: SignedInApiRequest) -> Response:
        serializer = WalkthroughScheduleSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        data = dict(serializer.validated_data)
        narrative_id = data.pop("narrative")
        narrative = referenced(
            "narrative", narrative_id, lambda: access_narrative(user=request.user, narrative_id=narrative_id)
        )
        if not can_schedule_walkthrough(request.user, narrative):
            raise PermissionDenied("Only the incident's team and its product managers schedule walkthroughs.")
        walkthrough = narrative_services.walkthrough_schedule(narrative=narrative, by=request.user, **data)
        return Response(WalkthroughSerializer(walkthrough).data, status=status.HTTP_201_CREATED)

    def partial_update(self, request: SignedInApiRequest, pk: str) -> Response:
        walkthrough = access_walkthrough(user=request.user, walkthrough_id=int(pk), for_manage=True)
        serializer = WalkthroughPreparationSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        walkthrough = narrative_services.walkthrough_preparation_set(
            walkthrough=walkthrough, by=request.user, **serializer.validated_data
        )
        return Response(WalkthroughSerializer(walkthrough).data)
