"""Entry point: ``streamlit run dashboard/app.py`` from the repository root."""
import os
import sys

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
if ROOT not in sys.path:          # Streamlit puts dashboard/, not the repo root, on sys.path
    sys.path.insert(0, ROOT)

import streamlit as st  # noqa: E402

from dashboard import limits, links, resume, sidebar, state, upload_store  # noqa: E402

PAGES = os.path.join(os.path.dirname(os.path.abspath(__file__)), "app_pages")

st.set_page_config(page_title="nncore: watch a network learn", page_icon=":material/neurology:",
                   layout="wide")
if state.LIMITS.hosted:           # no traceback for visitors, whatever config.toml says
    st.set_option("client.showErrorDetails", "none")
limits.set_blas_threads(state.LIMITS.blas_threads)   # hosted: many sessions share the cores
upload_store.install_session_budget(state.LIMITS.max_session_upload_bytes)   # once per process
state.init_session()
# Narrow windows: rows of columns in the main area wrap instead of squeezing their contents
# (pairs of charts stack below about 44rem; other rows keep 8.5rem a column, the training
# buttons 10.5rem, the gallery's filters 6.5rem).
st.html("""<style>
[data-testid="stMainBlockContainer"] { padding-top: 2.5rem; }
[data-testid="stMain"] [data-testid="stHorizontalBlock"] { flex-wrap: wrap; row-gap: 0.5rem; }
[data-testid="stMain"] [data-testid="stHorizontalBlock"] > [data-testid="stColumn"] {
  min-width: min(100%, 8.5rem); }
[data-testid="stMain"] .st-key-run_buttons [data-testid="stColumn"] { min-width: min(100%, 10.5rem); }
[data-testid="stMain"] .st-key-pred_filters [data-testid="stColumn"] { min-width: min(100%, 6.5rem); }
[data-testid="stMain"] [data-testid="stHorizontalBlock"]:has(> [data-testid="stColumn"]:nth-child(2):last-child)
  > [data-testid="stColumn"] { min-width: min(100%, 21rem); }
</style>""")
for key in state.PAGE_WIDGETS:     # keep page widgets' values while another page is shown
    st.session_state[key] = st.session_state[key]

resume.open_linked_run(state.LIMITS)   # ?run=<token>: a copy of that run, before the sidebar
try:
    link = links.open_link()      # the setup, lesson flags and page a link names (once a session)
except Exception as exc:
    state.show_error(exc)
    link = None
first = (link.page if link else None) or "train"   # a lesson link may open on another page
PAGE_LIST = [("train", "Train", ":material/model_training:"),
             ("weights", "Weights", ":material/grid_on:"),
             ("predictions", "Predictions", ":material/image_search:"),
             ("snapshots", "Snapshots", ":material/save:"),
             ("compare", "Compare", ":material/compare:"),
             ("lessons", "Lessons", ":material/school:")]
page = st.navigation([st.Page(os.path.join(PAGES, f"{name}.py"), title=title, icon=icon,
                              url_path=name, default=name == first)
                      for name, title, icon in PAGE_LIST],
                     position="top" if links.hide_sidebar() else "sidebar")
if links.hide_sidebar():          # a lesson without the sidebar: the link's setup stays as it is
    state.get_trainer()
else:
    try:
        share = st.sidebar.container()
        sidebar.render()
        with share:
            links.share_control(page.url_path)
    except Exception as exc:      # the safety net: a short message, details in the server log
        state.show_error(exc)
if state.LIMITS.hosted and not links.hide_sidebar():
    with st.sidebar.expander("Limits of this demo", icon=":material/speed:"):
        st.caption("\n".join(f"- {line}" for line in state.LIMITS.describe()))
resume.offer_resume(state.LIMITS)   # local mode: a run interrupted by a crash can be resumed
links.show_lesson()
try:
    page.run()
except Exception as exc:
    state.show_error(exc)
links.follow()                    # the address bar shows the run's setup
