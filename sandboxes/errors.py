"""Exceptions of the sandboxes package.

Hierarchy::

    SandboxError                      root of everything raised here
    ├── SandboxUnavailableError       a backend cannot start here (bwrap missing, no E2B key):
    │                                 a user/set-up mistake, the message says how to fix it
    ├── SandboxClosedError            the sandbox was used after close()
    └── SandboxFileError              files.read/write got a bad path or a missing file

Failures of the *code* run in a sandbox (exceptions, timeouts, a killed kernel,
an output flood) are not raised: they come back as ``Execution.error`` so an agent
can read and react to them.
"""

from __future__ import annotations


class SandboxError(Exception):
    """Root of all exceptions raised by the sandboxes package."""


class SandboxUnavailableError(SandboxError):
    """The requested backend cannot run on this machine; the message says how to fix it."""


class SandboxClosedError(SandboxError):
    """The sandbox was used after it was closed."""


class SandboxFileError(SandboxError):
    """A file operation got a path outside the work dir or a file that does not exist."""
