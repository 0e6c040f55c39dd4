"""Writes for improvement actions and their sync with the team's backlog tracker.

Callers have checked permissions through `reviews.access.access_action`. Every change that must
reach the tracker is recorded on the action in the same transaction (the outbox: `sync_state`
PENDING and `sync_requested_at`), and the push is enqueued only once that transaction commits; the
outbox's rules (`ybiyri.outbox`: claim, retry, reconcile) apply to it as to every other kind.

Sync states: NOT_SYNCED (the team keeps no tracker) → PENDING (a push is wanted; while a retry waits,
`next_attempt_at` is when it is due) → SYNCING (one worker has claimed it, at `claimed_at`) → SYNCED
or FAILED (the tracker's own message in `sync_error`). A change while SYNCING leaves the state alone:
the worker notices the change when it records its outcome and queues another push.

What people change in the tracker comes back through the webhooks and the status reconciler
(`action_apply_tracker_item`): status always, priority and assignee while the action is SYNCED, the
time tracked there as effort nobody entered here. Those changes request no sync, so they are never
pushed back to where they came from.

"Push to backlog" is `action_retry_sync`: the same call retries a failed push and makes the first
push of an action raised before its team chose a tracker.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import date, datetime
from typing import Any, Final, TypedDict

from django.core.exceptions import ImproperlyConfigured, ValidationError
from django.db import connection, transaction
from django.db.models import F, Field, Q
from django.utils import timezone

from incidents.models import Incident, Team, User
from incidents.services import audit_record
from reviews.backlog import RemoteItem, priority_from_tracker
from reviews.models import ImprovementAction, Review
from reviews.services.effort import action_effort_from_tracker
from ybiyri.changes import apply_changes, audit_changes
from ybiyri.db import lock_row
from ybiyri.fields import max_length
from ybiyri.outbox import Outbox
from ybiyri.text import single_line

SyncState = ImprovementAction.SyncState

# Pushes per task message: one claim, one read and one connection for a burst (a reconcile after
# a broker outage); small enough that a slow tracker never holds a batch near the time limit.
ACTIONS_PER_TASK = 20


def push_batches(action_ids: list[int]) -> list[tuple[list[int]]]:
    """The push task's arguments for these actions: batches of ACTIONS_PER_TASK ids."""
    return [
        (action_ids[start : start + ACTIONS_PER_TASK],)
        for start in range(0, len(action_ids), ACTIONS_PER_TASK)
    ]


ACTION_PUSHES = Outbox(
    model=ImprovementAction,
    task_path="reviews.backlog.tasks.action_push_task",
    pending=SyncState.PENDING,
    claimed=SyncState.SYNCING,
    failed=SyncState.FAILED,
    state_field="sync_state",
    attempts_field="sync_attempts",
    error_field="sync_error",
    since_field="sync_requested_at",
    batch=push_batches,
)

TITLE_MAX_LENGTH: Final = max_length(ImprovementAction, "title")
DESCRIPTION_MAX_LENGTH: Final = max_length(ImprovementAction, "description")

# The fields the tracker shows: changing one of them re-requests a sync.
SYNCED_FIELDS: Final = ("title", "description", "kind", "priority", "owner", "due_date")


class ActionFields(TypedDict, total=False):
    """The fields of an action people change (`action_update`); `status` only while the action
    is not tracked (its tracker owns it otherwise)."""

    title: str
    description: str
    kind: str
    owner: User | None
    priority: str
    due_date: date | None
    status: str


EDITABLE_FIELDS: Final = tuple(ActionFields.__annotations__)


# --- validation -------------------------------------------------------------------------------


def _too_long(text: str, *, max_length: int | None) -> bool:
    return max_length is not None and len(text) > max_length


