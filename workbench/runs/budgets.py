"""Budgets, the circuit breaker, and the usage ledger of a run.

`BudgetTracker` holds the run's hard caps (USD, tokens, wall time, tasks) and what has
been spent. `check()` raises `BudgetExceededError` naming the cap; the executor calls
it before starting each task, and `MeteredModel` before each model call, so a run stops
cleanly between calls with everything finished so far kept.

`MeteredModel` wraps the run's model: it charges every response to the tracker (usage,
cost, latency, retries), opens the circuit after `max_consecutive_failures` calls fail
in a row, and turns a non-retryable API error (bad key, spend limit) into a
`ModelStopError` that stops the whole run with a clear message.
"""

from __future__ import annotations

import threading
import time
from dataclasses import dataclass, field
from decimal import Decimal
from pathlib import Path
from typing import TYPE_CHECKING, Any

from subagents.errors import ContextWindowExceededError, ModelCallError, NonRetryableModelError
from subagents.models.messages import Model, ModelRequest, ModelResponse, Usage
from workbench.core.errors import BudgetExceededError, RunError
from workbench.core.settings import Budgets
from workbench.core.tracing import make_tracer

if TYPE_CHECKING:
    from opentelemetry.trace import Tracer

CAP_WORDS = {
    "max_usd": "USD budget",
    "max_tokens": "token budget",
    "max_seconds": "time budget",
    "max_tasks": "task budget",
}


class ModelStopError(RunError):
    """The model API cannot be used (non-retryable error, or the circuit breaker opened)."""


@dataclass
class Ledger:
    """What the run has spent, model by model; JSON-friendly via `as_dict`."""

    usage: Usage = field(default_factory=Usage)
    cost_usd: Decimal = Decimal(0)
    calls: int = 0
    cached_calls: int = 0
    retries: int = 0
    failures: int = 0
    by_model: dict[str, dict[str, Any]] = field(default_factory=dict)
    latencies: list[float] = field(default_factory=list)

    def as_dict(self) -> dict[str, Any]:
        return {
            "cost_usd": str(self.cost_usd),
            "tokens": {
                "input": self.usage.input_tokens,
                "output": self.usage.output_tokens,
                "cache_read": self.usage.cache_read_input_tokens,
                "cache_creation": self.usage.cache_creation_input_tokens,
            },
            "calls": self.calls,
            "cached_calls": self.cached_calls,
            "retries": self.retries,
            "failures": self.failures,
            "by_model": self.by_model,
        }


class BudgetTracker:
    """The run's caps and spending; thread-safe (Ray results and model calls charge it)."""

    def __init__(self, budgets: Budgets, *, tasks_done_before: int = 0) -> None:
        self.budgets = budgets
        self.ledger = Ledger()
        self.started = time.monotonic()
        self.tasks_started = 0
        self.tasks_done_before = tasks_done_before  # finished in an earlier attempt
        self.stopped_by: dict[str, Any] | None = None
        self._lock = threading.Lock()
        self._consecutive_failures = 0

    # -- charging -------------------------------------------------------------------------
    def charge(self, response: ModelResponse) -> None:
        with self._lock:
            led = self.ledger
            led.calls += 1
            self._consecutive_failures = 0
            led.retries += max(0, response.attempts - 1)
            if response.cached:
                led.cached_calls += 1
                return
            led.usage = led.usage + response.usage
            led.cost_usd += response.cost_usd
            led.latencies.append(response.latency_s)
            m = led.by_model.setdefault(
                response.model, {"calls": 0, "cost_usd": "0", "input": 0, "output": 0}
            )
            m["calls"] += 1
            m["cost_usd"] = str(Decimal(m["cost_usd"]) + response.cost_usd)
            m["input"] += (
                response.usage.input_tokens
                + response.usage.cache_read_input_tokens
                + response.usage.cache_creation_input_tokens
            )
            m["output"] += response.usage.output_tokens

    def failure(self, limit: int) -> bool:
        """Record a failed model call; True when the circuit breaker should open."""
        with self._lock:
            self.ledger.failures += 1
            self._consecutive_failures += 1
            return self._consecutive_failures >= limit

    # -- caps --------------------------------------------------------------------------
    def exceeded(self) -> tuple[str, float, float] | None:
        """(cap, limit, used) of the first cap reached, or None."""
        b = self.budgets
        used: dict[str, float] = {
            "max_usd": float(self.ledger.cost_usd),
            "max_tokens": float(self.ledger.usage.total_tokens),
            "max_seconds": time.monotonic() - self.started,
        }
        for cap in ("max_usd", "max_tokens", "max_seconds"):
            limit = getattr(b, cap)
            if limit is not None and used[cap] >= limit:
                return cap, float(limit), used[cap]
        return None

    def check(self, *, stage: str | None = None, run_id: str | None = None) -> None:
        hit = self.exceeded()
        if hit is not None:
            self.stop(*hit, stage=stage, run_id=run_id)

    def may_start_task(self) -> bool:
        b = self.budgets.max_tasks
        return b is None or self.tasks_started < b

    def stop(
        self,
        cap: str,
        limit: float,
        used: float,
        *,
        stage: str | None = None,
        run_id: str | None = None,
        detail: str = "",
    ) -> None:
        self.stopped_by = {"cap": cap, "limit": limit, "used": round(used, 6)}
        word = CAP_WORDS.get(cap, cap)
        raise BudgetExceededError(
            f"stopped by the {word} ({cap}={limit:g}, used {used:.6g}){detail}; "
            "finished results are kept: raise the cap and run again to continue",
            run_id=run_id,
            stage=stage,
        )


