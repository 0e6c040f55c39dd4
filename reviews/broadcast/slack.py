"""Slack: one incoming-webhook message with Block Kit blocks (title, summary, key facts, link)."""

import json

import requests

from reviews.broadcast.content import BroadcastContent
from reviews.broadcast.http import post_json

# Block Kit limits: header text 150 chars, section text 3000, at most 10 fields of 2000 each.
HEADER_MAX = 150
SECTION_MAX = 3000
FIELDS_MAX = 10


def slack_escape(text: str) -> str:
    """Slack's mrkdwn treats &, < and > as control characters (https://api.slack.com/reference/surfaces/formatting#escaping)."""
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


def truncate(text: str, limit: int) -> str:
    return text if len(text) <= limit else text[: limit - 1] + "…"


def slack_payload(content: BroadcastContent) -> dict:
    """The webhook body: `text` is the notification fallback, `blocks` the message people see."""
    fields = [
        {"type": "mrkdwn", "text": truncate(f"*{label}*\n{slack_escape(value)}", 2000)}
        for label, value in content.key_facts[:FIELDS_MAX]
    ]
    blocks: list[dict] = [
        {"type": "header", "text": {"type": "plain_text", "text": truncate(content.title, HEADER_MAX)}},
        {
            "type": "context",
            "elements": [
                {"type": "mrkdwn", "text": slack_escape(f"Narrative published · {content.subject}")}
            ],
        },
    ]
    if content.summary:
        blocks.append(
            {
                "type": "section",
                "text": {"type": "mrkdwn", "text": truncate(slack_escape(content.summary), SECTION_MAX)},
            }
        )
    blocks.append({"type": "section", "fields": fields})
    blocks.append(
        {
            "type": "actions",
            "elements": [
                {
                    "type": "button",
                    "text": {"type": "plain_text", "text": "Read the narrative"},
                    "url": content.url,
                    "style": "primary",
                }
            ],
        }
    )
    fallback = f"{content.subject} — {content.url}"
    return {"text": fallback, "blocks": blocks, "unfurl_links": False}


def post_to_slack(session: requests.Session, webhook_url: str, content: BroadcastContent) -> None:
    """Raise DeliveryError unless Slack accepted the message."""
    # https://api.slack.com/messaging/webhooks — answers 200 "ok"; 400 invalid_payload, 403, 404
    # no_service and 410 channel_is_archived are permanent; 429 carries Retry-After.
    post_json(session, webhook_url, json.dumps(slack_payload(content)).encode())
