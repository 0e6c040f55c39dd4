"""Reads for the broadcast: who receives a publication, and how far its delivery has got."""

from dataclasses import dataclass
from urllib.parse import urlsplit

from django.conf import settings
from django.db.models import Count, Q, QuerySet

from incidents.models import Incident, User
from reviews.access import managed_broadcasts_q
from reviews.models import Delivery, Narrative

# Single-endpoint channels record the setting that names their endpoint, not the URL: the URL is a
# secret, and a corrected URL then applies to a retry of a failed delivery.
SLACK_RECIPIENT = "SLACK_WEBHOOK_URL"
TEAMS_RECIPIENT = "TEAMS_WEBHOOK_URL"
CONFLUENCE_RECIPIENT = "CONFLUENCE_SPACE_KEY"
FAILURES_SHOWN = 20


def broadcast_deliveries(*, viewer: User) -> QuerySet[Delivery]:
    """Every delivery of the narratives whose broadcast `viewer` manages (`can_manage_broadcast`),
    newest first."""
    return Delivery.objects.filter(managed_broadcasts_q(viewer, prefix="narrative__")).order_by("-id")


def mailable_members() -> QuerySet[User]:
    """Active members with an address who have not opted out of broadcast email."""
    return User.objects.filter(is_active=True, broadcast_opt_out=False).exclude(email="")


def confidential_audience(*, incident: Incident) -> QuerySet[User]:
    """Members who may read a confidential incident's narrative: its team's members and product
    managers and its responders (opted-out members excluded)."""
    return mailable_members().filter(
        Q(teams=incident.team_id) | Q(managed_teams=incident.team_id) | Q(responses__incident=incident)
    )


def unique_addresses(addresses: list[str]) -> list[str]:
    """Addresses in order, each once whatever its case (the list and a member may coincide)."""
    seen: set[str] = set()
    unique = []
    for address in addresses:
        if address.lower() not in seen:
            seen.add(address.lower())
            unique.append(address)
    return unique


def broadcast_recipients(*, incident: Incident) -> list[tuple[str, str]]:
    """(channel, recipient) pairs for a publication under the current configuration.

    A confidential incident is never broadcast organisation-wide: only the people who may see it
    are emailed, and no list address, chat channel, webhook or Confluence space hears of it.
    """
    if incident.confidential:
        members = confidential_audience(incident=incident).values_list("email", flat=True).distinct()
        return [(Delivery.Channel.EMAIL, address) for address in unique_addresses(list(members))]
    addresses = list(settings.BROADCAST_EMAIL_TO)
    if settings.BROADCAST_EMAIL_MEMBERS:
        addresses += mailable_members().order_by("pk").values_list("email", flat=True)
    pairs: list[tuple[str, str]] = [
        (Delivery.Channel.EMAIL, address) for address in unique_addresses(addresses)
    ]
    if settings.SLACK_WEBHOOK_URL:
        pairs.append((Delivery.Channel.SLACK, SLACK_RECIPIENT))
    if settings.TEAMS_WEBHOOK_URL:
        pairs.append((Delivery.Channel.TEAMS, TEAMS_RECIPIENT))
    pairs += [(Delivery.Channel.WEBHOOK, url) for url in dict.fromkeys(settings.BROADCAST_WEBHOOK_URLS)]
    if settings.CONFLUENCE_URL and settings.CONFLUENCE_SPACE_KEY:
        pairs.append((Delivery.Channel.CONFLUENCE, CONFLUENCE_RECIPIENT))
    return pairs


@dataclass(frozen=True)
class ChannelProgress:
    channel: str
    label: str
    delivered: int
    pending: int  # waiting or being sent
    failed: int

    @property
    def total(self) -> int:
        return self.delivered + self.pending + self.failed


@dataclass(frozen=True)
class FailedDelivery:
    id: int
    channel_label: str
    recipient: str  # fit to show: webhook URLs lose their path, which often holds a token
    reason: str
    attempts: int


@dataclass(frozen=True)
class BroadcastProgress:
    publication: int
    channels: tuple[ChannelProgress, ...]
    failures: tuple[FailedDelivery, ...]  # the first FAILURES_SHOWN

    @property
    def delivered(self) -> int:
        return sum(channel.delivered for channel in self.channels)

    @property
    def pending(self) -> int:
        return sum(channel.pending for channel in self.channels)

    @property
    def failed(self) -> int:
        return sum(channel.failed for channel in self.channels)

    @property
    def total(self) -> int:
        return sum(channel.total for channel in self.channels)

    @property
    def more_failures(self) -> int:
        return self.failed - len(self.failures)


def recipient_display(channel: str, recipient: str) -> str:
    if channel == Delivery.Channel.WEBHOOK:
        parts = urlsplit(recipient)
        return f"{parts.scheme}://{parts.netloc}/…"
    if channel in (Delivery.Channel.SLACK, Delivery.Channel.TEAMS):
        return "the configured webhook"
    if channel == Delivery.Channel.CONFLUENCE:
        return "the configured space"
    return recipient


def broadcast_progress(*, narrative: Narrative) -> BroadcastProgress:
    """Delivered / pending / failed per channel for the narrative's latest publication.

    At most two queries whatever the number of recipients: one aggregate, and the first failures
    only when there are some.
    """
    deliveries = Delivery.objects.filter(narrative=narrative, publication=narrative.publication)
    counts = deliveries.values("channel").annotate(
        delivered=Count("pk", filter=Q(state=Delivery.State.DELIVERED)),
        pending=Count("pk", filter=Q(state__in=[Delivery.State.PENDING, Delivery.State.SENDING])),
        failed=Count("pk", filter=Q(state=Delivery.State.FAILED)),
    )
    by_channel = {row["channel"]: row for row in counts}
    channels = tuple(
        ChannelProgress(
            channel=channel.value,
            label=channel.label,
            delivered=by_channel[channel]["delivered"],
            pending=by_channel[channel]["pending"],
            failed=by_channel[channel]["failed"],
        )
        for channel in Delivery.Channel
        if channel in by_channel
    )
    failures: tuple[FailedDelivery, ...] = ()
    if any(channel.failed for channel in channels):
        failures = tuple(
            FailedDelivery(
                id=delivery.pk,
                channel_label=delivery.get_channel_display(),
                recipient=recipient_display(delivery.channel, delivery.recipient),
                reason=delivery.last_error,
                attempts=delivery.attempts,
            )
            for delivery in deliveries.filter(state=Delivery.State.FAILED).order_by("pk")[:FAILURES_SHOWN]
        )
    return BroadcastProgress(publication=narrative.publication, channels=channels, failures=failures)
