"""A batch of broadcast email, checked at the receiving end: what each member receives, what goes
over the wire, how refusals mid-batch end, and what a batch costs the database whatever its size
and its failures."""

import base64
import email
import email.policy
import smtplib
import uuid

import pytest
from django.template.loader import render_to_string

from incidents.models import User
from reviews.broadcast.content import broadcast_content
from reviews.broadcast.dispatch import DELIVERIES, deliveries_send
from reviews.broadcast.email import EmailComposer, EmailRecipient, smtp_send
from reviews.broadcast.unsubscribe import unsubscribe_user_id
from reviews.markdown import render_markdown
from reviews.models import Delivery
from tests.factories import UserFactory
from tests.reviews.broadcast.conftest import LIST_ADDRESS, publish_narrative
from tests.ybiyri.retries import deliver_scheduled_retries, in_memory_broker, published_messages


def transfer_encoded(message: email.message.EmailMessage, subtype: str) -> tuple[str, str]:
    """The part's body as sent (its base64 lines, LF-ended) and as read."""
    part = message.get_body(preferencelist=(subtype,))
    assert part["Content-Transfer-Encoding"] == "base64"
    return part.get_payload().replace("\r\n", "\n"), part.get_content()


# Bodies of many lengths put the unsubscribe link at every position within a line of base64, with
# characters of two and three bytes on either side of the line breaks.
@pytest.mark.parametrize("padding", [0, 1, 2, 19, 28, 55, 56, 57, 58, 113])
def test_each_member_receives_both_bodies_rendered_with_their_own_link_and_encoded_whole(
    channels, smtp_server, narrative, publish, padding
):
    narrative.body += "\n\nÉté — “" + "é" * padding + "” ✓"
    narrative.save()

    deliveries = publish(narrative)

    content = broadcast_content(narrative)
    body_html = render_markdown(content.body_markdown, external_images=False)
    for delivery in deliveries:
        if delivery.channel != Delivery.Channel.EMAIL:
            continue
        [received] = smtp_server.messages_to(delivery.recipient)
        message = email.message_from_bytes(received.data, policy=email.policy.default)
        link = message["List-Unsubscribe"].strip("<>") if delivery.recipient != LIST_ADDRESS else None
        if link:
            token = link.rstrip("/").rsplit("/", 1)[1]
            assert unsubscribe_user_id(token=token) == User.objects.get(email=delivery.recipient).pk
        context = {"content": content, "body_html": body_html, "unsubscribe_url": link}
        for subtype, template in (("plain", "narrative_broadcast.txt"), ("html", "narrative_broadcast.html")):
            expected = render_to_string(f"reviews/email/{template}", context)
            assert transfer_encoded(message, subtype) == (
                base64.encodebytes(expected.encode()).decode("ascii"),
                expected,
            )
        assert message["To"] == delivery.recipient
        assert message["Message-ID"] == (
            f"<narrative-{narrative.pk}.{narrative.publication}.{delivery.uuid}@ybiyri.example.org>"
        )


def publish_unsent(narrative, django_capture_on_commit_callbacks) -> list[int]:
    """Publish without running the send tasks; return the email deliveries' ids."""
    with django_capture_on_commit_callbacks(execute=False):
        deliveries = publish_narrative(narrative)
    return [delivery.pk for delivery in deliveries if delivery.channel == Delivery.Channel.EMAIL]


