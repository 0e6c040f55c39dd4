"""Forms for reviews, actions and narratives: they parse input; rules live in the services."""

from typing import Any, cast
from zoneinfo import ZoneInfo, available_timezones

from django import forms
from django.db.models import QuerySet
from django.utils import timezone

from incidents.forms import DateTimeLocalInput, MemberField
from incidents.models import Incident, LearningTheme, Service, Team
from reviews.caches import LIBRARY
from reviews.models import (
    ContributingFactor,
    ImprovementAction,
    Learning,
    Narrative,
    Review,
    Training,
    Walkthrough,
)
from reviews.selectors import ACTION_SORTS
from reviews.services.review import MAX_DURATION_MINUTES, MIN_DURATION_MINUTES
from ybiyri.fields import max_length

TIME_ZONES = sorted(available_timezones())


class MeetingForm(forms.Form):
    """A meeting's time in a named time zone: the entered wall-clock time is read in that zone."""

    scheduled_at = forms.DateTimeField(widget=DateTimeLocalInput(), label="Starts")
    time_zone = forms.ChoiceField(choices=[(name, name) for name in TIME_ZONES], initial="UTC")
    duration_minutes = forms.IntegerField(
        min_value=MIN_DURATION_MINUTES, max_value=MAX_DURATION_MINUTES, initial=90, label="Duration (minutes)"
    )
    location = forms.CharField(max_length=max_length(Review, "location"), required=False, label="Place")

    def clean(self) -> dict[str, Any]:
        super().clean()
        cleaned = self.cleaned_data
        start, zone = cleaned.get("scheduled_at"), cleaned.get("time_zone")
        if start and zone:
            naive = timezone.make_naive(start) if timezone.is_aware(start) else start
            cleaned["scheduled_at"] = timezone.make_aware(naive, timezone=ZoneInfo(zone))
        return cleaned


class ReviewForm(MeetingForm):
    video_url = forms.URLField(max_length=max_length(Review, "video_url"), required=False, label="Video link")
    facilitator = MemberField()
    attendees = MemberField(
        multiple=True,
        required=False,
        help_text="Usernames or emails, separated by commas; defaults to the responders and the team's "
        "product managers.",
    )


class WalkthroughForm(MeetingForm):
    kind = forms.ChoiceField(
        choices=Walkthrough.Kind.choices,
        initial=Walkthrough.Kind.WALKTHROUGH,
        widget=forms.RadioSelect,
        label="Kind",
        help_text="A walkthrough is for anyone in the organisation; a playback plays the incident back "
        "to the people who took part and their stakeholders.",
    )
    duration_minutes = forms.IntegerField(
        min_value=MIN_DURATION_MINUTES, max_value=MAX_DURATION_MINUTES, initial=45, label="Duration (minutes)"
    )
    preparation_minutes = forms.IntegerField(
        min_value=0,
        max_value=Walkthrough.MAX_PREPARATION_MINUTES,
        initial=0,
        label="Preparation (minutes)",
        help_text="Your time getting it ready, so far; you can correct it later. It counts in setup cost "
        "once the session is held.",
    )
    audience_email = forms.EmailField(
        required=False, label="Audience list address", help_text="e.g. engineering@example.org"
    )
    attendees = MemberField(multiple=True, required=False, label="People")


class PreparationForm(forms.Form):
    preparation_minutes = forms.IntegerField(
        min_value=0, max_value=Walkthrough.MAX_PREPARATION_MINUTES, label="Preparation (minutes)"
    )


class NotesFieldForm(forms.Form):
    """One notes field of the review, saved on its own with the version it was read at."""

    version = forms.IntegerField(widget=forms.HiddenInput, min_value=0)
    text = forms.CharField(widget=forms.Textarea(attrs={"rows": 6}), required=False, max_length=20000)


class PerspectiveForm(forms.Form):
    version = forms.IntegerField(widget=forms.HiddenInput, min_value=0)
    body = forms.CharField(
        widget=forms.Textarea(attrs={"rows": 5}), max_length=20000, label="Your perspective"
    )


class FactorForm(forms.Form):
    description = forms.CharField(
        widget=forms.Textarea(attrs={"rows": 2}), max_length=max_length(ContributingFactor, "description")
    )
    kind = forms.ChoiceField(choices=ContributingFactor.Kind.choices, widget=forms.RadioSelect)


class FactorEditForm(FactorForm):
    version = forms.IntegerField(widget=forms.HiddenInput, min_value=1)


