"""The generated organisation the page benchmark measures, written with COPY.

At BENCH_SCALE=1: 10,000 users, 100,000 incidents, ~1,000,000 key events, 20,000 published
narratives and their incidents' analyses, reviews and improvement actions. Rows get their ids here
(the tables start empty), so the pages under test have fixed ids whatever the scale:

- incident 1: one analysis with 1,000 key events (the incident page);
- incident 2: a held review, 8 submitted analyses with 400 key events between them (the review page);
- narrative 2: a published narrative of another team's incident.

The reader, ``user0``, is an ordinary member of one team of fifty: visibility rules apply in full.
"""

import io
import itertools
import json
import random
from collections.abc import Iterable, Iterator
from datetime import date, timedelta

from django.contrib.auth.hashers import make_password
from django.core.management import call_command
from django.core.management.color import no_style
from django.db import connection
from django.db.models import Field, Model
from django.utils import timezone

from incidents.models import AnalysisSession, Incident, KeyEvent, Responder, Service, Team, User
from reviews.models import ImprovementAction, Narrative, Review

READER = "user0"
PASSWORD = "bench-password"
EVENTS_INCIDENT_ID = 1
REVIEW_INCIDENT_ID = 2
NARRATIVE_ID = 2
TEAMS = 50
SERVICES = 200
# Words of the domain, each in about one word of a hundred of prose: a "common" search term.
WORDS = [
    "database", "timeout", "retry", "queue", "cache", "deploy", "rollback", "certificate", "latency",
    "outage", "alert", "pager", "dns", "kafka", "consumer", "lag", "memory", "leak", "disk", "full",
    "index", "rebuild", "failover", "replica", "lock", "contention", "payment", "provider", "checkout",
    "login", "session", "token", "quota", "throttle", "config", "flag", "migration", "schema", "capacity",
]  # fmt: skip
SYLLABLES = ["ka", "lo", "mi", "ne", "ru", "sa", "ti", "vo", "pe", "da", "gu", "ze", "bo", "fi", "ha", "ju"]
# Prose is mostly ordinary words (a vocabulary of thousands) with the domain's words among them,
# so that a search matches some narratives, as it would in a real library, rather than all of them.
VOCABULARY = sorted({"".join(random.Random(n).choices(SYLLABLES, k=3)) for n in range(8000)})
# A term in about one narrative of a thousand: the "rare" search.
RARE_TERM = "zirconium"
COPY_ESCAPES = str.maketrans({"\\": "\\\\", "\t": "\\t", "\n": "\\n", "\r": "\\r"})


def sentence(rng: random.Random, words: int) -> str:
    return " ".join(rng.choice(WORDS) if rng.random() < 0.1 else rng.choice(VOCABULARY) for _ in range(words))


def copy_text(field: Field, obj: Model) -> str:
    """One value in COPY's text format, as Django would save it."""
    value = field.pre_save(obj, True)
    if value is not None and field.get_internal_type() != "JSONField":
        value = field.get_db_prep_save(value, connection)
    if value is None:
        return r"\N"
    if isinstance(value, bool):
        return "t" if value else "f"
    if isinstance(value, date):
        return value.isoformat()
    if field.get_internal_type() == "JSONField":
        value = json.dumps(value, cls=field.encoder)
    return str(value).translate(COPY_ESCAPES)


def copy_rows(model: type[Model], objects: Iterable[Model], chunk: int = 20_000) -> None:
    """COPY the objects into the model's table, ids included: an order of magnitude above INSERT."""
    fields = model._meta.concrete_fields
    columns = ", ".join(connection.ops.quote_name(field.column) for field in fields)
    statement = f"COPY {connection.ops.quote_name(model._meta.db_table)} ({columns}) FROM STDIN"
    objects = iter(objects)
    with connection.cursor() as cursor:
        while rows := [
            "\t".join(copy_text(field, obj) for field in fields) for obj in itertools.islice(objects, chunk)
        ]:
            cursor.cursor.copy_expert(statement, io.StringIO("\n".join(rows) + "\n"))


def numbered(objects: Iterable[Model]) -> Iterator[Model]:
    for number, obj in enumerate(objects, start=1):
        obj.pk = number
        yield obj


