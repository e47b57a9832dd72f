"""An uploaded training-state file to a Trainer, within the limits: the one way both the
Snapshots page (load a run) and the Compare page (add a run) read such a file."""
from __future__ import annotations

from dashboard import admit, state
from nncore import snapshot
from nncore.text import size_text


def load_upload(upload, lim=None):
    """``(snapshot, trainer)`` of an uploaded file (``upload.size``, ``.getvalue()``).

    The size is checked before the file is read; the rest is :func:`admit.admit_snapshot`.
    Raises :class:`nncore.snapshot.SnapshotError` naming the problem; the session's run is
    never touched.
    """
    lim = lim or state.LIMITS
    if upload.size > lim.max_snapshot_bytes:
        raise snapshot.SnapshotError(f"the file is {size_text(upload.size)}; the limit is "
                                     f"{size_text(lim.max_snapshot_bytes)}")
    snap = snapshot.loads(upload.getvalue(), max_bytes=lim.max_snapshot_bytes)
    return snap, admit.admit_snapshot(snap, lim, data=state.get_trainer().data)
