"""Writes for narratives: drafting from the template, versioned saves, publishing, reads, walkthroughs."""

from collections.abc import Sequence
from datetime import datetime

from django.contrib.postgres.search import SearchVector
from django.core.exceptions import ValidationError
from django.db import connection, transaction
from django.template import Context, Engine, TemplateSyntaxError
from django.template.loader import render_to_string
from django.utils import timezone

from incidents.calendar import CalendarEvent, absolute_url
from incidents.models import Incident, User
from incidents.selectors import incident_timeline
from incidents.services import StaleVersion, audit_record, single_line
from reviews.models import (
    ImprovementAction,
    Narrative,
    NarrativeRead,
    NarrativeRevision,
    NarrativeTemplate,
    Review,
    Walkthrough,
)
from reviews.selectors import SEARCH_CONFIG
from reviews.services.review import check_meeting, meeting_invites
from ybiyri.db import lock_row

DEFAULT_TEMPLATE = """*{{ incident.get_severity_display }} · {{ incident.team.name }} · {{ incident.service.name }} \
({{ incident.service.get_operating_model_display }})*

## Summary

{{ incident.summary }}

## Timeline

{% for event in timeline %}- **{{ event.occurred_at|date:"j M H:i" }}** — {{ event.description }}
{% empty %}_No key events were established._
{% endfor %}
## Contributing factors

{% for factor in factors %}- *{{ factor.get_kind_display }}:* {{ factor.description }}
{% empty %}_None recorded._
{% endfor %}
## What we learned

{% for learning in learnings %}{{ forloop.counter }}. {{ learning.description }}
{% empty %}_None recorded._
{% endfor %}
## What we are changing

{% for action in actions %}- {{ action.title }} ({{ action.kind }}, \
{{ action.get_priority_display|lower }} priority\
{% if action.owner %}, owner {{ action.owner.display_name }}{% endif %})
{% empty %}_No improvement actions yet._
{% endfor %}"""

# Organisation-edited templates are rendered by a separate engine with no template directories
# and no app tag libraries: they can only format the context they are given.
TEMPLATE_ENGINE = Engine(autoescape=False)


def narrative_template_body() -> str:
    template = NarrativeTemplate.objects.order_by("-is_default", "name").first()
    return template.body if template else DEFAULT_TEMPLATE


def narrative_draft_body(*, incident: Incident) -> str:
    """The Markdown draft: the organisation's template filled from the incident and its review."""
    review = Review.objects.filter(incident=incident).exclude(status=Review.Status.CANCELLED).first()
    context = {
        "incident": incident,
        "timeline": list(incident_timeline(incident=incident)),
        "review": review,
        "factors": list(review.factors.all()) if review else [],
        "learnings": list(review.learnings.all()) if review else [],
        "actions": list(
            ImprovementAction.objects.filter(incident=incident)
            .select_related("owner")
            .order_by("raised_at", "id")
        ),
    }
    try:
        return TEMPLATE_ENGINE.from_string(narrative_template_body()).render(Context(context))
    except TemplateSyntaxError as error:
        raise ValidationError(f"The narrative template is broken: {error}. Fix it in the admin.") from error


def narrative_search_vector_update(narrative: Narrative) -> None:
    """Refresh the stored tsvector (title weighted above body); PostgreSQL only."""
    if connection.vendor != "postgresql":
        return
    Narrative.objects.filter(pk=narrative.pk).update(
        search_vector=SearchVector("title", weight="A", config=SEARCH_CONFIG)
        + SearchVector("body", weight="B", config=SEARCH_CONFIG)
    )


def narrative_revision_add(narrative: Narrative, *, by: User) -> NarrativeRevision:
    return NarrativeRevision.objects.create(
        narrative=narrative,
        version=narrative.version,
        title=narrative.title,
        body=narrative.body,
        created_by=by,
    )


@transaction.atomic
def narrative_draft(*, incident: Incident, by: User) -> Narrative:
    """Create the incident's narrative from the template (version 1)."""
    incident = lock_row(Incident.objects.select_related("team"), incident.pk)
    if Narrative.objects.filter(incident=incident).exists():
        raise ValidationError("This incident already has a narrative: edit it instead.")
    narrative = Narrative.objects.create(
        incident=incident, title=incident.title, body=narrative_draft_body(incident=incident), created_by=by
    )
    narrative_revision_add(narrative, by=by)
    narrative_search_vector_update(narrative)
    audit_record(actor=by, verb="narrative.drafted", target=narrative, team=incident.team)
    return narrative


@transaction.atomic
def narrative_save(*, narrative: Narrative, by: User, version: int, title: str, body: str) -> Narrative:
    """Save a new revision if `version` is the stored one; raise StaleVersion otherwise."""
    locked = lock_row(Narrative.objects.select_related("incident__team"), narrative.pk)
    if locked.version != version:
        raise StaleVersion(current_version=locked.version)
    title = single_line(title)
    if not title:
        raise ValidationError({"title": "Give the narrative a title."})
    if not body.strip():
        raise ValidationError({"body": "The narrative cannot be empty."})
    if title == locked.title and body == locked.body:
        return locked
    locked.title = title
    locked.body = body
    locked.version += 1
    locked.updated_at = timezone.now()
    locked.full_clean(exclude=["search_vector"])
    locked.save()
    narrative_revision_add(locked, by=by)
    narrative_search_vector_update(locked)
    audit_record(
        actor=by,
        verb="narrative.saved",
        target=locked,
        team=locked.incident.team,
        changes={"version": locked.version},
    )
    return locked


