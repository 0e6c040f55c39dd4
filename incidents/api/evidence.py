"""The evidence API: the incident's evidence (keyset-paginated), Slack imports, promotion to key
events, and the pager drafts' confirmation. Thin views over `incidents.evidence` and the same
``access_*`` functions as the pages."""

from __future__ import annotations

from django.db.models import QuerySet
from drf_spectacular.utils import extend_schema
from rest_framework import generics, serializers, status
from rest_framework.pagination import CursorPagination
from rest_framework.parsers import FormParser, MultiPartParser
from rest_framework.response import Response
from rest_framework.views import APIView

from incidents.access import access_analysis, access_evidence, access_incident
from incidents.api.serializers import IncidentSerializer, KeyEventSerializer, id_field
from incidents.api.views import referenced
from incidents.evidence import selectors, services
from incidents.evidence.forms import SLACK_CHANNEL_ID
from incidents.evidence.imports import slack_import_request
from incidents.evidence.models import Evidence, EvidenceSource, SlackImport
from incidents.evidence.slack_export import slack_export_import
from incidents.models import KeyEvent
from ybiyri.api_errors import ErrorDocumentingSchema
from ybiyri.request_types import SignedInApiRequest


class EvidenceSerializer(serializers.ModelSerializer):
    author_display_name = serializers.CharField(source="who", read_only=True)

    class Meta:
        model = Evidence
        fields = [
            "id",
            "incident",
            "source",
            "kind",
            "external_id",
            "occurred_at",
            "text",
            "author",
            "author_display_name",
            "author_name",
            "author_email",
            "channel",
            "thread_ts",
            "url",
            "links",
            "edited_at",
            "deleted_at",
        ]
        read_only_fields = fields


class SlackImportSerializer(serializers.ModelSerializer):
    class Meta:
        model = SlackImport
        fields = [
            "id",
            "incident",
            "channel",
            "oldest",
            "latest",
            "state",
            "messages_seen",
            "messages_added",
            "last_error",
            "created_at",
            "finished_at",
        ]
        read_only_fields = fields


class SlackImportInputSerializer(serializers.Serializer):
    channel = serializers.RegexField(
        SLACK_CHANNEL_ID, max_length=40, help_text="The channel's id, e.g. C0123ABCD."
    )
    oldest = serializers.DateTimeField(required=False, allow_null=True, default=None)
    latest = serializers.DateTimeField(required=False, allow_null=True, default=None)

    def validate(self, data: dict) -> dict:
        if data["oldest"] and data["latest"] and data["latest"] < data["oldest"]:
            raise serializers.ValidationError({"latest": "The end of the window cannot be before its start."})
        return data


class SlackExportInputSerializer(serializers.Serializer):
    archive = serializers.FileField(help_text="A Slack export (.zip).")
    channel = serializers.CharField(max_length=80, help_text="The channel's id or name in the export.")
    oldest = serializers.DateTimeField(required=False, allow_null=True, default=None)
    latest = serializers.DateTimeField(required=False, allow_null=True, default=None)


class SlackExportResultSerializer(serializers.Serializer):
    messages_seen = serializers.IntegerField()
    messages_added = serializers.IntegerField()


class PromoteInputSerializer(serializers.Serializer):
    analysis = id_field()
    marker = serializers.ChoiceField(choices=KeyEvent.Marker.choices)
    note = serializers.CharField(max_length=2000, required=False, allow_blank=True, default="")


class PromotedKeyEventSerializer(KeyEventSerializer):
    class Meta(KeyEventSerializer.Meta):
        fields = [*KeyEventSerializer.Meta.fields, "evidence", "marker"]
        read_only_fields = fields


class EvidenceCursor(CursorPagination):
    """Keyset pagination in time order: a fixed cost per page, however long the transcript."""

    ordering = ("occurred_at", "id")
    page_size = 100


class EvidenceList(generics.ListAPIView):
    """The incident's evidence in time order: `?source=`, `?person=` (member id or name), `?q=`."""

    schema = ErrorDocumentingSchema()
    serializer_class = EvidenceSerializer
    pagination_class = EvidenceCursor
    filter_backends: list = []

    request: SignedInApiRequest

    def get_queryset(self) -> QuerySet[Evidence]:
        if getattr(self, "swagger_fake_view", False):
            return Evidence.objects.none()
        incident = access_incident(user=self.request.user, incident_id=self.kwargs["pk"])
        params = self.request.query_params
        source = params.get("source", "")
        if source and source not in EvidenceSource.values:
            raise serializers.ValidationError(
                {"source": [f"Choose one of: {', '.join(EvidenceSource.values)}."]}
            )
        return selectors.evidence_list(
            incident=incident,
            filters=selectors.EvidenceFilter(
                source=source, person=params.get("person", "")[:200], query=params.get("q", "")[:200]
            ),
        )


