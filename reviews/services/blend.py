"""The narrative as the blend of everything the loop produced, and what changed in it since.

The organisation's template (Django template syntax, Markdown out) is filled from every source: the
incident's key facts, its responders and their roles, each submitted analysis report (attributed),
the merged timeline, the review's context and perspectives, the contributing factors by kind with
their themes, the learnings in rank order and the improvement actions with their tracker key.

A narrative is Markdown divided into sections by level-two headings (``## Timeline``). The sections
as last drafted from the sources are kept on the narrative (``Narrative.blend``); when the sources
move on, each section whose fresh blend differs is offered to the people editing, with a diff, to
accept or ignore — nothing they wrote is overwritten without their say.
"""

import difflib
import re
from dataclasses import dataclass

from django.core.exceptions import ValidationError
from django.db.models import Prefetch
from django.template import Context, Engine, TemplateSyntaxError

from incidents.models import AnalysisSession, Incident
from incidents.selectors import incident_responders, incident_timeline
from reviews.models import ContributingFactor, ImprovementAction, NarrativeTemplate, Review
from ybiyri.text import format_duration

DEFAULT_TEMPLATE = """*{{ incident.get_severity_display }} · {{ incident.team.name }} · {{ incident.service.name }} \
({{ incident.service.get_operating_model_display }})*

## Summary

{{ incident.summary }}

## Key facts

{% for fact in facts %}- **{{ fact.label }}:** {{ fact.at|date:"j M Y H:i T" }}{% if fact.after %} (after {{ fact.after }}){% endif %}
{% endfor %}
## Who responded

{% for responder in responders %}- {{ responder.user.display_name }}{% if responder.role %} — {{ responder.role }}{% endif %}
{% empty %}_No responders were recorded._
{% endfor %}
## What made sense at the time

{% for analysis in analyses %}### {{ analysis.analyst.display_name }}

{{ analysis.report }}
{% if analysis.themes %}
*Themes: {{ analysis.themes|join:", " }}*
{% endif %}
{% empty %}_No analysis has been submitted._
{% endfor %}
## Timeline

{% for event in timeline %}- **{{ event.occurred_at|date:"j M H:i" }}** — {{ event.description }} \
_({{ event.analysis.analyst.display_name }})_
{% empty %}_No key events were established._
{% endfor %}
## Context

{{ review.context_notes|default:"_No notes on the organisational context._" }}

## Perspectives

{% for perspective in perspectives %}- **{{ perspective.author.display_name }}:** {{ perspective.body }}
{% endfor %}{% if review.perspectives_notes %}
{{ review.perspectives_notes }}
{% elif not perspectives %}_No perspectives were recorded._
{% endif %}
## Contributing factors

{% for group in factor_groups %}### {{ group.label }}

{% for factor in group.factors %}- {{ factor.description }}{% if factor.theme_names %} _(themes: {{ factor.theme_names|join:", " }})_{% endif %}
{% endfor %}
{% empty %}_None recorded._

{% endfor %}## What we learned

{% for learning in learnings %}{{ forloop.counter }}. {{ learning.description }}
{% empty %}_None recorded._
{% endfor %}
## What we are changing

{% for action in actions %}- {{ action.title }}\
{% if action.external_key %} ([{{ action.external_key }}]({{ action.external_url }})){% endif %} — \
{{ action.get_kind_display|lower }}, {{ action.get_priority_display|lower }} priority\
{% if action.owner %}, owner {{ action.owner.display_name }}{% endif %}
{% empty %}_No improvement actions yet._
{% endfor %}"""

# Organisation-edited templates are rendered by a separate engine with no template directories
# and no app tag libraries: they can only format the context they are given. Markdown is text,
# not HTML: nothing is escaped here (the renderer and sanitiser escape at display time).
TEMPLATE_ENGINE = Engine(autoescape=False)

SECTION_HEADING = re.compile(r"^## (?!#)(.+?)\s*$")
FENCE = re.compile(r"^(```|~~~)")
ATX_HEADING = re.compile(r"^(#{1,6})(?=\s|$)")


def demote_headings(markdown: str, levels: int = 2) -> str:
    """Headings in an embedded document moved down `levels` (at most to ######), outside code
    fences, so that a report's own ``## Heading`` never starts a section of the narrative."""
    lines, in_fence = [], False
    for line in markdown.splitlines():
        if FENCE.match(line):
            in_fence = not in_fence
        elif not in_fence:
            line = ATX_HEADING.sub(lambda match: "#" * min(6, len(match.group(1)) + levels), line, count=1)
        lines.append(line)
    return "\n".join(lines)


def template_body() -> str:
    template = NarrativeTemplate.objects.order_by("-is_default", "name").first()
    return template.body if template else DEFAULT_TEMPLATE


