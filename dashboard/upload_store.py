"""What Streamlit holds of a session's uploads, bounded and let go as soon as it is read.

Streamlit keeps every uploaded file's bytes in memory (its uploaded-file manager) from the
moment the browser sends it until the session ends, even after the page has read it, and
a session ends some minutes after its tab closes. A visitor dropping 150 photos of 5 MB
would hold 750 MB of the server. So:

- :func:`install_session_budget` (once per process, idempotent): a session may hold at
  most ``lim.max_session_upload_bytes`` of uploads at a time; a file past that is refused
  as it arrives (HTTP 413: the uploader shows the file as failed);
- :func:`release` after the page has read the files: their bytes leave Streamlit's store.

The page then starts a fresh, empty uploader (a new widget key), so nothing uploaded
stays referenced.
"""
from __future__ import annotations

import logging
import threading

log = logging.getLogger("dashboard")

_LOCK = threading.Lock()          # check-and-add of one file at a time (a process-wide guard)


class UploadRefused(Exception):
    """A file over the session's upload budget (shown by the uploader as failed)."""


def _refusal(message):
    try:
        from starlette.exceptions import HTTPException
        return HTTPException(status_code=413, detail=message)
    except Exception:             # another server: any error refuses the file
        return UploadRefused(message)


def _manager():
    from streamlit import runtime
    if not runtime.exists():
        return None
    return getattr(runtime.get_instance(), "uploaded_file_mgr", None)


def held_bytes(manager, session_id) -> int:
    """Bytes of uploads ``manager`` holds for ``session_id``."""
    storage = getattr(manager, "file_storage", {}).get(session_id) or {}
    return sum(len(f.data) for f in storage.values())


def install_session_budget(max_bytes, manager=None) -> bool:
    """Refuse uploads past ``max_bytes`` held per session; True once installed."""
    manager = manager or _manager()
    if not isinstance(getattr(manager, "file_storage", None), dict):   # not Streamlit's own store
        return False
    if getattr(manager, "_nncore_budget", None) == max_bytes:
        return True
    add = type(manager).add_file

    def add_file(session_id, file):
        with _LOCK:
            storage = manager.file_storage.get(session_id) or {}
            held = sum(len(f.data) for k, f in storage.items() if k != file.file_id)
            if held + len(file.data) > max_bytes:
                log.info("upload refused: session %s holds %d bytes", session_id, held)
                raise _refusal(f"this session holds {held // 2**20} MB of uploads; the limit is "
                               f"{max_bytes // 2**20} MB: upload fewer files at a time")
            add(manager, session_id, file)

    manager.add_file = add_file
    manager._nncore_budget = max_bytes
    return True


def release(files, manager=None, session_id=None):
    """Drop the bytes of ``files`` (UploadedFile objects the page has read) from
    Streamlit's store."""
    if session_id is None:
        from streamlit.runtime.scriptrunner import get_script_run_ctx
        ctx = get_script_run_ctx()
        if ctx is None:
            return
        manager, session_id = manager or ctx.uploaded_file_mgr, ctx.session_id
    manager = manager or _manager()
    if manager is None:
        return
    for f in files:
        try:
            manager.remove_file(session_id, f.file_id)
        except Exception as exc:          # never stop the page over the store
            log.warning("could not release upload %s: %s", getattr(f, "file_id", "?"), exc)
