"""The raw video behind a review, kept only while the review lasts (privacy: raw video is not stored).

After a therapist's correction the annotated video is drawn again from the raw video, so the page keeps
the upload for as long as someone is reviewing it, as a file under a generated name in the data folder.
It is deleted when the review is replaced (a new upload, another session), when the browser session's
state is dropped (this object is garbage-collected) or when the server exits, whichever comes first; a
server killed outright leaves it to the Score page's sweep of stale uploads. Keeping raw video for longer
is the store's job, and only when Settings ask for it.
"""

from __future__ import annotations

import weakref
from pathlib import Path

import streamlit as st

from dashboard.uploads import discard

_REGISTRY = "raw_videos"


class RawVideo:
    """A video file a review may draw again.

    Parameters
    ----------
    path : Path
        The file.
    data_dir : Path
        The data folder: only files inside it are ever deleted.
    owned : bool
        The review owns the file (an upload, a copy of a kept video) and deletes it when it ends;
        False for a bundled sample, which is never deleted.
    """

    def __init__(self, path: Path, *, data_dir: Path, owned: bool) -> None:
        self.path = path
        self._delete = weakref.finalize(self, discard, path, data_dir=data_dir) if owned else None

    def available(self) -> bool:
        return self.path.is_file()

    def release(self) -> None:
        """The review ended: delete the file now if the review owns it."""
        if self._delete is not None:
            self._delete()


def remember(session_id: int, video: RawVideo) -> None:
    """Let other pages of this browser session find the raw video of a stored session while it lasts."""
    registry = st.session_state.setdefault(_REGISTRY, weakref.WeakValueDictionary())
    registry[session_id] = video


def find(session_id: int) -> RawVideo | None:
    """The raw video of ``session_id`` if this browser session still has it."""
    found = st.session_state.get(_REGISTRY, {}).get(session_id)
    return found if isinstance(found, RawVideo) and found.available() else None
