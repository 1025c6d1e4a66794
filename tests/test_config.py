"""Settings: defaults < config file < environment < flags, and errors that name the culprit."""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest

from tests.conftest import run_tracer
from tracer_cli import config as cfg
from tracer_cli import paths
from tracer_cli.config import Settings
from tracer_cli.errors import ConfigError


def write_config(home: Path, text: str) -> Path:
    home.mkdir(parents=True, exist_ok=True)
    path = home / "config.toml"
    path.write_text(text, encoding="utf-8")
    return path


def test_defaults(tracer_home: Path) -> None:
    settings, sources = cfg.load()
    assert settings == Settings()
    assert settings.backend == "llama"
    assert settings.horizon == 5
    assert settings.max_steps == 30
    assert settings.confirm == "risky"
    assert settings.profile == "tracer1"
    assert set(sources) == set(Settings.model_fields)
    assert set(sources.values()) == {"default"}


def test_paths_follow_tracer_home(tracer_home: Path) -> None:
    assert paths.config_path() == tracer_home / "config.toml"
    assert paths.runs_dir() == tracer_home / "runs"
    assert paths.data_dir() == tracer_home


def test_tracer_config_names_another_file(tracer_home: Path, tmp_path: Path,
                                          monkeypatch: pytest.MonkeyPatch) -> None:
    other = tmp_path / "elsewhere.toml"
    other.write_text("max_steps = 12\n", encoding="utf-8")
    write_config(tracer_home, "max_steps = 99\n")
    monkeypatch.setenv("TRACER_CONFIG", str(other))
    assert paths.config_path() == other
    settings, sources = cfg.load()
    assert settings.max_steps == 12
    assert sources["max_steps"] == "file"


def test_file_values_apply(tracer_home: Path) -> None:
    write_config(tracer_home, 'backend = "script"\nhorizon = 3\ntemperature = 0.5\n')
    settings, sources = cfg.load()
    assert (settings.backend, settings.horizon, settings.temperature) == ("script", 3, 0.5)
    assert sources["backend"] == sources["horizon"] == sources["temperature"] == "file"
    assert sources["max_steps"] == "default"


