"""The channels CopyLift writes for, their display names and their length limits.

Limits are in characters of the rendered text (placeholders filled in). A
banner is a headline and a call to action written as ``headline | CTA``; its
limit covers both.
"""

from __future__ import annotations

from core.errors import ValidationError

CHANNEL_LIMITS: dict[str, int] = {"email_subject": 60, "push": 120, "sms": 160, "banner": 90}

CHANNEL_NAMES: dict[str, str] = {
    "email_subject": "Email subject line",
    "push": "Push notification",
    "sms": "SMS",
    "banner": "Banner headline + call to action",
}

# What the prompt asks for, in the words a copywriter would use.
CHANNEL_FORMATS: dict[str, str] = {
    "email_subject": "one email subject line",
    "push": "one push notification (one or two short sentences)",
    "sms": "one SMS message",
    "banner": "one banner: a headline, then ' | ', then a short call to action",
}


def check_channel(channel: str) -> str:
    """Return ``channel`` if CopyLift knows it, else raise ``ValidationError``."""
    if channel not in CHANNEL_LIMITS:
        raise ValidationError(
            f"unknown channel {channel!r}; use one of {', '.join(CHANNEL_LIMITS)}"
        )
    return channel