class SlackImportCreate(APIView):
    """Import a Slack channel into the incident's evidence (its managers): 202 with the job."""

    schema = ErrorDocumentingSchema()

    @extend_schema(request=SlackImportInputSerializer, responses={202: SlackImportSerializer})
    def post(self, request: SignedInApiRequest, pk: int) -> Response:
        incident = access_incident(user=request.user, incident_id=pk, for_manage=True)
        serializer = SlackImportInputSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        job = slack_import_request(incident=incident, by=request.user, **serializer.validated_data)
        job.refresh_from_db()
        return Response(SlackImportSerializer(job).data, status=status.HTTP_202_ACCEPTED)


class SlackImportDetail(generics.RetrieveAPIView):
    """One import job, for its progress."""

    request: SignedInApiRequest
    schema = ErrorDocumentingSchema()
    serializer_class = SlackImportSerializer

    def get_object(self) -> SlackImport:
        incident = access_incident(user=self.request.user, incident_id=self.kwargs["pk"])
        return generics.get_object_or_404(incident.slack_imports.all(), pk=self.kwargs["job_id"])


class SlackExportUpload(APIView):
    """Import a channel from an uploaded Slack export (multipart; its managers)."""

    schema = ErrorDocumentingSchema()
    parser_classes = [MultiPartParser, FormParser]

    @extend_schema(request=SlackExportInputSerializer, responses={201: SlackExportResultSerializer})
    def post(self, request: SignedInApiRequest, pk: int) -> Response:
        incident = access_incident(user=request.user, incident_id=pk, for_manage=True)
        serializer = SlackExportInputSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        seen, added = slack_export_import(incident=incident, by=request.user, **serializer.validated_data)
        return Response({"messages_seen": seen, "messages_added": added}, status=status.HTTP_201_CREATED)


class EvidencePromote(APIView):
    """Promote a piece of evidence to one of the caller's own key events, with a marker and a note."""

    schema = ErrorDocumentingSchema()

    @extend_schema(request=PromoteInputSerializer, responses={201: PromotedKeyEventSerializer})
    def post(self, request: SignedInApiRequest, pk: int) -> Response:
        evidence = access_evidence(user=request.user, evidence_id=pk)
        serializer = PromoteInputSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        data = serializer.validated_data
        analysis = referenced(
            "analysis",
            data["analysis"],
            lambda: access_analysis(user=request.user, analysis_id=data["analysis"], for_edit=True),
        )
        event = services.evidence_promote(
            evidence=evidence, analysis=analysis, by=request.user, marker=data["marker"], note=data["note"]
        )
        event = KeyEvent.objects.select_related("analysis__analyst").get(pk=event.pk)
        return Response(PromotedKeyEventSerializer(event).data, status=status.HTTP_201_CREATED)


class EvidencePickSerializer(serializers.Serializer):
    evidence = EvidenceSerializer()
    analysts = serializers.IntegerField(help_text="How many analysts picked it.")
    markers = serializers.DictField(child=serializers.IntegerField(), help_text="Marker → analysts.")


class EvidencePicks(APIView):
    """For the merged timeline: each piece of evidence picked in the submitted analyses (and the
    caller's own), how many analysts picked it and under which markers."""

    schema = ErrorDocumentingSchema()

    @extend_schema(responses=EvidencePickSerializer(many=True))
    def get(self, request: SignedInApiRequest, pk: int) -> Response:
        incident = access_incident(user=request.user, incident_id=pk)
        picks = selectors.evidence_picks(incident=incident, viewer=request.user)
        return Response(EvidencePickSerializer(picks, many=True).data)


class DraftDecision(APIView):
    """Confirm the pager's draft as an incident of consequence, or dismiss it (its managers)."""

    schema = ErrorDocumentingSchema()
    decide = staticmethod(services.incident_confirm)

    @extend_schema(request=None, responses=IncidentSerializer)
    def post(self, request: SignedInApiRequest, pk: int) -> Response:
        incident = access_incident(user=request.user, incident_id=pk, for_manage=True)
        return Response(IncidentSerializer(self.decide(incident=incident, by=request.user)).data)


class DraftDismiss(DraftDecision):
    decide = staticmethod(services.incident_dismiss)
