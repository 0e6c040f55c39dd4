"""Writes for narratives: drafting from the blend of the loop's sources and taking in what changed
since, versioned saves, publishing once the loop is closed, reads, walkthroughs."""

import logging
from collections.abc import Sequence
from datetime import datetime
from typing import TypedDict

from django.contrib.postgres.search import SearchVector
from django.core.cache import cache
from django.core.exceptions import ValidationError
from django.db import connection, transaction
from django.template.loader import render_to_string
from django.utils import timezone

from incidents.calendar import CalendarEvent, absolute_url
from incidents.models import Incident, User
from incidents.services import StaleVersion, audit_record, check_incident_confirmed
from reviews.models import Narrative, NarrativeRead, NarrativeRevision, Walkthrough
from reviews.selectors import SEARCH_CONFIG, loop_state
from reviews.services.blend import blend_changes, blend_render, replace_section, split_sections
from reviews.services.review import check_meeting, meeting_invites
from ybiyri.changes import apply_changes
from ybiyri.db import lock_row
from ybiyri.errors import Conflict
from ybiyri.text import single_line

logger = logging.getLogger(__name__)
# How long the cache remembers that a reader was counted (`narrative_record_read`).
READ_REMEMBERED_SECONDS = 24 * 60 * 60


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


class LoopOpen(Conflict):
    """The narrative waits for the loop to close: `missing` lists ``analyses`` and/or ``review``."""

    def __init__(self, missing: list[str]) -> None:
        self.missing = missing
        open_parts = {
            "analyses": "every analysis submitted or waived",
            "review": "the review held",
        }
        super().__init__(
            "The learning loop is still open: publishing needs "
            + " and ".join(open_parts[part] for part in missing)
            + ". A product or problem manager may publish anyway, giving a reason."
        )

    def details(self) -> dict:
        return {"missing": self.missing}


@transaction.atomic
def narrative_draft(*, incident: Incident, by: User) -> Narrative:
    """Create the incident's narrative from the blend of its sources (version 1)."""
    incident = lock_row(Incident.objects.select_related("team"), incident.pk)
    if Narrative.objects.filter(incident=incident).exists():
        raise ValidationError("This incident already has a narrative: edit it instead.")
    body = blend_render(incident=incident)
    narrative = Narrative.objects.create(
        incident=incident, title=incident.title, body=body, blend=split_sections(body), created_by=by
    )
    narrative_revision_add(narrative, by=by)
    narrative_search_vector_update(narrative)
    audit_record(actor=by, verb="narrative.drafted", target=narrative, team=incident.team)
    return narrative


def narrative_lock(narrative: Narrative, *, version: int) -> Narrative:
    """The narrative's row, locked, if `version` is the stored one; StaleVersion otherwise.
    Caller is in a transaction."""
    locked = lock_row(Narrative.objects.select_related("incident__team"), narrative.pk)
    if locked.version != version:
        raise StaleVersion(current_version=locked.version)
    return locked


def narrative_store(locked: Narrative, *, by: User, title: str, body: str, verb: str) -> Narrative:
    """Store a new revision of a locked narrative (see `narrative_lock`) and audit it as `verb`."""
    title = single_line(title)
    if not title:
        raise ValidationError({"title": "Give the narrative a title."})
    if not body.strip():
        raise ValidationError({"body": "The narrative cannot be empty."})
    locked.title = title
    locked.body = body
    locked.version += 1
    locked.updated_at = timezone.now()
    locked.full_clean(exclude=["search_vector"])
    locked.save()
    narrative_revision_add(locked, by=by)
    narrative_search_vector_update(locked)
    audit_record(
        actor=by, verb=verb, target=locked, team=locked.incident.team, changes={"version": locked.version}
    )
    return locked


class NarrativeFields(TypedDict, total=False):
    """What people edit in a narrative (`narrative_save`)."""

    title: str
    body: str


