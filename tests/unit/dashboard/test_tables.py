from __future__ import annotations

from dashboard.tables import headline_metrics, metrics_frame, reps_frame


def test_reps_frame_numbers_reps_and_puts_times_first() -> None:
    reps = [
        {"amplitude": 1.0, "end_s": 1.0, "start_s": 0.0, "peak_s": 0.5, "per_finger": {"index": 2}},
        {"amplitude": 0.8, "end_s": 2.0, "start_s": 1.0, "peak_s": 1.5, "per_finger": {"index": 1}},
    ]
    frame = reps_frame(reps)
    assert list(frame.columns[:4]) == ["rep", "start_s", "peak_s", "end_s"]
    assert list(frame["rep"]) == [1, 2]
    assert list(frame["per_finger.index"]) == [2, 1]
    assert list(reps_frame([]).columns) == ["rep", "start_s", "peak_s", "end_s"]


def test_metrics_frame_flattens_and_formats() -> None:
    frame = metrics_frame({"frequency_hz": 2.8456, "touches_per_finger": {"index": 3}, "hesitations": 0})
    rows = dict(zip(frame["metric"], frame["value"], strict=True))
    assert rows["Frequency (Hz)"] == "2.85"
    assert rows["Touches per finger: index"] == "3"
    assert rows["Hesitations"] == "0"


def test_headline_metrics_follow_the_exercise() -> None:
    metrics = {"duration_s": 4.0, "amplitude_mean": 1.0, "frequency_hz": 3.0, "interval_cv": 0.1}
    labels = [label for label, _ in headline_metrics("finger_tapping", metrics)]
    assert labels[:2] == ["Frequency (Hz)", "Amplitude mean"]
    assert "Duration (s)" not in labels
