"""Form widgets of the project's own."""

from typing import Any

from django import forms
from django.forms.utils import flatatt
from django.utils.html import format_html, format_html_join
from django.utils.safestring import SafeString, mark_safe

SELECTED = mark_safe(" selected")


class ListSelect(forms.Select):
    """A single-choice <select> written in one pass.

    Django renders every option of a select through a template of its own, which costs more than
    the rest of a page when a filter lists the organisation's teams, services and themes. This
    widget writes the same markup directly: the attributes Django gives the field (its id, `required`,
    `aria-describedby`) and the options, escaped, with the chosen one selected. Flat choices only.
    """

    def render(
        self, name: str, value: Any, attrs: dict[str, Any] | None = None, renderer: Any = None
    ) -> SafeString:
        chosen = {str(item) for item in self.format_value(value)}
        options = []
        for option, label in self.choices:
            if isinstance(label, list | tuple):
                raise ValueError("ListSelect takes flat choices, not groups.")
            options.append((str(option), SELECTED if str(option) in chosen else "", label))
        return format_html(
            "<select{}>{}</select>",
            flatatt(self.build_attrs(self.attrs, {**(attrs or {}), "name": name})),
            format_html_join("", '<option value="{}"{}>{}</option>', options),
        )
