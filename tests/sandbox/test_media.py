"""ADF media nodes refer to the issue's own attachments by media id, as in Jira Cloud."""

from __future__ import annotations

import re
from urllib.parse import urlparse

import requests

from sandbox import media
from sandbox.attachments import attachment_bytes
from sandbox.content import issue_doc, plain
from sandbox.state import SandboxState


def test_generated_descriptions_and_comments_embed_the_issues_own_attachments():
    state = SandboxState(seed="media", projects=2, issues=300, features="media")
    site = state.site("acme")
    described = commented = 0
    for issue in site.live_issues():
        doc = issue_doc(site, issue)
        attachments = {a["id"]: a for a in doc["attachments"]}
        ids = media.media_ids_in(plain(site, doc["fields"]["description"]))
        for comment in doc["comments"]:
            commented += bool(media.media_ids_in(plain(site, comment["body"])))
            ids += media.media_ids_in(plain(site, comment["body"]))
        for media_id in ids:
            attachment_id = media.attachment_id_of(site, media_id)
            assert str(attachment_id) in attachments, issue.key
        described += bool(ids)
    assert described > 100 and commented > 20


def test_an_inline_image_is_a_media_single_with_the_file_name_and_size():
    state = SandboxState(seed="media", projects=2, issues=200, features="media")
    site = state.site("acme")
    for issue in site.live_issues():
        doc = issue_doc(site, issue)
        blocks = plain(site, doc["fields"]["description"])["content"]
        singles = [b for b in blocks if b["type"] == "mediaSingle"]
        if singles:
            attrs = singles[0]["content"][0]["attrs"]
            attachment = next(
                a for a in doc["attachments"] if media.media_id(site, a["id"]) == attrs["id"]
            )
            assert attachment["mimeType"] == "image/png"
            assert attrs["type"] == "file" and attrs["collection"] == ""
            assert attrs["alt"] == attachment["filename"]
            assert attrs["width"] == attrs["height"] in (8, 16, 32)
            png = attachment_bytes(
                site.seed, int(attachment["id"]), "image/png", attachment["size"]
            )
            assert int.from_bytes(png[16:20], "big") == attrs["width"]  # the IHDR width
            assert attrs["id"] != attachment["id"]  # a media id, not the attachment id
            return
    raise AssertionError("no inline image generated")


def test_a_client_resolves_a_media_node_through_the_content_redirect(full):
    site = full.sandbox.site("acme")
    issue, node_id = next(
        (i, ids[0])
        for i in site.live_issues()
        if (ids := media.media_ids_in(plain(site, issue_doc(site, i)["fields"]["description"])))
    )
    fields = full.get(f"issue/{issue.key}").json()["fields"]
    assert media.media_ids_in(fields["description"])[0] == node_id
    by_media_id = {}
    for attachment in fields["attachment"]:
        # What a client does: ask for the content without following the redirect.
        answer = full.get(f"attachment/content/{attachment['id']}", allow_redirects=False)
        found = re.search(r"/file/([0-9a-f-]+)/binary", urlparse(answer.headers["Location"]).path)
        by_media_id[found.group(1)] = (attachment, answer.headers["Location"])
    attachment, location = by_media_id[node_id]
    downloaded = requests.get(location, timeout=10).content
    direct = full.get(f"attachment/content/{attachment['id']}", params={"redirect": "false"})
    assert downloaded == direct.content and len(downloaded) == attachment["size"]


def test_an_uploaded_attachment_gets_a_media_id_a_restore_can_embed(full):
    import io

    upload = full.post(
        "issue/ALPHA-1/attachments",
        headers={"X-Atlassian-Token": "no-check"},
        files={"file": ("shot.png", io.BytesIO(b"\x89PNG restored"), "image/png")},
    ).json()[0]
    location = full.get(f"attachment/content/{upload['id']}", allow_redirects=False).headers[
        "Location"
    ]
    media_id = re.search(r"/file/([0-9a-f-]+)/binary", location).group(1)
    site = full.sandbox.site("acme")
    assert media.attachment_id_of(site, media_id) == int(upload["id"])
    node = media.node(site, int(upload["id"]), "shot.png", "image/png")
    description = {"type": "doc", "version": 1, "content": [node]}
    assert (
        full.put("issue/ALPHA-1", json={"fields": {"description": description}}).status_code == 204
    )
    shown = full.get("issue/ALPHA-1").json()["fields"]["description"]
    assert media.media_ids_in(shown) == [media_id]
    assert requests.get(location, timeout=10).content == b"\x89PNG restored"


def test_classic_sites_have_no_media_nodes():
    state = SandboxState(seed="media", projects=2, issues=100)
    site = state.site("acme")
    for issue in site.live_issues():
        doc = issue_doc(site, issue)
        assert not media.media_ids_in(plain(site, doc["fields"]["description"]))
