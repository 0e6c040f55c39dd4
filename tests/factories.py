"""factory_boy factories for both apps."""

from datetime import timedelta

import factory
from django.utils import timezone

from incidents.models import (
    AnalysisSession,
    Incident,
    Interview,
    KeyEvent,
    LearningTheme,
    Responder,
    Service,
    Team,
    User,
)
from reviews.models import (
    ContributingFactor,
    ImprovementAction,
    Learning,
    Narrative,
    Review,
    Training,
)


class UserFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = User
        django_get_or_create = ("username",)

    username = factory.Sequence(lambda n: f"user{n}")
    first_name = factory.Faker("first_name")
    last_name = factory.Faker("last_name")
    email = factory.LazyAttribute(lambda u: f"{u.username}@example.org")
    password = factory.django.Password("demo-pass-123")


class TeamFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Team

    name = factory.Sequence(lambda n: f"Team {n}")


class ServiceFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Service

    team = factory.SubFactory(TeamFactory)
    name = factory.Sequence(lambda n: f"service-{n}")


class IncidentFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Incident

    title = factory.Sequence(lambda n: f"Checkout errors {n}")
    summary = "Customers could not pay for their orders."
    severity = Incident.Severity.SEV2
    team = factory.SubFactory(TeamFactory)
    service = factory.SubFactory(ServiceFactory, team=factory.SelfAttribute("..team"))
    operating_model = factory.SelfAttribute("service.operating_model")
    started_at = factory.LazyFunction(lambda: timezone.now() - timedelta(days=2))
    detected_at = factory.LazyAttribute(lambda i: i.started_at + timedelta(minutes=5))
    mitigated_at = factory.LazyAttribute(lambda i: i.started_at + timedelta(minutes=40))
    resolved_at = factory.LazyAttribute(lambda i: i.started_at + timedelta(hours=2))
    declared_by = factory.SubFactory(UserFactory)


class ResponderFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Responder

    incident = factory.SubFactory(IncidentFactory)
    user = factory.SubFactory(UserFactory)
    role = "On-call engineer"


class AnalysisSessionFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = AnalysisSession

    responder = factory.SubFactory(ResponderFactory)
    incident = factory.SelfAttribute("responder.incident")
    analyst = factory.SelfAttribute("responder.user")
    scheduled_by = factory.SubFactory(UserFactory)
    allocated_minutes = 240
    due_at = factory.LazyFunction(lambda: timezone.now() + timedelta(days=5))


class InterviewFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Interview

    analysis = factory.SubFactory(AnalysisSessionFactory)
    interviewee = factory.Faker("name")
    held_at = factory.LazyFunction(timezone.now)
    notes = "Walked through the alerts they saw."


class KeyEventFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = KeyEvent

    analysis = factory.SubFactory(AnalysisSessionFactory)
    incident = factory.SelfAttribute("analysis.incident")
    occurred_at = factory.LazyAttribute(lambda e: e.analysis.incident.started_at + timedelta(minutes=10))
    description = factory.Sequence(lambda n: f"Error rate alert fired ({n})")


class LearningThemeFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = LearningTheme
        django_get_or_create = ("slug",)

    name = factory.Sequence(lambda n: f"Theme {n}")
    slug = factory.LazyAttribute(lambda t: t.name.lower().replace(" ", "-"))


class ReviewFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Review

    incident = factory.SubFactory(IncidentFactory)
    scheduled_at = factory.LazyFunction(lambda: timezone.now() + timedelta(days=3))
    facilitator = factory.SubFactory(UserFactory)
    scheduled_by = factory.SelfAttribute("facilitator")


class ContributingFactorFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = ContributingFactor

    review = factory.SubFactory(ReviewFactory)
    description = "The retry storm amplified the database load."
    kind = ContributingFactor.Kind.TECHNICAL
    created_by = factory.SelfAttribute("review.facilitator")


class LearningFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Learning

    review = factory.SubFactory(ReviewFactory)
    description = "Timeouts must be shorter than the caller's."
    rank = factory.Sequence(lambda n: n + 1)
    created_by = factory.SelfAttribute("review.facilitator")


class ImprovementActionFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = ImprovementAction

    incident = factory.SubFactory(IncidentFactory)
    title = factory.Sequence(lambda n: f"Add circuit breaker {n}")
    description = "Stop the retry storm at the source."
    kind = ImprovementAction.Kind.TECHNICAL
    raised_by = factory.SubFactory(UserFactory)


class NarrativeFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Narrative

    incident = factory.SubFactory(IncidentFactory)
    title = factory.LazyAttribute(lambda n: n.incident.title)
    body = "## What happened\n\nThe payment provider slowed down."
    created_by = factory.SubFactory(UserFactory)


class TrainingFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Training

    kind = Training.Kind.ANALYSIS
    team = factory.SubFactory(TeamFactory)
    held_on = factory.LazyFunction(lambda: timezone.localdate() - timedelta(days=3))
    duration_minutes = 120
    trainer = factory.SubFactory(UserFactory)
    recorded_by = factory.SelfAttribute("trainer")
