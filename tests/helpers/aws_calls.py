"""The AWS API calls code makes, recorded through botocore's own event hooks on boto3's default session."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit

import boto3


@dataclass(frozen=True)
class Call:
    """One API call as the client sent it."""

    service: str
    """botocore's service name (`s3`, `cloudwatch`)."""
    operation: str
    """The API operation (`GetObject`)."""
    host: str
    """Host of the endpoint it went to (tells a stand-in for another service, e.g. Supabase Storage, apart)."""
    params: dict[str, Any]
    """The operation's parameters (Bucket, Key, Prefix...)."""


@contextmanager
def recorded_calls() -> Iterator[list[Call]]:
    """Every call a client of boto3's default session created inside the block makes (`boto3.client(...)`).

    A fresh default session for the block, with handlers on `before-parameter-build` (the operation's parameters)
    and `before-call` (the endpoint the request goes to); the previous session is put back after it.
    """
    calls: list[Call] = []
    previous = boto3.DEFAULT_SESSION
    boto3.setup_default_session()
    session = boto3.DEFAULT_SESSION
    assert session is not None

    def parameters(params: dict[str, Any], context: dict[str, Any], **_: Any) -> None:
        context["recorded_params"] = dict(params)

    def sent(model: Any, params: dict[str, Any], context: dict[str, Any], **_: Any) -> None:
        calls.append(
            Call(
                model.service_model.service_name,
                model.name,
                urlsplit(params["url"]).hostname or "",
                context.get("recorded_params", {}),
            )
        )

    session.events.register("before-parameter-build", parameters)
    session.events.register("before-call", sent)
    try:
        yield calls
    finally:
        boto3.DEFAULT_SESSION = previous
