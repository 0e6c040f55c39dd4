"""Writes for the collective review: scheduling (with calendar invites), facilitation, outcomes.

Facilitation is a live meeting: several people change the same review at once. So every text is
saved on its own (each notes field, each perspective, factor and learning) with its own version,
and a save based on an older version raises `StaleVersion` instead of overwriting. Every change the
facilitation page shows raises `Review.revision`, which open pages poll to refresh what changed.
"""

from collections.abc import Iterable, Mapping, Sequence
from datetime import datetime
from typing import TypedDict
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from django.core.exceptions import PermissionDenied, ValidationError
from django.db import transaction
from django.db.models import F, Max
from django.template.loader import render_to_string
from django.utils import timezone

from incidents.calendar import CalendarEvent, absolute_url, calendar_ics
from incidents.models import Incident, User
from incidents.services import StaleVersion, audit_record, check_incident_confirmed, notification_queue
from reviews.models import (
    ContributingFactor,
    FactorSuggestion,
    ImprovementAction,
    Learning,
    Perspective,
    Review,
)
from ybiyri.changes import Changed, apply_changes
from ybiyri.db import lock_row
from ybiyri.fields import max_length

FACTOR_MAX_LENGTH = max_length(ContributingFactor, "description")
LEARNING_MAX_LENGTH = max_length(Learning, "description")
MIN_DURATION_MINUTES = 15
MAX_DURATION_MINUTES = 8 * 60
NOTES_FIELDS = ("context_notes", "perspectives_notes")
MAX_NOTES_LENGTH = 20000


def review_touch(review: Review) -> None:
    """Raise the review's revision: open facilitation pages see that something changed."""
    Review.objects.filter(pk=review.pk).update(revision=F("revision") + 1)


def check_meeting(*, scheduled_at: datetime, duration_minutes: int, time_zone: str) -> None:
    errors = {}
    try:
        ZoneInfo(time_zone)
    except (ZoneInfoNotFoundError, ValueError):
        errors["time_zone"] = f"“{time_zone}” is not a known time zone (e.g. Europe/London)."
    if scheduled_at <= timezone.now():
        errors["scheduled_at"] = "Schedule it in the future."
    if not MIN_DURATION_MINUTES <= duration_minutes <= MAX_DURATION_MINUTES:
        errors["duration_minutes"] = f"Between {MIN_DURATION_MINUTES} and {MAX_DURATION_MINUTES} minutes."
    if errors:
        raise ValidationError(errors)


def meeting_invites(
    *,
    event: CalendarEvent,
    recipients: Iterable[User],
    method: str,
    subject: str,
    body: str,
    key: str,
    list_addresses: Sequence[str] = (),
) -> None:
    """One calendar email per recipient (and list address), idempotent per key, sent after commit."""
    ics = calendar_ics(event, method=method)
    for user in recipients:
        notification_queue(
            key=f"{key}:{method}:{event.sequence}:user-{user.pk}",
            recipient=user,
            subject=subject,
            body=body,
            ics=ics,
            ics_method=method,
        )
    for address in list_addresses:
        notification_queue(
            key=f"{key}:{method}:{event.sequence}:list-{address}",
            recipient=None,
            to_email=address,
            subject=subject,
            body=body,
            ics=ics,
            ics_method=method,
        )


def review_event(review: Review, attendees: Sequence[User]) -> CalendarEvent:
    incident = review.incident
    url = absolute_url(review.get_absolute_url())
    place = " · ".join(part for part in (review.location, review.video_url) if part)
    return CalendarEvent(
        uid=f"review-{review.uid}@ybiyri",
        sequence=review.sequence,
        summary=f"Post-incident review: {incident.title}",
        description=f"The collective review of “{incident.title}”, facilitated by "
        f"{review.facilitator.display_name}.\n{url}",
        start=review.scheduled_at,
        end=review.ends_at,
        organizer=review.scheduled_by,
        attendees=tuple(attendees),
        location=place,
        url=url,
    )


def review_invites(
    review: Review, *, recipients: Sequence[User], method: str, attendees: Sequence[User]
) -> None:
    verb = {"REQUEST": "Invitation" if review.sequence == 0 else "Updated", "CANCEL": "Cancelled"}[method]
    context = {
        "review": review,
        "incident": review.incident,
        "method": method,
        "url": absolute_url(review.get_absolute_url()),
    }
    meeting_invites(
        event=review_event(review, attendees),
        recipients=recipients,
        method=method,
        subject=f"{verb}: post-incident review of {review.incident.title}",
        body=render_to_string("reviews/email/review_invite.txt", context),
        key=f"review:{review.uid}",
    )


