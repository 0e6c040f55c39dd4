"""Every channel receives exactly one well-formed message, checked at the receiving end."""

import json
import time

import pytest

from reviews.broadcast.content import broadcast_content
from reviews.broadcast.slack import slack_payload
from reviews.broadcast.teams import teams_payload
from reviews.broadcast.webhook import webhook_signature, webhook_signature_valid
from reviews.models import Delivery
from tests.reviews.broadcast.conftest import LIST_ADDRESS, WEBHOOK_SECRET

SITE = "https://ybiyri.example.org"


def test_every_channel_receives_exactly_one_well_formed_message(
    channels, smtp_server, sink, narrative, publish
):
    deliveries = publish(narrative)

    assert {(d.channel, d.recipient) for d in deliveries} == {
        ("email", LIST_ADDRESS),
        ("email", "pm@example.org"),
        ("email", "responder@example.org"),
        ("slack", "SLACK_WEBHOOK_URL"),
        ("teams", "TEAMS_WEBHOOK_URL"),
        ("webhook", sink.url("/hook")),
    }
    assert set(Delivery.objects.values_list("state", flat=True)) == {Delivery.State.DELIVERED}
    received = sorted(address for message in smtp_server.messages for address in message.rcpt_tos)
    assert received == sorted([LIST_ADDRESS, "pm@example.org", "responder@example.org"])
    assert (
        len(sink.requests_to("/slack"))
        == len(sink.requests_to("/teams"))
        == len(sink.requests_to("/hook"))
        == 1
    )


def test_member_email_is_multipart_with_subject_link_and_one_click_unsubscribe(
    channels, smtp_server, narrative, publish
):
    publish(narrative)

    [received] = smtp_server.messages_to("pm@example.org")
    message = received.parsed
    assert message["Subject"] == "[SEV2] Payments: Checkout timeouts"
    assert message.get_content_type() == "multipart/alternative"
    text = message.get_body(preferencelist=("plain",)).get_content()
    html = message.get_body(preferencelist=("html",)).get_content()
    link = f"{SITE}/narratives/{narrative.pk}/"
    assert link in text
    assert f'href="{link}"' in html
    assert "<strong>retries</strong>" in html
    assert "<script>" not in html
    unsubscribe = message["List-Unsubscribe"]
    assert unsubscribe.startswith(f"<{SITE}/broadcast/unsubscribe/")
    assert unsubscribe.endswith("/>")
    assert message["List-Unsubscribe-Post"] == "List-Unsubscribe=One-Click"
    assert unsubscribe.strip("<>") in text
    assert message["Auto-Submitted"] == "auto-generated"
    delivery = Delivery.objects.get(recipient="pm@example.org")
    assert str(delivery.uuid) in message["Message-ID"]


def test_list_address_email_carries_no_member_unsubscribe_link(channels, smtp_server, narrative, publish):
    publish(narrative)

    [received] = smtp_server.messages_to(LIST_ADDRESS)
    assert received.parsed["List-Unsubscribe"] is None
    assert "/broadcast/unsubscribe/" not in received.data.decode()


def test_slack_message_has_title_summary_facts_and_link(channels, sink, narrative, publish):
    publish(narrative)

    [request] = sink.requests_to("/slack")
    payload = request.json()
    assert request.headers["Content-Type"] == "application/json"
    assert narrative.title in payload["text"]
    blocks = {block["type"]: block for block in payload["blocks"]}
    assert blocks["header"]["text"]["text"] == "Checkout timeouts"
    assert "Customers could not pay" in json.dumps(payload)
    fields = [field["text"] for block in payload["blocks"] if "fields" in block for field in block["fields"]]
    assert "*Severity*\nSEV2 — major" in fields
    assert "*Team*\nPayments" in fields
    assert blocks["actions"]["elements"][0]["url"] == f"{SITE}/narratives/{narrative.pk}/"


