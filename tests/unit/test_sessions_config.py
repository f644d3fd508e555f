"""The session manager's configuration: defaults, validation errors per key, environment overrides."""

from __future__ import annotations

import pytest

from remoteviz.sessions.config import ConfigError, load, parse

APP = {"apps": {"cone": {"command": ["{python}", "cone.py", "--port", "{port}"]}}}


def test_defaults_are_safe_and_documented_values():
    config = parse(APP)
    assert config.host == "127.0.0.1"
    assert config.max_instances == 8 and config.max_pending == 4
    assert config.port_range == (9100, 9199)
    assert config.allowed_origins == () and config.api_secret == ""
    assert config.apps["cone"].command == ("{python}", "cone.py", "--port", "{port}")


def test_every_wrong_key_is_named_with_its_reason():
    raw = {**APP, "max_instances": 0, "heartbeat": "2", "port_range": [9000], "colour": "red",
           "rest_endpoint": "sideways", "api_secret": "short"}
    with pytest.raises(ConfigError) as caught:
        parse(raw)
    text = str(caught.value)
    for expected in ("max_instances: must be between 1 and 65535, got 0", "heartbeat: expected a number of seconds",
                     "port_range: expected [first, last]", "colour: unknown key", "rest_endpoint: expected",
                     "api_secret: must be at least 16 characters"):
        assert expected in text


def test_app_errors_name_the_app_and_key(tmp_path):
    raw = {"apps": {"bad name!": {"command": []}, "ok": {"command": ["x", "{nope}"], "cwd": str(tmp_path / "no"),
                                                          "extra": 1}}}
    with pytest.raises(ConfigError) as caught:
        parse(raw)
    text = str(caught.value)
    assert "apps.bad name!.name: letters" in text
    assert "apps.bad name!.command: expected a non-empty list" in text
    assert "apps.ok.command: unknown placeholder {nope}" in text
    assert "apps.ok.cwd:" in text and "is not a folder" in text
    assert "apps.ok.extra: unknown key" in text


def test_no_app_is_an_error():
    with pytest.raises(ConfigError, match="at least one"):
        parse({})


def test_port_range_must_cover_the_cap():
    with pytest.raises(ConfigError, match="fewer ports than max_instances"):
        parse({**APP, "max_instances": 20, "port_range": [9100, 9109]})
    assert parse({**APP, "max_instances": 20, "port_range": [9100, 9109], "rest_endpoint": "proxy"}).max_instances == 20


def test_environment_overrides_file_keys_and_app_keys(tmp_path):
    path = tmp_path / "sessions.toml"
    path.write_text('max_instances = 3\n[apps.cone]\ncommand = ["a"]\n')
    config = load(path, environ={"REMOTEVIZ_SESSIONS_MAX_INSTANCES": "5",
                                 "REMOTEVIZ_SESSIONS_PORT_RANGE": "[9200, 9300]",
                                 "REMOTEVIZ_SESSIONS_HOST": "0.0.0.0",
                                 "REMOTEVIZ_SESSIONS_APPS__CONE__COMMAND": '["b", "{port}"]',
                                 "UNRELATED": "1"})
    assert config.max_instances == 5
    assert config.port_range == (9200, 9300)
    assert config.host == "0.0.0.0"  # not TOML: taken as a string
    assert config.apps["cone"].command == ("b", "{port}")


def test_a_bad_environment_value_is_reported_like_a_bad_file_value(tmp_path):
    path = tmp_path / "sessions.toml"
    path.write_text('[apps.cone]\ncommand = ["a"]\n')
    with pytest.raises(ConfigError, match="kill_grace: expected a number"):
        load(path, environ={"REMOTEVIZ_SESSIONS_KILL_GRACE": "soon"})


def test_unreadable_and_invalid_toml(tmp_path):
    with pytest.raises(ConfigError, match="cannot read"):
        load(tmp_path / "missing.toml", environ={})
    bad = tmp_path / "bad.toml"
    bad.write_text("max_instances = = 3")
    with pytest.raises(ConfigError, match="not valid TOML"):
        load(bad, environ={})


def test_every_key_is_documented_with_its_default():
    from dataclasses import fields
    from pathlib import Path

    from remoteviz.sessions.config import AppConfig, ManagerConfig

    doc = (Path(__file__).resolve().parents[2] / "docs" / "sessions.md").read_text()
    for field in fields(ManagerConfig):
        if field.name == "apps":
            continue
        row = next((line for line in doc.splitlines() if line.startswith("|") and f"`{field.name}`" in line), None)
        assert row is not None, f"{field.name} is not in docs/sessions.md"
        default = field.default
        if isinstance(default, str) and default:
            assert f'"{default}"' in row, (field.name, row)
        elif isinstance(default, (int, float)) and not isinstance(default, bool):
            assert f"`{default}`" in row, (field.name, row)
    for field in fields(AppConfig):
        if field.name != "name":
            assert any(line.startswith(f"| `{field.name}`") for line in doc.splitlines()), field.name
