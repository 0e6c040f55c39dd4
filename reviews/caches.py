"""The versioned caches of the pages (`ybiyri.versioned_cache`), each with the models its entries
are made of, including those that decide who sees which incident (the incident's team and its
members, its responders, its review's facilitator and attendees).

They are created when the app is ready, in every process, web or worker: a write replaces the
version of every cache reading its table, whichever process makes it. Not among the models: the
users' own rows and sessions (every sign-in writes them; whether a viewer sees everything is part
of each key), and the outboxes, which no cached page shows.
"""

from reviews.insights.cache import INSIGHTS
from ybiyri.versioned_cache import VersionedCache

# Who sees which incident, as incidents.access decides it.
VISIBILITY = ("incidents.Incident", "incidents.Team", "incidents.Responder", "reviews.Review")

# The narrative library: its result pages and its count, for each viewer.
LIBRARY = VersionedCache(
    "library", (*VISIBILITY, "reviews.Narrative", "incidents.Service", "incidents.LearningTheme")
)

# The incident list: its rows (with their analyses counted) and its count, for each viewer.
INCIDENT_LIST = VersionedCache(
    "incident-list", (*VISIBILITY, "incidents.Service", "incidents.AnalysisSession")
)

# My work: a person's analyses, the incidents of their teams awaiting allocation or review, their
# upcoming reviews and the newest narratives they may read.
MY_WORK = VersionedCache(
    "my-work", (*VISIBILITY, "incidents.Service", "incidents.AnalysisSession", "reviews.Narrative")
)

# A narrative's page: its story (the body, and the incident's improvement actions as they stand,
# with the learnings and factors they trace back to), its key facts and learning themes, the
# related narratives each viewer may read, its walkthroughs and playbacks, and what each person may
# do with it. Not the people's own rows (an action owner's or a presenter's name may be up to a
# minute old), nor its reads (`READS`) and deliveries (read afresh).
NARRATIVE = VersionedCache(
    "narrative",
    (
        *VISIBILITY,
        "reviews.Narrative",
        "reviews.ImprovementAction",
        "reviews.Learning",
        "reviews.ContributingFactor",
        "incidents.Service",
        "incidents.AnalysisSession",
        "incidents.LearningTheme",
        "reviews.Walkthrough",
    ),
)

# Who read a narrative (its page's reach): a first read replaces the version. The readers' names
# may be up to a minute old.
READS = VersionedCache("reads", ("reviews.NarrativeRead",))

# The backlog: improvement actions across the incidents each viewer sees, with the learnings and
# factors they put into practice.
BACKLOG = VersionedCache(
    "backlog", (*VISIBILITY, "reviews.ImprovementAction", "reviews.Learning", "reviews.ContributingFactor")
)

# Key events of the analyses each viewer may read: the API's list, and the merged timeline of the
# incident and review pages.
KEY_EVENTS = VersionedCache("key-events", (*VISIBILITY, "incidents.AnalysisSession", "incidents.KeyEvent"))

# An incident's page and its review's facilitation page, for each person: the incident, its
# responders, analyses and their key events, interviews and themes, the evidence picked, the
# review's notes, perspectives, factors, learnings and actions, its narrative. Everything these
# pages may show but the people's own rows.
INCIDENT_PAGES = VersionedCache(
    "incident-pages",
    (
        *VISIBILITY,
        "incidents.Service",
        "incidents.LearningTheme",
        "incidents.AnalysisSession",
        "incidents.Interview",
        "incidents.KeyEvent",
        "incidents.ReportGuide",
        "incidents.Evidence",
        "reviews.ContributingFactor",
        "reviews.Learning",
        "reviews.Perspective",
        "reviews.FactorSuggestion",
        "reviews.ImprovementAction",
        "reviews.Narrative",
    ),
)

__all__ = [
    "BACKLOG",
    "INCIDENT_LIST",
    "INCIDENT_PAGES",
    "INSIGHTS",
    "KEY_EVENTS",
    "LIBRARY",
    "MY_WORK",
    "NARRATIVE",
    "READS",
]
