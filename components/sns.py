"""On-call topics' subscriptions, written once: who an SNS topic reaches, and which endpoints are secrets."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

import pulumi
import pulumi_aws as aws

from settings.incident import SnsChannel


@dataclass(frozen=True)
class Subscriber:
    """One endpoint of a topic."""

    channel: SnsChannel
    """The communication plan's channel (pagerduty, slack_alert, ...)."""
    protocol: Literal["email", "https"]
    """SNS protocol."""
    endpoint: pulumi.Input[str]
    """Address, or (https) an integration URL (PagerDuty's declared integration)."""


def subscribe(
    prefix: str, topic_arn: pulumi.Input[str], index: int, subscriber: Subscriber, opts: pulumi.ResourceOptions
) -> aws.sns.TopicSubscription:
    """`<prefix>-<channel>-<index>`: the subscriber's subscription to the topic."""
    return aws.sns.TopicSubscription(
        f"{prefix}-{subscriber.channel.replace('_', '-')}-{index}",
        topic=topic_arn,
        protocol=subscriber.protocol,
        # An https endpoint (PagerDuty's integration URL, a webhook) carries its key in the URL.
        endpoint=pulumi.Output.secret(subscriber.endpoint) if subscriber.protocol == "https" else subscriber.endpoint,
        opts=opts,
    )