class Organisation:
    """Ids of what the benchmark opens, and the sizes it generated."""

    def __init__(self, scale: float) -> None:
        self.scale = scale
        self.users = self.scaled(10_000)
        self.incidents = max(3, self.scaled(100_000))
        self.analysed = max(10, self.scaled(20_000))
        self.narratives = max(2, self.scaled(20_000))
        self.actions = self.scaled(40_000)
        self.events_wanted = self.scaled(1_000_000)

    def scaled(self, count: int) -> int:
        return max(1, int(count * self.scale))

    def is_generated(self) -> bool:
        return User.objects.count() == self.users and Incident.objects.count() == self.incidents

    def generate(self) -> None:
        rng = random.Random(42)
        # CASCADE: tables of apps this checkout does not have may still point at ours.
        call_command("flush", "--noinput", allow_cascade=True, verbosity=0)
        now = timezone.now()
        password = make_password(PASSWORD)
        copy_rows(
            User,
            numbered(
                User(username=f"user{i}", email=f"user{i}@example.org", password=password, date_joined=now)
                for i in range(self.users)
            ),
        )
        copy_rows(Team, numbered(Team(name=f"Team {i}", slug=f"team-{i}") for i in range(TEAMS)))
        Team.members.through.objects.bulk_create(
            Team.members.through(team_id=1 + i % TEAMS, user_id=1 + i) for i in range(self.users)
        )
        Team.product_managers.through.objects.bulk_create(
            Team.product_managers.through(team_id=1 + i, user_id=1 + (i + 1) % self.users)
            for i in range(TEAMS)
        )
        models_of = [rng.choice(["ybiyri", "ops"]) for _ in range(SERVICES)]
        copy_rows(
            Service,
            numbered(
                Service(team_id=1 + i % TEAMS, name=f"service-{i}", operating_model=models_of[i])
                for i in range(SERVICES)
            ),
        )
        copy_rows(Incident, numbered(self.incident(rng, now, i, models_of) for i in range(self.incidents)))
        self.analyses(rng, now)
        self.review(now)
        copy_rows(
            Narrative,
            numbered(
                Narrative(
                    incident_id=incident_id,
                    title=f"Narrative of incident {incident_id}",
                    body=sentence(rng, 300) + (f" {RARE_TERM}" if incident_id % 1000 == 3 else ""),
                    status=Narrative.Status.PUBLISHED,
                    published_at=now - timedelta(minutes=incident_id * 7 - 3 * 24 * 60),
                    created_by_id=1,
                )
                # Incident 2's narrative stays unwritten: its review page is the one under test.
                for incident_id in [1, *range(3, self.narratives + 2)]
            ),
        )
        copy_rows(
            ImprovementAction,
            numbered(
                ImprovementAction(
                    incident_id=1 + i % self.analysed,
                    title=sentence(rng, 6),
                    description=sentence(rng, 30),
                    kind=rng.choice(ImprovementAction.Kind.values),
                    status=rng.choice(ImprovementAction.Status.values),
                    raised_by_id=1 + i % self.users,
                    owner_id=1 + i % self.users,
                )
                for i in range(self.actions)
            ),
        )
        with connection.cursor() as cursor:
            for statement in connection.ops.sequence_reset_sql(
                no_style(),
                [
                    User,
                    Team,
                    Service,
                    Incident,
                    Responder,
                    AnalysisSession,
                    KeyEvent,
                    Review,
                    Narrative,
                    ImprovementAction,
                ],
            ):
                cursor.execute(statement)
            cursor.execute(
                "UPDATE reviews_narrative SET search_vector = setweight(to_tsvector('english', title), 'A') "
                "|| setweight(to_tsvector('english', body), 'B')"
            )
            # The steady state of a database that autovacuum looks after (visibility map, statistics).
            cursor.execute("VACUUM ANALYZE")

    @staticmethod
    def incident(rng: random.Random, now, i: int, models_of: list[str]) -> Incident:
        incident = Incident(
            title=f"{sentence(rng, 3)} incident {i}".capitalize(),
            summary=sentence(rng, 25),
            severity=rng.choice(["sev1", "sev2", "sev3", "sev4"]),
            team_id=1 + (i % SERVICES) % TEAMS,
            service_id=1 + i % SERVICES,
            started_at=now - timedelta(minutes=i * 7),
            resolved_at=now - timedelta(minutes=i * 7 - 90),
            declared_by_id=1,
            status="closed",
            confidential=i % 50 == 7,
        )
        # Incidents keep their service's operating model where the schema records it.
        incident.operating_model = models_of[i % SERVICES]
        return incident

    def analyses(self, rng: random.Random, now) -> None:
        """One analysis per analysed incident, nine for the review's incident; key events spread over
        them after the 1,000 of incident 1 and the 400 of incident 2."""
        owners = [(incident_id, 1 + incident_id % self.users) for incident_id in range(1, self.analysed + 1)]
        owners += [(REVIEW_INCIDENT_ID, 1 + (REVIEW_INCIDENT_ID + n) % self.users) for n in range(1, 8)]
        copy_rows(
            Responder,
            numbered(Responder(incident_id=incident, user_id=user, role="") for incident, user in owners),
        )
        copy_rows(
            AnalysisSession,
            numbered(
                AnalysisSession(
                    responder_id=number,
                    incident_id=incident,
                    analyst_id=user,
                    scheduled_by_id=1,
                    allocated_minutes=240,
                    due_at=now,
                    status=AnalysisSession.Status.SUBMITTED,
                    report=sentence(rng, 80),
                )
                for number, (incident, user) in enumerate(owners, start=1)
            ),
        )
        review_analyses = [REVIEW_INCIDENT_ID, *range(self.analysed + 1, self.analysed + 8)]
        per_analysis = max(1, (self.events_wanted - 1400) // self.analysed)

        def events() -> Iterator[KeyEvent]:
            for index in range(1000):
                yield self.event(rng, 1, EVENTS_INCIDENT_ID, now - timedelta(seconds=index))
            for analysis in review_analyses:
                for index in range(50):
                    yield self.event(rng, analysis, REVIEW_INCIDENT_ID, now - timedelta(minutes=index))
            for analysis in range(3, self.analysed + 1):
                for index in range(per_analysis):
                    yield self.event(rng, analysis, analysis, now - timedelta(seconds=index))

        copy_rows(KeyEvent, numbered(events()))

    @staticmethod
    def event(rng: random.Random, analysis_id: int, incident_id: int, occurred_at) -> KeyEvent:
        return KeyEvent(
            analysis_id=analysis_id,
            incident_id=incident_id,
            occurred_at=occurred_at,
            description=sentence(rng, 8),
            marker=rng.choice(KeyEvent.Marker.values),
        )

    def review(self, now) -> None:
        """A held review of incident 2, facilitated by the reader (so the reader may open it)."""
        review = Review.objects.create(
            incident_id=REVIEW_INCIDENT_ID,
            scheduled_at=now - timedelta(days=1),
            facilitator_id=1,
            scheduled_by_id=1,
            status=Review.Status.HELD,
        )
        review.attendees.set(range(2, 10))