def _check_fields(values: dict[str, Any], *, incident: Incident | None = None) -> dict[str, Any]:
    """Normalise and validate the given action fields; raise ValidationError with per-field messages."""
    errors: dict[str, str] = {}
    cleaned = dict(values)
    if "title" in values:
        title = single_line(values["title"] or "")
        if not title:
            errors["title"] = "Give the action a title."
        elif _too_long(title, max_length=TITLE_MAX_LENGTH):
            errors["title"] = f"Keep the title under {TITLE_MAX_LENGTH:,} characters."
        cleaned["title"] = title
    if "description" in values:
        description = (values["description"] or "").strip()
        if _too_long(description, max_length=DESCRIPTION_MAX_LENGTH):
            errors["description"] = f"Keep the description under {DESCRIPTION_MAX_LENGTH:,} characters."
        cleaned["description"] = description
    if "kind" in values and values["kind"] not in ImprovementAction.Kind.values:
        errors["kind"] = f"Unknown kind {values['kind']!r}: choose human or technical."
    if "priority" in values and values["priority"] not in ImprovementAction.Priority.values:
        choices = ", ".join(ImprovementAction.Priority.values)
        errors["priority"] = f"Unknown priority {values['priority']!r}: choose one of {choices}."
    if "status" in values and values["status"] not in ImprovementAction.Status.values:
        errors["status"] = f"Unknown status {values['status']!r}."
    owner = values.get("owner")
    if owner is not None and not owner.is_active:
        errors["owner"] = f"{owner.username} is not an active member of the organisation."
    due_date = values.get("due_date")
    if due_date is not None and not isinstance(due_date, date):
        errors["due_date"] = "Give the due date as a date."
    review = values.get("review")
    if review is not None and incident is not None and review.incident_id != incident.pk:
        errors["review"] = "This review belongs to another incident."
    if errors:
        raise ValidationError(errors)
    return cleaned


# --- sync bookkeeping -------------------------------------------------------------------------


def _enqueue_push(action_id: int) -> None:
    ACTION_PUSHES.send_on_commit([action_id])


def _request_sync(action: ImprovementAction, *, team: Team, now: datetime) -> bool:
    """Record on the (unsaved) action that the tracker must be brought up to date.

    Returns True when a push must be enqueued after commit. Teams without a tracker stay NOT_SYNCED.
    """
    if team.tracker == Team.Tracker.NONE:
        return False
    if action.tracker and action.tracker != team.tracker:
        # The team moved to another tracker: the old key means nothing there.
        action.external_key = ""
        action.external_url = ""
    action.tracker = team.tracker
    action.sync_requested_at = now
    action.sync_error = ""
    if action.sync_state == SyncState.SYNCING:
        return False
    action.sync_state = SyncState.PENDING
    action.sync_attempts = 0
    action.next_attempt_at = None
    return True


def sync_fingerprint(action: ImprovementAction) -> dict[str, Any]:
    """The tracker-visible field values, as filter arguments ("unchanged since the push read them")."""
    return {
        "title": action.title,
        "description": action.description,
        "kind": action.kind,
        "priority": action.priority,
        "owner_id": action.owner_id,
        "due_date": action.due_date,
    }


def _set_status(action: ImprovementAction, status: str, *, now: datetime) -> None:
    if status == ImprovementAction.Status.DONE:
        if action.status != ImprovementAction.Status.DONE or action.done_at is None:
            action.done_at = now
    else:
        action.done_at = None
    action.status = status


# --- services for people ----------------------------------------------------------------------


@transaction.atomic
def action_raise(
    *,
    incident: Incident,
    review: Review | None,
    by: User,
    title: str,
    description: str,
    kind: str,
    owner: User | None,
    priority: str,
    due_date: date | None,
) -> ImprovementAction:
    """Raise an improvement action and, if the team keeps a tracker, queue its push to the backlog."""
    cleaned = _check_fields(
        {
            "title": title,
            "description": description,
            "kind": kind,
            "priority": priority,
            "owner": owner,
            "due_date": due_date,
            "review": review,
        },
        incident=incident,
    )
    now = timezone.now()
    action = ImprovementAction(incident=incident, raised_by=by, raised_at=now, **cleaned)
    team = incident.team
    push = _request_sync(action, team=team, now=now)
    action.save()
    audit_record(
        actor=by,
        verb="action.raised",
        target=action,
        team=team,
        changes={"incident": incident.pk, "kind": action.kind, "priority": action.priority},
    )
    if push:
        _enqueue_push(action.pk)
    return action


@transaction.atomic
def action_update(*, action: ImprovementAction, by: User, changes: ActionFields) -> ImprovementAction:
    """Change the given fields only: pages (an action's page, a backlog row, marking it done or
    reopening it) and the API all come here, and the audit log records `action.updated` with what
    changed. A change the tracker shows re-requests a sync. A status change is refused with a
    ValidationError on `status` for an action tracked in Jira or Trello; done sets `done_at`,
    reopening clears it.

    Returns the updated row (read under a row lock, so it may be fresher than `action`).
    """
    cleaned = _check_fields(dict(changes))
    locked = lock_row(ImprovementAction.objects.select_related("incident__team", "owner"), action.pk)
    status = cleaned.pop("status", locked.status)
    changed = apply_changes(locked, cleaned, fields=SYNCED_FIELDS)
    now = timezone.now()
    if status != locked.status:
        _check_manual_status_allowed(locked)
        changed["status"] = (locked.status, status)
        _set_status(locked, status, now=now)
    if not changed:
        return locked
    push = False
    if any(name in changed for name in SYNCED_FIELDS):
        push = _request_sync(locked, team=locked.incident.team, now=now)
    locked.save()
    audit_record(
        actor=by,
        verb="action.updated",
        target=locked,
        team=locked.incident.team,
        changes=audit_changes(changed),
    )
    if push:
        _enqueue_push(locked.pk)
    return locked


