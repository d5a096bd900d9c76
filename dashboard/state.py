"""Dashboard settings and per-browser-session state (UI only: nothing here measures anything).

Settings live in ``settings.json`` inside the data folder so they survive a restart; environment
variables only provide the defaults a deployment wants (``HANDREHAB_DATA_DIR`` and ``HANDREHAB_DB_URL`` through
``sessions.store``, ``HANDREHAB_KEEP_VIDEO``, ``HANDREHAB_TURN_URL``/``_USERNAME``/``_CREDENTIAL``).
"""

from __future__ import annotations

import json
import os
from dataclasses import asdict, dataclass, fields, replace
from pathlib import Path
from typing import Any

SETTINGS_FILE = "settings.json"
VIDEO_TYPES = ("mp4", "mov", "m4v", "avi", "mkv", "webm")


def default_data_dir() -> Path:
    """The folder for the database, uploads and settings: the store's (``HANDREHAB_DATA_DIR`` wins)."""
    from sessions.store import data_dir

    return data_dir()


def _env_flag(name: str) -> bool:
    return os.environ.get(name, "").strip().lower() in ("1", "true", "yes", "on")


@dataclass(frozen=True)
class Settings:
    """What the Settings page edits.

    Attributes
    ----------
    database_url : str
        SQLAlchemy URL of the store; empty = the default (the embedded SQLite file in the data folder).
    keep_raw_video : bool
        Keep uploaded and recorded videos after scoring (off by default, for privacy).
    turn_url, turn_username, turn_credential : str
        Optional TURN server for the live camera when the dashboard runs on another machine.
    camera_width, camera_height, camera_fps : int
        What the browser is asked to capture.
    mirror_preview : bool
        Show the live camera like a mirror (the frames analysed are never flipped).
    model_complexity : int
        MediaPipe Hands model for the live camera (0 fast, 1 accurate).
    min_confidence : float
        MediaPipe threshold for finding and following the hand live.
    dark_threshold : float
        Mean brightness (0-255) under which the live page says "Too dark".
    min_hand_size : float
        Wrist-to-middle-knuckle length (fraction of the frame) under which it says "Hand too far".
    max_side : int
        Recordings are downscaled to this long side before tracking.
    """

    database_url: str = ""
    keep_raw_video: bool = False
    turn_url: str = ""
    turn_username: str = ""
    turn_credential: str = ""
    camera_width: int = 640
    camera_height: int = 480
    camera_fps: int = 30
    mirror_preview: bool = True
    model_complexity: int = 0
    min_confidence: float = 0.5
    dark_threshold: float = 40.0
    min_hand_size: float = 0.06
    max_side: int = 960

    @classmethod
    def from_env(cls) -> Settings:
        return cls(
            keep_raw_video=_env_flag("HANDREHAB_KEEP_VIDEO"),
            turn_url=os.environ.get("HANDREHAB_TURN_URL", ""),
            turn_username=os.environ.get("HANDREHAB_TURN_USERNAME", ""),
            turn_credential=os.environ.get("HANDREHAB_TURN_CREDENTIAL", ""),
        )

    def rtc_configuration(self) -> dict[str, Any]:
        """ICE servers for WebRTC: none by default, so nothing ever contacts a STUN server."""
        if not self.turn_url:
            return {"iceServers": []}
        server: dict[str, Any] = {"urls": [self.turn_url]}
        if self.turn_username:
            server["username"] = self.turn_username
            server["credential"] = self.turn_credential
        return {"iceServers": [server]}

    def validate(self) -> list[str]:
        """Plain-language problems with these settings (empty when they can be saved)."""
        problems = []
        if self.turn_url and not self.turn_url.startswith(("turn:", "turns:")):
            problems.append("The TURN server address must start with turn: or turns:.")
        if not 0 < self.min_confidence < 1:
            problems.append("The detection threshold must be between 0 and 1.")
        if not 0 <= self.dark_threshold <= 255:
            problems.append("The darkness threshold must be between 0 and 255.")
        if not 0 <= self.min_hand_size < 1:
            problems.append("The smallest hand size must be a fraction of the frame, between 0 and 1.")
        if not (160 <= self.camera_width <= 3840 and 120 <= self.camera_height <= 2160 and 5 <= self.camera_fps <= 60):
            problems.append("The camera size or frame rate is out of range.")
        if self.model_complexity not in (0, 1):
            problems.append("The hand model must be 0 (fast) or 1 (accurate).")
        if self.max_side < 64:
            problems.append("Recordings cannot be shrunk below 64 pixels.")
        return problems


def load_settings(data_dir: Path) -> Settings:
    """Saved settings on top of the environment defaults; unknown or broken entries are ignored."""
    base = Settings.from_env()
    path = data_dir / SETTINGS_FILE
    try:
        saved = json.loads(path.read_text())
    except (OSError, ValueError):
        return base
    if not isinstance(saved, dict):
        return base
    known = {f.name: f.type for f in fields(Settings)}
    changes = {k: v for k, v in saved.items() if k in known}
    try:
        settings = replace(base, **changes)
    except TypeError:
        return base
    return settings if not settings.validate() else base


def save_settings(data_dir: Path, settings: Settings) -> Path:
    """Write ``settings.json`` atomically."""
    from tracking.series import write_atomic

    path = data_dir / SETTINGS_FILE
    write_atomic(path, json.dumps(asdict(settings), indent=2).encode())
    return path


def database_url(settings: Settings) -> str:
    """The store URL: the configured one, or the store's default (``HANDREHAB_DB_URL`` or SQLite in the data folder)."""
    from sessions.store import normalize_url

    return normalize_url(settings.database_url or None)


TARGETS_FILE = "targets.json"


def load_value_target(data_dir: Path, *, patient_id: str | None, exercise: str) -> float | None:
    """The patient's target for the exercise's gauge value, if a therapist set one."""
    try:
        saved = json.loads((data_dir / TARGETS_FILE).read_text())
        value = saved[patient_id or ""][exercise]
    except (OSError, ValueError, KeyError, TypeError):
        return None
    return float(value) if isinstance(value, int | float) else None


def save_value_target(data_dir: Path, *, patient_id: str | None, exercise: str, value: float) -> None:
    """Remember a patient's gauge target for an exercise (atomically, in ``targets.json``)."""
    from tracking.series import write_atomic

    path = data_dir / TARGETS_FILE
    try:
        saved = json.loads(path.read_text())
    except (OSError, ValueError):
        saved = {}
    if not isinstance(saved, dict):
        saved = {}
    saved.setdefault(patient_id or "", {})[exercise] = float(value)
    write_atomic(path, json.dumps(saved, indent=2).encode())
