"""Email: multipart text + sanitised HTML per recipient, sent in batches over one SMTP connection.

Composing is split for speed (10,000 members must go out at hundreds per second): `EmailComposer`
renders the templates and encodes everything the recipients share once per batch; each
recipient's `BroadcastEmail` only adds its own headers and unsubscribe link. Django's own
EmailMessage.message() (the EmailPolicy tree of Django 6.1) costs more than the SMTP exchange.
"""

import base64
import contextlib
import email.policy
import re
import secrets
import smtplib
import threading
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from email.header import Header
from email.message import Message
from email.utils import formataddr, formatdate, parseaddr
from typing import Any
from urllib.parse import urlparse
from uuid import UUID

from django.conf import settings
from django.core.mail import EmailMultiAlternatives, mailers
from django.core.mail.backends.smtp import EmailBackend as SMTPBackend
from django.template.loader import render_to_string

from reviews.broadcast.content import BroadcastContent
from reviews.broadcast.errors import DeliveryError
from reviews.markdown import render_markdown
from ybiyri.outbound import is_transient_mail_error

CRLF = "\r\n"
# A connection of its own is worth opening for this many messages of a batch.
EMAIL_PER_CONNECTION = 25
# Rendered in place of a member's link, then replaced per recipient; survives HTML escaping.
UNSUBSCRIBE_PLACEHOLDER = "ybiyri-unsubscribe-url-placeholder"
# base64.encodebytes puts this many bytes of input on each 76-character line.
BASE64_LINE_BYTES = 57


@dataclass(frozen=True)
class EmailRecipient:
    delivery_uuid: UUID
    address: str
    # A member's one-click unsubscribe link; None for an organisation-wide list address, whose own
    # list software manages its subscribers.
    unsubscribe_url: str | None


class PreEncodedHeaders(email.policy.Compat32):
    """Header values are already RFC 2047-encoded and folded by EmailComposer: write them as they are
    (the stock policies re-parse and re-fold every header of every message)."""

    def fold(self, name: str, value: str) -> str:
        return f"{name}: {value}{self.linesep}"

    def fold_binary(self, name: str, value: str) -> bytes:
        return self.fold(name, value).encode("ascii")


PRE_ENCODED = PreEncodedHeaders(linesep=CRLF)


def base64_lines(data: bytes) -> str:
    """`data` in base64, one CRLF-ended line per BASE64_LINE_BYTES bytes (safe for any line length
    and character)."""
    return base64.encodebytes(data).decode("ascii").replace("\n", CRLF)


class MimeTextPart:
    """One text/* body part of a batch's messages, in base64, encoded ahead as far as every recipient's
    copy is the same: up to the last whole line of base64 before the first UNSUBSCRIBE_PLACEHOLDER.
    Base64 encodes each BASE64_LINE_BYTES bytes of input as a line of its own, so a copy encodes as
    those shared lines followed by the encoding of its own rest: byte for byte what encoding the
    whole copy gives."""

    def __init__(self, subtype: str, text: str) -> None:
        data = text.encode()
        placeholder = data.find(UNSUBSCRIBE_PLACEHOLDER.encode())
        shared = len(data) if placeholder < 0 else placeholder - placeholder % BASE64_LINE_BYTES
        self.head = (
            f'Content-Type: text/{subtype}; charset="utf-8"{CRLF}Content-Transfer-Encoding: base64{CRLF}{CRLF}'
            f"{base64_lines(data[:shared])}"
        )
        self.rest = data[shared:]

    def mime(self, unsubscribe_url: str | None) -> str:
        """The part as one recipient receives it, with their unsubscribe link in place."""
        if not self.rest:
            return self.head
        rest = self.rest
        if unsubscribe_url:
            rest = rest.replace(UNSUBSCRIBE_PLACEHOLDER.encode(), unsubscribe_url.encode())
        return self.head + base64_lines(rest)


class BroadcastEmail(EmailMultiAlternatives):
    """A Django email (subject, body, to, alternatives and headers are all set, so every backend and
    mail.outbox work as usual) whose MIME form was composed ahead by EmailComposer."""

    def __init__(
        self, *, mime_headers: list[tuple[str, str]], mime_body: str, envelope_from: str, **kwargs: Any
    ) -> None:
        super().__init__(**kwargs)
        self.mime_headers = mime_headers
        self.mime_body = mime_body
        # The bare sender address for MAIL FROM, checked by EmailComposer as the recipients are.
        self.envelope_from = envelope_from

    def smtp_bytes(self) -> bytes:
        """The message as sent over SMTP: what `message().as_bytes()` gives, joined directly."""
        headers = "".join(f"{name}: {value}{CRLF}" for name, value in self.mime_headers)
        return f"{headers}{CRLF}{self.mime_body}".encode("ascii")

    # Django's backends only serialise the message (as_bytes), which a compat32 Message does as its
    # EmailMessage would; an EmailMessage under this pre-encoded policy could not even be printed.
    def message(self, *, policy: email.policy.Policy | None = None) -> Message:  # type: ignore[override]
        # `policy` is the caller's wish for Django's own tree; ours is already SMTP-ready (CRLF).
        msg = Message(policy=PRE_ENCODED)
        for name, value in self.mime_headers:
            msg[name] = value
        msg.set_payload(self.mime_body)
        return msg