def _check_manual_status_allowed(action: ImprovementAction) -> None:
    # A tracked action's status follows the tracker; a manual change would be undone by the next
    # webhook or reconcile, or contradict an issue that is about to be created.
    if not action.status_set_by_people:
        tracker = Team.Tracker(action.tracker).label if action.tracker else "the tracker"
        raise ValidationError(
            {"status": f"This action is tracked in {tracker}: its status follows it there."}
        )


@transaction.atomic
def action_retry_sync(*, action: ImprovementAction, by: User) -> ImprovementAction:
    """Push the action to the team's backlog: again after a failure, or for the first time when it
    was raised before its team chose a tracker ("push to backlog"). Pages and the API both call it.

    A push already pending or in flight is left alone. Raises ValidationError when the team keeps
    no tracker. Returns the updated row.
    """
    locked = lock_row(ImprovementAction.objects.select_related("incident__team"), action.pk)
    team = locked.incident.team
    if team.tracker == Team.Tracker.NONE:
        raise ValidationError({"sync_state": f"Team {team.name} keeps no backlog tracker to push to."})
    if locked.sync_state in (SyncState.PENDING, SyncState.SYNCING):
        return locked
    before = locked.sync_state
    push = _request_sync(locked, team=team, now=timezone.now())
    locked.save()
    audit_record(
        actor=by,
        verb="action.push_requested" if before == SyncState.NOT_SYNCED else "action.sync_retried",
        target=locked,
        team=team,
        changes={"sync_state": [before, locked.sync_state]},
    )
    if push:
        _enqueue_push(locked.pk)
    return locked


# --- services for the push task ---------------------------------------------------------------


@dataclass(frozen=True)
class ClaimedPush:
    """A push this worker owns. `first_attempt`: no worker ever claimed it before (see
    `Outbox.claim_telling_first`), so no request for it can have reached any tracker."""

    action: ImprovementAction
    first_attempt: bool


def action_sync_claim(*, action_ids: Iterable[int]) -> list[ClaimedPush]:
    """Claim the due pending pushes among `action_ids` for this worker, in id order.

    The conditional update is the whole lock: of two deliveries of the same task, one updates the
    row and the other updates nothing. Three queries for any number of rows.
    """
    first, again = ACTION_PUSHES.claim_telling_first(action_ids)
    if not (first or again):
        return []
    actions = ImprovementAction.objects.select_related(
        "incident__team", "incident__narrative", "owner"
    ).filter(pk__in=[*first, *again])
    first_ids = set(first)
    return [ClaimedPush(action, action.pk in first_ids) for action in sorted(actions, key=lambda a: a.pk)]


def action_sync_succeeded(*, action: ImprovementAction, item: RemoteItem, pushed: dict[str, Any]) -> bool:
    """Record the tracker's key and URL. Returns False if the action changed during the push.

    `pushed` is the `sync_fingerprint` the push was built from. If the row no longer matches it,
    someone edited the action meanwhile: the key is kept and another push is queued.
    """
    now = timezone.now()
    base = ImprovementAction.objects.filter(pk=action.pk, sync_state=SyncState.SYNCING)
    if base.filter(**pushed).update(
        sync_state=SyncState.SYNCED,
        external_key=item.key,
        external_url=item.url,
        synced_at=now,
        sync_error="",
        updated_at=now,
    ):
        return True
    if base.update(
        sync_state=SyncState.PENDING,
        external_key=item.key,
        external_url=item.url,
        sync_requested_at=now,
        sync_attempts=0,
        next_attempt_at=None,
        updated_at=now,
    ):
        _enqueue_push(action.pk)
    else:
        # No longer ours (the stuck-sync reconciler handed it on): keep the key so nobody creates
        # the issue again.
        ImprovementAction.objects.filter(pk=action.pk, external_key="").update(
            external_key=item.key, external_url=item.url
        )
    return False


