"""A small organisation with something of every kind, and the personas of the permission matrix.

Team Payments: pm (product manager), responder (the analyst of an analysis in progress), teammate.
Team Search: other_team_member — the outsider of the matrix — and helper, who responded to the
Payments incident and has submitted an analysis of it.
"""

from dataclasses import dataclass
from datetime import timedelta

import pytest
from django.utils import timezone
from rest_framework.test import APIClient

from incidents.models import AnalysisSession, Incident, User
from reviews.models import Delivery, Narrative
from tests.factories import (
    AnalysisSessionFactory,
    ContributingFactorFactory,
    ImprovementActionFactory,
    IncidentFactory,
    InterviewFactory,
    KeyEventFactory,
    LearningFactory,
    LearningThemeFactory,
    NarrativeFactory,
    ResponderFactory,
    ReviewFactory,
    UserFactory,
)

PERSONAS = [
    "anonymous",
    "outsider",  # a member of another team
    "teammate",
    "helper",  # a responder from another team
    "analyst",
    "pm",
    "problem_manager",
    "admin",
]


@pytest.fixture(autouse=True)
def _fast_password_hashing(settings):
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]


@dataclass
class World:
    people: dict[str, User | None]
    incident: Incident
    confidential: Incident
    elsewhere: Incident
    analysis: AnalysisSession  # responder's, in progress
    submitted: AnalysisSession  # helper's, submitted
    review: object
    factor: object
    learning: object
    action: object
    draft: Narrative
    published: Narrative
    delivery: Delivery
    theme: object
    interview: object
    key_event: object
    helper_key_event: object


@pytest.fixture
def world(team, other_team, service, pm, responder, teammate, other_team_member, problem_manager, admin_user):
    helper = UserFactory(username="helper", first_name="Hal", last_name="Helper")
    other_team.members.add(helper)
    incident = IncidentFactory(team=team, service=service, declared_by=pm, title="Checkout timeouts")
    analyst_responder = ResponderFactory(incident=incident, user=responder, role="Incident commander")
    helper_responder = ResponderFactory(incident=incident, user=helper, role="Search on-call")
    theme = LearningThemeFactory(name="Retry storms")
    analysis = AnalysisSessionFactory(
        responder=analyst_responder,
        scheduled_by=pm,
        status=AnalysisSession.Status.IN_PROGRESS,
        report="Draft",
    )
    submitted = AnalysisSessionFactory(
        responder=helper_responder,
        scheduled_by=pm,
        status=AnalysisSession.Status.SUBMITTED,
        report="The search cluster saturated.",
        submitted_at=timezone.now(),
    )
    submitted.themes.add(theme)
    interview = InterviewFactory(analysis=analysis)
    key_event = KeyEventFactory(analysis=analysis)
    helper_key_event = KeyEventFactory(analysis=submitted)
    confidential = IncidentFactory(
        team=team, service=service, declared_by=pm, confidential=True, title="Card data exposure"
    )
    elsewhere = IncidentFactory(team=other_team, declared_by=other_team_member, title="Search is slow")
    review = ReviewFactory(incident=incident, facilitator=pm, scheduled_at=timezone.now() + timedelta(days=2))
    review.attendees.add(responder, helper)
    factor = ContributingFactorFactory(review=review)
    learning = LearningFactory(review=review, rank=1)
    action = ImprovementActionFactory(incident=incident, review=review, raised_by=pm, owner=responder)
    draft = NarrativeFactory(incident=incident, created_by=pm, title="Checkout timeouts")
    published_incident = IncidentFactory(team=team, service=service, declared_by=pm, title="Payments outage")
    published = NarrativeFactory(
        incident=published_incident,
        created_by=pm,
        status=Narrative.Status.PUBLISHED,
        published_at=timezone.now(),
        published_by=pm,
        publication=1,
    )
    delivery = Delivery.objects.create(
        narrative=published, publication=1, channel=Delivery.Channel.EMAIL, recipient="all@example.org"
    )
    people = {
        "anonymous": None,
        "outsider": other_team_member,
        "teammate": teammate,
        "helper": helper,
        "analyst": responder,
        "pm": pm,
        "problem_manager": problem_manager,
        "admin": admin_user,
    }
    return World(
        people=people,
        incident=incident,
        confidential=confidential,
        elsewhere=elsewhere,
        analysis=analysis,
        submitted=submitted,
        review=review,
        factor=factor,
        learning=learning,
        action=action,
        draft=draft,
        published=published,
        delivery=delivery,
        theme=theme,
        interview=interview,
        key_event=key_event,
        helper_key_event=helper_key_event,
    )


@pytest.fixture
def api() -> APIClient:
    return APIClient()


def client_for(user: User | None) -> APIClient:
    client = APIClient()
    if user is not None:
        client.force_authenticate(user)
    return client
