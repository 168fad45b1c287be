"""Errors of the exports package.

```
ExportError                 root: anything exports raises on purpose
 ├── ExportInputError       bad input (a spec, a path, a template); the message says how to fix it
 ├── ChartCodeError         chart code failed when run in-process (carries stdout/stderr)
 ├── MediaError             ffmpeg could not cut or join a clip (carries the command and its stderr)
 └── BundleError            a bundle is missing files, corrupted, or unsafe to extract
```
"""

from __future__ import annotations


class ExportError(Exception):
    """Root of every error the exports package raises on purpose."""


class ExportInputError(ExportError):
    """The caller passed something unusable; the message says what and how to fix it."""


class ChartCodeError(ExportError):
    def __init__(self, message: str, *, code: str = "", detail: str = "") -> None:
        super().__init__(message if not detail else f"{message}\n{detail}")
        self.code = code
        self.detail = detail


class MediaError(ExportError):
    def __init__(self, message: str, *, command: list[str] | None = None, stderr: str = "") -> None:
        tail = stderr.strip().splitlines()[-8:]
        super().__init__(message + ("\n" + "\n".join(tail) if tail else ""))
        self.command = command or []
        self.stderr = stderr


class BundleError(ExportError):
    """A bundle is incomplete, corrupted (hash mismatch) or unsafe (paths escaping the folder)."""
