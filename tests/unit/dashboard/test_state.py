from __future__ import annotations

import json
from dataclasses import replace
from pathlib import Path

import pytest

from dashboard.state import (
    Settings,
    database_url,
    load_settings,
    load_value_target,
    save_settings,
    save_value_target,
)


@pytest.fixture
def data_dir(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A fresh data folder (database, settings, uploads) for one test; no password, no samples."""
    folder = tmp_path / "data"
    monkeypatch.setenv("HANDREHAB_DATA_DIR", str(folder))
    monkeypatch.delenv("HANDREHAB_DB_URL", raising=False)
    monkeypatch.delenv("HANDREHAB_PASSWORD", raising=False)
    monkeypatch.setenv("HANDREHAB_SAMPLES", str(tmp_path / "no_samples"))
    return folder


def test_no_ice_servers_by_default_so_nothing_reaches_a_stun_server() -> None:
    assert Settings().rtc_configuration() == {"iceServers": []}


def test_turn_server_with_credentials() -> None:
    s = Settings(turn_url="turn:turn.example.org:3478", turn_username="u", turn_credential="p")
    assert s.rtc_configuration() == {
        "iceServers": [{"urls": ["turn:turn.example.org:3478"], "username": "u", "credential": "p"}]
    }


def test_turn_from_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("HANDREHAB_TURN_URL", "turns:relay.example.org")
    monkeypatch.setenv("HANDREHAB_KEEP_VIDEO", "yes")
    s = Settings.from_env()
    assert s.turn_url == "turns:relay.example.org"
    assert s.keep_raw_video is True


def test_privacy_default_is_not_to_keep_video(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("HANDREHAB_KEEP_VIDEO", raising=False)
    assert Settings.from_env().keep_raw_video is False


@pytest.mark.parametrize(
    "change",
    [
        {"turn_url": "stun:stun.example.org"},
        {"min_confidence": 1.5},
        {"model_complexity": 2},
        {"max_side": 10},
        {"camera_fps": 500},
        {"min_hand_size": 2.0},
    ],
)
def test_validate_rejects_bad_values(change: dict[str, object]) -> None:
    assert replace(Settings(), **change).validate()  # type: ignore[arg-type]


def test_settings_round_trip(tmp_path: Path) -> None:
    s = Settings(keep_raw_video=True, camera_width=1280, camera_height=720, min_confidence=0.6)
    save_settings(tmp_path, s)
    assert load_settings(tmp_path) == s


def test_broken_or_invalid_settings_file_falls_back_to_defaults(tmp_path: Path) -> None:
    (tmp_path / "settings.json").write_text("{not json")
    assert load_settings(tmp_path) == Settings.from_env()
    (tmp_path / "settings.json").write_text(json.dumps({"min_confidence": 7, "unknown": 1}))
    assert load_settings(tmp_path) == Settings.from_env()


def test_database_url_defaults_to_sqlite_in_the_data_folder(data_dir: Path) -> None:
    assert database_url(Settings()) == f"sqlite:///{data_dir / 'handrehab.db'}"
    assert database_url(Settings(database_url="postgresql://u@h/db")).startswith("postgresql+psycopg://")


def test_value_targets_are_per_patient_and_exercise(tmp_path: Path) -> None:
    assert load_value_target(tmp_path, patient_id="p1", exercise="finger_tapping") is None
    save_value_target(tmp_path, patient_id="p1", exercise="finger_tapping", value=0.9)
    save_value_target(tmp_path, patient_id="p2", exercise="finger_tapping", value=0.5)
    assert load_value_target(tmp_path, patient_id="p1", exercise="finger_tapping") == 0.9
    assert load_value_target(tmp_path, patient_id="p2", exercise="finger_tapping") == 0.5
    assert load_value_target(tmp_path, patient_id="p1", exercise="wrist_flexion") is None
