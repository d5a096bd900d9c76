"""``handrehab batch`` end to end on real clips with real MediaPipe: corrupt inputs, SIGKILL and resume,
per-video time limit, the store.

Clips are the rendered sample videos (sample_videos/*.mp4, or $HANDREHAB_SAMPLE_VIDEOS), cut to 1.2 s so
the whole file stays within about two minutes on two cores.
"""

from __future__ import annotations

import json
import os
import random
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import pandas as pd
import pytest

ROOT = Path(__file__).resolve().parents[2]
BATCH = [sys.executable, "-m", "sessions.cli_batch"]
CLIP_SECONDS = 1.2


def sample_clips() -> list[tuple[Path, str]]:
    """(video, exercise) for each sample video of a registered exercise."""
    from exercises.registry import exercise_names

    folder = Path(os.environ.get("HANDREHAB_SAMPLE_VIDEOS", ROOT / "sample_videos"))
    names = set(exercise_names())
    found = []
    for video in sorted(folder.glob("*.mp4")):
        truth = video.with_name(f"{video.stem}.truth.json")  # written after the video: the clip is complete
        exercise = json.loads(truth.read_text()).get("exercise") if truth.exists() else None
        if exercise in names:
            found.append((video, exercise))
    return found


def cut(src: Path, dst: Path, seconds: float) -> Path:
    """The first ``seconds`` of ``src`` (stream copy: cheap, and a real file a camera could have made)."""
    dst.parent.mkdir(parents=True, exist_ok=True)
    if shutil.which("ffmpeg"):
        cmd = ["ffmpeg", "-v", "error", "-y", "-i", str(src), "-t", f"{seconds}", "-c", "copy", str(dst)]
        subprocess.run(cmd, check=True, timeout=60)
    else:
        shutil.copyfile(src, dst)
    return dst


@pytest.fixture(scope="session")
def base_clips(tmp_path_factory: pytest.TempPathFactory) -> list[tuple[Path, str]]:
    clips = sample_clips()
    if not clips:
        pytest.skip("no sample videos of registered exercises (render them with `make samples`)")
    folder = tmp_path_factory.mktemp("batch-base")
    return [(cut(video, folder / f"{exercise}.mp4", CLIP_SECONDS), exercise) for video, exercise in clips[:4]]


def make_batch_folder(root: Path, base: list[tuple[Path, str]], *, copies: int) -> tuple[Path, dict[str, str]]:
    """``copies`` subjects with every base clip each, plus corrupt files. Returns the manifest and the
    relative paths of the unusable files with the word their error must contain."""
    rows = ["path,exercise,subject,session"]
    for s in range(copies):
        for video, exercise in base:
            rel = f"S{s:02d}/{exercise}.mp4"
            (root / rel).parent.mkdir(parents=True, exist_ok=True)
            shutil.copyfile(video, root / rel)
            rows.append(f"{rel},{exercise},S{s:02d},week {s % 3}")
    video, exercise = base[0]
    data = video.read_bytes()
    bad = {
        "bad/text.mp4": b"this is a text file, not a video\n",
        "bad/empty.mp4": b"",
        "bad/header_only.mp4": data[:1500],
        "bad/random.mov": random.Random(1).randbytes(50_000),
    }
    (root / "bad").mkdir()
    for rel, content in bad.items():
        (root / rel).write_bytes(content)
        rows.append(f"{rel},{exercise},X,")
    manifest = root / "manifest.csv"
    manifest.write_text("\n".join(rows) + "\n")
    return manifest, {rel: rel.split("/")[1] for rel in bad}


def run_batch_cli(*args: str | Path, timeout: float = 300) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [*BATCH, *map(str, args)], capture_output=True, text=True, timeout=timeout, cwd=ROOT, check=False
    )


def session_members(sid: int, *, wait_s: float = 5.0) -> list[str]:
    """Command lines of live processes in session ``sid`` (a killed batch's orphaned workers would be in
    it), after giving them ``wait_s`` to exit."""
    deadline = time.monotonic() + wait_s
    while (pids := _session_pids(sid)) and time.monotonic() < deadline:
        time.sleep(0.1)
    return [_cmdline(pid) for pid in pids]


def _cmdline(pid: int) -> str:
    try:
        return Path(f"/proc/{pid}/cmdline").read_bytes().replace(b"\0", b" ").decode(errors="replace")
    except OSError:
        return str(pid)


