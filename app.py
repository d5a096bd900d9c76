"""handrehab dashboard: ``streamlit run app.py`` (a thin shell over the library; pages live in ``dashboard/``)."""

from __future__ import annotations

import streamlit as st

from dashboard import live, progress, samples, score, settings
from dashboard.auth import require_login

st.set_page_config(page_title="handrehab", page_icon="🖐️", layout="wide")
require_login()
page = st.navigation(
    [
        st.Page(live.render, title="Live exercise", icon="🎥", url_path="live", default=True),
        st.Page(score.render, title="Score a recording", icon="📼", url_path="score"),
        st.Page(progress.render, title="Progress", icon="📈", url_path="progress"),
        st.Page(samples.render, title="Samples", icon="🎬", url_path="samples"),
        st.Page(settings.render, title="Settings", icon="⚙️", url_path="settings"),
    ]
)
page.run()
