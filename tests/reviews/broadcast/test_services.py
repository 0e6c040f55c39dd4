"""The outbox rows a publication writes, opt-outs, confidentiality and the retry services."""

import pytest
from django.db import transaction

from incidents.models import AuditEntry, User
from reviews.broadcast.selectors import broadcast_progress
from reviews.broadcast.services import (
    broadcast_publication,
    deliveries_retry_failed,
    delivery_retry,
    member_unsubscribe,
)
from reviews.models import Delivery
from tests.factories import IncidentFactory, NarrativeFactory, ResponderFactory, UserFactory
from tests.reviews.broadcast.conftest import LIST_ADDRESS, publish_narrative


def test_opted_out_members_receive_nothing(channels, smtp_server, narrative, teammate, publish):
    teammate.broadcast_opt_out = True
    teammate.save()

    publish(narrative)

    assert not Delivery.objects.filter(recipient=teammate.email).exists()
    assert smtp_server.messages_to(teammate.email) == []
    assert smtp_server.messages_to("pm@example.org")


def test_member_who_opts_out_after_publishing_is_not_mailed(
    channels, smtp_server, narrative, teammate, django_capture_on_commit_callbacks
):
    with django_capture_on_commit_callbacks(execute=False) as callbacks:
        publish_narrative(narrative)
    member_unsubscribe(user=teammate)

    for callback in callbacks:
        callback()

    assert smtp_server.messages_to(teammate.email) == []
    delivery = Delivery.objects.get(recipient=teammate.email)
    assert delivery.state == Delivery.State.FAILED
    assert "opted out" in delivery.last_error


def test_inactive_members_and_members_without_address_get_no_delivery(channels, narrative):
    UserFactory(username="left", is_active=False)
    UserFactory(username="noaddress", email="")

    recipients = {d.recipient for d in publish_narrative(narrative)}

    assert "left@example.org" not in recipients
    assert "" not in recipients


def test_members_are_not_mailed_individually_unless_configured(channels, narrative):
    channels.BROADCAST_EMAIL_MEMBERS = False

    emails = [d.recipient for d in publish_narrative(narrative) if d.channel == Delivery.Channel.EMAIL]

    assert emails == [LIST_ADDRESS]


def test_confidential_narrative_is_not_broadcast_organisation_wide(
    channels, smtp_server, sink, team, pm, responder, outsider, other_team_member, publish
):
    incident = IncidentFactory(team=team, service__team=team, declared_by=pm, confidential=True)
    guest = UserFactory(username="guest")
    ResponderFactory(incident=incident, user=guest)
    narrative = NarrativeFactory(incident=incident, created_by=pm)

    deliveries = publish(narrative)

    assert {(d.channel, d.recipient) for d in deliveries} == {
        ("email", "pm@example.org"),
        ("email", "responder@example.org"),
        ("email", "guest@example.org"),
    }
    assert sink.requests == []
    assert smtp_server.messages_to(LIST_ADDRESS) == []
    assert smtp_server.messages_to(outsider.email) == smtp_server.messages_to(other_team_member.email) == []
    assert len(smtp_server.messages) == 3


def test_confidential_narrative_honours_opt_out(channels, narrative, responder):
    narrative.incident.confidential = True
    narrative.incident.save()
    responder.broadcast_opt_out = True
    responder.save()

    recipients = [d.recipient for d in publish_narrative(narrative)]

    assert recipients == ["pm@example.org"]


def test_broadcasting_the_same_publication_twice_writes_nothing_new(channels, narrative):
    first = publish_narrative(narrative)

    with transaction.atomic():
        again = broadcast_publication(narrative=narrative)

    assert sorted(d.pk for d in again) == sorted(d.pk for d in first)
    assert Delivery.objects.count() == len(first)


def test_a_draft_cannot_be_broadcast(channels, narrative):
    with pytest.raises(ValueError, match="published"):
        broadcast_publication(narrative=narrative)


def test_each_publication_gets_its_own_deliveries(channels, narrative, publish):
    publish(narrative)
    publish(narrative)

    assert (
        Delivery.objects.filter(publication=1).count() == Delivery.objects.filter(publication=2).count() == 6
    )


