"""What each outcome of a review traces back to: a contributing factor to the learning themes it
shows and the key events it contributed to; a learning to the factors it was learned from; an
improvement action to the learnings it puts into practice and the factors it addresses.

Links stay within one incident: a factor links key events of its incident's submitted analyses (the
merged timeline) and any theme of the shared taxonomy; learnings and actions link outcomes of the
same incident's review. Ids outside that are refused alike, whether they exist elsewhere or not.
"""

from collections.abc import Sequence

from django.core.exceptions import ValidationError
from django.db import transaction
from django.db.models import Model, QuerySet

from incidents.models import AnalysisSession, KeyEvent, LearningTheme, User
from incidents.services import audit_record
from reviews.models import ContributingFactor, ImprovementAction, Learning


def linkable(field: str, queryset: QuerySet, ids: Sequence[int]) -> list[Model]:
    """The rows of `queryset` with these ids, or a ValidationError on `field` naming the others."""
    wanted = list(dict.fromkeys(ids))
    rows = {row.pk: row for row in queryset.filter(pk__in=wanted)}
    missing = [str(pk) for pk in wanted if pk not in rows]
    if missing:
        raise ValidationError({field: f"Not among what this can be linked to: {', '.join(missing)}."})
    return [rows[pk] for pk in wanted]


def audited_links(*, by: User, target: Model, verb: str, links: dict[str, list[Model] | None]) -> None:
    changed = {name: [row.pk for row in rows] for name, rows in links.items() if rows is not None}
    for name, rows in links.items():
        if rows is not None:
            getattr(target, name).set(rows)
    if changed:
        audit_record(actor=by, verb=verb, target=target, changes=changed)


@transaction.atomic
def factor_link(
    *,
    factor: ContributingFactor,
    by: User,
    theme_ids: Sequence[int] | None = None,
    key_event_ids: Sequence[int] | None = None,
) -> ContributingFactor:
    """Set the themes and/or key events a factor traces to (None leaves that link as it is)."""
    incident_id = factor.review.incident_id
    themes = None if theme_ids is None else linkable("themes", LearningTheme.objects.all(), theme_ids)
    key_events = (
        None
        if key_event_ids is None
        else linkable(
            "key_events",
            KeyEvent.objects.filter(
                incident_id=incident_id, analysis__status=AnalysisSession.Status.SUBMITTED
            ),
            key_event_ids,
        )
    )
    audited_links(
        by=by, target=factor, verb="factor.linked", links={"themes": themes, "key_events": key_events}
    )
    return factor


@transaction.atomic
def learning_link(*, learning: Learning, by: User, factor_ids: Sequence[int]) -> Learning:
    """Set the factors a learning was learned from: factors of the same review."""
    factors = linkable("factors", ContributingFactor.objects.filter(review_id=learning.review_id), factor_ids)
    audited_links(by=by, target=learning, verb="learning.linked", links={"factors": factors})
    return learning


@transaction.atomic
def action_link(
    *,
    action: ImprovementAction,
    by: User,
    learning_ids: Sequence[int] | None = None,
    factor_ids: Sequence[int] | None = None,
) -> ImprovementAction:
    """Set the learnings and/or factors an action traces to: outcomes of its incident's review."""
    incident_id = action.incident_id
    learnings = (
        None
        if learning_ids is None
        else linkable("learnings", Learning.objects.filter(review__incident_id=incident_id), learning_ids)
    )
    factors = (
        None
        if factor_ids is None
        else linkable(
            "factors", ContributingFactor.objects.filter(review__incident_id=incident_id), factor_ids
        )
    )
    audited_links(
        by=by, target=action, verb="action.linked", links={"learnings": learnings, "factors": factors}
    )
    return action
