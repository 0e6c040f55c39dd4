"""Email: multipart text + sanitised HTML per recipient, sent in batches over one SMTP connection."""

import contextlib
import smtplib
from dataclasses import dataclass
from urllib.parse import urlparse
from uuid import UUID

from django.conf import settings
from django.core.mail import EmailMultiAlternatives, mailers
from django.template.loader import render_to_string

from incidents.tasks import is_transient_mail_error
from reviews.broadcast.content import BroadcastContent
from reviews.broadcast.errors import DeliveryError


@dataclass(frozen=True)
class EmailRecipient:
    delivery_id: int
    delivery_uuid: UUID
    address: str
    # A member's one-click unsubscribe link; None for an organisation-wide list address, whose own
    # list software manages its subscribers.
    unsubscribe_url: str | None


def site_domain() -> str:
    return urlparse(settings.SITE_URL).hostname or "localhost"


def email_message(*, content: BroadcastContent, recipient: EmailRecipient) -> EmailMultiAlternatives:
    """One recipient's message. Pure: renders templates, touches neither the database nor the network."""
    domain = site_domain()
    context = {"content": content, "unsubscribe_url": recipient.unsubscribe_url}
    message_id = f"narrative-{content.narrative_id}.{content.publication}.{recipient.delivery_uuid}@{domain}"
    headers = {
        # Stable across retries, so a mail system that sees the same message twice can drop one.
        "Message-ID": f"<{message_id}>",
        "List-Id": f"Published incident narratives <narratives.{domain}>",
        # RFC 3834: no out-of-office replies to a broadcast.
        "Auto-Submitted": "auto-generated",
        "Precedence": "bulk",
    }
    if recipient.unsubscribe_url:
        # RFC 2369 link plus RFC 8058 one-click: mail providers POST "List-Unsubscribe=One-Click" to it.
        headers["List-Unsubscribe"] = f"<{recipient.unsubscribe_url}>"
        headers["List-Unsubscribe-Post"] = "List-Unsubscribe=One-Click"
    message = EmailMultiAlternatives(
        subject=content.subject,
        body=render_to_string("reviews/email/narrative_broadcast.txt", context),
        to=[recipient.address],
        headers=headers,
    )
    message.attach_alternative(
        render_to_string("reviews/email/narrative_broadcast.html", context), "text/html"
    )
    return message


def smtp_failure(exc: Exception) -> DeliveryError:
    """Classify an SMTP failure for one message: 4xx and lost connections retry, 5xx are final."""
    if isinstance(exc, smtplib.SMTPRecipientsRefused):
        reason = "; ".join(
            f"{code} {text.decode(errors='replace') if isinstance(text, bytes) else text}"
            for code, text in exc.recipients.values()
        )
    elif isinstance(exc, smtplib.SMTPResponseException):
        text = (
            exc.smtp_error.decode(errors="replace") if isinstance(exc.smtp_error, bytes) else exc.smtp_error
        )
        reason = f"{exc.smtp_code} {text}"
    else:
        reason = f"{type(exc).__name__}: {exc}"
    return DeliveryError(reason, transient=is_transient_mail_error(exc))


def email_send_batch(messages: list[tuple[int, EmailMultiAlternatives]]) -> dict[int, DeliveryError | None]:
    """Send each (delivery id, message) over ONE connection; map every attempted id to its outcome.

    None means accepted by the server. A message refused on its own (bad recipient, 4xx/5xx reply)
    does not stop the batch: smtplib resets the transaction and the next message goes on the same
    connection. When the connection itself is lost, the remaining ids are left out of the result
    for the caller to retry.
    """
    outcomes: dict[int, DeliveryError | None] = {}
    if not messages:
        return outcomes
    # Django 6.1's replacement for get_connection(): a fresh backend instance per batch.
    connection = mailers.default
    try:
        connection.open()
    except OSError as exc:  # includes every smtplib.SMTPException
        failure = DeliveryError(f"Could not connect to the mail server: {exc}", transient=True)
        return dict.fromkeys((delivery_id for delivery_id, _ in messages), failure)
    try:
        for delivery_id, message in messages:
            try:
                connection.send_messages([message])
            except smtplib.SMTPServerDisconnected as exc:
                outcomes[delivery_id] = smtp_failure(exc)
                break
            except smtplib.SMTPException as exc:
                outcomes[delivery_id] = smtp_failure(exc)
            except OSError as exc:  # the socket itself failed (SMTPException is an OSError too)
                outcomes[delivery_id] = smtp_failure(exc)
                break
            except ValueError as exc:  # an address Django cannot encode: no server will take it
                outcomes[delivery_id] = DeliveryError(str(exc), transient=False)
            else:
                outcomes[delivery_id] = None
    finally:
        # The messages are already accepted: a failing QUIT changes nothing.
        with contextlib.suppress(OSError):
            connection.close()
    return outcomes
