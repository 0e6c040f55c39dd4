"""What a broadcast says, whatever the channel: built once per narrative, rendered by each channel."""

from dataclasses import dataclass
from datetime import datetime

from django.conf import settings
from django.utils import timezone

from reviews.models import Narrative
from ybiyri.text import format_duration, single_line

SUMMARY_MAX_CHARS = 500


@dataclass(frozen=True)
class BroadcastContent:
    """The facts of one publication of a narrative, in plain text (channels escape as they need)."""

    narrative_id: int
    publication: int
    title: str
    severity: str  # "SEV2"
    severity_label: str  # "SEV2 — major"
    team: str
    service: str
    summary: str
    url: str
    published_at: datetime | None
    key_facts: tuple[tuple[str, str], ...]
    body_markdown: str

    @property
    def subject(self) -> str:
        """The email subject: severity, team and title, e.g. "[SEV2] Payments: Checkout timeouts"."""
        return single_line(f"[{self.severity}] {self.team}: {self.title}")


def format_when(moment: datetime) -> str:
    return timezone.localtime(moment).strftime("%Y-%m-%d %H:%M %Z")


def narrative_summary(narrative: Narrative) -> str:
    """The incident's summary, or else the narrative's first paragraph that is not a heading."""
    text = narrative.incident.summary.strip()
    if not text:
        paragraphs = (block.strip() for block in narrative.body.split("\n\n"))
        text = next((block for block in paragraphs if block and not block.startswith("#")), "")
    if len(text) > SUMMARY_MAX_CHARS:
        text = text[: SUMMARY_MAX_CHARS - 1].rstrip() + "…"
    return text


def broadcast_content(narrative: Narrative) -> BroadcastContent:
    """Everything the channels say about this publication. Expects incident, team and service loaded."""
    incident = narrative.incident
    facts = [
        ("Severity", incident.get_severity_display()),
        ("Team", incident.team.name),
        ("Service", incident.service.name),
        ("Started", format_when(incident.started_at)),
    ]
    if incident.time_to_resolve is not None:
        facts.append(("Time to resolve", format_duration(incident.time_to_resolve)))
    if narrative.published_at:
        facts.append(("Published", format_when(narrative.published_at)))
    return BroadcastContent(
        narrative_id=narrative.pk,
        publication=narrative.publication,
        title=narrative.title,
        severity=incident.severity.upper(),
        severity_label=incident.get_severity_display(),
        team=incident.team.name,
        service=incident.service.name,
        summary=narrative_summary(narrative),
        url=settings.SITE_URL + narrative.get_absolute_url(),
        published_at=narrative.published_at,
        key_facts=tuple(facts),
        body_markdown=narrative.body,
    )
