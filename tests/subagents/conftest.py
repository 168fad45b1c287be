"""The subagents suite never reaches a real API: the request guard is off for all of it."""

from __future__ import annotations

import os

os.environ["ALLOW_MODEL_REQUESTS"] = "0"
