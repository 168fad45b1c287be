"""The request guard: makes an accidental real API call an error in tests.

`ALLOW_MODEL_REQUESTS=0|false|no|off` blocks every request to a host that is not
loopback; loopback (the fake Messages-API server) is always allowed. Unset means
allowed, so a user with a key is not surprised; the test suite turns it off (see
`tests/subagents/conftest.py`) and `block_model_requests()` does it for a block of code.
The AnthropicModel checks every outgoing HTTP request (an httpx event hook), so no
code path — messages, batches, retries — escapes it.
"""

from __future__ import annotations

import ipaddress
import os
from collections.abc import Iterator
from contextlib import contextmanager
from urllib.parse import urlsplit

from subagents.errors import ModelRequestsBlockedError

ENV_VAR = "ALLOW_MODEL_REQUESTS"
DEFAULT_ALLOWED = True  # when the variable is unset (pydantic-ai's convention)
_FALSE = {"0", "false", "no", "off"}


def model_requests_allowed() -> bool:
    value = os.environ.get(ENV_VAR)
    if value is None or not value.strip():
        return DEFAULT_ALLOWED
    return value.strip().lower() not in _FALSE


def is_loopback(url: str) -> bool:
    host = urlsplit(url).hostname or ""
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def check_request_allowed(url: str) -> None:
    """Raise ModelRequestsBlockedError for a non-loopback URL when requests are off."""
    if is_loopback(url) or model_requests_allowed():
        return
    raise ModelRequestsBlockedError(
        f"blocked a real model request to {urlsplit(url).hostname}: {ENV_VAR} is off. "
        "Tests must use subagents.testing (ScriptedModel, FunctionModel, FakeAnthropicServer); "
        f"set {ENV_VAR}=1 to allow real requests."
    )


@contextmanager
def block_model_requests() -> Iterator[None]:
    """Turn real model requests off inside the block (restores the previous setting)."""
    old = os.environ.get(ENV_VAR)
    os.environ[ENV_VAR] = "0"
    try:
        yield
    finally:
        if old is None:
            os.environ.pop(ENV_VAR, None)
        else:
            os.environ[ENV_VAR] = old
