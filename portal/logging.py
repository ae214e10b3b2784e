"""Logging that never carries a secret.

Third-party libraries (``oauthlib``, ``requests_oauthlib``, ``urllib3``) log request and response
bodies at DEBUG, and those bodies hold authorization codes, tokens and client secrets. The filter
below rewrites every record's message before any handler sees it; ``install()`` attaches it to
those libraries' loggers as well as to our handlers, so it holds whatever level an operator sets.
"""

from __future__ import annotations

import logging
import re

REDACTED = "[redacted]"

_SECRET_NAMES = (
    "access_token|refresh_token|id_token|client_secret|code|api_token|token|password|secret"
)
_PATTERNS = [
    # JSON bodies and dict reprs: "access_token": "value"
    (
        re.compile(rf"""(["'](?:{_SECRET_NAMES})["']\s*:\s*)(["'])[^"']*\2""", re.I),
        r"\1\2[redacted]\2",
    ),
    # form bodies and query strings: client_secret=value
    (re.compile(rf"""(\b(?:{_SECRET_NAMES})=)[^&\s"',)]+""", re.I), r"\1[redacted]"),
    # HTTP authorization headers
    (re.compile(r"""((?:Bearer|Basic)\s+)[A-Za-z0-9._~+/=-]+""", re.I), r"\1[redacted]"),
]


def redact(text: str) -> str:
    for pattern, replacement in _PATTERNS:
        text = pattern.sub(replacement, text)
    return text


class RedactSecretsFilter(logging.Filter):
    def filter(self, record: logging.LogRecord) -> bool:
        try:
            message = record.getMessage()
        except Exception:  # noqa: BLE001 - a broken format string must not break logging
            return True
        cleaned = redact(message)
        if cleaned != message:
            record.msg, record.args = cleaned, None
        return True


_CHATTY_LOGGERS = (
    "oauthlib",
    "oauthlib.oauth2.rfc6749.parameters",
    "oauthlib.oauth2.rfc6749.clients.base",
    "oauthlib.oauth2.rfc6749.clients.web_application",
    "requests_oauthlib",
    "requests_oauthlib.oauth2_session",
    "urllib3.connectionpool",
)


def install() -> None:
    """Attach the filter to the loggers of libraries that log secrets (idempotent)."""
    for name in _CHATTY_LOGGERS:
        logger = logging.getLogger(name)
        if not any(isinstance(f, RedactSecretsFilter) for f in logger.filters):
            logger.addFilter(RedactSecretsFilter())
