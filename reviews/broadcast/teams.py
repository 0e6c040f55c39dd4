"""Microsoft Teams: an Adaptive Card posted to a Workflows ("Post to a channel when a webhook
request is received") webhook, the replacement of the retired Office 365 connectors."""

import json

import requests

from reviews.broadcast.content import BroadcastContent
from reviews.broadcast.http import post_json

# Teams renders Adaptive Cards up to schema 1.5 on every client; 1.4 keeps mobile clients happy too.
CARD_VERSION = "1.4"


def adaptive_card(content: BroadcastContent) -> dict:
    body: list[dict] = [
        {
            "type": "TextBlock",
            "text": f"Narrative published · {content.severity} · {content.team}",
            "isSubtle": True,
            "wrap": True,
        },
        {"type": "TextBlock", "text": content.title, "size": "Large", "weight": "Bolder", "wrap": True},
    ]
    if content.summary:
        body.append({"type": "TextBlock", "text": content.summary, "wrap": True})
    body.append(
        {"type": "FactSet", "facts": [{"title": label, "value": value} for label, value in content.key_facts]}
    )
    return {
        "$schema": "http://adaptivecards.io/schemas/adaptive-card.json",
        "type": "AdaptiveCard",
        "version": CARD_VERSION,
        "msteams": {"width": "Full"},
        "body": body,
        "actions": [{"type": "Action.OpenUrl", "title": "Read the narrative", "url": content.url}],
    }


def teams_payload(content: BroadcastContent) -> dict:
    """A message activity with one Adaptive Card attachment, the shape Workflows webhooks expect."""
    return {
        "type": "message",
        "attachments": [
            {
                "contentType": "application/vnd.microsoft.card.adaptive",
                "contentUrl": None,
                "content": adaptive_card(content),
            }
        ],
    }


def post_to_teams(session: requests.Session, webhook_url: str, content: BroadcastContent) -> None:
    """Raise DeliveryError unless Teams accepted the message."""
    # https://learn.microsoft.com/microsoftteams/platform/webhooks-and-connectors/how-to/add-incoming-webhook
    # Workflows answer 202 Accepted; 400 means a malformed card, 429/5xx are worth retrying.
    post_json(session, webhook_url, json.dumps(teams_payload(content)).encode())
