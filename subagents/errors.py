"""Errors of the agent runtime.

SubagentsError                 root of everything raised here
├── SubagentsUserError         bad input or settings; the message says how to fix it
│   ├── SpecError              a sub-agent spec file is invalid or unknown
│   └── UnknownModelPriceError a model id without a price (add one to the PriceTable)
├── ModelRequestsBlockedError  a real API request while ALLOW_MODEL_REQUESTS is off
├── ContextWindowError          a request cannot fit its model's context window (not sent)
├── ModelCallError             a model call failed for good (after retries, or not retryable)
│   └── NonRetryableModelError authentication, permission, spend limit, bad request
│       └── ContextWindowExceededError  the server said the request is too long
├── CacheMissError             replay-only cache had no response for a request
└── UnscriptedCallError        a ScriptedModel was called more times than it was scripted
"""

from __future__ import annotations


class SubagentsError(Exception):
    """Root of the exceptions raised by the `subagents` package."""


class SubagentsUserError(SubagentsError):
    """Bad input or settings; the message says what was wrong and how to fix it."""


class SpecError(SubagentsUserError):
    """A sub-agent spec is invalid, or no spec has the requested name."""


class UnknownModelPriceError(SubagentsUserError):
    """Cost was asked for a model the price table does not know."""


class ModelRequestsBlockedError(SubagentsError):
    """A request to a real (non-loopback) model API while ALLOW_MODEL_REQUESTS is off."""


class ModelCallError(SubagentsError):
    """A model call failed for good. `status` is the HTTP status, if there was one."""

    def __init__(
        self,
        message: str,
        *,
        status: int | None = None,
        error_type: str | None = None,
        error_code: str | None = None,
        attempts: int = 1,
    ) -> None:
        super().__init__(message)
        self.status = status
        self.error_type = error_type
        self.error_code = error_code
        self.attempts = attempts


class NonRetryableModelError(ModelCallError):
    """Retrying cannot help: authentication, permission, spend limit reached, bad request."""


class ContextWindowExceededError(NonRetryableModelError):
    """The server refused the request as longer than the model's context window.

    `server_window` is the window the server named in its message, when it named one.
    """

    def __init__(self, message: str, *, server_window: int | None = None, **kw: object) -> None:
        super().__init__(message, **kw)  # type: ignore[arg-type]
        self.server_window = server_window


class ContextWindowError(SubagentsError):
    """A request would not fit its model's context window, so it was not sent.

    The caller splits the work (document parts, smaller synthesis groups); the message
    says the sizes and how to fix the settings if the window is set too small.
    """

    def __init__(self, message: str, *, tokens: int = 0, window: int = 0, model: str = "") -> None:
        super().__init__(message)
        self.tokens = tokens
        self.window = window
        self.model = model


class CacheMissError(SubagentsError):
    """A replay-only CachedModel got a request it has no recorded response for."""


class UnscriptedCallError(SubagentsError):
    """A ScriptedModel got a call after its scripted steps ran out."""