def test_precedence_flag_over_env_over_file(tracer_home: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    write_config(tracer_home, "horizon = 3\nmax_steps = 7\nmonitor = 2\n")
    monkeypatch.setenv("TRACER_HORIZON", "4")
    monkeypatch.setenv("TRACER_MAX_STEPS", "8")

    settings, sources = cfg.load({"horizon": 6, "model": None})
    assert settings.horizon == 6 and sources["horizon"] == "flag"
    assert settings.max_steps == 8 and sources["max_steps"] == "env"
    assert settings.monitor == 2 and sources["monitor"] == "file"
    assert settings.model == "" and sources["model"] == "default"  # a None flag is unset

    settings, sources = cfg.load()
    assert settings.horizon == 4 and sources["horizon"] == "env"


def test_env_values_are_converted(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("TRACER_TIMEOUT", "12.5")
    monkeypatch.setenv("TRACER_CONFIRM", "never")
    monkeypatch.setenv("TRACER_BASE_URL", "http://gpu:8000/v1")
    settings, sources = cfg.load()
    assert settings.timeout == 12.5
    assert settings.confirm == "never"
    assert settings.base_url == "http://gpu:8000/v1"
    assert sources["timeout"] == sources["confirm"] == sources["base_url"] == "env"


def test_other_tracer_variables_are_not_settings(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("TRACER_DEBUG", "1")
    monkeypatch.setenv("TRACER_API_KEY", "k")
    settings, sources = cfg.load()
    assert set(sources.values()) == {"default"}
    assert settings.api_key == "k"


def test_api_key_from_environment_only(tracer_home: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    assert Settings().api_key == ""
    monkeypatch.setenv("OPENAI_API_KEY", "openai-key")
    assert Settings().api_key == "openai-key"
    monkeypatch.setenv("TRACER_API_KEY", "tracer-key")
    assert Settings().api_key == "tracer-key"
    write_config(tracer_home, 'api_key = "from-file"\n')
    with pytest.raises(ConfigError, match="unknown setting 'api_key'"):
        cfg.load()


def test_bad_toml_names_the_file(tracer_home: Path) -> None:
    path = write_config(tracer_home, "horizon = = 3\n")
    with pytest.raises(ConfigError) as info:
        cfg.load()
    assert str(path) in info.value.message
    assert "not valid TOML" in info.value.message
    assert "line 1" in info.value.message
    assert info.value.exit_code == 2


def test_unknown_setting_in_the_file(tracer_home: Path) -> None:
    path = write_config(tracer_home, 'horizon = 3\ncolour = "blue"\n')
    with pytest.raises(ConfigError) as info:
        cfg.load()
    assert "unknown setting 'colour'" in info.value.message
    assert str(path) in info.value.message


def test_bad_value_in_the_file(tracer_home: Path) -> None:
    path = write_config(tracer_home, 'horizon = "many"\n')
    with pytest.raises(ConfigError) as info:
        cfg.load()
    assert str(path) in info.value.message
    assert "horizon='many'" in info.value.message


def test_out_of_range_value_in_the_file(tracer_home: Path) -> None:
    write_config(tracer_home, "horizon = 50\n")
    with pytest.raises(ConfigError, match=r"horizon=50: Input should be less than or equal to 20"):
        cfg.load()


def test_bad_env_value_names_the_variable(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("TRACER_HORIZON", "abc")
    with pytest.raises(ConfigError) as info:
        cfg.load()
    assert "TRACER_HORIZON='abc'" in info.value.message
    assert info.value.message.startswith("env:")


def test_bad_env_literal(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("TRACER_CONFIRM", "sometimes")
    with pytest.raises(ConfigError, match="TRACER_CONFIRM='sometimes'"):
        cfg.load()


def test_bad_flag_value() -> None:
    with pytest.raises(ConfigError) as info:
        cfg.load({"horizon": 0})
    assert info.value.message.startswith("flag: horizon=0")
    assert "greater than or equal to 1" in info.value.message


def test_tracer_config_pointing_to_a_missing_file(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    missing = tmp_path / "nope" / "config.toml"
    monkeypatch.setenv("TRACER_CONFIG", str(missing))
    with pytest.raises(ConfigError) as info:
        cfg.load()
    assert str(missing) in info.value.message
    assert "TRACER_CONFIG" in info.value.message
    assert "does not exist" in info.value.message


def test_missing_default_file_is_fine(tracer_home: Path) -> None:
    assert not (tracer_home / "config.toml").exists()
    settings, _ = cfg.load()
    assert settings == Settings()


def test_settings_validate_assignment() -> None:
    settings = Settings()
    with pytest.raises(ValueError):
        settings.horizon = 0


def test_cli_config_json_shows_file_setting(tracer_home: Path) -> None:
    path = write_config(tracer_home, "max_steps = 17\n")
    proc = run_tracer("config", "--json", env={**_env(), "TRACER_HORIZON": "9"})
    assert proc.returncode == 0, proc.stderr
    data = json.loads(proc.stdout)
    assert data["config_file"] == str(path)
    assert data["runs"] == str(tracer_home / "runs")
    assert data["settings"]["max_steps"] == 17
    assert data["sources"]["max_steps"] == "file"
    assert data["settings"]["horizon"] == 9
    assert data["sources"]["horizon"] == "env"
    assert data["sources"]["backend"] == "default"


def test_cli_config_text_is_whole_at_80_columns(tracer_home: Path) -> None:
    write_config(tracer_home, "max_steps = 17\n")
    proc = run_tracer("config", env={**_env(), "COLUMNS": "80", "TRACER_HORIZON": "9"})
    assert proc.returncode == 0, proc.stderr
    assert f"config file: {tracer_home / 'config.toml'} (exists)" in proc.stdout
    assert f"run records: {tracer_home / 'runs'}" in proc.stdout
    assert "API key: not set" in proc.stdout
    text = proc.stdout.splitlines()
    assert "…" not in proc.stdout and "..." not in proc.stdout  # nothing cut
    settings = {line.split(" = ")[0]: line for line in text if " = " in line and not line[0].isspace()}
    assert set(Settings.model_fields) <= set(settings)
    assert settings["max_steps"].startswith("max_steps = 17") and "from file" in settings["max_steps"]
    assert settings["horizon"].startswith("horizon = 9") and "from env" in settings["horizon"]
    assert settings["backend"] == 'backend = "llama"'  # a default says nothing more
    assert all(len(line) <= 80 for line in text[4:])


def test_cli_config_shows_the_backend_a_server_url_implies(tracer_home: Path) -> None:
    """A base_url in the file and no backend: every command uses the server (openai), and so
    does `tracer config` say, and why; it said backend = "llama" while doctor said openai."""
    write_config(tracer_home, 'base_url = "http://127.0.0.1:8099/v1"\n')
    proc = run_tracer("config", env={**_env(), "COLUMNS": "80"})
    assert proc.returncode == 0, proc.stderr
    backend = next(line for line in proc.stdout.splitlines() if line.startswith("backend = "))
    assert backend == 'backend = "openai"   because base_url is set (from file)'
    shown = json.loads(run_tracer("config", "--json", env=_env()).stdout)
    assert shown["settings"]["backend"] == "openai"
    write_config(tracer_home, 'base_url = "http://127.0.0.1:8099/v1"\nbackend = "llama"\n')
    proc = run_tracer("config", env={**_env(), "COLUMNS": "80"})
    assert 'backend = "llama"   from file' in proc.stdout  # chosen in so many words: kept


def test_config_init_writes_every_setting_commented_out(tracer_home: Path) -> None:
    made = run_tracer("config", "init", env=_env())
    assert made.returncode == 0, made.stderr
    path = tracer_home / "config.toml"
    assert made.stdout.strip() == str(path)
    text = path.read_text(encoding="utf-8")
    for name in Settings.model_fields:
        assert f"\n# {name} = " in text
    assert oct(path.stat().st_mode & 0o777) == "0o600"
    shown = run_tracer("config", "--json", env=_env())
    assert json.loads(shown.stdout)["sources"] == dict.fromkeys(Settings.model_fields, "default")
    path.write_text(text.replace("# horizon = 5", "horizon = 7"), encoding="utf-8")  # one uncommented
    shown = run_tracer("config", "--json", env=_env())
    assert json.loads(shown.stdout)["settings"]["horizon"] == 7

    again = run_tracer("config", "init", env=_env())
    assert again.returncode == 2 and "exists already" in again.stderr and "--force" in again.stderr
    assert run_tracer("config", "init", "--force", env=_env()).returncode == 0
    assert "horizon = 7" not in path.read_text(encoding="utf-8")


def test_cli_config_bad_file_exits_2(tracer_home: Path) -> None:
    write_config(tracer_home, "horizon = [\n")
    proc = run_tracer("config")
    assert proc.returncode == 2
    assert "not valid TOML" in proc.stderr
    assert "Traceback" not in proc.stderr


def _env() -> dict[str, str]:
    return dict(os.environ)
