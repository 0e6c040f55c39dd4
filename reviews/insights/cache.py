"""The insights, computed once and served from Django's cache until the data under them changes.

Computing the page takes a few dozen aggregate queries over every incident of the period; serving
it from the cache costs two cache reads. An entry is keyed by:

- who is looking (`incidents.access.viewer_key`): ``all`` for those who see every incident
  (problem managers, superusers), else the member's own id, since what a member sees also depends
  on the incidents they responded to and the reviews they attend; an entry is only ever served to
  the viewers it was computed for;
- the filters, as the form understands them (a filter that is not valid is its default);
- the current time zone (months are counted in it);
- the data version of `INSIGHTS` (`ybiyri.versioned_cache`), replaced whenever a row of a table
  the insights read is written, once the writing transaction commits.

An entry also expires after `CACHE_SECONDS`, since some figures move with the clock alone (the
delay of open actions, overdue sessions, the last N days); the page says when its figures were
computed. A cache that cannot be reached fails nothing: the figures are computed.
"""

from collections.abc import Callable

from django.utils import timezone

from incidents.access import viewer_key
from incidents.models import User
from ybiyri.versioned_cache import VersionedCache

CACHE_SECONDS = 60
# The models whose rows the figures are made of, or that decide who sees which incident. Not the
# users' own rows (every sign-in writes one): whether a viewer sees everything is read from the
# viewer at each request and is part of the key; team membership is a table of its own.
INSIGHTS = VersionedCache(
    "insights",
    (
        "incidents.Team",
        "incidents.Service",
        "incidents.Incident",
        "incidents.Responder",
        "incidents.AnalysisSession",
        "incidents.LearningTheme",
        "reviews.Review",
        "reviews.ImprovementAction",
        "reviews.Narrative",
        "reviews.NarrativeRead",
        "reviews.Walkthrough",
        "reviews.Training",
    ),
    seconds=CACHE_SECONDS,
)
VERSION_KEY = INSIGHTS.version_key
data_version = INSIGHTS.version
remember = INSIGHTS.remember


def cached(*, kind: str, viewer: User, filters: str, build: Callable[[], str]) -> str:
    """The text `build` makes (the page's figures, the CSV) for this viewer and these filters."""
    return remember([kind, viewer_key(viewer), filters, timezone.get_current_timezone_name()], build)