def test_teams_message_is_an_adaptive_card_for_workflows(channels, sink, narrative, publish):
    publish(narrative)

    [request] = sink.requests_to("/teams")
    payload = request.json()
    assert payload["type"] == "message"
    [attachment] = payload["attachments"]
    assert attachment["contentType"] == "application/vnd.microsoft.card.adaptive"
    card = attachment["content"]
    assert card["type"] == "AdaptiveCard"
    assert card["version"] == "1.4"
    assert any(item.get("text") == "Checkout timeouts" for item in card["body"])
    facts = next(item["facts"] for item in card["body"] if item["type"] == "FactSet")
    assert {"title": "Service", "value": "checkout-api"} in facts
    assert card["actions"] == [
        {"type": "Action.OpenUrl", "title": "Read the narrative", "url": f"{SITE}/narratives/{narrative.pk}/"}
    ]


def test_webhook_signature_verifies_over_timestamp_and_raw_body(channels, sink, narrative, publish):
    publish(narrative)

    [request] = sink.requests_to("/hook")
    timestamp = request.headers["X-Ybiyri-Timestamp"]
    signature = request.headers["X-Ybiyri-Signature"]
    assert webhook_signature_valid(
        secret=WEBHOOK_SECRET, body=request.body, timestamp=timestamp, signature=signature
    )
    assert not webhook_signature_valid(
        secret=WEBHOOK_SECRET, body=request.body + b" ", timestamp=timestamp, signature=signature
    )
    assert not webhook_signature_valid(
        secret="another", body=request.body, timestamp=timestamp, signature=signature
    )
    payload = request.json()
    delivery = Delivery.objects.get(channel=Delivery.Channel.WEBHOOK)
    assert request.headers["X-Ybiyri-Delivery"] == payload["delivery"] == str(delivery.uuid)
    assert request.headers["X-Ybiyri-Event"] == payload["event"] == "narrative.published"
    assert payload["narrative"]["url"] == f"{SITE}/narratives/{narrative.pk}/"
    assert payload["narrative"]["publication"] == 1


def test_webhook_signature_is_the_documented_hmac():
    # Documented for receivers: sha256=hex(HMAC-SHA256(secret, f"{timestamp}.{body}")).
    assert webhook_signature("s3cret", "1700000000", b'{"a":1}') == (
        "sha256=" + __import__("hmac").new(b"s3cret", b'1700000000.{"a":1}', "sha256").hexdigest()
    )


def test_webhook_signature_with_a_stale_timestamp_is_refused():
    body, timestamp = b"{}", str(int(time.time()) - 3600)
    signature = webhook_signature("s3cret", timestamp, body)
    assert not webhook_signature_valid(secret="s3cret", body=body, timestamp=timestamp, signature=signature)
    assert webhook_signature_valid(
        secret="s3cret", body=body, timestamp=timestamp, signature=signature, now=int(timestamp) + 10
    )


@pytest.mark.django_db
def test_chat_payloads_escape_what_people_wrote(narrative):
    narrative.incident.summary = "Latency <5s & errors > 1%"
    content = broadcast_content(narrative)

    slack_text = json.dumps(slack_payload(content))
    assert "Latency &lt;5s &amp; errors &gt; 1%" in slack_text
    assert "Latency <5s & errors > 1%" in json.dumps(teams_payload(content))


def test_non_ascii_titles_and_sender_names_are_encoded_and_read_back_intact(
    channels, smtp_server, narrative, publish
):
    channels.DEFAULT_FROM_EMAIL = "Équipe ybiyri <ybiyri@example.org>"
    narrative.title = "Paiements refusés — la file d’attente a débordé" + " très longtemps" * 6
    narrative.save()

    publish(narrative)

    message = smtp_server.messages_to("pm@example.org")[0].parsed
    assert message["Subject"] == f"[SEV2] Payments: {narrative.title}"
    assert message["From"].addresses[0].display_name == "Équipe ybiyri"
    assert narrative.title in message.get_body(preferencelist=("plain",)).get_content()
    assert all(line.isascii() and len(line) <= 998 for line in smtp_server.messages[0].data.split(b"\r\n"))


