"""Links in the app: open the setup a link names, keep the address following the run, the
Share control, and a lesson's title, note and hidden controls.

The translation between a setup and query parameters is ``dashboard/address.py``; this
module wires it to ``st.query_params`` and the session. Call order in ``app.py``:
:func:`open_link` (first run of a session: apply the link), then the sidebar (unless the
lesson hides it), then :func:`show_lesson` on every page, and :func:`follow` last.
"""
from __future__ import annotations

import streamlit as st

from dashboard import address, plaintext, sidebar, state

LINK = "link"                  # the Link this session was opened with (read once)
NOTICE_SHOWN = "link_notice_done"   # the user dismissed the notice of unusable settings


def _params() -> dict:
    qp = st.query_params
    return {k: qp.get_all(k) for k in qp}


def open_link() -> address.Link:
    """Read the address once per session and start the run it names (before the sidebar is
    drawn). A setup that does not build (too large for the limits, missing data) is named
    in the notice and the defaults are used instead."""
    ss = st.session_state
    if LINK in ss:
        return ss[LINK]
    params = _params()
    link = address.read(params, allow_paths=state.LIMITS.allow_paths)
    ss[LINK] = link
    if ss.get(state.TRAINER) is not None or not link.used:
        return link                   # a run already there (a stored run's token) wins
    try:
        _start(link)
    except ValueError as exc:
        why = state.error_text(exc)
        layers = [k for k in ("hidden", "activation", "output_activation") if k in link.used]
        retry = None
        if layers:                    # usually the network is too large: try without it
            retry = address.read({k: v for k, v in params.items() if k not in layers},
                                 allow_paths=state.LIMITS.allow_paths)
            try:
                _start(retry)
            except ValueError:
                retry = None
        blamed = layers if retry is not None else list(link.used)
        link.problems += [(k, why) for k in blamed]
        if retry is not None:
            link.config, link.used = retry.config, retry.used
        else:
            link.used = []
    return link


def _start(link):
    ss = st.session_state
    state.apply_config(link.config)
    cfg = state.explicit(state.get_trainer())
    sidebar.write_widgets(cfg, cfg.activations)
    ss[sidebar.WIDGET_KEYS["preset"]] = link.preset or sidebar.NO_PRESET


def current_params() -> dict:
    """The address of the session's run now: its setup, the lesson flags, the run token."""
    ss = st.session_state
    tr = state.get_trainer()
    preset = ss.get(sidebar.WIDGET_KEYS["preset"])
    params = address.setup_params(tr.config, None if preset == sidebar.NO_PRESET else preset,
                                  tr.network.activations)
    link = ss.get(LINK)
    if link is not None:
        params.update(link.lesson)
    qp = st.query_params
    for key in (address.RUN_KEY, *address.STREAMLIT_KEYS):    # never ours to drop
        if key in qp:
            params[key] = qp[key]
    return params


def follow():
    """Make the address bar show the run's setup (only when it differs: each write is a
    message to the browser)."""
    try:
        params = current_params()
    except Exception:                 # the address is a convenience; never break a page on it
        state.log.warning("cannot write the address", exc_info=True)
        return
    qp = st.query_params
    if {k: qp.get_all(k) for k in qp} != {k: [v] for k, v in params.items()}:
        qp.from_dict(params)


def share_url(params, page_path="") -> str:
    """The link to ``params`` on ``page_path`` (a page's url_path; "" for the first page),
    absolute when the browser told the app its address."""
    base = (st.context.url or "").rstrip("/")
    head, _, last = base.rpartition("/")
    if last in address.PAGES and "//" in head:     # the address of a page, not of the app
        base = head
    path = f"/{page_path}" if page_path else "/"
    qs = address.query_string(params)
    return f"{base}{path}{'?' + qs if qs else ''}"


def share_control(page_path=""):
    """The Share popover (sidebar): the link to this setup, ready to copy (without the run
    store's token: a link shares a setup, not a run)."""
    with st.popover("Share", icon=":material/share:", width="stretch"):
        st.caption("This link opens the same setup: the same data, starting weights and "
                   "training. The address bar holds it too. Copy it with the button at the "
                   "right of the box.")
        params = {k: v for k, v in current_params().items() if k != address.RUN_KEY}
        st.code(share_url(params, page_path), language=None, wrap_lines=True)
        st.caption("A lesson link can add hide=lr,optimizer (or hide=sidebar), page=weights, "
                   "title=... and note=...: see the Lessons page.")


# -- lessons -------------------------------------------------------------------------------------
def hide_sidebar() -> bool:
    link = st.session_state.get(LINK)
    return link is not None and address.SIDEBAR in link.hide


def _selectors(name) -> list:
    """CSS selectors of the sidebar widgets of setting ``name``."""
    if name == "activation":
        return [f".st-key-{sidebar.act_key(i)}" for i in range(sidebar.MAX_LAYERS)]
    if name == "output_activation":
        return [f".st-key-{sidebar.ACT_OUT}"]
    if name == "preset":
        return [f".st-key-{sidebar.WIDGET_KEYS['preset']}", ".st-key-sb_modern"]
    if name == "batch":
        return [f".st-key-{sidebar.WIDGET_KEYS['batch']}"]
    if name in sidebar.WIDGET_KEYS:
        return [f".st-key-{sidebar.WIDGET_KEYS[name]}"]
    from nncore.datasets import DATASETS
    return [f".st-key-{sidebar.opt_key(ds, name)}" for ds, spec in DATASETS.items()
            if name in spec.options]


def hidden_css(names) -> str:
    """A style block hiding the sidebar widgets of ``names`` (setting names only: they are
    checked against the known settings before they reach here)."""
    sels = [s for n in names if n != address.SIDEBAR for s in _selectors(n)]
    if not sels:
        return ""
    return "<style>" + ", ".join(sels) + " { display: none !important; }</style>"


def show_lesson():
    """The lesson's title and note (plain text), the notice of unusable settings, and the
    style that hides the lesson's controls; on every page, above its content."""
    ss = st.session_state
    link = ss.get(LINK)
    if link is None:
        return
    css = hidden_css(link.hide)
    if css:
        st.html(css)
    if link.title or link.note:
        with st.container(border=True, key="lesson_banner"):
            if link.title:
                st.html(LESSON_STYLE)
                plaintext.text(link.title, st.container(key="lesson_title"))
            if link.note:
                plaintext.text(link.note)
    if link.problems and not ss.get(NOTICE_SHOWN):
        with st.container(border=True, key="link_notice"):
            st.warning("This link has settings that cannot be used; those settings keep their "
                       "defaults:", icon=":material/link_off:")
            plaintext.text(address.problem_text(link.problems))
            st.button("Dismiss", key="link_notice_dismiss", on_click=ss.__setitem__,
                      args=(NOTICE_SHOWN, True))


LESSON_STYLE = """<style>
.st-key-lesson_title [data-testid="stText"] { font-size: 1.3rem; font-weight: 600; }
</style>"""
