"""Forms for the incident and analysis pages: they parse input; rules live in the services."""

from collections.abc import Iterator
from datetime import timedelta
from typing import Any, cast

from django import forms
from django.conf import settings
from django.core.exceptions import ValidationError
from django.db.models import Q, QuerySet
from django.db.models.functions import Lower
from django.urls import reverse_lazy
from django.utils import timezone
from django.utils.functional import lazy

from incidents.models import AnalysisSession, Incident, Interview, KeyEvent, Responder, Service, Team, User
from incidents.selectors import theme_taxonomy
from incidents.services import MAX_ALLOCATED_MINUTES, MAX_TIME_SPENT_MINUTES
from ybiyri.fields import max_length

DATETIME_FORMAT = "%Y-%m-%dT%H:%M"


class DateTimeLocalInput(forms.DateTimeInput):
    input_type = "datetime-local"

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(format=DATETIME_FORMAT, **kwargs)


def time_zone_hint() -> str:
    return f"In {settings.TIME_ZONE} time."


def datetime_field(*, required: bool = True, label: str = "", help_text: str = "") -> forms.DateTimeField:
    """A date and time typed in the site's time zone, which the help text names."""
    return forms.DateTimeField(
        required=required,
        label=label,
        help_text=help_text or lazy(time_zone_hint, str)(),
        widget=DateTimeLocalInput(),
    )


class MemberField(forms.CharField):
    """Active members typed by username or email, with suggestions from `incidents:people`.

    A select of every member does not scale to an organisation of thousands; this field resolves
    what was typed in one query. With `multiple`, names are comma-separated and a list is returned.
    """

    def __init__(self, *, multiple: bool = False, **kwargs: Any) -> None:
        self.multiple = multiple
        kwargs.setdefault("max_length", 2000)
        kwargs.setdefault(
            "help_text", "Usernames or emails, separated by commas." if multiple else "Username or email."
        )
        super().__init__(**kwargs)
        self.widget.attrs.update(
            {
                "list": "member-suggestions",
                "autocomplete": "off",
                "hx-get": reverse_lazy("incidents:people"),
                "hx-trigger": "keyup changed delay:300ms",
                "hx-target": "#member-suggestions",
                "hx-swap": "innerHTML",
            }
        )

    def prepare_value(self, value: Any) -> Any:
        if isinstance(value, User):
            return value.username
        if isinstance(value, list | tuple):
            return ", ".join(item.username if isinstance(item, User) else str(item) for item in value)
        return value

    def clean(self, value: Any) -> User | list[User] | None:
        text = super().clean(value)
        names = [name.strip() for name in (text or "").split(",") if name.strip()]
        if not self.multiple and len(names) > 1:
            raise ValidationError("Enter one member.")
        found: dict[str, User] = {}
        if names:
            lowered = [name.lower() for name in names]
            candidates = User.objects.filter(is_active=True).annotate(
                username_lower=Lower("username"), email_lower=Lower("email")
            )
            for user in candidates.filter(Q(username_lower__in=lowered) | Q(email_lower__in=lowered)):
                found[user.username.lower()] = user
                found[user.email.lower()] = user
            missing = [name for name, key in zip(names, lowered, strict=True) if key not in found]
            if missing:
                raise ValidationError(
                    "Not an active member of the organisation: %(names)s.",
                    params={"names": ", ".join(missing)},
                )
        users = list({found[name.lower()].pk: found[name.lower()] for name in names}.values())
        if self.multiple:
            return users
        return users[0] if users else None


class ServiceChoiceField(forms.ModelChoiceField):
    def label_from_instance(self, service: Service) -> str:
        return f"{service.name} ({service.team.name})"