def test_broadcast_email_works_with_any_django_mail_backend(
    settings, channels, narrative, publish, mailoutbox
):
    settings.MAILERS = {"default": {"BACKEND": "django.core.mail.backends.locmem.EmailBackend"}}
    channels.BROADCAST_EMAIL_MEMBERS = False

    publish(narrative)

    [sent] = mailoutbox
    assert sent.subject == "[SEV2] Payments: Checkout timeouts"
    assert sent.to == [LIST_ADDRESS]
    assert f"{SITE}/narratives/{narrative.pk}/" in sent.body
    [(html, mimetype)] = sent.alternatives
    assert mimetype == "text/html"
    assert "<strong>retries</strong>" in html
    assert sent.message()["Subject"] == sent.subject


def test_webhooks_go_unsigned_when_no_secret_is_configured(channels, sink, narrative, publish):
    channels.BROADCAST_WEBHOOK_SECRET = ""

    publish(narrative)

    [request] = sink.requests_to("/hook")
    assert "X-Ybiyri-Signature" not in request.headers
    assert not webhook_signature_valid(
        secret="", body=request.body, timestamp=request.headers["X-Ybiyri-Timestamp"], signature=""
    )


def test_an_address_that_is_no_plain_address_fails_alone_and_reaches_no_server(
    channels, smtp_server, narrative, publish, team
):
    from tests.factories import UserFactory

    smuggler = UserFactory(email="eve@example.org\r\nRCPT TO:<victim@example.org>")
    team.members.add(smuggler)
    publish(narrative)

    failed = Delivery.objects.get(recipient=smuggler.email)
    assert failed.state == Delivery.State.FAILED
    assert "is not an email address ybiyri can send to" in failed.last_error
    received = {address for message in smtp_server.messages for address in message.rcpt_tos}
    assert "victim@example.org" not in received
    assert {"pm@example.org", "responder@example.org", LIST_ADDRESS} <= received


def test_broadcast_email_goes_over_smtp_exactly_as_its_message_serialises(narrative, settings):
    import uuid

    settings.DEFAULT_FROM_EMAIL = "Incident learning <learning@example.org>"
    from reviews.broadcast.email import EmailComposer, EmailRecipient

    composer = EmailComposer(broadcast_content(narrative))
    message = composer.message(
        EmailRecipient(delivery_uuid=uuid.uuid4(), address="pm@example.org", unsubscribe_url=f"{SITE}/u/x/")
    )
    assert message.smtp_bytes() == message.message().as_bytes()
    assert message.envelope_from == "learning@example.org"


@pytest.mark.parametrize(("connections", "used"), [(1, 1), (3, 2), (4, 2)])
def test_a_batch_of_mail_goes_over_several_connections_at_once_each_member_once(
    channels, smtp_server, narrative, publish, team, settings, connections, used
):
    from reviews.broadcast.dispatch import DELIVERIES
    from reviews.broadcast.email import EMAIL_PER_CONNECTION
    from tests.factories import UserFactory
    from tests.ybiyri.retries import deliver_scheduled_retries

    settings.BROADCAST_EMAIL_CONNECTIONS = connections
    members = UserFactory.create_batch(2 * EMAIL_PER_CONNECTION)
    smtp_server.refuse(members[0].email, code=550, text="5.1.1 No such user")
    smtp_server.refuse(members[-1].email, code=451, text="4.3.0 Try again later", times=1)
    publish(narrative)
    deliver_scheduled_retries(DELIVERIES)

    received = [address for message in smtp_server.messages for address in message.rcpt_tos]
    expected = {member.email for member in members[1:]} | {
        "pm@example.org",
        "responder@example.org",
        LIST_ADDRESS,
    }
    assert sorted(received) == sorted(expected)  # each once, the refused one retried once
    assert len({message.peer for message in smtp_server.messages}) == used + 1  # one more: the retry
    refused = Delivery.objects.get(recipient=members[0].email)
    assert (refused.state, refused.last_error) == (Delivery.State.FAILED, "550 5.1.1 No such user")
