"""How sending one delivery failed, classified so the dispatcher knows whether to retry."""


class DeliveryError(Exception):
    """`reason` is the receiving server's own wording, fit to show people on the narrative page.

    Transient failures (connection errors, SMTP 4xx, HTTP 429/5xx) are retried with backoff, after
    `retry_after` seconds if the server said so; permanent ones are recorded and wait for a person.
    """

    def __init__(self, reason: str, *, transient: bool, retry_after: int | None = None) -> None:
        super().__init__(reason)
        self.reason = reason[:2000]
        self.transient = transient
        self.retry_after = retry_after
