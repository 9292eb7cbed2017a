"""An output file that never loses a write error.

FFmpeg buffers what it writes and flushes the last buffer while closing the file, where PyAV
ignores the result: a disk that fills up at the very end would go unnoticed and leave a cut-short
file behind a successful run. Handing PyAV this file object instead routes every write through
Python, writes each buffer completely (FFmpeg drops the rest of a short write) and remembers the
first error, so the sink can check it after closing.
"""

from __future__ import annotations

import io
import os
import stat
from pathlib import Path


class CheckedFile:
    """An unbuffered binary file for PyAV to write into; :attr:`error` keeps the first failure."""

    def __init__(self, path: Path):
        self.name = str(path)  # PyAV guesses the container format from it
        self.error: OSError | None = None
        #: Whether the file was there before (opening does not truncate it: see :meth:`truncate`).
        self.existed = path.exists()
        self._raw = io.FileIO(os.open(path, os.O_WRONLY | os.O_CREAT, 0o666), "w")

    def truncate(self) -> None:
        """Empty the file (once the caller is sure it will write it); devices are left as they are."""
        if stat.S_ISREG(os.fstat(self._raw.fileno()).st_mode):
            self._raw.truncate(0)

    def write(self, data: bytes) -> int:
        view = memoryview(data)
        try:
            while view:
                written = self._raw.write(view)
                if not written:
                    raise OSError("write returned 0 bytes")
                view = view[written:]
        except OSError as exc:
            self.error = self.error or exc
            raise
        return len(data)

    def seek(self, offset: int, whence: int = io.SEEK_SET) -> int:
        return self._raw.seek(offset, whence)

    def tell(self) -> int:
        return self._raw.tell()

    def seekable(self) -> bool:
        return self._raw.seekable()  # False for a pipe: FFmpeg then writes without seeking back

    def writable(self) -> bool:
        return True

    def close(self) -> None:
        try:
            self._raw.close()
        except OSError as exc:
            self.error = self.error or exc
