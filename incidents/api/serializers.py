"""Serializers of the people, teams, incidents and analyses API: they parse and shape, nothing more.

Input serializers check types and sizes; the views fetch objects through ``incidents.access`` and
call one service, whose ``ValidationError`` and ``StaleVersion`` ``ybiyri.api_errors`` turns into 400
and 409 responses.
"""

from typing import Any

from rest_framework import serializers

from incidents import services
from incidents.models import (
    AnalysisSession,
    Incident,
    Interview,
    KeyEvent,
    LearningTheme,
    Responder,
    Service,
    Team,
    User,
)
from ybiyri.api_filters import MAX_ID
from ybiyri.fields import max_length

# Text without a length in the model still gets a bound: a request is not a place for megabytes.
MAX_TEXT = 100_000


def id_field(**kwargs: Any) -> serializers.IntegerField:
    """An id in a body or query string: a positive integer the database can hold (larger numbers
    are refused before they reach SQL)."""
    return serializers.IntegerField(min_value=1, max_value=MAX_ID, **kwargs)


# Named choice sets for the schema (SPECTACULAR_SETTINGS["ENUM_NAME_OVERRIDES"]).
IncidentStatus = Incident.Status


AnalysisStatus = AnalysisSession.Status


class UserSerializer(serializers.ModelSerializer):
    display_name = serializers.CharField(read_only=True)

    class Meta:
        model = User
        fields = ["id", "username", "display_name", "first_name", "last_name", "email", "is_problem_manager"]
        read_only_fields = fields


class TeamSerializer(serializers.ModelSerializer):
    members: serializers.PrimaryKeyRelatedField[User] = serializers.PrimaryKeyRelatedField(
        many=True, read_only=True
    )
    product_managers: serializers.PrimaryKeyRelatedField[User] = serializers.PrimaryKeyRelatedField(
        many=True, read_only=True
    )

    class Meta:
        model = Team
        fields = [
            "id",
            "name",
            "slug",
            "members",
            "product_managers",
            "tracker",
            "jira_project_key",
            "trello_list_id",
        ]
        read_only_fields = fields


class ServiceSerializer(serializers.ModelSerializer):
    on_call = serializers.CharField(read_only=True)
    guidance = serializers.CharField(
        read_only=True,
        help_text="Why the operating model goes against the practice's guidance; empty when it fits.",
    )

    class Meta:
        model = Service
        fields = [
            "id",
            "team",
            "name",
            "description",
            "operating_model",
            "on_call_team",
            "on_call",
            "demand",
            "sourcing",
            "cost_of_delay_per_day",
            "guidance",
            "pagerduty_service_ids",
            "opsgenie_teams",
            "alertmanager_matchers",
        ]
        read_only_fields = fields


class ThemeSerializer(serializers.ModelSerializer):
    class Meta:
        model = LearningTheme
        fields = ["id", "name", "slug", "description", "created_at"]
        read_only_fields = ["id", "slug", "description", "created_at"]


class KeyEventSerializer(serializers.ModelSerializer):
    evidence_url = serializers.CharField(read_only=True, help_text="A link to the evidence, or empty.")
    analyst = serializers.IntegerField(source="analysis.analyst_id", read_only=True)
    analyst_name = serializers.CharField(source="analysis.analyst.display_name", read_only=True)

    class Meta:
        model = KeyEvent
        fields = [
            "id",
            "incident",
            "analysis",
            "analyst",
            "analyst_name",
            "occurred_at",
            "description",
            "evidence_url",
        ]
        read_only_fields = fields


class KeyEventPageSerializer(serializers.Serializer):
    """One page of a timeline (the same shape as every paginated list)."""

    count = serializers.IntegerField()
    next = serializers.URLField(allow_null=True)
    previous = serializers.URLField(allow_null=True)
    results = KeyEventSerializer(many=True)


class ResponderSerializer(serializers.ModelSerializer):
    username = serializers.CharField(source="user.username", read_only=True)
    display_name = serializers.CharField(source="user.display_name", read_only=True)
    analysis = serializers.SerializerMethodField()

    class Meta:
        model = Responder
        fields = ["id", "user", "username", "display_name", "role", "analysis"]
        read_only_fields = fields

    def get_analysis(self, responder: Responder) -> int | None:
        analysis = getattr(responder, "analysis", None)
        return analysis.pk if analysis is not None else None


