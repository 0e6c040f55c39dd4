"""Actions whose pushes the test sends itself."""

from reviews.models import ImprovementAction
from reviews.services.actions import action_raise


def raise_pending(incident, pm, capture, count=1, **overrides) -> list[ImprovementAction]:
    """Raise actions whose pushes are enqueued nowhere: the test sends them."""
    values = {"description": "", "kind": "technical", "owner": None, "priority": "medium", "due_date": None}
    values.update(overrides)
    with capture(execute=False):
        return [
            action_raise(incident=incident, review=None, by=pm, title=f"Add a circuit breaker {n}", **values)
            for n in range(count)
        ]


def claimed_before(actions: list[ImprovementAction]) -> None:
    """Mark the pushes as claimed by an earlier attempt: the next one looks each label up first."""
    ImprovementAction.objects.filter(pk__in=[action.pk for action in actions]).update(
        claimed_at=min(action.raised_at for action in actions)
    )
