"""The effort of putting an improvement into practice: the run cost of the learning culture."""

from decimal import Decimal

from django.db import transaction

from incidents.models import User
from incidents.services import audit_record
from reviews.models import ImprovementAction

EFFORT_FIELDS = ("effort_estimate_hours", "effort_actual_hours")


@transaction.atomic
def action_effort_set(*, action: ImprovementAction, by: User, **effort: Decimal | None) -> ImprovementAction:
    """Record the estimated and/or actual hours of an action (the caller has checked that `by` may
    change it). Effort is ours alone: it does not re-push the action to its tracker."""
    unknown = set(effort) - set(EFFORT_FIELDS)
    if unknown:
        raise TypeError(f"Not effort fields: {sorted(unknown)}")
    locked = (
        ImprovementAction.objects.select_for_update(of=("self",))
        .select_related("incident__team")
        .get(pk=action.pk)
    )
    changes = {
        name: [str(getattr(locked, name)), str(value)]
        for name, value in effort.items()
        if getattr(locked, name) != value
    }
    if not changes:
        return locked
    for name, value in effort.items():
        setattr(locked, name, value)
    locked.full_clean(
        exclude=[field.name for field in ImprovementAction._meta.fields if field.name not in effort]
    )
    locked.save(update_fields=[*effort, "updated_at"])
    audit_record(actor=by, verb="action.effort", target=locked, team=locked.incident.team, changes=changes)
    return locked
