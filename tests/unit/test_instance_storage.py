"""Where the Dagster instance keeps its runs: SQLite by default, PostgreSQL when
MHBENCH_DAGSTER_PG is set, chosen by configuration and written into dagster.yaml."""

from __future__ import annotations

import socket

import pytest
import yaml

from orchestration.instance import (
    EVENT_LOG_CLASS,
    EVENT_LOG_MODULE,
    PG_ENV,
    DagsterYamlError,
    InstanceStorageError,
    check_instance_storage,
    pg_address,
    render_dagster_yaml,
    update_dagster_yaml,
)

URL = "postgresql+psycopg2://dagster:s3cret@db.example.org:6543/mhbench"


def test_sqlite_stays_the_default(tmp_path):
    config = tmp_path / "dagster.yaml"
    assert update_dagster_yaml(config, environ={})
    settings = yaml.safe_load(config.read_text())
    assert "storage" not in settings
    assert settings["run_coordinator"]["class"] == "QueuedRunCoordinator"
    assert check_instance_storage(tmp_path, environ={}) is None


def test_the_sqlite_event_log_is_the_platforms_and_follows_the_home(tmp_path):
    config = tmp_path / "dagster.yaml"
    config.write_text("telemetry:\n  enabled: false\n")  # a home of the previous version
    assert update_dagster_yaml(config, environ={})
    section = yaml.safe_load(config.read_text())["event_log_storage"]
    assert section == {
        "module": EVENT_LOG_MODULE,
        "class": EVENT_LOG_CLASS,
        "config": {"base_dir": str(tmp_path.resolve() / "history" / "runs")},
    }
    # the home moved: its event log section points at the new place on the next start
    moved = tmp_path / "moved"
    moved.mkdir()
    config.rename(moved / "dagster.yaml")
    assert update_dagster_yaml(moved / "dagster.yaml", environ={})
    section = yaml.safe_load((moved / "dagster.yaml").read_text())["event_log_storage"]
    assert section["config"]["base_dir"] == str(moved.resolve() / "history" / "runs")


@pytest.mark.parametrize(
    "users",
    [
        "event_log_storage:\n  module: their.storage\n  class: Theirs\n",
        "storage:\n  sqlite:\n    base_dir: /somewhere\n",
    ],
)
def test_a_users_own_event_log_or_storage_is_kept_on_sqlite(tmp_path, users):
    config = tmp_path / "dagster.yaml"
    config.write_text(users)
    update_dagster_yaml(config, environ={})
    settings = yaml.safe_load(config.read_text())
    for key, value in yaml.safe_load(users).items():
        assert settings[key] == value
    assert "storage" not in settings or "event_log_storage" not in settings


def test_moving_to_postgres_drops_the_sqlite_event_log(tmp_path):
    config = tmp_path / "dagster.yaml"
    update_dagster_yaml(config, environ={})
    assert "event_log_storage" in yaml.safe_load(config.read_text())
    update_dagster_yaml(config, environ={PG_ENV: URL})
    settings = yaml.safe_load(config.read_text())
    assert "event_log_storage" not in settings
    assert settings["storage"] == {"postgres": {"postgres_url": {"env": PG_ENV}}}


def test_a_sqlite_home_moves_to_postgres_by_configuration_and_keeps_the_users_settings(tmp_path):
    config = tmp_path / "dagster.yaml"
    # a home written by the previous version (SQLite), with a setting of the user's
    config.write_text(render_dagster_yaml(tmp_path) + "compute_logs:\n  module: x\n  class: Y\n")
    assert update_dagster_yaml(config, environ={PG_ENV: URL})
    text = config.read_text()
    settings = yaml.safe_load(text)
    assert settings["storage"] == {"postgres": {"postgres_url": {"env": PG_ENV}}}
    assert settings["compute_logs"] == {"module": "x", "class": "Y"}
    assert "s3cret" not in text and "db.example.org" not in text, "no URL, no password in it"
    assert not update_dagster_yaml(config, environ={PG_ENV: URL}), "up to date: not rewritten"


def test_a_process_without_the_variable_does_not_move_the_home_back(tmp_path):
    config = tmp_path / "dagster.yaml"
    update_dagster_yaml(config, environ={PG_ENV: URL})
    before = config.read_text()
    assert not update_dagster_yaml(config, environ={})
    assert config.read_text() == before
    with pytest.raises(InstanceStorageError, match=f"{PG_ENV} is not set here"):
        check_instance_storage(tmp_path, environ={})


def test_users_own_sqlite_storage_is_replaced_whole(tmp_path):
    config = tmp_path / "dagster.yaml"
    config.write_text("storage:\n  sqlite:\n    base_dir: /somewhere\n")
    update_dagster_yaml(config, environ={PG_ENV: URL})
    assert yaml.safe_load(config.read_text())["storage"] == {
        "postgres": {"postgres_url": {"env": PG_ENV}}
    }


def test_legacy_storage_sections_are_named_not_silently_mixed(tmp_path):
    config = tmp_path / "dagster.yaml"
    config.write_text("run_storage:\n  module: a\n  class: B\n")
    with pytest.raises(DagsterYamlError, match="run_storage"):
        update_dagster_yaml(config, environ={PG_ENV: URL})
    assert config.read_text() == "run_storage:\n  module: a\n  class: B\n"


def test_the_address_names_host_port_and_database_never_the_password():
    address = pg_address(URL)
    assert (address.host, address.port, address.database) == ("db.example.org", 6543, "mhbench")
    assert "s3cret" not in str(address)


@pytest.mark.parametrize("url", ["postgresql://u@h/db", "mysql://u@h/db", "h:5432"])
def test_a_url_without_the_psycopg2_driver_is_refused_with_the_form_to_use(url):
    with pytest.raises(InstanceStorageError, match=r"postgresql\+psycopg2://user"):
        pg_address(url)


def test_postgres_down_is_an_error_naming_host_and_port(tmp_path):
    with socket.socket() as sock:  # a port nothing listens on
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    url = f"postgresql+psycopg2://postgres:pw@127.0.0.1:{port}/dagster"
    with pytest.raises(InstanceStorageError) as raised:
        check_instance_storage(tmp_path, environ={PG_ENV: url}, timeout=2)
    message = str(raised.value)
    assert f"127.0.0.1:{port}" in message and "database dagster" in message
    assert "refused" in message.lower()
    assert "pw" not in message.replace("PostgreSQL", "")
