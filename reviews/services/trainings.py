"""Recording the training sessions of the practice (setup cost of the learning culture)."""

from collections.abc import Sequence
from datetime import date

from django.core.exceptions import ValidationError
from django.db import transaction
from django.utils import timezone

from incidents.models import Team, User
from incidents.services import audit_record, single_line
from reviews.models import Training


@transaction.atomic
def training_record(
    *,
    by: User,
    team: Team,
    kind: str,
    held_on: date,
    duration_minutes: int,
    trainer: User,
    attendees: Sequence[User] = (),
    title: str = "",
) -> Training:
    """Record a training held (the caller has checked that `by` manages `team`). A training
    counts as setup cost once held, so one cannot be recorded for a day still to come."""
    if held_on > timezone.localdate():
        raise ValidationError({"held_on": "Record a training once it has been held."})
    training = Training(
        team=team,
        kind=kind,
        title=single_line(title),
        held_on=held_on,
        duration_minutes=duration_minutes,
        trainer=trainer,
        recorded_by=by,
    )
    training.full_clean()
    training.save()
    # The trainer's hours are counted once, as the trainer's.
    training.attendees.set([user for user in attendees if user.pk != trainer.pk])
    audit_record(actor=by, verb="training.recorded", target=training, team=team)
    return training


@transaction.atomic
def training_delete(*, training: Training, by: User) -> None:
    """Remove a training recorded by mistake (the caller has checked `can_manage_training`)."""
    audit_record(actor=by, verb="training.deleted", target=training, team=training.team)
    training.delete()