@transaction.atomic
def action_syncs_succeeded(*, pushes: list[tuple[ImprovementAction, RemoteItem, dict[str, Any]]]) -> None:
    """`action_sync_succeeded` for a batch (action, item, fingerprint pushed).

    The batch's claimed rows are locked and compared with what was pushed: the unchanged ones are
    recorded in one UPDATE, every other one on its own. Two statements for a batch nobody edited.
    """
    if not pushes:
        return
    by_pk = {action.pk: (action, item, pushed) for action, item, pushed in pushes}
    compared = list(pushes[0][2])
    locked = (
        ImprovementAction.objects.select_for_update()
        .filter(pk__in=by_pk, sync_state=SyncState.SYNCING)
        .values("pk", *compared)
    )
    unchanged = sorted(
        row["pk"] for row in locked if all(row[name] == by_pk[row["pk"]][2][name] for name in compared)
    )
    _record_synced([(pk, by_pk[pk][1]) for pk in unchanged], now=timezone.now())
    for pk, (action, item, pushed) in by_pk.items():
        if pk not in unchanged:
            action_sync_succeeded(action=action, item=item, pushed=pushed)


def _column(name: str) -> str:
    field = ImprovementAction._meta.get_field(name)
    if not isinstance(field, Field) or field.column is None:
        raise ImproperlyConfigured(f"ImprovementAction.{name} is not a column of its table")
    return connection.ops.quote_name(field.column)


def _record_synced(recorded: list[tuple[int, RemoteItem]], *, now: datetime) -> None:
    """Mark rows SYNCED with their items' keys and URLs in one UPDATE ... FROM (VALUES ...), which
    PostgreSQL and SQLite both have. Caller holds the rows' locks and has checked they are still
    claimed and unchanged. The ORM would need a CASE per column with a branch per row, which costs
    more to build than the rows' pushes."""
    if not recorded:
        return
    table = connection.ops.quote_name(ImprovementAction._meta.db_table)
    when = connection.ops.adapt_datetimefield_value(now)
    # Only identifiers from the model's own metadata are interpolated; every value is a parameter.
    sql = (
        f"UPDATE {table} SET {_column('sync_state')} = %s, {_column('external_key')} = pushed.column2, "  # noqa: S608
        f"{_column('external_url')} = pushed.column3, {_column('synced_at')} = %s, "
        f"{_column('sync_error')} = '', {_column('updated_at')} = %s "
        f"FROM (VALUES {', '.join(['(%s, %s, %s)'] * len(recorded))}) AS pushed "
        f"WHERE {table}.{_column('id')} = pushed.column1"
    )
    values = [value for pk, item in recorded for value in (pk, item.key, item.url)]
    with connection.cursor() as cursor:
        cursor.execute(sql, [SyncState.SYNCED, when, when, *values])


def action_sync_will_retry(*, action: ImprovementAction, message: str, countdown: int) -> bool:
    """Put a transiently failed push back to PENDING, due in `countdown` seconds, and schedule it then."""
    now = timezone.now()
    return bool(
        ACTION_PUSHES.retry_later(
            [action.pk], delay=countdown, error=f"Will retry: {message}", now=now, updated_at=now
        )
    )


def action_sync_deferred(*, actions: list[ImprovementAction], message: str, countdown: int) -> bool:
    """Put claimed pushes that were never attempted back to PENDING, due in `countdown` seconds.

    For the rest of a batch when the tracker failed transiently on an earlier action: they wait
    with it instead of each timing out on their own. Their claim is not counted as an attempt.
    """
    now = timezone.now()
    return bool(
        ACTION_PUSHES.retry_later(
            [action.pk for action in actions],
            delay=countdown,
            error=f"Will retry: {message}",
            now=now,
            updated_at=now,
            sync_attempts=F("sync_attempts") - 1,
        )
    )


@transaction.atomic
def action_sync_failed(*, action: ImprovementAction, message: str) -> bool:
    """Stop a push for good, keeping the tracker's own message for people to read."""
    failed = ACTION_PUSHES.fail([action.pk], error=message, updated_at=timezone.now())
    if failed:
        audit_record(
            actor=None,
            verb="action.sync_failed",
            target=action,
            team=action.incident.team,
            changes={"sync_error": message[:500], "attempts": action.sync_attempts},
        )
    return bool(failed)


# --- services for webhooks and reconcilers ----------------------------------------------------


def tracked_by_q(*, tracker: str, key: str) -> Q:
    """The actions an issue or card of `tracker` with `key` speaks for.

    The one rule for webhooks and the status reconciler: an item changes an action only if the
    action was pushed to that tracker as that very item, and its team still uses that tracker. An
    event naming a Trello team's action, an action never pushed, or an action whose stored key is
    another item's (a label copied onto a second issue, an issue moved to another project) is not
    the item's to change.
    """
    if not key:
        return Q(pk__in=[])
    return Q(tracker=tracker, external_key=key, incident__team__tracker=tracker)