def review_people(review: Review) -> list[User]:
    """Everyone invited: the attendees and the facilitator."""
    people = {user.pk: user for user in review.attendees.all()}
    people.setdefault(review.facilitator_id, review.facilitator)
    return list(people.values())


def default_attendees(incident: Incident) -> list[User]:
    """The responders and the team's product managers."""
    people = {responder.user_id: responder.user for responder in incident.responders.select_related("user")}
    for manager in incident.team.product_managers.all():
        people.setdefault(manager.pk, manager)
    return list(people.values())


@transaction.atomic
def review_schedule(
    *,
    incident: Incident,
    by: User,
    scheduled_at: datetime,
    time_zone: str,
    duration_minutes: int,
    facilitator: User,
    attendees: Sequence[User] | None = None,
    location: str = "",
    video_url: str = "",
) -> Review:
    """Schedule the one review of the incident and invite everyone (REQUEST, SEQUENCE 0).

    With no attendees named (None or none at all), the responders and the team's product managers
    are invited (`default_attendees`): pages and the API alike.
    """
    incident = lock_row(Incident.objects.select_related("team"), incident.pk)
    check_incident_confirmed(incident)
    if not attendees:
        attendees = default_attendees(incident)
    if Review.objects.filter(incident=incident).exclude(status=Review.Status.CANCELLED).exists():
        raise ValidationError("This incident's review is already scheduled: reschedule it instead.")
    check_meeting(scheduled_at=scheduled_at, duration_minutes=duration_minutes, time_zone=time_zone)
    if not facilitator.is_active:
        raise ValidationError({"facilitator": "The facilitator must be an active member."})
    Review.objects.filter(incident=incident, status=Review.Status.CANCELLED).delete()
    review = Review.objects.create(
        incident=incident,
        scheduled_at=scheduled_at,
        time_zone=time_zone,
        duration_minutes=duration_minutes,
        location=location.strip(),
        video_url=video_url.strip(),
        facilitator=facilitator,
        scheduled_by=by,
    )
    review.attendees.set([user for user in attendees if user.is_active])
    people = review_people(review)
    review_invites(review, recipients=people, method="REQUEST", attendees=people)
    if incident.status in {Incident.Status.DECLARED, Incident.Status.ANALYSING}:
        incident.status = Incident.Status.REVIEWING
        incident.save(update_fields=["status", "updated_at"])
    audit_record(
        actor=by,
        verb="review.scheduled",
        target=review,
        team=incident.team,
        changes={"scheduled_at": scheduled_at.isoformat(), "attendees": [user.username for user in people]},
    )
    return review


class MeetingFields(TypedDict, total=False):
    """The fields of a scheduled review its managers change (`review_reschedule`)."""

    scheduled_at: datetime
    time_zone: str
    duration_minutes: int
    facilitator: User
    location: str
    video_url: str


@transaction.atomic
def review_reschedule(
    *, review: Review, by: User, changes: MeetingFields, attendees: Sequence[User] | None = None
) -> Review:
    """Change the given fields of the review, and its attendees unless None; everyone still invited
    gets an update (SEQUENCE + 1), those removed a CANCEL."""
    review = lock_row(Review.objects.select_related("incident__team", "facilitator"), review.pk)
    if review.status != Review.Status.SCHEDULED:
        raise ValidationError("Only a scheduled review can be rescheduled.")
    before = {user.pk: user for user in review_people(review)}
    changes = changes.copy()
    for name in ("location", "video_url"):
        if name in changes:
            changes[name] = changes[name].strip()
    apply_changes(review, changes, fields=MeetingFields.__optional_keys__)
    check_meeting(
        scheduled_at=review.scheduled_at, duration_minutes=review.duration_minutes, time_zone=review.time_zone
    )
    review.sequence += 1
    review.save()
    if attendees is not None:
        review.attendees.set([user for user in attendees if user.is_active])
    after = review_people(review)
    removed = [user for pk, user in before.items() if pk not in {person.pk for person in after}]
    review_invites(review, recipients=after, method="REQUEST", attendees=after)
    if removed:
        review_invites(review, recipients=removed, method="CANCEL", attendees=removed)
    audit_record(
        actor=by,
        verb="review.rescheduled",
        target=review,
        team=review.incident.team,
        changes={"scheduled_at": review.scheduled_at.isoformat(), "sequence": review.sequence},
    )
    review_touch(review)
    return review


