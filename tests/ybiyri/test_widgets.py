"""The one-pass select writes what Django's own select writes, only faster."""

from html.parser import HTMLParser

import pytest
from django import forms

from incidents.models import Team
from ybiyri.widgets import ListSelect


class Markup(HTMLParser):
    def __init__(self) -> None:
        super().__init__()
        self.parts: list = []

    def handle_starttag(self, tag: str, attrs: list) -> None:
        self.parts.append((tag, sorted(attrs, key=lambda pair: pair[0])))

    def handle_data(self, data: str) -> None:
        if data.strip():
            self.parts.append(data)


def parsed(html: str) -> list:
    markup = Markup()
    markup.feed(html)
    return markup.parts


SEVERITIES = [("", "Any"), ("sev1", 'SEV1 <critical> & "loud"'), ("sev2", "SEV2")]


class Filters(forms.Form):
    severity = forms.ChoiceField(choices=SEVERITIES, required=False, help_text="Pick one")
    team = forms.ModelChoiceField(queryset=Team.objects.order_by("name"), empty_label="All teams")


class QuickFilters(forms.Form):
    severity = forms.ChoiceField(choices=SEVERITIES, required=False, help_text="Pick one", widget=ListSelect)
    team = forms.ModelChoiceField(
        queryset=Team.objects.order_by("name"), empty_label="All teams", widget=ListSelect
    )


@pytest.mark.parametrize("data", [None, {"severity": "sev1"}, {"severity": "nope", "team": "x"}])
def test_the_one_pass_select_writes_what_djangos_select_writes(team, other_team, data):
    django_form, quick_form = Filters(data), QuickFilters(data)
    assert django_form.is_valid() is quick_form.is_valid()
    for name in ("severity", "team"):
        assert parsed(str(quick_form[name])) == parsed(str(django_form[name])), name
    assert "&lt;critical&gt;" in str(quick_form["severity"])


def test_groups_are_refused(db):
    widget = ListSelect(choices=[("Group", [("a", "A")])])
    with pytest.raises(ValueError, match="flat choices"):
        widget.render("kind", "a")
