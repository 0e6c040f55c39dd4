"""The effort of putting an improvement into practice: the run cost of the learning culture.

Effort is entered by people (`action_effort_set`) or read from the tracker's time tracking
(`action_effort_from_tracker`: Jira's original estimate and time spent, through the webhooks and the
status reconciler; Trello keeps no time). What a person enters wins: the tracker fills a value only
while nobody has entered one here, and keeps the values it filled up to date as time is logged
there. A person who clears a value hands it back to the tracker.
"""

from decimal import Decimal
from typing import Any

from django.db import transaction
from django.db.models import Q
from django.utils import timezone

from incidents.models import User
from incidents.services import audit_record
from reviews.backlog import RemoteItem
from reviews.models import ImprovementAction

EFFORT_FIELDS = ("effort_estimate_hours", "effort_actual_hours")


@transaction.atomic
def action_effort_set(*, action: ImprovementAction, by: User, **effort: Decimal | None) -> ImprovementAction:
    """Record the estimated and/or actual hours of an action (the caller has checked that `by` may
    change it). Effort is ours alone: it does not re-push the action to its tracker. A value
    entered here is kept over the tracker's time tracking from then on."""
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
        if getattr(locked, name) != value or getattr(locked, _source(name))
    }
    if not changes:
        return locked
    for name, value in effort.items():
        setattr(locked, name, value)
        # Entered here, or cleared: either way no longer the tracker's.
        setattr(locked, _source(name), False)
    locked.full_clean(
        exclude=[field.name for field in ImprovementAction._meta.fields if field.name not in effort]
    )
    locked.save(update_fields=[*effort, *(_source(name) for name in effort), "updated_at"])
    audit_record(actor=by, verb="action.effort", target=locked, team=locked.incident.team, changes=changes)
    return locked


def action_effort_from_tracker(*, action: ImprovementAction, item: RemoteItem, tracked: Q) -> bool:
    """Take the item's time tracking into the effort nobody has entered here. `tracked` is the rule
    that the item speaks for the action (`tracked_by_q`), checked in the same conditional update, as
    is the rule that no person's value is replaced. Returns True if the action changed."""
    changed: dict[str, Any] = {}
    for name, value in (
        ("effort_estimate_hours", item.effort_estimate_hours),
        ("effort_actual_hours", item.effort_actual_hours),
    ):
        if value is None:
            continue
        source = _source(name)
        if (
            ImprovementAction.objects.filter(
                tracked,
                Q(**{f"{name}__isnull": True}) | Q(**{source: True}),
                pk=action.pk,
            )
            .exclude(**{name: value})
            .update(**{name: value, source: True}, updated_at=timezone.now())
        ):
            changed[name] = [str(getattr(action, name)), str(value)]
    if changed:
        changed["external_key"] = item.key
        audit_record(
            actor=None,
            verb="action.effort_from_tracker",
            target=action,
            team=action.incident.team,
            changes=changed,
        )
    return bool(changed)


def _source(name: str) -> str:
    return name.replace("_hours", "_from_tracker")