@transaction.atomic
def review_cancel(*, review: Review, by: User) -> Review:
    review = lock_row(Review.objects.select_related("incident__team", "facilitator"), review.pk)
    if review.status != Review.Status.SCHEDULED:
        raise ValidationError("Only a scheduled review can be cancelled.")
    review.status = Review.Status.CANCELLED
    review.sequence += 1
    review.save(update_fields=["status", "sequence", "updated_at"])
    people = review_people(review)
    review_invites(review, recipients=people, method="CANCEL", attendees=people)
    incident = review.incident
    if incident.status == Incident.Status.REVIEWING:
        incident.status = Incident.Status.ANALYSING
        incident.save(update_fields=["status", "updated_at"])
    audit_record(actor=by, verb="review.cancelled", target=review, team=incident.team)
    review_touch(review)
    return review


def check_review_open(review: Review) -> None:
    if review.status == Review.Status.CANCELLED:
        raise ValidationError("This review was cancelled.")


def check_participant(review: Review, user: User) -> None:
    """Perspectives and suggestions come from the people in the meeting: attendees and facilitator."""
    if user.pk != review.facilitator_id and not review.attendees.filter(pk=user.pk).exists():
        raise PermissionDenied("Only the review's attendees and facilitator take part in it.")


def check_version(*, stored: int, given: int) -> None:
    if stored != given:
        raise StaleVersion(current_version=stored)


def check_text(text: str, *, field: str, label: str, max_length: int | None, required: bool = True) -> str:
    text = text.strip()
    if required and not text:
        raise ValidationError({field: f"Write the {label}."})
    if max_length is not None and len(text) > max_length:
        raise ValidationError({field: f"Keep the {label} under {max_length:,} characters."})
    return text


@transaction.atomic
def review_start(*, review: Review, by: User) -> Review:
    """Start the meeting: its timer runs from now against the booked duration, at the first step."""
    review = lock_row(Review, review.pk)
    if review.status != Review.Status.SCHEDULED:
        raise ValidationError("Only a scheduled review can be started.")
    if review.started_at:
        raise ValidationError("The review has already started.")
    review.started_at = timezone.now()
    review.current_step = Review.Step.REPORTS
    review.save(update_fields=["started_at", "current_step", "updated_at"])
    audit_record(actor=by, verb="review.started", target=review)
    review_touch(review)
    return review


@transaction.atomic
def review_step_go(*, review: Review, by: User, step: str) -> Review:
    """Bring everyone to an agenda step: it becomes the step the meeting is on."""
    if step not in Review.Step.values:
        raise ValidationError({"step": f"Unknown agenda step “{step}”."})
    review = lock_row(Review, review.pk)
    check_review_open(review)
    review.current_step = step
    review.save(update_fields=["current_step", "updated_at"])
    audit_record(actor=by, verb="review.step_current", target=review, changes={"step": step})
    review_touch(review)
    return review


@transaction.atomic
def review_step_set(*, review: Review, by: User, step: str, done: bool) -> Review:
    """Mark an agenda step done (the meeting moves on to the next step if it was on this one) or not."""
    if step not in Review.Step.values:
        raise ValidationError({"step": f"Unknown agenda step “{step}”."})
    review = lock_row(Review, review.pk)
    check_review_open(review)
    steps = [value for value in Review.Step.values if value in set(review.completed_steps) | {step}]
    if not done:
        steps.remove(step)
    review.completed_steps = steps
    if done and review.current_step == step:
        review.current_step = review.next_step
    review.save(update_fields=["completed_steps", "current_step", "updated_at"])
    audit_record(
        actor=by,
        verb="review.step_done" if done else "review.step_undone",
        target=review,
        changes={"step": step},
    )
    review_touch(review)
    return review


@transaction.atomic
def review_notes_save(*, review: Review, by: User, field: str, text: str, version: int) -> Review:
    """Save one notes field (`context_notes` or `perspectives_notes`) if `version` is its stored one.

    The other field is neither read from the caller nor written, so saving one never loses text
    saved in the other. Raises StaleVersion (nothing written) when someone saved it in between.
    """
    if field not in NOTES_FIELDS:
        raise ValidationError({"field": f"Unknown notes field “{field}”."})
    text = check_text(text, field=field, label="notes", max_length=MAX_NOTES_LENGTH, required=False)
    review = lock_row(Review, review.pk)
    check_review_open(review)
    check_version(stored=getattr(review, f"{field}_version"), given=version)
    if getattr(review, field) == text:
        return review
    setattr(review, field, text)
    setattr(review, f"{field}_version", version + 1)
    review.save(update_fields=[field, f"{field}_version", "updated_at"])
    audit_record(
        actor=by, verb="review.notes_updated", target=review, changes={"field": field, "version": version + 1}
    )
    review_touch(review)
    return review