def test_thousands_of_members_cost_a_fixed_number_of_queries(
    channels, narrative, django_assert_max_num_queries, django_capture_on_commit_callbacks
):
    User.objects.bulk_create(
        [User(username=f"member{n}", email=f"member{n}@example.org", password="!") for n in range(2000)]
    )
    narrative.status = narrative.Status.PUBLISHED
    narrative.publication = 1
    narrative.save()

    with django_capture_on_commit_callbacks(execute=False), django_assert_max_num_queries(8):
        deliveries = broadcast_publication(narrative=narrative)

    assert len(deliveries) == 2000 + 3 + 3  # members, pm and responder, the list; three endpoints


def test_retrying_failed_deliveries_sends_them_again_and_is_audited(
    channels, smtp_server, narrative, pm, publish, django_capture_on_commit_callbacks
):
    smtp_server.refuse("responder@example.org", code=550, text="5.2.1 Mailbox disabled", times=1)
    publish(narrative)
    failed = Delivery.objects.get(recipient="responder@example.org")
    assert failed.state == Delivery.State.FAILED
    assert failed.last_error == "550 5.2.1 Mailbox disabled"

    with django_capture_on_commit_callbacks(execute=True):
        retried = deliveries_retry_failed(narrative=narrative, by=pm)

    assert retried == 1
    failed.refresh_from_db()
    assert failed.state == Delivery.State.DELIVERED
    assert len(smtp_server.messages_to("responder@example.org")) == 1
    assert AuditEntry.objects.filter(verb="broadcast.retry", actor=pm).exists()
    assert broadcast_progress(narrative=narrative).failed == 0


def test_retrying_one_delivery_leaves_delivered_ones_alone(
    channels, smtp_server, sink, narrative, pm, publish, django_capture_on_commit_callbacks
):
    sink.respond("/slack", (404, "no_service"))
    publish(narrative)
    slack = Delivery.objects.get(channel=Delivery.Channel.SLACK)
    delivered = Delivery.objects.get(recipient="pm@example.org")

    with django_capture_on_commit_callbacks(execute=True):
        assert delivery_retry(delivery=slack, by=pm).state == Delivery.State.PENDING
        assert delivery_retry(delivery=delivered, by=pm).state == Delivery.State.DELIVERED

    slack.refresh_from_db()
    assert slack.state == Delivery.State.DELIVERED
    assert len(sink.requests_to("/slack")) == 2
    assert len(smtp_server.messages_to("pm@example.org")) == 1


def test_unsubscribing_sets_the_preference_once(teammate):
    member_unsubscribe(user=teammate)
    member_unsubscribe(user=teammate)

    teammate.refresh_from_db()
    assert teammate.broadcast_opt_out
    assert AuditEntry.objects.filter(verb="broadcast.unsubscribe").count() == 1


def test_progress_counts_per_channel_with_failures_and_reasons(
    channels, sink, narrative, publish, django_assert_max_num_queries
):
    sink.respond("/teams", (400, "Bad card"))
    publish(narrative)

    with django_assert_max_num_queries(2):
        progress = broadcast_progress(narrative=narrative)

    by_channel = {channel.channel: channel for channel in progress.channels}
    assert (by_channel["email"].delivered, by_channel["email"].pending, by_channel["email"].failed) == (
        3,
        0,
        0,
    )
    assert by_channel["teams"].failed == 1
    assert progress.delivered == 5
    [failure] = progress.failures
    assert failure.channel_label == "Microsoft Teams"
    assert failure.reason == "HTTP 400: Bad card"
    assert failure.recipient == "the configured webhook"


def test_unsubscribe_links_made_in_bulk_are_the_members_own_links():
    from reviews.broadcast.unsubscribe import member_unsubscribe_url, member_unsubscribe_urls

    assert member_unsubscribe_urls([7, 12]) == {
        7: member_unsubscribe_url(user_id=7),
        12: member_unsubscribe_url(user_id=12),
    }