def action_tracked_by(*, tracker: str, key: str) -> ImprovementAction | None:
    """The action the item speaks for (see `tracked_by_q`), with its team; None if there is none."""
    return (
        ImprovementAction.objects.filter(tracked_by_q(tracker=tracker, key=key))
        .select_related("incident__team", "owner")
        .order_by("pk")
        .first()
    )


@transaction.atomic
def action_apply_tracker_item(*, action: ImprovementAction, item: RemoteItem) -> bool:
    """Follow what the tracker says of the item: its status, then its priority and assignee, and
    its time tracking as the effort nobody entered here (`reviews.services.effort`).

    Only an item that speaks for the action (`tracked_by_q`) changes it, checked in the same
    conditional update that changes it. Nothing that comes from the tracker requests a sync, so it
    is never pushed back there. Returns True if the action changed.
    """
    changed_status = _apply_tracker_status(action, item)
    changed_fields = _apply_tracker_fields(action, item)
    changed_effort = action_effort_from_tracker(
        action=action, item=item, tracked=tracked_by_q(tracker=item.tracker, key=item.key)
    )
    return changed_status or changed_fields or changed_effort


def _apply_tracker_status(action: ImprovementAction, item: RemoteItem) -> bool:
    """Done there → done here with `done_at`; reopened there → reopened here.

    Conditional updates make repeated deliveries harmless: only the first one changes the row, and
    a done action keeps its first `done_at`.
    """
    if item.done is None:
        return False
    now = timezone.now()
    Status = ImprovementAction.Status
    rows = ImprovementAction.objects.filter(tracked_by_q(tracker=item.tracker, key=item.key), pk=action.pk)
    change: dict[str, Any]
    if item.done:
        # A tracker clock ahead of ours, or behind the raise, must not bend the cost of delay.
        done_at = min(max(item.done_at or now, action.raised_at), now)
        changed = rows.exclude(status=Status.DONE).update(status=Status.DONE, done_at=done_at, updated_at=now)
        verb, change = "action.done_in_tracker", {"status": [action.status, Status.DONE]}
    else:
        changed = rows.filter(status=Status.DONE).update(status=Status.OPEN, done_at=None, updated_at=now)
        verb, change = "action.reopened_in_tracker", {"status": [Status.DONE, Status.OPEN]}
    if changed:
        change["external_key"] = item.key
        audit_record(actor=None, verb=verb, target=action, team=action.incident.team, changes=change)
    return bool(changed)


def _changed_there_since_sync(changed_at: datetime | None, action: ImprovementAction) -> bool:
    return changed_at is not None and (action.synced_at is None or changed_at > action.synced_at)


def _apply_tracker_fields(action: ImprovementAction, item: RemoteItem) -> bool:
    """Take the priority and the assignee that people changed in the tracker.

    A field follows the tracker only when the tracker reports a change to it after the action was
    last brought in line there (`synced_at`), and only while the action is SYNCED: while a change
    made in ybiyri waits to be pushed, ybiyri's is the newer value as far as anyone here can tell,
    and the push writes it there. The assignee becomes the owner when exactly one active member has
    that email (case-blind); an unassigned item, or a stranger, leaves the owner alone. The
    conditional update also requires the row to be as it was read, so a change made in ybiyri
    meanwhile is never overwritten.
    """
    if action.sync_state != SyncState.SYNCED:
        return False
    values: dict[str, Any] = {}
    if item.priority and _changed_there_since_sync(item.priority_changed_at, action):
        priority = priority_from_tracker(action.incident.team, item, current=action.priority)
        if priority is not None and priority != action.priority:
            values["priority"] = priority
    if item.assignee_email and _changed_there_since_sync(item.assignee_changed_at, action):
        matches = list(User.objects.filter(is_active=True, email__iexact=item.assignee_email)[:2])
        if len(matches) == 1 and matches[0].pk != action.owner_id:
            values["owner"] = matches[0]
    if not values:
        return False
    now = timezone.now()
    changed = ImprovementAction.objects.filter(
        tracked_by_q(tracker=item.tracker, key=item.key),
        pk=action.pk,
        sync_state=SyncState.SYNCED,
        synced_at=action.synced_at,
        priority=action.priority,
        owner_id=action.owner_id,
    ).update(**values, updated_at=now)
    if changed:
        before = {"priority": action.priority, "owner": action.owner}
        changes: dict[str, Any] = audit_changes({name: (before[name], values[name]) for name in values})
        changes["external_key"] = item.key
        audit_record(
            actor=None,
            verb="action.updated_in_tracker",
            target=action,
            team=action.incident.team,
            changes=changes,
        )
    return bool(changed)