@transaction.atomic
def perspective_save(*, review: Review, by: User, body: str, version: int) -> Perspective:
    """Save the person's own perspective: version 0 gives it for the first time, then its version.

    Only the review's attendees and facilitator give one (PermissionDenied otherwise); a save based
    on an older version raises StaleVersion.
    """
    body = check_text(body, field="body", label="perspective", max_length=MAX_NOTES_LENGTH)
    review = lock_row(Review, review.pk)
    check_review_open(review)
    check_participant(review, by)
    perspective = Perspective.objects.filter(review=review, author=by).first()
    check_version(stored=perspective.version if perspective else 0, given=version)
    if perspective is None:
        perspective = Perspective.objects.create(review=review, author=by, body=body)
        verb = "perspective.added"
    elif perspective.body != body:
        perspective.body = body
        perspective.version += 1
        perspective.save(update_fields=["body", "version", "updated_at"])
        verb = "perspective.updated"
    else:
        return perspective
    audit_record(actor=by, verb=verb, target=perspective, changes={"version": perspective.version})
    review_touch(review)
    return perspective


@transaction.atomic
def review_mark_held(*, review: Review, by: User) -> Review:
    review = lock_row(Review, review.pk)
    if review.status != Review.Status.SCHEDULED:
        raise ValidationError("Only a scheduled review can be marked as held.")
    review.status = Review.Status.HELD
    review.held_at = timezone.now()
    review.save(update_fields=["status", "held_at", "updated_at"])
    audit_record(actor=by, verb="review.held", target=review)
    review_touch(review)
    return review


def check_factor(*, description: str, kind: str) -> str:
    if kind not in ContributingFactor.Kind.values:
        raise ValidationError({"kind": "Choose human or technical."})
    return check_text(description, field="description", label="factor", max_length=FACTOR_MAX_LENGTH)


@transaction.atomic
def factor_add(*, review: Review, by: User, description: str, kind: str) -> ContributingFactor:
    check_review_open(review)
    description = check_factor(description=description, kind=kind)
    factor = ContributingFactor.objects.create(
        review=review, description=description, kind=kind, created_by=by
    )
    audit_record(actor=by, verb="factor.added", target=factor)
    review_touch(review)
    return factor


def outcome_update[Outcome: (ContributingFactor, Learning)](
    outcome: Outcome, *, by: User, version: int, changes: Mapping[str, str], verb: str
) -> Outcome:
    """Set the given (checked) fields of a review's factor or learning if `version` is its stored
    one (StaleVersion otherwise); a change that changes nothing writes nothing. The audit entry
    keeps the values before. Caller is in a transaction."""
    locked = lock_row(type(outcome).objects.select_related("review"), outcome.pk)
    check_review_open(locked.review)
    check_version(stored=locked.version, given=version)
    changed: Changed = apply_changes(locked, changes, fields=changes.keys())
    if not changed:
        return locked
    locked.version += 1
    locked.save(update_fields=[*changed, "version"])
    before = {name: values[0] for name, values in changed.items()}
    audit_record(actor=by, verb=verb, target=locked, changes={"before": before})
    review_touch(locked.review)
    return locked


@transaction.atomic
def factor_update(
    *, factor: ContributingFactor, by: User, description: str, kind: str, version: int
) -> ContributingFactor:
    """Change a factor's text and kind if `version` is its stored one; StaleVersion otherwise."""
    description = check_factor(description=description, kind=kind)
    changes = {"description": description, "kind": kind}
    return outcome_update(factor, by=by, version=version, changes=changes, verb="factor.updated")


@transaction.atomic
def factor_delete(*, factor: ContributingFactor, by: User) -> None:
    check_review_open(factor.review)
    audit_record(actor=by, verb="factor.deleted", target=factor)
    review_touch(factor.review)
    factor.delete()


@transaction.atomic
def factor_suggest(*, review: Review, by: User, description: str, kind: str) -> FactorSuggestion:
    """An attendee proposes a contributing factor for the facilitator to accept."""
    check_review_open(review)
    check_participant(review, by)
    description = check_factor(description=description, kind=kind)
    suggestion = FactorSuggestion.objects.create(
        review=review, description=description, kind=kind, suggested_by=by
    )
    audit_record(actor=by, verb="factor.suggested", target=suggestion)
    review_touch(review)
    return suggestion


