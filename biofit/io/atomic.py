"""Write files atomically: into a temporary file beside the target, then rename.

A reader (or a crash) never sees a half-written result: either the old file (or none) or the
complete new one. ``os.replace`` is atomic on POSIX when source and target share a file system,
which holds because the temporary file is created in the target's own folder.
"""

from __future__ import annotations

import os
import uuid
from pathlib import Path
from typing import BinaryIO, Callable


def write_atomic(path: str | os.PathLike, write: Callable[[BinaryIO], object]) -> Path:
    """Call ``write(binary_file)`` on a new temporary file beside ``path``, then rename it to ``path``.

    The parent folder is created if missing. If ``write`` raises, the temporary file is removed and
    the exception propagates; ``path`` is untouched. Returns ``path`` as a `Path`.

    >>> import tempfile, pathlib
    >>> target = pathlib.Path(tempfile.mkdtemp()) / "x.txt"
    >>> write_atomic(target, lambda f: f.write(b"ok")).read_bytes()
    b'ok'
    """
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.{os.getpid()}.{uuid.uuid4().hex}.tmp")
    try:
        with open(tmp, "xb") as f:
            write(f)
        os.replace(tmp, path)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise
    return path
