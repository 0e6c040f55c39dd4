"""Forms of the evidence pages: filter, promote, import a Slack channel, upload a Slack export."""

from typing import Any

from django import forms

from incidents.evidence.models import EvidenceSource
from incidents.models import KeyEvent

SLACK_CHANNEL_ID = r"^[CGD][A-Z0-9]{2,39}$"


class EvidenceFilterForm(forms.Form):
    source = forms.ChoiceField(choices=[("", "All sources"), *EvidenceSource.choices], required=False)
    person = forms.CharField(max_length=200, required=False, label="Person")
    q = forms.CharField(max_length=200, required=False, label="Search")
    after = forms.IntegerField(min_value=1, max_value=2**62, required=False, widget=forms.HiddenInput)


class PromoteForm(forms.Form):
    marker = forms.ChoiceField(choices=KeyEvent.Marker.choices)
    note = forms.CharField(
        max_length=2000,
        required=False,
        widget=forms.Textarea(attrs={"rows": 2}),
        help_text="What this shows, in your words; empty keeps the evidence's own text.",
    )


class SlackImportForm(forms.Form):
    channel = forms.RegexField(
        regex=SLACK_CHANNEL_ID,
        max_length=40,
        help_text="The channel's id, e.g. C0123ABCD (in Slack: channel details, at the bottom).",
        error_messages={"invalid": "Give the channel's id, such as C0123ABCD, not its name."},
    )
    oldest = forms.DateTimeField(required=False, help_text="From (empty: the channel's start).")
    latest = forms.DateTimeField(required=False, help_text="Until (empty: now).")

    def clean(self) -> dict[str, Any]:
        super().clean()
        data = self.cleaned_data
        if data.get("oldest") and data.get("latest") and data["latest"] < data["oldest"]:
            self.add_error("latest", "The end of the window cannot be before its start.")
        return data


class SlackExportForm(SlackImportForm):
    archive = forms.FileField(
        help_text="The Slack export (.zip) holding users.json, channels.json and the channel's days."
    )
    # The export names channels, so the id pattern of the form above does not apply; the stubs type
    # the inherited attribute as that RegexField.
    channel = forms.CharField(max_length=80, help_text="The channel's id or name in the export.")  # type: ignore[assignment]
