"""Rep segmentation: one causal hysteresis state machine shared by the live and the offline path.

A rep is an excursion of the signal away from rest and back: with ``polarity=+1`` a rise to a
peak (e.g. a finger lifted), with ``polarity=-1`` a dip (e.g. thumb and index closing in a tap).
A turn is confirmed only once the signal has retraced by ``delta`` from its running extreme, where

    delta = max(min_prominence, rel_prominence * median(amplitude of the last 3 reps))

so jitter smaller than ``min_prominence`` never counts, a slow small rep from a weak hand still does,
and a big mover's partial wobble does not. A remembered amplitude fades once it is older than about
three rep cycles (halving every further cycle), so a patient who resumes with much smaller reps after
a pause is counted again. A rep is counted when its
extremum is confirmed (the signal has come back by ``delta``); its end is the next confirmed rest
point. When more than ``max_gap_s`` passes without a finite sample (NaN frames or a jump in the
timestamps) the machine restarts, so no rep is ever invented across a gap.

``find_reps`` runs the very same :class:`RepCounter` over a whole array, so offline and live agree
on the same frames by construction; offline only adds each rep's end.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass, field

import numpy as np


@dataclass(frozen=True)
class RepParams:
    """Thresholds of the rep state machine, in the units of the signal fed to it."""

    min_prominence: float
    rel_prominence: float = 0.25
    polarity: int = 1
    min_duration_s: float = 0.05  # from the rest point before to the confirmation of the extremum
    max_gap_s: float = 0.3
    # For a distance-like signal (0 = closed): the retrace must also exceed this fraction of the rest value,
    # since the tracker's jitter grows with the distance (a 1.4 palm-length opening jitters by 0.09).
    level_prominence: float = 0.0


@dataclass(frozen=True)
class RepEvent:
    """One counted rep. Indices refer to the samples fed; times of extrema are sub-sample refined."""

    start_i: int
    peak_i: int
    confirm_i: int
    start_t: float
    peak_t: float
    start_value: float
    peak_value: float
    end_i: int = -1
    end_t: float = math.nan
    end_value: float = math.nan

    @property
    def amplitude(self) -> float:
        return abs(self.peak_value - self.start_value)


@dataclass
class _Extreme:
    i: int
    t: float
    y: float
    # Neighbours for parabolic refinement of the extremum time.
    prev: tuple[float, float] | None = None
    next: tuple[float, float] | None = None

    def refined(self) -> tuple[float, float]:
        """Vertex of the parabola through (prev, this, next): sub-frame time and value."""
        if self.prev is None or self.next is None:
            return self.t, self.y
        (t0, y0), (t1, y1), (t2, y2) = self.prev, (self.t, self.y), self.next
        denom = (t0 - t1) * (t0 - t2) * (t1 - t2)
        if denom == 0:
            return self.t, self.y
        a = (t2 * (y1 - y0) + t1 * (y0 - y2) + t0 * (y2 - y1)) / denom
        b = (t2 * t2 * (y0 - y1) + t1 * t1 * (y2 - y0) + t0 * t0 * (y1 - y2)) / denom
        if a == 0:
            return self.t, self.y
        tv = min(max(-b / (2 * a), t0), t2)
        c = y1 - a * t1 * t1 - b * t1
        return tv, a * tv * tv + b * tv + c


@dataclass
class RepCounter:
    """Streaming rep detector: call :meth:`update` once per frame, in time order."""

    params: RepParams
    count: int = 0
    _i: int = -1
    _mode: str = "init"  # 'init' -> 'rise' (seeking a peak) <-> 'fall' (seeking rest)
    _lo: _Extreme | None = None  # running min (in 'init'/'fall') = candidate rest point
    _hi: _Extreme | None = None  # running max (in 'init'/'rise') = candidate extremum
    _rest: _Extreme | None = None  # confirmed rest point the current rise started from
    _amps: list[float] = field(default_factory=list)
    _confirm_ts: list[float] = field(default_factory=list)  # when each rep was counted
    _rises: list[float] = field(default_factory=list)  # rest -> confirmation time of each rep
    _last_t: float = math.nan  # time of the last finite sample
    _prev: tuple[float, float] | None = None
    open_rep: RepEvent | None = None  # counted, end not yet known
    finished: list[RepEvent] = field(default_factory=list)  # reps whose end became known

    @property
    def delta(self) -> float:
        """Current retrace threshold (see the module docstring)."""
        p = self.params
        if not self._amps:
            return p.min_prominence
        amps = np.array(self._amps[-3:])
        if math.isfinite(self._last_t):
            # A rep's amplitude is forgotten (halved per cycle) once it is more than 3 cycles old, so a
            # pause followed by much smaller reps does not leave the threshold stuck high.
            cycle = 2.0 * float(np.median(self._rises[-3:]))
            age = self._last_t - np.array(self._confirm_ts[-3:])
            if cycle > 0:
                amps = amps * 0.5 ** (np.maximum(age - 3 * cycle, 0.0) / cycle)
        return max(p.min_prominence, p.rel_prominence * float(np.median(amps)))

    def reset(self) -> None:
        """Forget the rep in progress (after a long tracking gap); the count is kept."""
        self._close_open_rep()
        self._mode, self._lo, self._hi, self._rest, self._prev = "init", None, None, None, None

    def update(self, t: float, x: float) -> RepEvent | None:
        """Feed one sample; returns the rep counted on this sample, if any."""
        self._i += 1
        i = self._i
        if not math.isfinite(x):
            self._prev = None
            return None
        if math.isfinite(self._last_t) and t - self._last_t > self.params.max_gap_s:
            self.reset()
        self._last_t = t
        y = self.params.polarity * x
        counted = None
        # Complete the neighbours of the current candidates for sub-frame refinement.
        for ext in (self._lo, self._hi):
            if ext is not None and ext.i == i - 1:
                ext.next = (t, y)
        d = self.delta
        rest = self._rest if self._mode == "rise" else self._lo
        if self.params.level_prominence > 0 and rest is not None:
            d = max(d, self.params.level_prominence * abs(rest.y))
        if self._mode == "init":
            self._lo = self._track(self._lo, i, t, y, lower=True)
            self._hi = self._track(self._hi, i, t, y, lower=False)
            assert self._lo is not None and self._hi is not None
            if y >= self._lo.y + d and self._lo.i < i:
                self._rest, self._mode, self._hi = self._lo, "rise", _Extreme(i, t, y, self._prev)
        elif self._mode == "rise":
            self._hi = self._track(self._hi, i, t, y, lower=False)
            assert self._hi is not None and self._rest is not None
            if y <= self._hi.y - d:
                counted = self._count(i, t)
                self._mode, self._lo = "fall", _Extreme(i, t, y, self._prev)
        else:  # fall: seek the rest point that ends this rep and starts the next
            self._lo = self._track(self._lo, i, t, y, lower=True)
            assert self._lo is not None
            if y >= self._lo.y + d:
                self._close_open_rep(self._lo)
                self._rest, self._mode, self._hi = self._lo, "rise", _Extreme(i, t, y, self._prev)
        self._prev = (t, y)
        return counted

    def _track(self, ext: _Extreme | None, i: int, t: float, y: float, *, lower: bool) -> _Extreme:
        if ext is None or (y < ext.y if lower else y > ext.y):
            return _Extreme(i, t, y, self._prev)
        return ext

    def _count(self, i: int, t: float) -> RepEvent | None:
        assert self._hi is not None and self._rest is not None
        rest, hi, pol = self._rest, self._hi, self.params.polarity
        if t - rest.t < self.params.min_duration_s:
            return None
        peak_t, peak_y = hi.refined()
        start_t, start_y = rest.refined()
        rep = RepEvent(rest.i, hi.i, i, start_t, peak_t, pol * start_y, pol * peak_y)
        self._close_open_rep()
        self.open_rep = rep
        self.count += 1
        self._amps.append(abs(peak_y - start_y))
        self._confirm_ts.append(t)
        self._rises.append(t - rest.t)
        return rep

    def _close_open_rep(self, end: _Extreme | None = None) -> None:
        rep = self.open_rep
        if rep is None:
            return
        end = end if end is not None else self._lo
        if end is not None and end.i > rep.peak_i:
            et, ey = end.refined()
            rep = RepEvent(**{**rep.__dict__, "end_i": end.i, "end_t": et, "end_value": self.params.polarity * ey})
        self.finished.append(rep)
        self.open_rep = None

    def finish(self) -> list[RepEvent]:
        """End of input: close the last rep and return every rep, in order."""
        self._close_open_rep()
        return self.finished


def find_reps(t: Sequence[float] | np.ndarray, x: Sequence[float] | np.ndarray, params: RepParams) -> list[RepEvent]:
    """Offline segmentation: the streaming :class:`RepCounter` run over ``x`` (NaN = untracked).

    Returns the reps in time order with their ends filled in (a rep cut by a gap or by the end of
    the recording ends at the lowest point reached after its extremum).
    """
    counter = RepCounter(params)
    for ti, xi in zip(np.asarray(t, float), np.asarray(x, float), strict=True):
        counter.update(float(ti), float(xi))
    reps = counter.finish()
    return [
        r if r.end_i >= 0 else _end_at_series_end(r, np.asarray(t, float), np.asarray(x, float), params) for r in reps
    ]


def _end_at_series_end(rep: RepEvent, t: np.ndarray, x: np.ndarray, params: RepParams) -> RepEvent:
    y = params.polarity * x[rep.peak_i + 1 :]
    finite = np.isfinite(y)
    if not finite.any():
        return RepEvent(
            **{
                **rep.__dict__,
                "end_i": rep.confirm_i,
                "end_t": float(t[rep.confirm_i]),
                "end_value": float(x[rep.confirm_i]),
            }
        )
    # Up to the first gap: a rep's end never lies on the far side of missing frames.
    stop = int(np.argmin(finite)) if not finite.all() else len(y)
    stop = max(stop, 1)
    j = rep.peak_i + 1 + int(np.nanargmin(y[:stop]))
    return RepEvent(**{**rep.__dict__, "end_i": j, "end_t": float(t[j]), "end_value": float(x[j])})