def _session_pids(sid: int) -> list[int]:
    pids = []
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            fields = stat.read_text().rsplit(")", 1)[1].split()
        except (OSError, IndexError):
            continue
        if int(fields[3]) == sid and fields[0] != "Z":
            pids.append(int(stat.parent.name))
    return pids


def kill_when(
    cmd: list[str],
    out: Path,
    *,
    after_results: int,
    extra_s: float,
    whole_group: bool = False,
    sig: int = signal.SIGKILL,
) -> tuple[int, int]:
    """Start ``cmd``; send ``sig`` ``extra_s`` after ``after_results`` results exist. Returns (pid, results then)."""
    log = out.parent / "killed-run.log"
    with log.open("ab") as stderr:
        proc = subprocess.Popen(cmd, cwd=ROOT, start_new_session=True, stdout=subprocess.DEVNULL, stderr=stderr)
    deadline = time.monotonic() + 240
    while len(list((out / "results").glob("*.json"))) < after_results:
        assert proc.poll() is None, f"the batch ended before it was killed: {log.read_text()}"
        assert time.monotonic() < deadline, "no progress"
        time.sleep(0.05)
    time.sleep(extra_s)
    if whole_group:
        os.killpg(proc.pid, sig)
    else:
        os.kill(proc.pid, sig)  # the batch process only: its workers must die with it
    code = proc.wait(timeout=60)
    assert code == (130 if sig == signal.SIGTERM else -sig), log.read_text()
    return proc.pid, len(list((out / "results").glob("*.json")))


