"""The portal's one outbound HTTP call that is not to Atlassian: a JSON POST to a URL staff
configured (the protection webhook). It lives beside the Atlassian client because this package
is the only one allowed an HTTP library (``tests/atlassian/test_boundaries.py``); it shares the
client's session settings (timeout, ``User-Agent``) and nothing else: no ledger, no budget."""

from __future__ import annotations

from collections.abc import Mapping

import requests

from atlassian.client import user_agent
from atlassian.exceptions import DeliveryFailed

TIMEOUT_SECONDS = 10


def post_json(url: str, body: bytes, *, headers: Mapping[str, str]) -> int:
    """POST ``body`` (already-encoded JSON) once; returns the status, raises ``DeliveryFailed``."""
    try:
        response = requests.post(
            url,
            data=body,
            headers={
                "Content-Type": "application/json",
                "User-Agent": user_agent(),
                **headers,
            },
            timeout=TIMEOUT_SECONDS,
            allow_redirects=False,
        )
    except requests.RequestException as exc:
        raise DeliveryFailed(f"{type(exc).__name__} posting to the webhook") from None
    if not 200 <= response.status_code < 300:
        raise DeliveryFailed(f"the webhook answered {response.status_code}")
    return response.status_code
