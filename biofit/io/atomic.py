"""Write files atomically: into a temporary file beside the target, then rename.

A reader (or a crash) never sees a half-written result: either the old file (or none) or the
complete new one. ``os.replace`` is atomic on POSIX when source and target share a file system,
which holds because the temporary file is created in the target's own folder.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import tempfile
import uuid
from collections.abc import Iterator
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


@contextlib.contextmanager
def staged_folder(folder: str | os.PathLike, last: str) -> Iterator[Path]:
    """A temporary folder beside ``folder`` to write files into; when the block ends without an
    error they are moved into ``folder`` (created if missing), ``last`` removed first and moved in
    last, so a folder holding ``last`` holds a complete set. The temporary folder is always removed.

    >>> import tempfile, pathlib
    >>> out = pathlib.Path(tempfile.mkdtemp()) / "fit"
    >>> with staged_folder(out, "done.json") as tmp:
    ...     _ = (tmp / "a.txt").write_text("a"); _ = (tmp / "done.json").write_text("{}")
    >>> sorted(p.name for p in out.iterdir())
    ['a.txt', 'done.json']
    """
    folder = Path(folder)
    folder.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=f".{folder.name}.", dir=folder.parent))
    try:
        yield tmp
        folder.mkdir(exist_ok=True)
        (folder / last).unlink(missing_ok=True)
        for path in sorted(tmp.iterdir(), key=lambda p: p.name == last):
            os.replace(path, folder / path.name)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
