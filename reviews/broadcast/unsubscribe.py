"""Signed one-click unsubscribe tokens: the link in every member email is its own authentication."""

from collections.abc import Iterable

from django.conf import settings
from django.core import signing
from django.urls import reverse

SALT = "ybiyri.broadcast.unsubscribe"


def unsubscribe_token(*, user_id: int) -> str:
    """A URL-safe token naming the member; it does not expire, so an old email still unsubscribes."""
    return signing.dumps(user_id, salt=SALT, compress=False)


def unsubscribe_user_id(*, token: str) -> int:
    """The member's id; raises signing.BadSignature for a forged or damaged token."""
    value = signing.loads(token, salt=SALT)
    if not isinstance(value, int):
        raise signing.BadSignature("Not an unsubscribe token")
    return value


def member_unsubscribe_url(*, user_id: int) -> str:
    """The absolute one-click unsubscribe link for a member's List-Unsubscribe header and footer."""
    return settings.SITE_URL + reverse(
        "broadcast:unsubscribe", kwargs={"token": unsubscribe_token(user_id=user_id)}
    )


def member_unsubscribe_urls(user_ids: Iterable[int]) -> dict[int, str]:
    """`member_unsubscribe_url` for many members, resolving the URL pattern once (a batch of mail
    would otherwise spend more on reverse() than on signing). Tokens are URL-safe base64 and ":"
    (django.core.signing), which reverse() leaves as they are, so putting one in place of a
    placeholder gives the same link."""
    placeholder = "token-placeholder"
    link = settings.SITE_URL + reverse("broadcast:unsubscribe", kwargs={"token": placeholder})
    return {user_id: link.replace(placeholder, unsubscribe_token(user_id=user_id)) for user_id in user_ids}
