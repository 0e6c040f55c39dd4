"""A real SMTP server on 127.0.0.1 (aiosmtpd) that keeps what it receives and refuses on request.

with FakeSMTPServer() as smtp:
    smtp.refuse("bob@example.org", code=451, text="4.3.0 Try again later", times=1)
    smtp.refuse("eve@example.org", code=554, text="5.6.0 Content refused", at="DATA")
    ...  # point EMAIL_HOST/EMAIL_PORT at smtp.host/smtp.port
    smtp.messages  # [ReceivedMessage(mail_from, rcpt_tos, data)], .parsed for email.message
"""

import email
import email.policy
import threading
from dataclasses import dataclass, field

from aiosmtpd.controller import Controller


@dataclass
class ReceivedMessage:
    mail_from: str
    rcpt_tos: list[str]
    data: bytes
    # The client's (host, port): which connection the message came over.
    peer: tuple[str, int] | None = None
    # The parameters of MAIL FROM, e.g. ["SIZE=2048"].
    mail_options: list[str] = field(default_factory=list)

    @property
    def parsed(self) -> email.message.EmailMessage:
        return email.message_from_bytes(self.data, policy=email.policy.default)


@dataclass
class Refusal:
    code: int
    text: str
    times: int | None  # None: for ever
    at: str = "RCPT"  # the command refused: RCPT TO, or DATA once the message is in


@dataclass
class Handler:
    messages: list[ReceivedMessage] = field(default_factory=list)
    refusals: dict[str, Refusal] = field(default_factory=dict)
    refused: list[tuple[str, int]] = field(default_factory=list)
    lock: threading.Lock = field(default_factory=threading.Lock)

    def refusal(self, address: str, at: str) -> str | None:
        """The reply refusing `address` at command `at`, if one is due; caller holds the lock."""
        refusal = self.refusals.get(address.lower())
        if refusal is None or refusal.at != at or refusal.times == 0:
            return None
        if refusal.times is not None:
            refusal.times -= 1
        self.refused.append((address, refusal.code))
        return f"{refusal.code} {refusal.text}"

    async def handle_RCPT(self, server, session, envelope, address, rcpt_options):  # aiosmtpd hook
        with self.lock:
            refused = self.refusal(address, "RCPT")
        if refused:
            return refused
        envelope.rcpt_tos.append(address)
        return "250 OK"

    async def handle_DATA(self, server, session, envelope):  # aiosmtpd hook
        with self.lock:
            for address in envelope.rcpt_tos:
                refused = self.refusal(address, "DATA")
                if refused:
                    return refused
            self.messages.append(
                ReceivedMessage(
                    envelope.mail_from,
                    list(envelope.rcpt_tos),
                    envelope.content,
                    session.peer,
                    list(envelope.mail_options),
                )
            )
        return "250 Message accepted for delivery"


class EphemeralPortController(Controller):
    """Binds port 0 and learns the port the OS chose before aiosmtpd's readiness check connects."""

    def _trigger_server(self):
        self.port = self.server.sockets[0].getsockname()[1]
        super()._trigger_server()


class FakeSMTPServer:
    def __init__(self) -> None:
        self.handler = Handler()
        self.controller = EphemeralPortController(self.handler, hostname="127.0.0.1", port=0)
        self.running = False

    host = "127.0.0.1"

    @property
    def port(self) -> int:
        return self.controller.port

    @property
    def messages(self) -> list[ReceivedMessage]:
        with self.handler.lock:
            return list(self.handler.messages)

    @property
    def refused(self) -> list[tuple[str, int]]:
        with self.handler.lock:
            return list(self.handler.refused)

    def refuse(
        self,
        address: str,
        *,
        code: int = 550,
        text: str = "5.1.1 No such user",
        times: int | None = None,
        at: str = "RCPT",
    ):
        """Answer RCPT TO for `address` (or DATA for a message to it, `at="DATA"`) with `code` (4xx
        transient, 5xx permanent; 421 closing the connection), `times` times."""
        with self.handler.lock:
            self.handler.refusals[address.lower()] = Refusal(code, text, times, at)

    def messages_to(self, address: str) -> list[ReceivedMessage]:
        return [message for message in self.messages if address in message.rcpt_tos]

    def start(self) -> "FakeSMTPServer":
        self.controller.start()
        self.running = True
        return self

    def stop(self) -> None:
        """Stop listening (a test may do it to play a mail server that is down); idempotent."""
        if self.running:
            self.controller.stop()
            self.running = False

    def __enter__(self) -> "FakeSMTPServer":
        return self.start()

    def __exit__(self, *exc_info) -> None:
        self.stop()