@pytest.mark.parametrize("members", [6, 60])
def test_a_batch_costs_the_same_queries_whatever_its_size_and_failures(
    channels,
    smtp_server,
    narrative,
    members,
    django_assert_num_queries,
    django_capture_on_commit_callbacks,
):
    people = UserFactory.create_batch(members)
    for refused in people[: members // 3]:
        smtp_server.refuse(refused.email, code=550, text="5.1.1 No such user")
    for greylisted in people[members // 3 : members // 2]:
        smtp_server.refuse(greylisted.email, code=451, text="4.7.1 Greylisted, try again")
    ids = publish_unsent(narrative, django_capture_on_commit_callbacks)
    opted_out = people[-1]
    opted_out.broadcast_opt_out = True
    opted_out.save()

    # Claim; the rows; their narrative; the members; then in one transaction (savepoint and
    # release): the delivered, the retries (which rows, the update, their channels to enqueue them)
    # and one update per reason of failure.
    with django_capture_on_commit_callbacks(execute=False), django_assert_num_queries(12):
        report = deliveries_send(delivery_ids=ids)

    assert (report.delivered, report.retrying, report.failed) == (
        members - members // 2 - 1 + 3,
        members // 2 - members // 3,
        members // 3 + 1,
    )
    assert (
        Delivery.objects.get(recipient=opted_out.email).last_error
        == "The member opted out of broadcast email."
    )


def test_broadcast_mail_goes_on_the_wire_as_smtplibs_sendmail_sends_it(narrative, smtp_server):
    message = EmailComposer(broadcast_content(narrative)).message(
        EmailRecipient(
            delivery_uuid=uuid.uuid4(),
            address="pm@example.org",
            unsubscribe_url="https://ybiyri.example.org/u/x/",
        )
    )

    with smtplib.SMTP(smtp_server.host, smtp_server.port) as smtp:
        smtp_send(smtp, message)
        smtp.sendmail(message.envelope_from, message.to, message.smtp_bytes())

    ours, smtplibs = ((m.mail_from, m.rcpt_tos, m.mail_options, m.data) for m in smtp_server.messages)
    assert ours == smtplibs
    assert ours[2] == [f"SIZE={len(message.smtp_bytes())}"]


def test_a_message_refused_after_its_data_fails_alone_with_the_server_reason(
    channels, smtp_server, narrative, publish
):
    smtp_server.refuse("pm@example.org", code=554, text="5.6.0 Content refused", at="DATA")

    publish(narrative)

    refused = Delivery.objects.get(recipient="pm@example.org")
    assert (refused.state, refused.last_error) == (Delivery.State.FAILED, "554 5.6.0 Content refused")
    received = [address for message in smtp_server.messages for address in message.rcpt_tos]
    assert received == [LIST_ADDRESS, "responder@example.org"]  # the next one on the same connection
    assert len({message.peer for message in smtp_server.messages}) == 1


def test_a_server_closing_the_connection_leaves_the_rest_of_the_batch_to_a_retry(
    channels, smtp_server, narrative, publish
):
    smtp_server.refuse("pm@example.org", code=421, text="4.3.2 Shutting down", times=1)

    publish(narrative)

    assert dict(
        Delivery.objects.filter(channel=Delivery.Channel.EMAIL).values_list("recipient", "state")
    ) == {
        LIST_ADDRESS: Delivery.State.DELIVERED,
        "pm@example.org": Delivery.State.PENDING,
        "responder@example.org": Delivery.State.PENDING,
    }
    deliver_scheduled_retries(DELIVERIES)
    received = [address for message in smtp_server.messages for address in message.rcpt_tos]
    assert sorted(received) == sorted([LIST_ADDRESS, "pm@example.org", "responder@example.org"])
    assert set(Delivery.objects.values_list("state", flat=True)) == {Delivery.State.DELIVERED}


def test_a_publication_to_thousands_goes_out_in_tasks_of_a_thousand_emails(channels, narrative, publish):
    User.objects.bulk_create(
        [User(username=f"member{n}", email=f"member{n}@example.org", password="!") for n in range(1997)]
    )

    with in_memory_broker(), published_messages() as published:
        publish(narrative)  # with the pm, the responder and the list address, 2,000 emails

    emails = set(Delivery.objects.filter(channel=Delivery.Channel.EMAIL).values_list("pk", flat=True))
    batches = sorted((ids for [ids] in (message.args for message in published)), key=len)
    assert [len(ids) for ids in batches] == [1, 1, 1, 1000, 1000]  # Slack, Teams, the webhook; emails
    assert set(batches[3]) | set(batches[4]) == emails
