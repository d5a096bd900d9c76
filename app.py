"""handrehab dashboard: ``streamlit run app.py`` (a thin shell over the library; pages live in ``dashboard/``)."""

from __future__ import annotations

import streamlit as st

from dashboard import live, progress, samples, score, settings
from dashboard.auth import require_login

st.set_page_config(page_title="handrehab", page_icon=":material/back_hand:", layout="wide")
require_login()
page = st.navigation(
    [
        st.Page(live.render, title="Live exercise", icon=":material/videocam:", default=True),
        st.Page(score.render, title="Score a recording", icon=":material/upload_file:", url_path="score"),
        st.Page(progress.render, title="Progress", icon=":material/trending_up:", url_path="progress"),
        st.Page(samples.render, title="Samples", icon=":material/video_library:", url_path="samples"),
        st.Page(settings.render, title="Settings", icon=":material/settings:", url_path="settings"),
    ]
)
page.run()
