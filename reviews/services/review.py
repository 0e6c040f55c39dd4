"""Writes for the collective review: scheduling (with calendar invites), facilitation, outcomes."""

from collections.abc import Iterable, Sequence
from datetime import datetime
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from django.core.exceptions import ValidationError
from django.db import transaction
from django.db.models import Max
from django.template.loader import render_to_string
from django.utils import timezone

from incidents.calendar import CalendarEvent, absolute_url, calendar_ics
from incidents.models import Incident, User
from incidents.services import audit_record, notification_queue
from reviews.models import ContributingFactor, Learning, Review

MIN_DURATION_MINUTES = 15
MAX_DURATION_MINUTES = 8 * 60


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
    attendees: Sequence[User],
    location: str = "",
    video_url: str = "",
) -> Review:
    """Schedule the one review of the incident and invite everyone (REQUEST, SEQUENCE 0)."""
    Incident.objects.select_for_update().filter(pk=incident.pk).first()
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


@transaction.atomic
def review_reschedule(
    *,
    review: Review,
    by: User,
    scheduled_at: datetime,
    time_zone: str,
    duration_minutes: int,
    facilitator: User,
    attendees: Sequence[User],
    location: str = "",
    video_url: str = "",
) -> Review:
    """Change the review; everyone still invited gets an update (SEQUENCE + 1), those removed a CANCEL."""
    review = (
        Review.objects.select_for_update().select_related("incident__team", "facilitator").get(pk=review.pk)
    )
    if review.status != Review.Status.SCHEDULED:
        raise ValidationError("Only a scheduled review can be rescheduled.")
    check_meeting(scheduled_at=scheduled_at, duration_minutes=duration_minutes, time_zone=time_zone)
    before = {user.pk: user for user in review_people(review)}
    review.scheduled_at = scheduled_at
    review.time_zone = time_zone
    review.duration_minutes = duration_minutes
    review.location = location.strip()
    review.video_url = video_url.strip()
    review.facilitator = facilitator
    review.sequence += 1
    review.save()
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
        changes={"scheduled_at": scheduled_at.isoformat(), "sequence": review.sequence},
    )
    return review


@transaction.atomic
def review_cancel(*, review: Review, by: User) -> Review:
    review = (
        Review.objects.select_for_update().select_related("incident__team", "facilitator").get(pk=review.pk)
    )
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
    return review


def check_review_open(review: Review) -> None:
    if review.status == Review.Status.CANCELLED:
        raise ValidationError("This review was cancelled.")


@transaction.atomic
def review_step_set(*, review: Review, by: User, step: str, done: bool) -> Review:
    if step not in Review.Step.values:
        raise ValidationError({"step": f"Unknown agenda step “{step}”."})
    review = Review.objects.select_for_update().get(pk=review.pk)
    check_review_open(review)
    steps = [value for value in Review.Step.values if value in set(review.completed_steps) | {step}]
    if not done:
        steps.remove(step)
    review.completed_steps = steps
    review.save(update_fields=["completed_steps", "updated_at"])
    audit_record(
        actor=by,
        verb="review.step_done" if done else "review.step_undone",
        target=review,
        changes={"step": step},
    )
    return review


def review_update_notes(*, review: Review, by: User, context_notes: str, perspectives_notes: str) -> Review:
    check_review_open(review)
    review.context_notes = context_notes
    review.perspectives_notes = perspectives_notes
    review.save(update_fields=["context_notes", "perspectives_notes", "updated_at"])
    audit_record(actor=by, verb="review.notes_updated", target=review)
    return review


@transaction.atomic
def review_mark_held(*, review: Review, by: User) -> Review:
    review = Review.objects.select_for_update().get(pk=review.pk)
    if review.status != Review.Status.SCHEDULED:
        raise ValidationError("Only a scheduled review can be marked as held.")
    review.status = Review.Status.HELD
    review.held_at = timezone.now()
    review.save(update_fields=["status", "held_at", "updated_at"])
    audit_record(actor=by, verb="review.held", target=review)
    return review


def factor_add(*, review: Review, by: User, description: str, kind: str) -> ContributingFactor:
    check_review_open(review)
    factor = ContributingFactor(review=review, description=description.strip(), kind=kind, created_by=by)
    factor.full_clean()
    factor.save()
    audit_record(actor=by, verb="factor.added", target=factor)
    return factor


def factor_delete(*, factor: ContributingFactor, by: User) -> None:
    check_review_open(factor.review)
    audit_record(actor=by, verb="factor.deleted", target=factor)
    factor.delete()


@transaction.atomic
def learning_add(*, review: Review, by: User, description: str) -> Learning:
    """Add a learning at the bottom of the ranking."""
    check_review_open(review)
    Review.objects.select_for_update().filter(pk=review.pk).first()
    last = review.learnings.aggregate(last=Max("rank"))["last"] or 0
    learning = Learning(review=review, description=description.strip(), rank=last + 1, created_by=by)
    learning.full_clean()
    learning.save()
    audit_record(actor=by, verb="learning.added", target=learning)
    return learning


@transaction.atomic
def learning_reorder(*, review: Review, by: User, ordered_ids: Sequence[int]) -> list[Learning]:
    """Rank the review's learnings in this order (1 = most valuable), naming each learning once."""
    check_review_open(review)
    Review.objects.select_for_update().filter(pk=review.pk).first()
    learnings = {learning.pk: learning for learning in review.learnings.all()}
    if sorted(ordered_ids) != sorted(learnings):
        raise ValidationError("The new order must name each of the review's learnings exactly once.")
    for rank, learning_id in enumerate(ordered_ids, start=1):
        learnings[learning_id].rank = rank
    Learning.objects.bulk_update(learnings.values(), ["rank"])
    audit_record(actor=by, verb="learning.reordered", target=review, changes={"order": list(ordered_ids)})
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
