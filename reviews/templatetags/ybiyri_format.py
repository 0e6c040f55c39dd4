from collections.abc import Iterable
from datetime import timedelta
from typing import Any, cast

from django import forms, template
from django.forms import BoundField
from django.utils.html import escape
from django.utils.safestring import SafeString, mark_safe

from ybiyri.text import format_duration

register = template.Library()


@register.filter
def duration(value: timedelta | None) -> str:
    """A duration for people ("5 d 1 h", "3 h 20 min"); an em dash when unknown."""
    return "—" if value is None else format_duration(value)


def _choices(field: BoundField) -> Iterable[tuple[Any, str]]:
    # A choice field's choices read back as (value, label) pairs (a callable given to it is wrapped
    # in an iterator); the stubs also admit the callable itself.
    return cast(Iterable[tuple[Any, str]], cast(forms.ChoiceField, field.field).choices)


@register.simple_tag
def select_options(field: BoundField) -> SafeString:
    """The <option>s of a filter's select, built in Python: lists of hundreds of teams or
    services render in microseconds instead of one sub-template per option."""
    value = field.value()
    current = {str(item) for item in (value if isinstance(value, list) else [value])}
    options = (
        f'<option value="{escape(choice)}"{" selected" if str(choice) in current else ""}>{escape(label)}</option>'
        for choice, label in _choices(field)
    )
    return mark_safe("".join(options))  # noqa: S308 — every value and label is escaped above