class IncidentForm(forms.Form):
    title = forms.CharField(max_length=max_length(Incident, "title"))
    summary = forms.CharField(widget=forms.Textarea(attrs={"rows": 4}), required=False, max_length=10000)
    severity = forms.ChoiceField(choices=Incident.Severity.choices, initial=Incident.Severity.SEV3)
    team = forms.ModelChoiceField(queryset=Team.objects.none())
    service = ServiceChoiceField(queryset=Service.objects.select_related("team"))
    started_at = datetime_field(label="Started")
    detected_at = datetime_field(required=False, label="Detected")
    mitigated_at = datetime_field(required=False, label="Mitigated")
    resolved_at = datetime_field(required=False, label="Resolved")
    confidential = forms.BooleanField(
        required=False, help_text="Only the team, its responders and problem managers will see it."
    )

    def __init__(self, *args: Any, teams: QuerySet[Team], **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        cast(forms.ModelChoiceField, self.fields["team"]).queryset = teams
        cast(forms.ModelChoiceField, self.fields["service"]).queryset = Service.objects.filter(
            team__in=teams
        ).select_related("team")


class DeclareIncidentForm(IncidentForm):
    responders = MemberField(
        multiple=True,
        required=False,
        help_text="Usernames or emails of the people who took part in the response, separated by commas; "
        "roles can be set on the incident page.",
    )


class ResponderForm(forms.Form):
    user = MemberField(label="Member")
    role = forms.CharField(
        max_length=max_length(Responder, "role"),
        required=False,
        help_text="e.g. incident commander, on-call engineer",
    )


class ResponderRoleForm(forms.Form):
    role = forms.CharField(max_length=max_length(Responder, "role"), required=False, label="Role")


class AllocationForm(forms.Form):
    """One row per responder without a submitted analysis: include, minutes and due date."""

    def __init__(self, *args: Any, responders: list[Responder], **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.rows = []
        default_due = (timezone.localtime() + timedelta(days=5)).replace(
            hour=17, minute=0, second=0, microsecond=0
        )
        for responder in responders:
            analysis = getattr(responder, "analysis", None)
            if analysis and analysis.is_submitted:
                continue
            prefix = f"r{responder.pk}"
            self.fields[f"{prefix}_include"] = forms.BooleanField(
                required=False, initial=True, label=f"Allocate to {responder.user.display_name}"
            )
            self.fields[f"{prefix}_minutes"] = forms.IntegerField(
                min_value=1,
                max_value=MAX_ALLOCATED_MINUTES,
                required=False,
                initial=analysis.allocated_minutes if analysis else 240,
                label="Minutes",
            )
            self.fields[f"{prefix}_due"] = forms.DateTimeField(
                required=False,
                initial=timezone.localtime(analysis.due_at) if analysis else default_due,
                widget=DateTimeLocalInput(),
                label="Due",
                help_text=time_zone_hint(),
            )
            self.rows.append((responder, analysis, prefix))

    def bound_rows(
        self,
    ) -> Iterator[
        tuple[Responder, AnalysisSession | None, forms.BoundField, forms.BoundField, forms.BoundField]
    ]:
        for responder, analysis, prefix in self.rows:
            yield (
                responder,
                analysis,
                self[f"{prefix}_include"],
                self[f"{prefix}_minutes"],
                self[f"{prefix}_due"],
            )

    def clean(self) -> dict[str, Any]:
        super().clean()
        cleaned = self.cleaned_data
        chosen = []
        for responder, _analysis, prefix in self.rows:
            if not cleaned.get(f"{prefix}_include"):
                continue
            minutes, due = cleaned.get(f"{prefix}_minutes"), cleaned.get(f"{prefix}_due")
            if minutes is None and f"{prefix}_minutes" not in self.errors:
                self.add_error(f"{prefix}_minutes", "Allocate some minutes.")
            if due is None and f"{prefix}_due" not in self.errors:
                self.add_error(f"{prefix}_due", "Give a due date.")
            if minutes is not None and due is not None:
                chosen.append((responder, minutes, due))
        if not chosen and not self.errors:
            raise forms.ValidationError("Choose at least one responder to allocate an analysis to.")
        cleaned["chosen"] = chosen
        return cleaned


class AnalysisForm(forms.Form):
    version = forms.IntegerField(widget=forms.HiddenInput, min_value=1)
    report = forms.CharField(
        widget=forms.Textarea(attrs={"class": "report", "rows": 20}),
        required=False,
        max_length=100000,
        help_text="Markdown. What happened, how it made sense to people at the time, what you learned.",
    )
    time_spent_minutes = forms.IntegerField(
        min_value=0, max_value=MAX_TIME_SPENT_MINUTES, label="Time spent (minutes)"
    )
    themes = forms.ModelMultipleChoiceField(
        queryset=theme_taxonomy(),
        required=False,
        widget=forms.CheckboxSelectMultiple,
        label="Learning themes",
        error_messages={"invalid_choice": "Choose themes from the shared taxonomy."},
    )
    new_themes = forms.CharField(
        required=False,
        max_length=500,
        label="New themes",
        help_text="Comma-separated; created in the organisation's shared taxonomy.",
    )

    def __init__(self, *args: Any, allocated_minutes: int | None = None, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        if allocated_minutes is not None:
            # The page warns as the time typed passes the allocation.
            self.fields["time_spent_minutes"].widget.attrs["data-allocated-minutes"] = allocated_minutes

    def new_theme_names(self) -> list[str]:
        return [name.strip() for name in self.cleaned_data.get("new_themes", "").split(",") if name.strip()]

    def clean_new_themes(self) -> str:
        value = self.cleaned_data["new_themes"]
        if any(len(name.strip()) > 80 for name in value.split(",")):
            raise forms.ValidationError("Theme names are at most 80 characters.")
        return value


class InterviewForm(forms.Form):
    interviewee = forms.CharField(max_length=max_length(Interview, "interviewee"))
    held_at = datetime_field(label="When")
    notes = forms.CharField(widget=forms.Textarea(attrs={"rows": 3}), required=False, max_length=20000)

    @staticmethod
    def prefix_for(interview: Interview | KeyEvent) -> str:
        return f"interview-{interview.pk}"

    @classmethod
    def editing(cls, interview: Interview) -> "InterviewForm":
        initial = {
            "interviewee": interview.interviewee,
            "held_at": timezone.localtime(interview.held_at),
            "notes": interview.notes,
        }
        return cls(prefix=cls.prefix_for(interview), initial=initial)


class KeyEventForm(forms.Form):
    occurred_at = datetime_field(label="When it happened")
    description = forms.CharField(
        widget=forms.Textarea(attrs={"rows": 2}),
        max_length=max_length(KeyEvent, "description"),
        label="What happened",
    )
    evidence_url = forms.URLField(
        required=False, max_length=max_length(KeyEvent, "evidence_url"), label="Evidence link"
    )

    @staticmethod
    def prefix_for(event: KeyEvent | Interview) -> str:
        return f"key-event-{event.pk}"

    @classmethod
    def editing(cls, event: KeyEvent) -> "KeyEventForm":
        initial = {
            "occurred_at": timezone.localtime(event.occurred_at),
            "description": event.description,
            "evidence_url": event.evidence_url,
        }
        return cls(prefix=cls.prefix_for(event), initial=initial)


class PreferencesForm(forms.Form):
    broadcast_opt_out = forms.BooleanField(
        required=False, label="Do not email me when an incident narrative is published"
    )


class IncidentFilterForm(forms.Form):
    team = forms.ModelChoiceField(queryset=Team.objects.none(), required=False, empty_label="All teams")
    severity = forms.ChoiceField(choices=[("", "Any severity"), *Incident.Severity.choices], required=False)
    status = forms.ChoiceField(choices=[("", "Any status"), *Incident.Status.choices], required=False)
    q = forms.CharField(required=False, max_length=200, label="Title contains")

    def __init__(self, *args: Any, teams: QuerySet[Team], **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        cast(forms.ModelChoiceField, self.fields["team"]).queryset = teams


def add_service_errors(form: forms.BaseForm, error: ValidationError) -> None:
    """Show a service's ValidationError on the form: on its field when the form has it, else on top."""
    if hasattr(error, "error_dict"):
        for field, errors in error.error_dict.items():
            target = field if field in form.fields else None
            for message in errors:
                form.add_error(target, message)
    else:
        for text in error.messages:
            form.add_error(None, text)


class LinesField(forms.CharField):
    """A list of short texts typed one per line (the pager mappings); blank lines are dropped."""

    widget = forms.Textarea(attrs={"rows": 2, "spellcheck": "false", "autocapitalize": "none"})

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(required=False, max_length=10_000, **kwargs)

    def prepare_value(self, value: Any) -> Any:
        return "\n".join(value) if isinstance(value, list) else value

    # A field whose value is a list of texts, as MultipleChoiceField's is (its stubs ignore the same).
    def to_python(self, value: Any) -> list[str]:  # type: ignore[override]
        return [line.strip() for line in (super().to_python(value) or "").splitlines() if line.strip()]

    def has_changed(self, initial: Any, data: Any) -> bool:
        return (initial or []) != self.to_python(data)


class ServiceForm(forms.ModelForm):
    """What a product manager says about a service: how it is run, what a day of delay costs, and
    which pages open draft incidents on it."""

    pagerduty_service_ids = LinesField(
        label="PagerDuty service ids",
        help_text="One per line, as in the service's address in PagerDuty, e.g. PF9KMXH.",
    )
    opsgenie_teams = LinesField(
        label="Opsgenie teams", help_text="Team names or ids, one per line, e.g. checkout."
    )
    alertmanager_matchers = LinesField(
        label="Alertmanager matchers",
        help_text="Label equalities, one per line, e.g. service=checkout-api; an alert must carry all of them.",
    )

    class Meta:
        model = Service
        fields = [
            "description",
            "operating_model",
            "on_call_team",
            "demand",
            "sourcing",
            "cost_of_delay_per_day",
            "pagerduty_service_ids",
            "opsgenie_teams",
            "alertmanager_matchers",
        ]
        widgets = {"description": forms.Textarea(attrs={"rows": 3})}