@transaction.atomic
def narrative_save(*, narrative: Narrative, by: User, version: int, changes: NarrativeFields) -> Narrative:
    """Save the given fields as a new revision if `version` is the stored one (nothing when they
    change nothing); raise StaleVersion otherwise."""
    locked = narrative_lock(narrative, version=version)
    changes = changes.copy()
    if "title" in changes:
        changes["title"] = single_line(changes["title"])
    if not apply_changes(locked, changes, fields=NarrativeFields.__optional_keys__):
        return locked
    return narrative_store(locked, by=by, title=locked.title, body=locked.body, verb="narrative.saved")


@transaction.atomic
def narrative_blend_apply(
    *, narrative: Narrative, by: User, version: int, accept: Sequence[str] = (), ignore: Sequence[str] = ()
) -> Narrative:
    """Take changed sections of the blend into the narrative (`accept`) or leave them out (`ignore`),
    by section title. Either way the section's fresh blend becomes the one last drafted, so it is not
    offered again until its sources change once more. Refused with StaleVersion on a stale version."""
    locked = narrative_lock(narrative, version=version)
    changes = {
        change.title: change
        for change in blend_changes(body=locked.body, drafted=locked.blend, incident=locked.incident)
    }
    unknown = [title for title in [*accept, *ignore] if title not in changes]
    if unknown:
        raise ValidationError(
            "These sections have no changes to take in (any more): "
            + ", ".join(title or "the opening" for title in unknown)
        )
    body = locked.body
    for title in accept:
        body = replace_section(body, title, changes[title].fresh)
    locked.blend = {**locked.blend, **{title: changes[title].fresh for title in [*accept, *ignore]}}
    if body == locked.body:
        locked.save(update_fields=["blend"])
        return locked
    return narrative_store(locked, by=by, title=locked.title, body=body, verb="narrative.blended")


@transaction.atomic
def narrative_publish(
    *, narrative: Narrative, by: User, broadcast: bool = True, override_reason: str = ""
) -> Narrative:
    """Publish a draft (always broadcast), or re-broadcast a published narrative when asked.

    A draft is published once the loop is closed — every analysis submitted or waived, the review
    held — or with `override_reason`, which the caller has checked `by` may give
    (`reviews.access.can_override_loop`); the reason is kept and shown. Raises LoopOpen otherwise.
    Each broadcast is a new publication: its deliveries are written in this transaction.
    """
    from reviews.broadcast.services import broadcast_publication

    locked = lock_row(Narrative.objects.select_related("incident__team", "incident__service"), narrative.pk)
    first_time = not locked.is_published
    if not first_time and not broadcast:
        raise ValidationError("This narrative is already published.")
    check_incident_confirmed(locked.incident)
    now = timezone.now()
    override_reason = override_reason.strip()
    if first_time:
        missing = loop_state(incident=locked.incident).missing
        if missing and not override_reason:
            raise LoopOpen(missing)
        locked.status = Narrative.Status.PUBLISHED
        locked.published_at = now
        locked.published_by = by
        locked.override_reason = override_reason if missing else ""
    locked.publication += 1
    locked.save()
    broadcast_publication(narrative=locked)
    incident = locked.incident
    if incident.status != Incident.Status.CLOSED:
        incident.status = Incident.Status.CLOSED
        incident.save(update_fields=["status", "updated_at"])
    changes: dict = {"publication": locked.publication}
    if first_time and locked.override_reason:
        changes["override_reason"] = locked.override_reason
    audit_record(
        actor=by,
        verb="narrative.published" if first_time else "narrative.rebroadcast",
        target=locked,
        team=incident.team,
        changes=changes,
    )
    return locked


