"""`make run`'s settings come from one place (``portal.localenv``): the two ports and every URL
derived from them, kept in the env file so shell commands agree with the running demo; and
``portal.devrun`` ends with one clear line when a process (the seed) fails."""

from __future__ import annotations

import io
import sys
import textwrap

import pytest
from dotenv import dotenv_values

from portal.devrun import Watch, supervise
from portal.localenv import LocalEnvError, ensure_env_file, local_settings


def environ(tmp_path, **values: str) -> dict[str, str]:
    return {"ENV_FILE": str(tmp_path / ".env"), **values}


def test_it_writes_the_secrets_and_the_urls_of_the_chosen_ports(tmp_path):
    env = environ(tmp_path, PORTAL_PORT="8600", SANDBOX_PORT="8665")

    written = ensure_env_file(env)

    stored = dotenv_values(tmp_path / ".env")
    assert {"SECRET_KEY", "FIELD_ENCRYPTION_KEYS", "DEMO_ADMIN_PASSWORD", "SITE_URL"} <= set(
        written
    )
    assert stored["SITE_URL"] == "http://127.0.0.1:8600"
    assert stored["ATLASSIAN_AUTH_URL"] == stored["ATLASSIAN_API_URL"] == "http://127.0.0.1:8665"
    assert (tmp_path / ".env").stat().st_mode & 0o777 == 0o600
    assert ensure_env_file(env) == []  # up to date


def test_other_ports_rewrite_the_local_urls_and_keep_the_secrets(tmp_path):
    ensure_env_file(environ(tmp_path))
    before = dotenv_values(tmp_path / ".env")
    assert before["SITE_URL"] == "http://127.0.0.1:8000"

    written = ensure_env_file(environ(tmp_path, PORTAL_PORT="8600", SANDBOX_PORT="8665"))

    after = dotenv_values(tmp_path / ".env")
    assert written == ["ATLASSIAN_API_URL", "ATLASSIAN_AUTH_URL", "SITE_URL"]
    assert after["SITE_URL"] == "http://127.0.0.1:8600"
    assert after["ATLASSIAN_AUTH_URL"] == "http://127.0.0.1:8665"
    assert after["SECRET_KEY"] == before["SECRET_KEY"]
    assert after["DEMO_ADMIN_PASSWORD"] == before["DEMO_ADMIN_PASSWORD"]
    assert (tmp_path / ".env").read_text().count("SITE_URL=") == 1


def test_a_url_pointing_elsewhere_is_left_alone(tmp_path):
    (tmp_path / ".env").write_text("SITE_URL=https://demo.example.com\n")

    ensure_env_file(environ(tmp_path, PORTAL_PORT="8600"))

    assert dotenv_values(tmp_path / ".env")["SITE_URL"] == "https://demo.example.com"
    assert local_settings(environ(tmp_path))["SITE_URL"] == "https://demo.example.com"


def test_the_ports_come_from_the_environment_else_the_env_file_else_the_defaults(tmp_path):
    (tmp_path / ".env").write_text("PORTAL_PORT=8111\n")

    from_file = local_settings(environ(tmp_path))
    from_env = local_settings(environ(tmp_path, PORTAL_PORT="8222"))

    assert from_file["SITE_URL"] == "http://127.0.0.1:8111"
    assert from_file["ATLASSIAN_AUTH_URL"] == "http://127.0.0.1:8765"
    assert from_env["SITE_URL"] == "http://127.0.0.1:8222"
    assert from_env["PORTAL_PORT"] == "8222"


def test_an_exported_variable_wins_over_the_env_file(tmp_path):
    ensure_env_file(environ(tmp_path))

    chosen = local_settings(environ(tmp_path, SITE_URL="http://portal.test:9000"))

    assert chosen["SITE_URL"] == "http://portal.test:9000"


@pytest.mark.parametrize(
    ("values", "named"),
    [
        ({"PORTAL_PORT": "eighty"}, "PORTAL_PORT"),
        ({"SANDBOX_PORT": "70000"}, "SANDBOX_PORT"),
        ({"PORTAL_PORT": "8600", "SANDBOX_PORT": "8600"}, "PORTAL_PORT and SANDBOX_PORT"),
    ],
)
def test_a_bad_port_stops_make_run_with_one_line_naming_it(tmp_path, values, named):
    with pytest.raises(LocalEnvError) as stopped:
        ensure_env_file(environ(tmp_path, **values))

    assert stopped.value.code == 2
    assert str(stopped.value).startswith(f"make run: {named}")
    assert not (tmp_path / ".env").exists()


HONCHO_LIKE = textwrap.dedent(
    """
    import sys
    for line in [
        "00:17:02 system    | seed.1 started (pid=1)",
        "00:17:03 web.1     | Starting development server",
        "00:18:03 seed.1    | CommandError: seeding the demo failed: the sandbox did not answer",
        "00:18:03 system    | seed.1 stopped (rc=1)",
        "00:18:03 system    | sending SIGTERM to web.1 (pid 2)",
        "00:18:04 system    | web.1 stopped (rc=-15)",
    ]:
        print(line, flush=True)
    sys.exit(1)
    """
)


def test_a_failed_seed_ends_make_run_with_a_clear_last_line_and_a_failure_status():
    out = io.StringIO()

    rc = supervise([sys.executable, "-c", HONCHO_LIKE], {"PATH": ""}, out=out)

    lines = out.getvalue().strip().splitlines()
    assert rc == 1
    assert lines[-1] == (
        "make run stopped: the demo could not be seeded (exit status 1): "
        "CommandError: seeding the demo failed: the sandbox did not answer"
    )
    assert "00:17:03 web.1     | Starting development server" in lines  # passed through


def test_processes_stopped_by_ctrl_c_are_no_failure():
    watch = Watch()
    for line in [
        "00:18:03 system    | SIGINT received",
        "00:18:03 system    | web.1 stopped (rc=-2)",
        "00:18:03 system    | seed.1 stopped (rc=-15)",
    ]:
        watch.feed(line)

    assert watch.failure() is None


def test_a_port_taken_names_the_process_and_what_it_said():
    watch = Watch()
    for line in [
        "00:17:03 sandbox.1 | Port 8765 is in use by another program.",
        "00:17:03 system    | sandbox.1 stopped (rc=1)",
    ]:
        watch.feed(line)

    assert watch.failure() == (
        "make run stopped: sandbox exited with status 1: Port 8765 is in use by another program."
    )