@transaction.atomic
def factor_suggestion_accept(
    *, suggestion: FactorSuggestion, by: User, description: str, kind: str
) -> ContributingFactor:
    """Record a suggestion as a contributing factor, as the facilitator worded it."""
    try:
        suggestion = lock_row(FactorSuggestion.objects.select_related("review"), suggestion.pk)
    except FactorSuggestion.DoesNotExist:
        raise ValidationError("This suggestion was already accepted or dismissed.") from None
    factor = factor_add(review=suggestion.review, by=by, description=description, kind=kind)
    audit_record(
        actor=by,
        verb="factor.suggestion_accepted",
        target=factor,
        changes={"suggested_by": suggestion.suggested_by_id},
    )
    suggestion.delete()
    return factor


@transaction.atomic
def factor_suggestion_dismiss(*, suggestion: FactorSuggestion, by: User) -> None:
    check_review_open(suggestion.review)
    audit_record(actor=by, verb="factor.suggestion_dismissed", target=suggestion)
    review_touch(suggestion.review)
    suggestion.delete()


def check_learning(description: str) -> str:
    return check_text(description, field="description", label="learning", max_length=LEARNING_MAX_LENGTH)


@transaction.atomic
def learning_add(*, review: Review, by: User, description: str) -> Learning:
    """Add a learning at the bottom of the ranking."""
    description = check_learning(description)
    review = lock_row(Review, review.pk)
    check_review_open(review)
    last = review.learnings.aggregate(last=Max("rank"))["last"] or 0
    learning = Learning.objects.create(review=review, description=description, rank=last + 1, created_by=by)
    audit_record(actor=by, verb="learning.added", target=learning)
    review_touch(review)
    return learning


@transaction.atomic
def learning_update(*, learning: Learning, by: User, description: str, version: int) -> Learning:
    """Reword a learning if `version` is its stored one; StaleVersion otherwise."""
    description = check_learning(description)
    changes = {"description": description}
    return outcome_update(learning, by=by, version=version, changes=changes, verb="learning.updated")


@transaction.atomic
def learning_reorder(*, review: Review, by: User, ordered_ids: Sequence[int]) -> list[Learning]:
    """Rank the review's learnings in this order (1 = most valuable), naming each learning once."""
    review = lock_row(Review, review.pk)
    check_review_open(review)
    learnings = {learning.pk: learning for learning in review.learnings.all()}
    if sorted(ordered_ids) != sorted(learnings):
        raise ValidationError("The new order must name each of the review's learnings exactly once.")
    for rank, learning_id in enumerate(ordered_ids, start=1):
        learnings[learning_id].rank = rank
    Learning.objects.bulk_update(learnings.values(), ["rank"])
    audit_record(actor=by, verb="learning.reordered", target=review, changes={"order": list(ordered_ids)})
    review_touch(review)
    return sorted(learnings.values(), key=lambda learning: learning.rank)


def learning_move(*, learning: Learning, by: User, offset: int) -> list[Learning]:
    """Move a learning up (offset -1) or down (+1) the ranking."""
    order = list(learning.review.learnings.order_by("rank", "id").values_list("pk", flat=True))
    index = order.index(learning.pk)
    target = min(max(index + offset, 0), len(order) - 1)
    order.insert(target, order.pop(index))
    return learning_reorder(review=learning.review, by=by, ordered_ids=order)


@transaction.atomic
def learning_delete(*, learning: Learning, by: User) -> None:
    review = learning.review
    check_review_open(review)
    audit_record(actor=by, verb="learning.deleted", target=learning)
    learning.delete()
    remaining = list(review.learnings.order_by("rank", "id").values_list("pk", flat=True))
    if remaining:
        learning_reorder(review=review, by=by, ordered_ids=remaining)
    else:
        review_touch(review)


@transaction.atomic
def action_withdraw(*, action: ImprovementAction, by: User) -> None:
    """Remove an action raised in the review by mistake, while no tracker holds an item for it.

    Once a ticket exists (or a push is under way) the action stays: it is closed in the tracker,
    where the team sees it, so the backlog and ybiyri never disagree.
    """
    action = lock_row(ImprovementAction.objects.select_related("review"), action.pk)
    if action.external_key or action.sync_state == ImprovementAction.SyncState.SYNCING:
        where = action.external_key or "the backlog"
        raise ValidationError(f"This action is already in the team's backlog ({where}): close it there.")
    audit_record(actor=by, verb="action.withdrawn", target=action, changes={"title": action.title})
    if action.review:
        review_touch(action.review)
    action.delete()
