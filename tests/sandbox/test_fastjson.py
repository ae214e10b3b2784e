"""The cold read path writes JSON text directly; it must say exactly what the dict path says."""

from __future__ import annotations

import orjson
import pytest

from sandbox import fastjson
from sandbox.content import pin
from sandbox.model import BASE
from sandbox.render import FieldSelection, issue_json, issue_links, structure_text
from sandbox.state import SandboxState


@pytest.fixture(scope="module", params=["classic", "all"])
def world(request) -> SandboxState:
    features = None if request.param == "classic" else request.param
    state = SandboxState(seed="fastjson", projects=3, issues=400, features=features)
    # A few pinned issues, so that generated issues link to pinned ones too.
    site = state.site("acme")
    for issue in list(site.live_issues())[::37]:
        pin(site, issue)
    return state


@pytest.mark.parametrize("base", [BASE, "http://127.0.0.1:9/ex/jira/abc"])
def test_the_text_path_parses_to_exactly_the_dict_path(world, base):
    site = world.site("acme")
    everything = FieldSelection("*all", "*all")
    checked = 0
    for issue in site.live_issues():
        for cap in (20, 100):
            links = orjson.dumps(issue_links(site, issue, base)).decode()
            structure = structure_text(site, issue, base)
            text = fastjson.issue_all_text(site, issue, base, cap, links, structure)
            if text is None:
                assert issue.doc is not None  # pinned issues take the dict path
                continue
            expected = orjson.dumps(issue_json(site, issue, everything, cap=cap, base=base))
            # Pinned issues (shown as links, parents, sub-tasks) hold the placeholder, which
            # the server replaces in both paths' bytes (render.issue_bytes) before sending.
            sent = expected.replace(BASE.encode(), base.encode())
            assert orjson.loads(text.replace(BASE, base)) == orjson.loads(sent), issue.key
            checked += 1
    assert checked > 700