@pytest.mark.slow
def test_killed_twice_and_resumed_every_clip_is_done_once(base_clips: list[tuple[Path, str]], tmp_path: Path) -> None:
    data = tmp_path / "videos"
    copies = -(-16 // len(base_clips))  # about 16 good clips + 4 corrupt ones, whatever the samples are
    manifest, unusable = make_batch_folder(data, base_clips, copies=copies)
    out = tmp_path / "out"
    cmd = [*BATCH, str(data), "--manifest", str(manifest), "--out", str(out), "--workers", "2", "--quiet"]
    seed = random.randrange(1_000_000)
    rng = random.Random(seed)
    good = copies * len(base_clips)

    # Kill 1: the batch process alone, mid-video; kill 2: the whole process group, a little later.
    pid, n1 = kill_when(cmd, out, after_results=1, extra_s=rng.uniform(0.0, 2.0), whole_group=False)
    assert session_members(pid) == [], f"workers outlived the killed batch (seed {seed})"
    pid, n2 = kill_when(cmd, out, after_results=n1 + 2, extra_s=rng.uniform(0.0, 2.0), whole_group=True)
    assert n2 < good, f"the batch finished before the second kill (seed {seed})"
    # A scheduler's SIGTERM stops it cleanly: exit 130, the tables hold what is done so far.
    pid, n3 = kill_when(cmd, out, after_results=n2 + 1, extra_s=0.0, sig=signal.SIGTERM)
    assert session_members(pid) == []
    assert len(pd.read_csv(out / "sessions.csv")) == n3 < good

    done_before = len(list((out / "results").glob("*.json"))) + len(list((out / "errors").glob("*.json")))
    final = run_batch_cli(data, "--manifest", manifest, "--out", out, "--workers", "2", "--quiet")
    assert final.returncode == 0, final.stderr

    results = sorted((out / "results").glob("*.json"))
    sessions = pd.read_csv(out / "sessions.csv")
    errors = pd.read_csv(out / "errors.csv")
    reps = pd.read_csv(out / "reps.csv")
    # Every good clip exactly once, every unusable file in errors.csv with its reason, nothing else.
    assert len(results) == good == len(sessions) == sessions["key"].nunique(), f"seed {seed}"
    assert sorted(errors["path"]) == sorted(unusable), f"seed {seed}"
    assert set(errors["kind"]) == {"unusable"}
    assert errors["message"].str.len().min() > 10
    assert not set(errors["key"]) & set(sessions["key"])
    # The resumed run redid nothing that was finished.
    skipped = _summary_value(final.stdout, "already done") + _summary_value(final.stdout, "errors from earlier runs")
    assert skipped == done_before, final.stdout
    # No temporary file is left, and none was taken as a result (all parse, all complete).
    assert not [p for p in out.rglob("*") if p.name.endswith(".tmp")]
    for r in results:
        d = json.loads(r.read_text())
        assert d["schema"] == 1 and d["batch"]["key"] == r.stem
        assert (out / "landmarks" / f"{r.stem}.npz").exists()
    # Tables agree with the per-video JSONs; copies of the same clip got the same count.
    assert len(reps) == sessions["rep_count"].sum()
    assert (sessions.groupby("exercise")["rep_count"].nunique() == 1).all()
    assert set(sessions["subject"]) == {f"S{s:02d}" for s in range(copies)}
    pq = pd.read_parquet(out / "sessions.parquet")
    assert list(pq["key"]) == list(sessions["key"])

    # A rerun over finished work only rebuilds the tables.
    t0 = time.monotonic()
    again = run_batch_cli(data, "--manifest", manifest, "--out", out, "--workers", "2", "--quiet")
    assert again.returncode == 0 and _summary_value(again.stdout, "scored in this run") == 0
    assert time.monotonic() - t0 < 30
    pd.testing.assert_frame_equal(pd.read_csv(out / "sessions.csv"), sessions)


def _summary_value(stdout: str, label: str) -> int:
    for line in stdout.splitlines():
        if line.strip().startswith(label):
            return int(line.strip()[len(label) :].split()[0])
    return 0


@pytest.mark.slow
def test_a_video_over_its_time_limit_is_recorded_and_the_batch_goes_on(
    base_clips: list[tuple[Path, str]], tmp_path: Path
) -> None:
    data = tmp_path / "videos"
    data.mkdir()
    video, exercise = base_clips[0]
    for name in ("a.mp4", "b.mp4"):
        shutil.copyfile(video, data / name)
    out = tmp_path / "out"
    args: list[str | Path] = [data, "--exercise", exercise, "--out", out, "--workers", "1", "--quiet"]
    # Far below what tracking a clip takes: each worker is killed at the limit and replaced.
    slow = run_batch_cli(*args, "--timeout", "0.2")
    assert slow.returncode == 0, slow.stderr
    errors = pd.read_csv(out / "errors.csv")
    assert len(errors) == 2 and set(errors["kind"]) == {"timeout"}
    assert errors["message"].str.contains("limit").all()
    assert pd.read_csv(out / "sessions.csv").empty
    # Recorded errors are final until asked; --retry-errors with the default limit scores them.
    assert _summary_value(run_batch_cli(*args).stdout, "scored in this run") == 0
    retry = run_batch_cli(*args, "--retry-errors")
    assert retry.returncode == 0, retry.stderr
    assert len(pd.read_csv(out / "sessions.csv")) == 2
    assert pd.read_csv(out / "errors.csv").empty
    assert not list((out / "errors").glob("*.json"))


@pytest.mark.slow
def test_scored_videos_go_to_the_store_once(base_clips: list[tuple[Path, str]], tmp_path: Path) -> None:
    from sessions.store import open_store

    data = tmp_path / "videos"
    data.mkdir()
    video, exercise = base_clips[0]
    shutil.copyfile(video, data / "a.mp4")
    (data / "broken.mp4").write_bytes(b"nope")
    manifest = data / "m.csv"
    manifest.write_text(f"path,exercise,subject\na.mp4,{exercise},P7\nbroken.mp4,{exercise},P7\n")
    db = tmp_path / "store.db"
    args: list[str | Path] = [data, "--manifest", manifest, "--out", tmp_path / "out", "--workers", "1", "--db", db]
    first = run_batch_cli(*args, "--quiet")
    assert first.returncode == 0, first.stderr
    assert _summary_value(first.stdout, "saved to the store") == 1
    again = run_batch_cli(*args, "--quiet")
    assert again.returncode == 0 and _summary_value(again.stdout, "saved to the store") == 0
    store = open_store(str(db))
    try:
        assert store.count_sessions() == 1
        assert store.get_patient("P7").display_name == "P7"
    finally:
        store.close()


def test_no_videos_is_a_one_line_error(tmp_path: Path) -> None:
    proc = run_batch_cli(tmp_path, "--out", tmp_path / "out", timeout=60)
    assert proc.returncode == 2
    assert proc.stderr.startswith("error: no video files") and "Traceback" not in proc.stderr