def narrative_record_read(*, narrative: Narrative, reader: User) -> None:
    """Count the reader once per narrative (for reach); drafts are not counted. Once counted, the
    cache remembers it for a day, so that reading again asks the database nothing."""
    if not narrative.is_published:
        return
    counted = f"narrative-read:{narrative.pk}:{reader.pk}"
    try:
        if cache.get(counted):
            return
    except Exception:
        logger.warning("The cache is not available to tell a narrative's readers", exc_info=True)
    NarrativeRead.objects.get_or_create(narrative=narrative, reader=reader)
    try:
        cache.set(counted, True, timeout=READ_REMEMBERED_SECONDS)
    except Exception:
        logger.warning("The cache is not available to tell a narrative's readers", exc_info=True)


def walkthrough_event(walkthrough: Walkthrough, attendees: Sequence[User]) -> CalendarEvent:
    narrative = walkthrough.narrative
    url = absolute_url(narrative.get_absolute_url())
    return CalendarEvent(
        uid=f"walkthrough-{walkthrough.uid}@ybiyri",
        sequence=walkthrough.sequence,
        summary=f"Incident {walkthrough.get_kind_display().lower()}: {narrative.title}",
        description=f"{walkthrough.presenter.display_name} {_presents(walkthrough)} “{narrative.title}”.\n{url}",
        start=walkthrough.scheduled_at,
        end=walkthrough.ends_at,
        organizer=walkthrough.presenter,
        attendees=tuple(attendees),
        location=walkthrough.location,
        url=url,
    )


def _presents(walkthrough: Walkthrough) -> str:
    return "plays back" if walkthrough.kind == Walkthrough.Kind.PLAYBACK else "walks through"


def walkthrough_invites(walkthrough: Walkthrough, *, method: str) -> None:
    attendees = list(walkthrough.attendees.all())
    context = {"walkthrough": walkthrough, "narrative": walkthrough.narrative, "method": method,
               "presents": _presents(walkthrough),
               "url": absolute_url(walkthrough.narrative.get_absolute_url())}  # fmt: skip
    verb = "Cancelled" if method == "CANCEL" else "Invitation"
    meeting_invites(
        event=walkthrough_event(walkthrough, attendees),
        recipients=attendees,
        method=method,
        subject=f"{verb}: incident {walkthrough.get_kind_display().lower()} of {walkthrough.narrative.title}",
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
    kind: str = Walkthrough.Kind.WALKTHROUGH,
    preparation_minutes: int = 0,
) -> Walkthrough:
    """Schedule a walkthrough or a playback of a published narrative, presented by `by`, and invite
    its audience. `preparation_minutes` may be given now and corrected later
    (`walkthrough_preparation_set`); it counts in setup cost once the session is held."""
    if not narrative.is_published:
        raise ValidationError("Publish the narrative before scheduling walkthroughs of it.")
    check_meeting(scheduled_at=scheduled_at, duration_minutes=duration_minutes, time_zone=time_zone)
    if not audience_email and not attendees:
        raise ValidationError("Invite an audience: a list address, people, or both.")
    walkthrough = Walkthrough(
        narrative=narrative,
        kind=kind,
        preparation_minutes=preparation_minutes,
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
def walkthrough_preparation_set(
    *, walkthrough: Walkthrough, by: User, preparation_minutes: int
) -> Walkthrough:
    """Record the time the presenter spent preparing (the caller has checked `for_manage` access).
    The audience's invites do not change."""
    walkthrough = lock_row(Walkthrough.objects.select_related("narrative__incident__team"), walkthrough.pk)
    if walkthrough.status == Walkthrough.Status.CANCELLED:
        raise ValidationError("A cancelled session took no preparation worth counting.")
    before = walkthrough.preparation_minutes
    if before == preparation_minutes:
        return walkthrough
    walkthrough.preparation_minutes = preparation_minutes
    walkthrough.full_clean(
        exclude=[f.name for f in Walkthrough._meta.fields if f.name != "preparation_minutes"]
    )
    walkthrough.save(update_fields=["preparation_minutes"])
    audit_record(
        actor=by,
        verb="walkthrough.preparation",
        target=walkthrough,
        team=walkthrough.narrative.incident.team,
        changes={"preparation_minutes": [before, preparation_minutes]},
    )
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
