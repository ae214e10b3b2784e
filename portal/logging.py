"""Logging that never carries a secret.

Third-party libraries (``oauthlib``, ``requests_oauthlib``, ``urllib3``) log request and response
bodies at DEBUG, and those bodies hold authorization codes, tokens and client secrets.

A filter on a logger only sees records logged *on that logger* (not those propagated from its
children), and a filter on one handler does not protect the others (pytest's caplog, a handler
an operator adds to the root logger, Sentry's). So ``install()`` redacts at the source: it wraps
the log-record factory, so every record of every logger is cleaned once, when it is created,
before any filter or handler sees it. ``RedactSecretsFilter`` stays for handlers configured in
``LOGGING`` and for the chatty libraries' loggers, as a second line.

What is redacted: values of secret-looking keys in JSON, dict reprs, form bodies and query
strings; ``Bearer``/``Basic`` credentials; bare tokens of known shapes (JWTs, Atlassian API
tokens, the sandbox's tokens); and the vendor app's client secret wherever it appears.
"""

from __future__ import annotations

import logging
import re
import threading

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
    # Bare tokens of known shapes: JWTs (Atlassian access tokens), Atlassian API tokens, and
    # the sandbox's access/refresh tokens.
    (re.compile(r"\beyJ[A-Za-z0-9_-]{8,}\.[A-Za-z0-9_-]+\.[A-Za-z0-9_-]*"), REDACTED),
    (re.compile(r"\bATATT[A-Za-z0-9_=-]{16,}"), REDACTED),
    (re.compile(r"\bsbx_(?:at|rt)_[A-Za-z0-9_-]+"), REDACTED),
]
_literals: set[str] = set()
_lock = threading.Lock()


def add_literal(secret: str | None) -> None:
    """Redact this exact value wherever it appears (e.g. the vendor app's client secret)."""
    if secret and len(secret) >= 8:
        with _lock:
            _literals.add(secret)


def redact(text: str) -> str:
    for pattern, replacement in _PATTERNS:
        text = pattern.sub(replacement, text)
    for literal in tuple(_literals):
        if literal in text:
            text = text.replace(literal, REDACTED)
    return text


def _clean(record: logging.LogRecord) -> None:
    if getattr(record, "_redacted", False):
        return
    try:
        message = record.getMessage()
    except Exception:  # noqa: BLE001 - a broken format string must not break logging
        return
    cleaned = redact(message)
    if cleaned != message:
        record.msg, record.args = cleaned, None
    record._redacted = True


class RedactSecretsFilter(logging.Filter):
    def filter(self, record: logging.LogRecord) -> bool:
        _clean(record)
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


def _redacting_factory(previous):
    def factory(*args, **kwargs):
        record = previous(*args, **kwargs)
        _clean(record)
        return record

    factory._portal_redacting = True
    return factory


def install() -> None:
    """Redact every log record at creation, and filter the chatty libraries (idempotent)."""
    from django.conf import settings

    add_literal(getattr(settings, "ATLASSIAN_CLIENT_SECRET", ""))
    with _lock:
        current = logging.getLogRecordFactory()
        if not getattr(current, "_portal_redacting", False):
            logging.setLogRecordFactory(_redacting_factory(current))
    for name in _CHATTY_LOGGERS:
        logger = logging.getLogger(name)
        if not any(isinstance(f, RedactSecretsFilter) for f in logger.filters):
            logger.addFilter(RedactSecretsFilter())