class ResponderInputSerializer(serializers.Serializer):
    user = serializers.PrimaryKeyRelatedField(queryset=User.objects.all())
    role = serializers.CharField(
        max_length=max_length(Responder, "role"), required=False, allow_blank=True, default=""
    )


class IncidentSerializer(serializers.ModelSerializer):
    responders = ResponderSerializer(many=True, read_only=True)

    class Meta:
        model = Incident
        fields = [
            "id",
            "uuid",
            "title",
            "summary",
            "severity",
            "status",
            "team",
            "service",
            "started_at",
            "detected_at",
            "mitigated_at",
            "resolved_at",
            "operating_model",
            "acknowledged_at",
            "confidential",
            "declared_by",
            "source",
            "external_id",
            "created_at",
            "updated_at",
            "responders",
        ]
        read_only_fields = fields


class IncidentInputSerializer(serializers.Serializer):
    title = serializers.CharField(max_length=max_length(Incident, "title"))
    summary = serializers.CharField(max_length=MAX_TEXT, required=False, allow_blank=True, default="")
    severity = serializers.ChoiceField(choices=Incident.Severity.choices)
    team = serializers.PrimaryKeyRelatedField(queryset=Team.objects.all())
    service = serializers.PrimaryKeyRelatedField(queryset=Service.objects.all())
    started_at = serializers.DateTimeField()
    detected_at = serializers.DateTimeField(required=False, allow_null=True, default=None)
    mitigated_at = serializers.DateTimeField(required=False, allow_null=True, default=None)
    resolved_at = serializers.DateTimeField(required=False, allow_null=True, default=None)
    confidential = serializers.BooleanField(required=False, default=False)
    # many=True takes the ListSerializer's max_length, which the stubs leave out.
    responders = ResponderInputSerializer(many=True, required=False, default=list, max_length=100)  # type: ignore[call-arg]


class IncidentUpdateSerializer(IncidentInputSerializer):
    # Responders have their own endpoint. None drops an inherited field; the stubs type it as the field.
    responders = None  # type: ignore[assignment]


class AnalysisSerializer(serializers.ModelSerializer):
    themes: serializers.PrimaryKeyRelatedField[LearningTheme] = serializers.PrimaryKeyRelatedField(
        many=True, read_only=True
    )

    class Meta:
        model = AnalysisSession
        fields = [
            "id",
            "incident",
            "responder",
            "analyst",
            "scheduled_by",
            "allocated_minutes",
            "due_at",
            "status",
            "report",
            "version",
            "time_spent_minutes",
            "themes",
            "created_at",
            "updated_at",
            "submitted_at",
            "waived_at",
            "waive_reason",
        ]
        read_only_fields = fields


class AnalysisAllocateSerializer(serializers.Serializer):
    responder = serializers.PrimaryKeyRelatedField(
        queryset=Responder.objects.select_related("user", "incident")
    )
    allocated_minutes = serializers.IntegerField(min_value=1, max_value=services.MAX_ALLOCATED_MINUTES)
    due_at = serializers.DateTimeField()


class AnalysisSaveSerializer(serializers.Serializer):
    version = serializers.IntegerField(min_value=1, help_text="The version your edit is based on.")
    report = serializers.CharField(max_length=MAX_TEXT, allow_blank=True, required=False)
    time_spent_minutes = serializers.IntegerField(
        min_value=0, max_value=services.MAX_TIME_SPENT_MINUTES, required=False
    )
    themes = serializers.PrimaryKeyRelatedField(
        queryset=LearningTheme.objects.all(), many=True, required=False
    )


class InterviewSerializer(serializers.ModelSerializer):
    class Meta:
        model = Interview
        fields = ["id", "analysis", "interviewee", "held_at", "notes"]
        read_only_fields = fields


class InterviewInputSerializer(serializers.Serializer):
    analysis = id_field()
    interviewee = serializers.CharField(max_length=max_length(Interview, "interviewee"))
    held_at = serializers.DateTimeField()
    notes = serializers.CharField(max_length=MAX_TEXT, required=False, allow_blank=True, default="")