class LinksForm(forms.Form):
    """Pick what an outcome traces to among the given choices ((id, label) pairs), as checkboxes."""

    def __init__(self, *args: Any, choices: dict[str, list[tuple[int, str]]], **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        for name, options in choices.items():
            self.fields[name] = forms.TypedMultipleChoiceField(
                choices=options,
                coerce=int,
                required=False,
                widget=forms.CheckboxSelectMultiple,
                label=LINK_LABELS[name],
            )


LINK_LABELS = {
    "themes": "Learning themes it shows",
    "key_events": "Key events it contributed to",
    "factors": "Contributing factors it was learned from",
}


class LearningForm(forms.Form):
    description = forms.CharField(
        widget=forms.Textarea(attrs={"rows": 2}),
        max_length=max_length(Learning, "description"),
        label="Learning",
    )


class LearningEditForm(LearningForm):
    version = forms.IntegerField(widget=forms.HiddenInput, min_value=1)


class ActionForm(forms.Form):
    title = forms.CharField(max_length=max_length(ImprovementAction, "title"))
    description = forms.CharField(
        widget=forms.Textarea(attrs={"rows": 3}),
        required=False,
        max_length=max_length(ImprovementAction, "description"),
    )
    kind = forms.ChoiceField(choices=ImprovementAction.Kind.choices)
    owner = MemberField(required=False)
    priority = forms.ChoiceField(
        choices=ImprovementAction.Priority.choices, initial=ImprovementAction.Priority.MEDIUM
    )
    due_date = forms.DateField(required=False, widget=forms.DateInput(attrs={"type": "date"}))


class ActionEditForm(ActionForm):
    """An action changed in the review: each field carries the value it was read at, so that only
    the fields this person changed are written and another person's change to the others stays."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        for field in self.fields.values():
            field.show_hidden_initial = True

    @staticmethod
    def initial_for(action: ImprovementAction) -> dict[str, object]:
        """The action's values as this form (and its inline and page variants) starts from them."""
        return {
            "title": action.title,
            "description": action.description,
            "kind": action.kind,
            "owner": action.owner,
            "priority": action.priority,
            "due_date": action.due_date,
        }


class ActionInlineForm(ActionEditForm):
    """An action changed in place on the backlog list: the fields its row shows, written field-wise."""

    # Django's way to drop an inherited field; the stubs type the attribute as the field only.
    description = None  # type: ignore[assignment]


class ActionPageForm(ActionEditForm):
    """The action's own page: every field, and the learnings and factors of the incident's review
    that it traces to, written field-wise like the review's form."""

    learnings = forms.ModelMultipleChoiceField(
        queryset=Learning.objects.none(),
        required=False,
        widget=forms.CheckboxSelectMultiple,
        label="Learnings it puts into practice",
    )
    factors = forms.ModelMultipleChoiceField(
        queryset=ContributingFactor.objects.none(),
        required=False,
        widget=forms.CheckboxSelectMultiple,
        label="Contributing factors it addresses",
    )

    def __init__(self, *args: Any, incident: Incident, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        cast(forms.ModelMultipleChoiceField, self.fields["learnings"]).queryset = Learning.objects.filter(
            review__incident=incident
        ).select_related("review")
        cast(
            forms.ModelMultipleChoiceField, self.fields["factors"]
        ).queryset = ContributingFactor.objects.filter(review__incident=incident).select_related("review")


class ActionFilterForm(forms.Form):
    team = forms.ModelChoiceField(queryset=Team.objects.all(), required=False, empty_label="All teams")
    status = forms.ChoiceField(
        choices=[("", "Any status"), *ImprovementAction.Status.choices], required=False
    )
    priority = forms.ChoiceField(
        choices=[("", "Any priority"), *ImprovementAction.Priority.choices], required=False
    )
    owner = MemberField(required=False, help_text="")
    sort = forms.ChoiceField(
        choices=list(ACTION_SORTS.items()),
        required=False,
    )


class NarrativeForm(forms.Form):
    version = forms.IntegerField(widget=forms.HiddenInput, min_value=1)
    title = forms.CharField(max_length=max_length(Narrative, "title"))
    body = forms.CharField(
        widget=forms.Textarea(attrs={"class": "report", "rows": 28}),
        max_length=max_length(Narrative, "body"),
        help_text="Markdown",
    )


class BlendDecisionForm(forms.Form):
    """Take a changed section of the blend into the narrative, or leave it as people wrote it."""

    version = forms.IntegerField(widget=forms.HiddenInput, min_value=1, max_value=2**31 - 1)
    section = forms.CharField(max_length=200, required=False, strip=False)
    decision = forms.ChoiceField(choices=[("accept", "Take it in"), ("ignore", "Keep mine")])


# The library's filters: the field, the model it names and its label for "any".
LIBRARY_FILTERS = (
    ("team", Team, "All teams"),
    ("service", Service, "All services"),
    ("theme", LearningTheme, "Any theme"),
)


def library_choices() -> dict[str, list[tuple[int, str]]]:
    """(id, name) of every team, service and theme by filter, without model instances, read in one
    from the library's cache while none of them has changed."""

    def read() -> dict[str, list[tuple[int, str]]]:
        return {
            name: list(model.objects.order_by("name").values_list("id", "name"))
            for name, model, _any in LIBRARY_FILTERS
        }

    return LIBRARY.remember(["choices"], read)


class LibraryFilterForm(forms.Form):
    q = forms.CharField(
        required=False, max_length=200, label="Search", widget=forms.TextInput(attrs={"type": "search"})
    )
    # Ids and names only: the library is the most read page, and its filters list every team,
    # service and theme of the organisation.
    team = forms.TypedChoiceField(coerce=int, required=False)
    service = forms.TypedChoiceField(coerce=int, required=False)
    severity = forms.ChoiceField(choices=[("", "Any severity"), *Incident.Severity.choices], required=False)
    theme = forms.TypedChoiceField(coerce=int, required=False)

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        choices = library_choices()
        for name, _model, any_label in LIBRARY_FILTERS:
            field = cast(forms.TypedChoiceField, self.fields[name])
            field.choices = [("", any_label), *choices[name]]


class TrainingForm(forms.Form):
    """A training held: who trained whom, on what, for how long."""

    team = forms.TypedChoiceField(coerce=int)
    kind = forms.ChoiceField(choices=Training.Kind.choices)
    title = forms.CharField(max_length=max_length(Training, "title"), required=False)
    held_on = forms.DateField(label="Held on", widget=forms.DateInput(attrs={"type": "date"}))
    duration_minutes = forms.IntegerField(min_value=1, max_value=7 * 24 * 60, label="Duration (minutes)")
    trainer = MemberField()
    attendees = MemberField(multiple=True, required=False)

    def __init__(self, *args: Any, teams: QuerySet[Team], **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        cast(forms.ChoiceField, self.fields["team"]).choices = list(
            teams.order_by("name").values_list("id", "name")
        )
