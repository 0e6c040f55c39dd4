"""One JSON POST to a chat or webhook endpoint, with its failures classified."""

import requests

from reviews.broadcast.errors import DeliveryError
from ybiyri.outbound import is_transient_status, parse_retry_after

# Connect and read timeouts: a slow endpoint must not hold a worker for the whole task time limit.
TIMEOUT = (5, 15)
USER_AGENT = "ybiyri-broadcast/1.0"


def post_json(
    session: requests.Session, url: str, body: bytes, headers: dict[str, str] | None = None
) -> None:
    """POST `body` (already serialised JSON) to `url`; raise DeliveryError unless the answer is 2xx.

    Redirects are not followed: requests would turn the POST into a GET, silently losing the message.
    """
    try:
        response = session.post(
            url,
            data=body,
            headers={"Content-Type": "application/json", "User-Agent": USER_AGENT, **(headers or {})},
            timeout=TIMEOUT,
            allow_redirects=False,
        )
    except requests.RequestException as exc:
        raise DeliveryError(f"Could not reach the endpoint: {exc}", transient=True) from exc
    if 200 <= response.status_code < 300:
        return
    detail = response.text.strip()[:500] or response.reason
    raise DeliveryError(
        f"HTTP {response.status_code}: {detail}",
        transient=is_transient_status(response.status_code),
        retry_after=parse_retry_after(response.headers.get("Retry-After")),
    )