def blend_context(*, incident: Incident) -> dict:
    """Every source of the narrative, in a fixed number of queries."""
    review = (
        Review.objects.filter(incident=incident)
        .exclude(status=Review.Status.CANCELLED)
        .prefetch_related(
            "perspectives__author",
            Prefetch(
                "factors",
                ContributingFactor.objects.prefetch_related("themes").order_by("kind", "created_at", "id"),
            ),
            "learnings",
        )
        .first()
    )
    analyses = (
        AnalysisSession.objects.filter(incident=incident, status=AnalysisSession.Status.SUBMITTED)
        .select_related("analyst")
        .prefetch_related("themes")
        .order_by("submitted_at", "id")
    )
    factors = list(review.factors.all()) if review else []
    facts = [
        {"label": label, "at": at, "after": format_duration(after) if after else ""}
        for label, at, after in (
            ("Started", incident.started_at, None),
            ("Detected", incident.detected_at, incident.time_to_detect),
            ("Mitigated", incident.mitigated_at, incident.time_to_mitigate),
            ("Resolved", incident.resolved_at, incident.time_to_resolve),
        )
        if at
    ]
    return {
        "incident": incident,
        "facts": facts,
        "responders": list(incident_responders(incident=incident)),
        "analyses": [
            {
                "analyst": analysis.analyst,
                "report": demote_headings(analysis.report.strip()),
                "themes": [theme.name for theme in analysis.themes.all()],
            }
            for analysis in analyses
        ],
        "timeline": list(incident_timeline(incident=incident)),
        "review": review,
        "perspectives": list(review.perspectives.all()) if review else [],
        "factor_groups": [
            {"label": label, "factors": [factor for factor in factors if factor.kind == kind]}
            for kind, label in ContributingFactor.Kind.choices
            if any(factor.kind == kind for factor in factors)
        ],
        "learnings": list(review.learnings.all()) if review else [],
        "actions": list(
            ImprovementAction.objects.filter(incident=incident)
            .select_related("owner")
            .order_by("raised_at", "id")
        ),
    }


def blend_render(*, incident: Incident) -> str:
    """The Markdown blend of every source through the organisation's template."""
    try:
        template = TEMPLATE_ENGINE.from_string(template_body())
        return template.render(Context(blend_context(incident=incident), autoescape=False)).strip() + "\n"
    except TemplateSyntaxError as error:
        raise ValidationError(f"The narrative template is broken: {error}. Fix it in the admin.") from error


def section_headings(markdown: str) -> list[tuple[int, int, str]]:
    """(start, end, title) of each level-two heading, code fences skipped."""
    headings, in_fence, offset = [], False, 0
    for line in markdown.splitlines(keepends=True):
        if FENCE.match(line):
            in_fence = not in_fence
        elif not in_fence and (match := SECTION_HEADING.match(line)):
            headings.append((offset, offset + len(line.rstrip("\r\n")), match.group(1)))
        offset += len(line)
    return headings


def split_sections(markdown: str) -> dict[str, str]:
    """Section title → its text (heading excluded); what precedes the first heading is under ""."""
    headings = section_headings(markdown)
    sections = {"": markdown[: headings[0][0] if headings else len(markdown)].strip()}
    for index, (_, end, title) in enumerate(headings):
        next_start = headings[index + 1][0] if index + 1 < len(headings) else len(markdown)
        sections[title] = markdown[end:next_start].strip()
    return sections


def replace_section(markdown: str, title: str, text: str) -> str:
    """`markdown` with the section `title` holding `text`; appended at the end if it is missing."""
    headings = section_headings(markdown)
    if title == "":
        return f"{text}\n\n{markdown[headings[0][0] :]}" if headings else f"{text}\n"
    for index, (_, end, heading) in enumerate(headings):
        if heading != title:
            continue
        next_start = headings[index + 1][0] if index + 1 < len(headings) else len(markdown)
        tail = markdown[next_start:]
        return f"{markdown[:end]}\n\n{text}\n" + (f"\n{tail}" if tail else "")
    return f"{markdown.rstrip()}\n\n## {title}\n\n{text}\n"


@dataclass(frozen=True)
class SectionChange:
    """A section whose sources changed since it was last drafted."""

    title: str
    drafted: str  # as last drafted from the sources
    fresh: str  # as the sources read now
    current: str | None  # as it reads in the narrative now (None: the section was removed)

    @property
    def edited(self) -> bool:
        """Whether people changed the section since it was drafted: accepting replaces their text."""
        return self.current != self.drafted

    @property
    def label(self) -> str:
        return self.title or "Opening"

    @property
    def diff(self) -> list[str]:
        """The fresh blend against the section as it reads now, line by line (unified diff)."""
        return list(
            difflib.unified_diff(
                (self.current or "").splitlines(),
                self.fresh.splitlines(),
                fromfile="in the narrative",
                tofile="from the sources now",
                lineterm="",
            )
        )[2:]


def blend_changes(*, body: str, drafted: dict[str, str], incident: Incident) -> list[SectionChange]:
    """The sections whose fresh blend differs from what was last drafted, in the template's order."""
    fresh = split_sections(blend_render(incident=incident))
    current = split_sections(body)
    return [
        SectionChange(title=title, drafted=drafted.get(title, ""), fresh=text, current=current.get(title))
        for title, text in fresh.items()
        if text != drafted.get(title, "") and text != current.get(title)
    ]
