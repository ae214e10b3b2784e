"""Atlassian Media: how ADF refers to an issue's attachments.

In Jira Cloud an inline image in a description or comment is an ADF `media` node inside
`mediaSingle` (images) or `mediaGroup` (other files): `{"type": "file", "id": <media file
UUID>, "collection": "", "alt": <file name>}`. The UUID is the file's id in Atlassian's media
service, *not* the attachment id, and the REST attachment metadata does not carry it. What a
client can do (and what the sandbox models): `GET attachment/content/{id}` without following
the redirect answers 303 to `.../file/{UUID}/binary?...`, so the Location names the attachment's
media id; `alt` holds the file name as a fallback. The sandbox derives the UUID from the site
and the attachment id (its last group is the attachment id in hex, which lets the media
endpoint find the file; clients must not rely on that).
"""

from __future__ import annotations

import hashlib
import re
from _random import Random as _CRandom
from typing import Any

from sandbox.model import Site

MEDIA_ID = re.compile(r"^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-a[0-9a-f]{3}-([0-9a-f]{12})$")


def media_id(site: Site, attachment_id: int | str) -> str:
    digest = hashlib.sha256(f"{site.seed}/media/{attachment_id}".encode()).hexdigest()
    return (
        f"{digest[:8]}-{digest[8:12]}-4{digest[12:15]}-a{digest[15:18]}-{int(attachment_id):012x}"
    )


def attachment_id_of(site: Site, media: str) -> int | None:
    """The attachment a media id stands for on this site (None if it is not one of ours)."""
    match = MEDIA_ID.match(media or "")
    if match is None:
        return None
    attachment_id = int(match.group(1), 16)
    return attachment_id if media_id(site, attachment_id) == media else None


def image_size(seed: str, attachment_id: int) -> int:
    """Width (= height) of a generated PNG: the first draw of its byte stream, i.e.
    `rng_for(seed, "attachment", id).choice((8, 16, 32))` of attachments.py, computed the way
    `random.Random(str)` seeds itself, with the C generator (3x faster on the cold path)."""
    text = f"{seed}/attachment/{attachment_id}".encode()
    draw = _CRandom(int.from_bytes(text + hashlib.sha512(text).digest(), "big")).getrandbits
    choice = draw(2)
    while choice >= 3:
        choice = draw(2)
    return (8, 16, 32)[choice]


def node(site: Site, attachment_id: int, filename: str, mime: str) -> dict[str, Any]:
    """The ADF block Jira writes for an attachment dropped into a description or comment."""
    attrs: dict[str, Any] = {
        "type": "file",
        "id": media_id(site, attachment_id),
        "alt": filename,
        "collection": "",
    }
    if mime.startswith("image/"):
        size = image_size(site.seed, attachment_id)
        attrs.update(width=size, height=size)
        return {
            "type": "mediaSingle",
            "attrs": {"layout": "center"},
            "content": [{"type": "media", "attrs": attrs}],
        }
    return {"type": "mediaGroup", "content": [{"type": "media", "attrs": attrs}]}


def with_nodes(doc: dict[str, Any], nodes: list[dict[str, Any]]) -> dict[str, Any]:
    """A copy of an ADF document with `nodes` appended (pooled documents stay untouched)."""
    return {**doc, "content": [*doc["content"], *nodes]}


def media_ids_in(doc: Any) -> list[str]:
    """Every media id an ADF document refers to, in document order."""
    found: list[str] = []

    def walk(value: Any) -> None:
        if isinstance(value, dict):
            if value.get("type") == "media":
                found.append((value.get("attrs") or {}).get("id", ""))
            for child in value.get("content") or []:
                walk(child)

    walk(doc)
    return found


def generated_nodes(
    site: Site, head: int, attachments: list[tuple[int, str, str]]
) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    """The media blocks of a generated issue on a site with the "media" feature: (appended to
    its description, appended to its first comment). `attachments` are (id, file name, mime).
    Decided by the issue's head bits, so the content stream is not disturbed."""
    if "media" not in site.features or not attachments:
        return [], []
    images = [a for a in attachments if a[2].startswith("image/")]
    files = [a for a in attachments if not a[2].startswith("image/")]
    description: list[dict[str, Any]] = []
    if (head >> 28) & 3:
        description = [node(site, *chosen[0]) for chosen in (images, files) if chosen]
    comment = [node(site, *images[-1])] if images and (head >> 30) & 1 else []
    return description, comment
