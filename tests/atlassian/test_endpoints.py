import pytest

from atlassian.endpoints import family_for_path, is_read_only, status_class


@pytest.mark.parametrize(
    ("path", "family"),
    [
        ("/ex/jira/7f3c/rest/api/3/issue/PRJ-12/comment", "issue/{key}/comment"),
        ("/rest/api/3/issue/10001", "issue/{key}"),
        ("/rest/api/3/issue/PRJ-1/comment/10000", "issue/{key}/comment/{id}"),
        ("/rest/api/3/issue/PRJ-1/properties/backup.id", "issue/{key}/properties/{prop}"),
        ("/rest/api/3/issue/bulkfetch", "issue/bulkfetch"),
        ("/rest/api/3/search/jql?jql=project%3DX", "search/jql"),
        ("/rest/api/3/attachment/content/10001", "attachment/content/{id}"),
        ("/rest/api/3/attachment/10001", "attachment/{id}"),
        ("/rest/api/3/project/search", "project/search"),
        ("/rest/api/3/project/PRJ/components", "project/{key}/components"),
        ("/rest/api/3/project/PRJ/role/10002", "project/{key}/role/{id}"),
        (
            "/rest/api/3/field/customfield_10020/context/10200/option",
            "field/{id}/context/{ctx}/option",
        ),
        ("/rest/api/3/users/search", "users/search"),
        ("/rest/api/3/worklog/updated", "worklog/updated"),
        ("/oauth/token", "oauth/token"),
        ("/oauth/token/accessible-resources", "accessible-resources"),
        ("/me", "me"),
    ],
)
def test_it_normalises_path_parameters(path, family):
    assert family_for_path(path) == family


def test_it_treats_read_only_posts_as_idempotent():
    assert is_read_only("GET", "issue/{key}")
    assert is_read_only("POST", "search/jql")
    assert is_read_only("POST", "changelog/bulkfetch")
    assert not is_read_only("POST", "issue")
    assert not is_read_only("POST", "oauth/token")
    assert not is_read_only("PUT", "issue/{key}/properties/{prop}")


def test_it_buckets_statuses():
    assert [status_class(s) for s in (200, 204, 303, 404, 429, 503, None)] == [
        "2xx",
        "2xx",
        "3xx",
        "4xx",
        "429",
        "5xx",
        "error",
    ]
