from atlassian.costs import count_objects, points_for


def test_it_charges_two_points_for_one_issue():
    assert points_for("GET", "issue/{key}", {"id": "10001", "key": "PRJ-1", "fields": {}}) == 2


def test_it_charges_seventeen_points_for_eight_users():
    users = [{"accountId": f"u{i}"} for i in range(8)]
    assert points_for("GET", "users/search", users) == 17


def test_it_charges_one_point_for_a_write():
    assert points_for("POST", "issue", {"id": "1", "key": "PRJ-1"}) == 1
    assert points_for("PUT", "issue/{key}/properties/{prop}", None) == 1
    assert points_for("POST", "issue/bulk", {"issues": [{}] * 50}) == 1


def test_it_charges_read_only_posts_like_reads():
    page = {"issues": [{"id": str(i)} for i in range(100)], "isLast": False}
    assert points_for("POST", "search/jql", page) == 101
    assert points_for("POST", "issue/bulkfetch", {"issues": [{}] * 3, "issueErrors": []}) == 4


def test_it_counts_the_objects_of_paged_responses():
    assert points_for("GET", "project/search", {"values": [{}] * 5, "isLast": True}) == 6
    assert points_for("GET", "issue/{key}/comment", {"comments": [{}] * 3, "total": 3}) == 4
    assert points_for("GET", "issue/{key}/worklog", {"worklogs": [{}] * 2}) == 3
    assert points_for("GET", "field", [{}] * 40) == 41


def test_it_counts_changelog_entries_in_a_bulk_fetch():
    data = {
        "issueChangeLogs": [
            {"issueId": "1", "changeHistories": [{}, {}]},
            {"issueId": "2", "changeHistories": [{}]},
        ]
    }
    assert points_for("POST", "changelog/bulkfetch", data) == 4


def test_it_charges_identity_objects_double():
    assert points_for("GET", "myself", {"accountId": "a"}) == 3
    roles = {"Administrators": "u1", "Developers": "u2"}
    assert points_for("GET", "project/{key}/role", roles) == 5
    perms = {"permissions": {"ADMINISTER": {"havePermission": True}}}
    assert points_for("GET", "mypermissions", perms) == 3


def test_it_charges_the_base_point_for_counts_and_server_info():
    assert points_for("POST", "search/approximate-count", {"count": 12345}) == 1
    assert points_for("GET", "serverInfo", {"version": "1001.0.0"}) == 1


def test_it_charges_nothing_for_auth_server_calls():
    assert points_for("POST", "oauth/token", {"access_token": "x"}) == 0
    assert points_for("GET", "accessible-resources", [{}, {}]) == 0


def test_it_counts_nothing_in_an_empty_body():
    assert count_objects("search/jql", None) == (0, 0)
    assert count_objects("search/jql", {"issues": []}) == (0, 0)


def test_it_charges_a_refusal_nothing_and_other_errors_the_base_point():
    assert points_for("GET", "search/jql", {"errorMessages": ["x"]}, status=429) == 0
    assert points_for("GET", "issue/{key}", {"errorMessages": ["gone"]}, status=404) == 1
    assert points_for("POST", "issue", {"errors": {"summary": "x"}}, status=400) == 1


def test_it_charges_a_role_and_its_actors_as_identities():
    role = {"id": 10002, "name": "Administrators", "actors": [{}, {}, {}]}
    assert points_for("GET", "project/{key}/role/{id}", role) == 1 + 2 * 4
