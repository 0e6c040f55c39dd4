"""Atom feeds of published narratives: one for signed-in readers, one behind a per-user secret URL.

Feed readers poll. Each answer carries an ETag computed from the reader's own entries (one query,
no bodies), so a reader that sends it back gets a 304 without the feed being built. The ETag names
everything the feed shows, so a feed built once is kept in the cache under it (and under the
address it was asked at, which the feed names): every reader whose entries are the same gets it
without its Markdown being rendered again.
"""

import hashlib
from datetime import datetime
from typing import Any

from django.contrib.auth.decorators import login_not_required
from django.contrib.syndication.views import Feed
from django.core.cache import cache
from django.core.exceptions import PermissionDenied
from django.db.models import QuerySet
from django.http import Http404, HttpRequest, HttpResponse
from django.utils.cache import get_conditional_response
from django.utils.feedgenerator import Atom1Feed
from django.utils.http import quote_etag

from incidents.models import User
from reviews.markdown import render_markdown
from reviews.models import Narrative
from reviews.selectors import narrative_feed, narrative_feed_fingerprint

# A built feed never goes stale under its key (the key changes with what it shows): the time only
# bounds the memory it holds.
FEED_CACHE_SECONDS = 60 * 60


class NarrativeFeed(Feed):
    feed_type = Atom1Feed
    title = "ybiyri — published incident narratives"
    subtitle = "What the organisation learned from its incidents."
    link = "/narratives/"

    def __call__(self, request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponse:
        viewer = self.get_object(request, *args, **kwargs)
        fingerprint = narrative_feed_fingerprint(viewer=viewer)
        etag = quote_etag(fingerprint)
        response = get_conditional_response(request, etag=etag) or self.built(
            request, fingerprint, *args, **kwargs
        )
        response.headers["ETag"] = etag
        return response

    def built(self, request: HttpRequest, fingerprint: str, *args: Any, **kwargs: Any) -> HttpResponse:
        """The feed as built for these entries at this address, from the cache when it was built
        before (the address, without a query string the feed ignores, is hashed into the key: a
        private feed's carries its token)."""
        address = hashlib.sha256(request.build_absolute_uri(request.path).encode()).hexdigest()
        key = f"narrative-feed:{address}:{fingerprint}"
        cached = cache.get(key)
        if cached is not None:
            content, content_type = cached
            return HttpResponse(content, content_type=content_type)
        response = super().__call__(request, *args, **kwargs)
        cache.set(key, (response.content, response["Content-Type"]), FEED_CACHE_SECONDS)
        return response

    def get_object(self, request: HttpRequest, *args: Any, **kwargs: Any) -> User:
        # LoginRequiredMiddleware lets only signed-in people reach this feed.
        if not isinstance(request.user, User):
            raise PermissionDenied
        return request.user

    def items(self, viewer: User) -> QuerySet[Narrative]:
        return narrative_feed(viewer=viewer)

    def item_title(self, item: Narrative) -> str:
        return f"[{item.incident.get_severity_display()}] {item.incident.team.name}: {item.title}"

    def item_description(self, item: Narrative) -> str:
        return render_markdown(item.body, external_images=False)  # feed readers would fetch them

    def item_pubdate(self, item: Narrative) -> datetime | None:
        return item.published_at

    def item_updateddate(self, item: Narrative) -> datetime:
        return item.updated_at

    def item_author_name(self, item: Narrative) -> str:
        return item.incident.team.name

    def item_categories(self, item: Narrative) -> list[str]:
        return [item.incident.severity, item.incident.team.name, item.incident.service.name]


narrative_feed_view = NarrativeFeed()


class PrivateNarrativeFeed(NarrativeFeed):
    def get_object(self, request: HttpRequest, *args: Any, token: str = "", **kwargs: Any) -> User:
        try:
            return User.objects.get(feed_token=token, is_active=True)
        except User.DoesNotExist:
            raise Http404("Unknown feed address") from None


private_feed_instance = PrivateNarrativeFeed()


@login_not_required
def private_narrative_feed_view(request: HttpRequest, token: str) -> HttpResponse:
    """The feed for readers that cannot sign in: the token in the URL is the credential (revocable)."""
    return private_feed_instance(request, token=token)