class MeteredModel:
    """Wraps the run's model: budget check before, charge after, circuit breaker."""

    def __init__(
        self,
        inner: Model,
        tracker: BudgetTracker,
        *,
        run_id: str | None = None,
        tracer: Tracer | None = None,
    ) -> None:
        self.inner = inner
        self.tracer = tracer
        self.name = inner.name
        # OpenTelemetry's gen_ai.system: which API answers
        self.system = "openai" if "openai" in inner.name else "anthropic"
        self.tracker = tracker
        self.run_id = run_id
        self._open: str | None = None

    def model_id(self, request: ModelRequest) -> str:
        resolve = getattr(self.inner, "model_id", None)
        return str(resolve(request)) if callable(resolve) else (request.model or request.tier)

    async def complete(self, request: ModelRequest) -> ModelResponse:
        if self._open is not None:
            raise ModelStopError(self._open, run_id=self.run_id)
        self.tracker.check(run_id=self.run_id)
        started = time.time_ns()
        try:
            response = await self.inner.complete(request)
        except ContextWindowExceededError:
            raise  # the caller splits the request and tries again; the API itself is fine
        except NonRetryableModelError as e:
            self._open = (
                f"the model API refused the request and retrying cannot help: {e}. "
                "Fix the API key, permissions or spend limit, then run again to resume"
            )
            raise ModelStopError(self._open, run_id=self.run_id) from e
        except ModelCallError as e:
            limit = self.tracker.budgets.max_consecutive_failures
            if self.tracker.failure(limit):
                self._open = (
                    f"circuit breaker: {limit} model calls failed in a row (last: {e}); "
                    "the API looks unavailable, run again later to resume"
                )
                raise ModelStopError(self._open, run_id=self.run_id) from e
            raise
        self.tracker.charge(response)
        if self.tracer is not None:
            self._span(request, response, started)
        return response

    def _span(self, request: ModelRequest, response: ModelResponse, started: int) -> None:
        """One `chat` span per model call (OpenTelemetry GenAI conventions)."""
        assert self.tracer is not None
        u = response.usage
        span = self.tracer.start_span(
            f"chat {response.model}",
            start_time=started,
            attributes={
                "gen_ai.operation.name": "chat",
                "gen_ai.system": self.system,
                "gen_ai.request.model": self.model_id(request),
                "gen_ai.response.model": response.model,
                "gen_ai.response.id": response.id,
                "gen_ai.response.finish_reasons": [str(response.stop_reason)],
                "gen_ai.request.max_tokens": request.max_tokens,
                "gen_ai.usage.input_tokens": u.input_tokens,
                "gen_ai.usage.output_tokens": u.output_tokens,
                "gen_ai.usage.cache_read_input_tokens": u.cache_read_input_tokens,
                "gen_ai.usage.cache_creation_input_tokens": u.cache_creation_input_tokens,
                "workbench.tier": request.tier,
                "workbench.cost_usd": str(response.cost_usd),
                "workbench.cached": response.cached,
                "workbench.attempts": response.attempts,
            },
        )
        span.end()


def metered(model: Model, budgets: Budgets, trace_path: Path) -> MeteredModel:
    """`model` under its own budget tracker, with one span per call appended to `trace_path`.

    For model work outside a run (`ask`, the judge): the same caps, ledger, circuit
    breaker and GenAI spans as a run's model, without a run directory.
    """
    trace_path.parent.mkdir(parents=True, exist_ok=True)
    tracer, _ = make_tracer(trace_path)
    return MeteredModel(model, BudgetTracker(budgets), tracer=tracer)