class KeyEventInputSerializer(serializers.Serializer):
    analysis = id_field()
    occurred_at = serializers.DateTimeField()
    description = serializers.CharField(max_length=max_length(KeyEvent, "description"))
    evidence_url = serializers.URLField(
        max_length=max_length(KeyEvent, "evidence_url"), required=False, allow_blank=True, default=""
    )


class AnalysisStateSerializer(AnalysisSerializer):
    """An analysis without its report: what its incident's managers see of one still in progress."""

    class Meta(AnalysisSerializer.Meta):
        fields = [name for name in AnalysisSerializer.Meta.fields if name != "report"]
        read_only_fields = fields


class AnalysisWaiveSerializer(serializers.Serializer):
    reason = serializers.CharField(
        max_length=max_length(AnalysisSession, "waive_reason"), help_text="Why the loop may close without it."
    )


class ServiceUpdateSerializer(serializers.Serializer):
    description = serializers.CharField(max_length=MAX_TEXT, allow_blank=True)
    operating_model = serializers.ChoiceField(choices=Service.OperatingModel.choices)
    on_call_team = serializers.PrimaryKeyRelatedField(queryset=Team.objects.all(), allow_null=True)
    demand = serializers.ChoiceField(choices=Service.Demand.choices)
    sourcing = serializers.ChoiceField(choices=Service.Sourcing.choices)
    cost_of_delay_per_day = serializers.DecimalField(
        max_digits=12,
        decimal_places=2,
        min_value=0,
        allow_null=True,
        help_text="In the organisation's currency.",
    )
    pagerduty_service_ids = serializers.ListField(
        child=serializers.CharField(max_length=100), max_length=50, required=False, help_text="e.g. PF9KMXH"
    )
    opsgenie_teams = serializers.ListField(
        child=serializers.CharField(max_length=200), max_length=50, required=False, help_text="Names or ids."
    )
    alertmanager_matchers = serializers.ListField(
        child=serializers.CharField(max_length=1000),
        max_length=50,
        required=False,
        help_text="Label equalities, e.g. service=checkout-api; an alert must carry all of them.",
    )


class ServiceInputSerializer(ServiceUpdateSerializer):
    team = serializers.PrimaryKeyRelatedField(queryset=Team.objects.all())
    name = serializers.CharField(max_length=max_length(Service, "name"))
    description = serializers.CharField(max_length=MAX_TEXT, allow_blank=True, required=False, default="")
    operating_model = serializers.ChoiceField(
        choices=Service.OperatingModel.choices, default=Service.OperatingModel.YOU_BUILD_IT
    )
    on_call_team = serializers.PrimaryKeyRelatedField(
        queryset=Team.objects.all(), allow_null=True, required=False, default=None
    )
    demand = serializers.ChoiceField(choices=Service.Demand.choices, default=Service.Demand.MEDIUM)
    sourcing = serializers.ChoiceField(choices=Service.Sourcing.choices, default=Service.Sourcing.CUSTOM)
    cost_of_delay_per_day = serializers.DecimalField(
        max_digits=12, decimal_places=2, min_value=0, allow_null=True, required=False, default=None
    )


class TeamInputSerializer(serializers.Serializer):
    name = serializers.CharField(max_length=max_length(Team, "name"))
    members = serializers.PrimaryKeyRelatedField(queryset=User.objects.all(), many=True, required=False)
    product_managers = serializers.PrimaryKeyRelatedField(
        queryset=User.objects.all(), many=True, required=False
    )
    tracker = serializers.ChoiceField(choices=Team.Tracker.choices, required=False)
    jira_project_key = serializers.CharField(
        max_length=max_length(Team, "jira_project_key"), allow_blank=True, required=False
    )
    jira_issue_type = serializers.CharField(
        max_length=max_length(Team, "jira_issue_type"), allow_blank=True, required=False
    )
    trello_list_id = serializers.CharField(
        max_length=max_length(Team, "trello_list_id"), allow_blank=True, required=False
    )
    trello_done_list_id = serializers.CharField(
        max_length=max_length(Team, "trello_done_list_id"), allow_blank=True, required=False
    )