# A plain addr-spec (local@domain, ASCII, no quoting, comments, spaces or line breaks): what member
# and list addresses are, and nothing a header or an SMTP command could be smuggled through.
PLAIN_ADDRESS = re.compile(r"[^\s\x00-\x1f\x7f<>()\[\],;:\\\"@]+@[^\s\x00-\x1f\x7f<>()\[\],;:\\\"@]+")


def checked_address(address: str) -> str:
    """`address` if it is a plain ASCII addr-spec; ValueError otherwise (no server would take it
    as it stands, or it is not ASCII, which needs SMTPUTF8)."""
    if not address.isascii():
        raise ValueError(f"{address!r}: internationalised addresses are not supported")
    if not PLAIN_ADDRESS.fullmatch(address):
        raise ValueError(f"{address!r} is not an email address ybiyri can send to")
    return address


class EmailComposer:
    """Builds every recipient's message for one publication. Pure: no database, no network."""

    def __init__(self, content: BroadcastContent) -> None:
        self.content = content
        self.domain = urlparse(settings.SITE_URL).hostname or "localhost"
        self.from_email = settings.DEFAULT_FROM_EMAIL
        self.boundary = f"=_ybiyri_{secrets.token_hex(12)}"  # "=_" never occurs in base64 text
        name, address = parseaddr(self.from_email)
        self.envelope_from = checked_address(address)
        self.shared_headers = [
            # Plain ASCII stays readable as is; anything else becomes RFC 2047 UTF-8 encoded words.
            ("Subject", Header(content.subject, header_name="Subject").encode(linesep=CRLF)),
            ("From", formataddr((name, address), charset="utf-8")),
            ("Date", formatdate(usegmt=True)),
            ("MIME-Version", "1.0"),
            ("Content-Type", f'multipart/alternative; boundary="{self.boundary}"'),
            ("List-Id", f"Published incident narratives <narratives.{self.domain}>"),
            # RFC 3834: no out-of-office replies to a broadcast.
            ("Auto-Submitted", "auto-generated"),
            ("Precedence", "bulk"),
        ]
        # Images from elsewhere would tell their host who read the mail and when: they become links.
        self.body_html = render_markdown(content.body_markdown, external_images=False)
        # The text and HTML bodies, for a member (with an unsubscribe link) and for a list address.
        self.bodies: dict[bool, tuple[str, str]] = {
            member: (
                render_to_string("reviews/email/narrative_broadcast.txt", self.context(member)),
                render_to_string("reviews/email/narrative_broadcast.html", self.context(member)),
            )
            for member in (True, False)
        }
        self.parts = {
            member: (MimeTextPart("plain", text), MimeTextPart("html", html))
            for member, (text, html) in self.bodies.items()
        }

    def context(self, member: bool) -> dict:
        return {
            "content": self.content,
            "body_html": self.body_html,
            "unsubscribe_url": UNSUBSCRIBE_PLACEHOLDER if member else None,
        }

    def message(self, recipient: EmailRecipient) -> BroadcastEmail:
        checked_address(recipient.address)
        text, html = self.bodies[recipient.unsubscribe_url is not None]
        if recipient.unsubscribe_url:
            text = text.replace(UNSUBSCRIBE_PLACEHOLDER, recipient.unsubscribe_url)
            html = html.replace(UNSUBSCRIBE_PLACEHOLDER, recipient.unsubscribe_url)
        message_id = f"<narrative-{self.content.narrative_id}.{self.content.publication}.{recipient.delivery_uuid}@{self.domain}>"
        # Stable across retries, so a mail system that sees the same message twice can drop one.
        own_headers = {"To": recipient.address, "Message-ID": message_id}
        if recipient.unsubscribe_url:
            # RFC 2369 link plus RFC 8058 one-click: mail providers POST "List-Unsubscribe=One-Click" to it.
            own_headers["List-Unsubscribe"] = f"<{recipient.unsubscribe_url}>"
            own_headers["List-Unsubscribe-Post"] = "List-Unsubscribe=One-Click"
        boundary = self.boundary
        plain, rich = self.parts[recipient.unsubscribe_url is not None]
        mime_body = (
            f"--{boundary}{CRLF}{plain.mime(recipient.unsubscribe_url)}{CRLF}"
            f"--{boundary}{CRLF}{rich.mime(recipient.unsubscribe_url)}{CRLF}"
            f"--{boundary}--{CRLF}"
        )
        return BroadcastEmail(
            mime_headers=self.shared_headers + list(own_headers.items()),
            mime_body=mime_body,
            envelope_from=self.envelope_from,
            subject=self.content.subject,
            body=text,
            from_email=self.from_email,
            to=[recipient.address],
            headers={name: value for name, value in own_headers.items() if name != "To"},
            alternatives=[(html, "text/html")],
        )