@transaction.atomic
def narrative_publish(*, narrative: Narrative, by: User, broadcast: bool = True) -> Narrative:
    """Publish a draft (always broadcast), or re-broadcast a published narrative when asked.

    Each broadcast is a new publication: its deliveries are written in this transaction.
    """
    from reviews.broadcast.services import broadcast_publication

    locked = lock_row(Narrative.objects.select_related("incident__team", "incident__service"), narrative.pk)
    first_time = not locked.is_published
    if not first_time and not broadcast:
        raise ValidationError("This narrative is already published.")
    now = timezone.now()
    if first_time:
        locked.status = Narrative.Status.PUBLISHED
        locked.published_at = now
        locked.published_by = by
    locked.publication += 1
    locked.save()
    broadcast_publication(narrative=locked)
    incident = locked.incident
    if incident.status != Incident.Status.CLOSED:
        incident.status = Incident.Status.CLOSED
        incident.save(update_fields=["status", "updated_at"])
    audit_record(
        actor=by,
        verb="narrative.published" if first_time else "narrative.rebroadcast",
        target=locked,
        team=incident.team,
        changes={"publication": locked.publication},
    )
    return locked


def narrative_record_read(*, narrative: Narrative, reader: User) -> None:
    """Count the reader once per narrative (for reach); drafts are not counted."""
    if narrative.is_published:
        NarrativeRead.objects.get_or_create(narrative=narrative, reader=reader)


def walkthrough_event(walkthrough: Walkthrough, attendees: Sequence[User]) -> CalendarEvent:
    narrative = walkthrough.narrative
    url = absolute_url(narrative.get_absolute_url())
    return CalendarEvent(
        uid=f"walkthrough-{walkthrough.uid}@ybiyri",
        sequence=walkthrough.sequence,
        summary=f"Incident walkthrough: {narrative.title}",
        description=f"{walkthrough.presenter.display_name} walks through “{narrative.title}”.\n{url}",
        start=walkthrough.scheduled_at,
        end=walkthrough.ends_at,
        organizer=walkthrough.presenter,
        attendees=tuple(attendees),
        location=walkthrough.location,
        url=url,
    )


def walkthrough_invites(walkthrough: Walkthrough, *, method: str) -> None:
    attendees = list(walkthrough.attendees.all())
    context = {"walkthrough": walkthrough, "narrative": walkthrough.narrative, "method": method,
               "url": absolute_url(walkthrough.narrative.get_absolute_url())}  # fmt: skip
    verb = "Cancelled" if method == "CANCEL" else "Invitation"
    meeting_invites(
        event=walkthrough_event(walkthrough, attendees),
        recipients=attendees,
        method=method,
        subject=f"{verb}: incident walkthrough of {walkthrough.narrative.title}",
        body=render_to_string("reviews/email/walkthrough_invite.txt", context),
        key=f"walkthrough:{walkthrough.uid}",
        list_addresses=[walkthrough.audience_email] if walkthrough.audience_email else [],
    )


@transaction.atomic
def walkthrough_schedule(
    *,
    narrative: Narrative,
    by: User,
    scheduled_at: datetime,
    time_zone: str,
    duration_minutes: int,
    location: str = "",
    audience_email: str = "",
    attendees: Sequence[User] = (),
) -> Walkthrough:
    if not narrative.is_published:
        raise ValidationError("Publish the narrative before scheduling walkthroughs of it.")
    check_meeting(scheduled_at=scheduled_at, duration_minutes=duration_minutes, time_zone=time_zone)
    if not audience_email and not attendees:
        raise ValidationError("Invite an audience: a list address, people, or both.")
    walkthrough = Walkthrough(
        narrative=narrative,
        scheduled_at=scheduled_at,
        time_zone=time_zone,
        duration_minutes=duration_minutes,
        location=location.strip(),
        audience_email=audience_email.strip(),
        presenter=by,
    )
    walkthrough.full_clean()
    walkthrough.save()
    walkthrough.attendees.set([user for user in attendees if user.is_active])
    walkthrough_invites(walkthrough, method="REQUEST")
    audit_record(actor=by, verb="walkthrough.scheduled", target=walkthrough, team=narrative.incident.team)
    return walkthrough


@transaction.atomic
def walkthrough_cancel(*, walkthrough: Walkthrough, by: User) -> Walkthrough:
    walkthrough = lock_row(Walkthrough.objects.select_related("narrative__incident__team"), walkthrough.pk)
    if walkthrough.status == Walkthrough.Status.CANCELLED:
        raise ValidationError("This walkthrough is already cancelled.")
    walkthrough.status = Walkthrough.Status.CANCELLED
    walkthrough.sequence += 1
    walkthrough.save(update_fields=["status", "sequence"])
    walkthrough_invites(walkthrough, method="CANCEL")
    audit_record(
        actor=by, verb="walkthrough.cancelled", target=walkthrough, team=walkthrough.narrative.incident.team
    )
    return walkthrough
