"""The fake Messages-API server, run on its own event loop thread for sync tests."""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from subagents.testing.fake_server import FakeAnthropicServer, FakeServerConfig


@contextmanager
def fake_server(
    responder: Any, config: FakeServerConfig | None = None
) -> Iterator[FakeAnthropicServer]:
    loop = asyncio.new_event_loop()
    thread = threading.Thread(target=loop.run_forever, daemon=True, name="fake-anthropic")
    thread.start()
    server = FakeAnthropicServer(config or FakeServerConfig(), responder)
    asyncio.run_coroutine_threadsafe(server.start(), loop).result(timeout=30)
    try:
        yield server
    finally:
        asyncio.run_coroutine_threadsafe(server.stop(), loop).result(timeout=30)
        loop.call_soon_threadsafe(loop.stop)
        thread.join(timeout=10)
        loop.close()