def smtp_failure(exc: Exception) -> DeliveryError:
    """Classify an SMTP failure for one message: 4xx and lost connections retry, 5xx are final."""
    if isinstance(exc, smtplib.SMTPRecipientsRefused):
        reason = "; ".join(
            f"{code} {text.decode(errors='replace') if isinstance(text, bytes) else text}"
            for code, text in exc.recipients.values()
        )
    elif isinstance(exc, smtplib.SMTPResponseException):
        text = exc.smtp_error
        reason = f"{exc.smtp_code} {text.decode(errors='replace') if isinstance(text, bytes) else text}"
    else:
        reason = f"{type(exc).__name__}: {exc}"
    return DeliveryError(reason, transient=is_transient_mail_error(exc))


def email_send_batch(
    messages: Sequence[tuple[int, BroadcastEmail]],
    outcomes: dict[int, DeliveryError | None],
    *,
    connections: int | None = None,
) -> None:
    """Send each (delivery id, message) and record every attempted id's outcome in `outcomes`.

    The batch is split into contiguous parts sent at the same time, each over ONE connection of
    its own (BROADCAST_EMAIL_CONNECTIONS at most, never fewer than EMAIL_PER_CONNECTION messages
    each): on one connection the worker and the mail server take turns waiting for each other.
    None means accepted by the server. A message refused on its own (bad recipient, 4xx/5xx reply)
    does not stop its part: smtplib resets the transaction and the next message goes on the same
    connection. When a connection itself is lost, the rest of its part is left out of `outcomes`
    for the caller to retry. Outcomes are recorded as they come, so that a caller interrupted
    meanwhile (a soft time limit) still knows what was sent; the interruption stops every part
    before its next message.
    """
    if not messages:
        return
    parts = max(
        1, min(connections or settings.BROADCAST_EMAIL_CONNECTIONS, len(messages) // EMAIL_PER_CONNECTION)
    )
    size = -(-len(messages) // parts)
    slices = [messages[start : start + size] for start in range(0, len(messages), size)]
    stop = threading.Event()
    if len(slices) == 1:
        _send_over_one_connection(slices[0], outcomes, stop)
        return
    with ThreadPoolExecutor(max_workers=len(slices), thread_name_prefix="smtp") as pool:
        sending = [pool.submit(_send_over_one_connection, part, outcomes, stop) for part in slices]
        try:
            for future in sending:
                future.result()
        finally:
            stop.set()


def smtp_send(smtp: smtplib.SMTP, message: BroadcastEmail) -> None:
    """What smtplib's sendmail() does for a message to one recipient, raising the same errors after
    the same clean-up, and the same commands on the wire (RFC 5321 §3.3: MAIL with the size, RCPT,
    DATA), less the work the composer has made needless: its addresses are plain addr-specs
    (checked_address), so they are sent as they are instead of parsed and quoted again for every
    message, which took a third of smtplib's time per message against a local server. Django's
    send_messages() would parse them once more before that."""
    smtp.ehlo_or_helo_if_needed()
    data = message.smtp_bytes()
    size = f" size={len(data)}" if smtp.has_extn("size") else ""
    sender, [recipient] = message.envelope_from, message.to
    code, reply = smtp.docmd("mail", f"from:<{sender}>{size}")
    if code != 250:
        _end_transaction(smtp, code)
        raise smtplib.SMTPSenderRefused(code, reply, sender)
    code, reply = smtp.docmd("rcpt", f"to:<{recipient}>")
    if code not in (250, 251):
        _end_transaction(smtp, code)
        raise smtplib.SMTPRecipientsRefused({recipient: (code, reply)})
    code, reply = smtp.data(data)
    if code != 250:
        _end_transaction(smtp, code)
        raise smtplib.SMTPDataError(code, reply)


def _end_transaction(smtp: smtplib.SMTP, code: int) -> None:
    """After a refusal, as sendmail(): 421 means the server is closing the connection; otherwise RSET
    makes it ready for the next message."""
    if code == 421:
        smtp.close()
    else:
        with contextlib.suppress(smtplib.SMTPServerDisconnected):
            smtp.rset()


def _send_over_one_connection(
    messages: Sequence[tuple[int, BroadcastEmail]],
    outcomes: dict[int, DeliveryError | None],
    stop: threading.Event,
) -> None:
    # Django 6.1's replacement for get_connection(): a fresh backend instance per connection.
    connection = mailers.default
    try:
        connection.open()
    except OSError as exc:  # includes every smtplib.SMTPException
        failure = DeliveryError(f"Could not connect to the mail server: {exc}", transient=True)
        outcomes.update(dict.fromkeys((delivery_id for delivery_id, _ in messages), failure))
        return
    # With Django's SMTP backend, the messages go straight to its open smtplib connection
    # (smtp_send); any other backend gets them as usual.
    smtp = connection.connection if isinstance(connection, SMTPBackend) else None
    try:
        for delivery_id, message in messages:
            if stop.is_set():
                break
            try:
                if smtp is not None:
                    smtp_send(smtp, message)
                else:
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
