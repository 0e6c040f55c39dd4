"""Seed a small organisation whose incidents sit at every stage of the learning loop (idempotent)."""

from datetime import timedelta
from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser
from django.db import connection, transaction
from django.test import override_settings
from django.utils import timezone

from incidents import services
from incidents.models import AnalysisSession, Incident, Service, Team, User
from reviews.models import ImprovementAction, Narrative, NarrativeTemplate, Review
from reviews.services import narrative as narrative_services
from reviews.services import review as review_services
from reviews.services.actions import action_raise, action_update
from reviews.services.blend import DEFAULT_TEMPLATE

DEMO_PASSWORD = "demo"

PEOPLE = [
    ("pm", "Priya", "Natarajan", "Product manager, Payments"),
    ("responder", "Rui", "Costa", "Engineer, Payments"),
    ("amara", "Amara", "Okafor", "Engineer, Payments"),
    ("jonas", "Jonas", "Berg", "Engineer, Search"),
    ("mei", "Mei", "Tanaka", "Product manager, Search"),
    ("sofia", "Sofia", "Lindqvist", "Operations engineer, Platform"),
    ("problem", "Pat", "Reyes", "Problem manager"),
]

TEMPLATE = DEFAULT_TEMPLATE


class Command(BaseCommand):
    help = "Create demo users, teams, services and incidents at every stage (local SQLite only)."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--force", action="store_true", help="Seed even on a database other than SQLite.")

    def handle(self, *args: Any, force: bool = False, **options: Any) -> None:
        if connection.vendor != "sqlite" and not force:
            raise CommandError("Demo data is for the local SQLite database; pass --force to seed anyway.")
        if User.objects.filter(username="pm").exists():
            self.stdout.write("Demo data already present.")
        else:
            # Invites and broadcasts of the demo stay in memory instead of flooding the console.
            with override_settings(
                MAILERS={"default": {"BACKEND": "django.core.mail.backends.locmem.EmailBackend"}}
            ):
                self.seed()
            self.stdout.write(self.style.SUCCESS("Demo data created."))
        self.stdout.write(
            "Sign in at http://127.0.0.1:8000/accounts/login/ as product manager “pm” or responder "
            f"“responder” (password “{DEMO_PASSWORD}”); “problem” is the problem manager, “admin” the admin."
        )

    @transaction.atomic
    def seed(self) -> None:
        now = timezone.now()
        people = {}
        for username, first, last, _title in PEOPLE:
            user = User.objects.create_user(
                username=username,
                password=DEMO_PASSWORD,
                first_name=first,
                last_name=last,
                email=f"{username}@example.org",
                is_problem_manager=username == "problem",
            )
            people[username] = user
        User.objects.create_superuser("admin", "admin@example.org", DEMO_PASSWORD)

        payments = Team.objects.create(name="Payments")
        payments.members.add(people["pm"], people["responder"], people["amara"])
        payments.product_managers.add(people["pm"])
        search = Team.objects.create(name="Search")
        search.members.add(people["jonas"], people["mei"])
        search.product_managers.add(people["mei"], people["pm"])
        platform = Team.objects.create(name="Platform")
        platform.members.add(people["sofia"])
        platform.product_managers.add(people["pm"])

        checkout = Service.objects.create(
            team=payments, name="checkout-api", description="Takes payment for orders.",
            operating_model=Service.OperatingModel.YOU_BUILD_IT,
        )  # fmt: skip
        basket = Service.objects.create(team=payments, name="basket", description="The customer's basket.")
        search_api = Service.objects.create(team=search, name="search-api", description="Product search.")
        identity = Service.objects.create(
            team=platform, name="identity", description="Sign-in and sessions.",
            operating_model=Service.OperatingModel.OPS_RUN_IT,
        )  # fmt: skip
        NarrativeTemplate.objects.create(name="Organisation default", body=TEMPLATE, is_default=True)

        themes = {
            name: services.theme_get_or_create(name=name, by=people["problem"])
            for name in (
                "Retry storms",
                "Alert fatigue",
                "Unclear ownership",
                "Change under time pressure",
                "Missing runbook",
                "Third-party dependency",
            )
        }
        pm, responder, amara = people["pm"], people["responder"], people["amara"]

        # 1. Closed: analysed, reviewed, actions in the backlog, narrative published.
        outage = services.incident_declare(
            by=pm,
            team=payments,
            service=checkout,
            title="Checkout payments timed out during the payment provider slowdown",
            summary="For 47 minutes about a third of card payments timed out. The payment provider slowed "
            "down; our client retried aggressively and exhausted the connection pool.",
            severity=Incident.Severity.SEV1,
            started_at=now - timedelta(days=20, hours=3),
            detected_at=now - timedelta(days=20, hours=2, minutes=52),
            mitigated_at=now - timedelta(days=20, hours=2, minutes=16),
            resolved_at=now - timedelta(days=20, hours=1),
            responders=[(responder, "Incident commander"), (amara, "On-call engineer")],
        )
        start = outage.started_at
        self.analyse(
            outage,
            pm,
            {
                responder: (
                    "## How it unfolded\n\nThe provider's p99 rose from 300 ms to 9 s. Our client retried "
                    "three times with no backoff, so each slow call became four.\n\n## What made sense at the "
                    "time\n\nThe retry policy was copied from the fraud service, where calls are cheap.",
                    [themes["Retry storms"], themes["Third-party dependency"]],
                    [
                        (start, "Payment provider latency starts rising"),
                        (start + timedelta(minutes=8), "Checkout error-rate alert fires"),
                        (start + timedelta(minutes=31), "Retries disabled by feature flag"),
                    ],
                ),
                amara: (
                    "## On call\n\nThe alert fired during a deploy, and I first suspected the deploy. Rolling "
                    "back cost 15 minutes.\n\n## Learning\n\nThe dashboard did not show upstream latency next to "
                    "our error rate.",
                    [themes["Alert fatigue"], themes["Change under time pressure"]],
                    [
                        (start + timedelta(minutes=10), "Rollback of the 14:02 deploy started"),
                        (start + timedelta(minutes=25), "Rollback complete; errors continue"),
                    ],
                ),
            },
            submit=True,
        )
        review = review_services.review_schedule(
            incident=outage, by=pm, scheduled_at=now + timedelta(days=1), time_zone="Europe/London",
            duration_minutes=90, facilitator=pm, attendees=[responder, amara], location="Room Ada",
        )  # fmt: skip
        Review.objects.filter(pk=review.pk).update(scheduled_at=now - timedelta(days=15))
        for description, kind in (
            ("Retries without backoff multiplied load on a slow dependency", "technical"),
            ("The fraud-service retry policy was reused without review", "human"),
            ("Upstream latency was not visible on the on-call dashboard", "technical"),
        ):
            review_services.factor_add(review=review, by=pm, description=description, kind=kind)
        for description in (
            "Retries need backoff, jitter and a budget, per dependency.",
            "Put dependencies' latency next to our own error rate.",
            "Suspecting the last deploy first is a habit worth questioning.",
        ):
            review_services.learning_add(review=review, by=pm, description=description)
        for step in Review.Step.values:
            review_services.review_step_set(review=review, by=pm, step=step, done=True)
        review_services.review_mark_held(review=review, by=pm)
        Review.objects.filter(pk=review.pk).update(held_at=now - timedelta(days=15))
        actions = [
            (
                "Add exponential backoff and a retry budget to the payment client",
                "technical",
                "highest",
                responder,
            ),
            ("Show provider latency on the checkout dashboard", "technical", "high", amara),
            ("Review retry policies when reusing client code", "human", "medium", pm),
        ]
        for title, kind, priority, owner in actions:
            action_raise(
                incident=outage, review=review, by=pm, title=title, description="", kind=kind,
                owner=owner, priority=priority, due_date=None,
            )  # fmt: skip
        ImprovementAction.objects.filter(incident=outage).update(raised_at=now - timedelta(days=15))
        first_action = ImprovementAction.objects.filter(incident=outage).earliest("id")
        action_update(action=first_action, by=pm, changes={"status": ImprovementAction.Status.DONE})
        ImprovementAction.objects.filter(pk=first_action.pk).update(done_at=now - timedelta(days=6))
        narrative = narrative_services.narrative_draft(incident=outage, by=pm)
        narrative_services.narrative_publish(narrative=narrative, by=pm)
        published_at = now - timedelta(days=12)
        Narrative.objects.filter(pk=narrative.pk).update(published_at=published_at, updated_at=published_at)

        # 2. Reviewing: analyses submitted, review scheduled.
        empty_results = services.incident_declare(
            by=people["mei"], team=search, service=search_api,
            title="Search returned no results after the nightly index rebuild",
            summary="Between 02:10 and 06:40 every search returned nothing: the rebuild swapped in an empty index.",
            severity=Incident.Severity.SEV2, started_at=now - timedelta(days=6, hours=20),
            detected_at=now - timedelta(days=6, hours=16), resolved_at=now - timedelta(days=6, hours=15),
            responders=[(people["jonas"], "On-call engineer")],
        )  # fmt: skip
        self.analyse(
            empty_results,
            people["mei"],
            {
                people["jonas"]: (
                    "The rebuild job reported success because it counted batches, not documents.",
                    [themes["Missing runbook"], themes["Unclear ownership"]],
                    [(empty_results.started_at, "Index alias swapped to the new, empty index")],
                )
            },
            submit=True,
        )
        review_services.review_schedule(
            incident=empty_results, by=people["mei"], scheduled_at=now + timedelta(days=2, hours=3),
            time_zone="Europe/Stockholm", duration_minutes=60, facilitator=people["mei"],
            attendees=[people["jonas"], pm], video_url="https://meet.example.org/search-review",
        )  # fmt: skip

        # 3. Analysing: the responder's analysis is in progress (this is the responder's "My work").
        latency = services.incident_declare(
            by=pm, team=payments, service=basket, title="Basket showed stale prices after the pricing cache change",
            summary="Customers saw yesterday's prices in their basket for two hours after a cache TTL change.",
            severity=Incident.Severity.SEV3, started_at=now - timedelta(days=2, hours=5),
            detected_at=now - timedelta(days=2, hours=4), resolved_at=now - timedelta(days=2, hours=3),
            responders=[(responder, "On-call engineer"), (amara, "Pricing change author")],
        )  # fmt: skip
        self.analyse(
            latency,
            pm,
            {
                responder: (
                    "Draft: the TTL change was reviewed, but the cache key did not include the price list "
                    "version.",
                    [themes["Change under time pressure"]],
                    [(latency.started_at, "Pricing cache TTL raised from 5 minutes to 24 hours")],
                ),
                amara: ("", [], []),
            },
            submit=False,
        )

        # 4. Declared: responders listed, analysis time not yet allocated.
        services.incident_declare(
            by=pm, team=platform, service=identity, title="Sign-in latency spiked during certificate rotation",
            summary="Sign-ins took up to 12 s for 20 minutes while the operations team rotated certificates.",
            severity=Incident.Severity.SEV3, started_at=now - timedelta(hours=30),
            detected_at=now - timedelta(hours=29, minutes=50), resolved_at=now - timedelta(hours=29, minutes=30),
            responders=[(people["sofia"], "Operations on call"), (responder, "Payments liaison")],
        )  # fmt: skip

        # 5. Confidential: only Payments, its responders and problem managers see it.
        services.incident_declare(
            by=pm, team=payments, service=checkout, title="Refund export sent to the wrong partner mailbox",
            summary="A refund report with order numbers went to a partner's old address.",
            severity=Incident.Severity.SEV2, started_at=now - timedelta(days=1, hours=2),
            detected_at=now - timedelta(days=1), confidential=True, responders=[(amara, "Report owner")],
        )  # fmt: skip

    def analyse(self, incident: Incident, by: User, analyses: dict, *, submit: bool) -> None:
        """Allocate, then write each analyst's report, themes and key events; optionally submit."""
        responders = {responder.user_id: responder for responder in incident.responders.all()}
        due = timezone.now() + timedelta(days=3)
        services.analysis_allocate(
            incident=incident,
            by=by,
            allocations=[
                services.Allocation(responder=responders[user.pk], allocated_minutes=240, due_at=due)
                for user in analyses
            ],
        )
        for user, (report, themes, events) in analyses.items():
            analysis = AnalysisSession.objects.get(incident=incident, analyst=user)
            for occurred_at, description in events:
                services.key_event_add(
                    analysis=analysis, by=user, occurred_at=occurred_at, description=description
                )
            if report:
                services.interview_add(
                    analysis=analysis, by=user, interviewee="The on-call engineer of the neighbouring team",
                    held_at=timezone.now() - timedelta(hours=5), notes="What they saw on their dashboards.",
                )  # fmt: skip
                analysis = services.analysis_save(
                    analysis=analysis, by=user, version=analysis.version,
                    changes={"report": report, "time_spent_minutes": 180, "themes": themes},
                )  # fmt: skip
                if submit:
                    services.analysis_submit(analysis=analysis, by=user)
