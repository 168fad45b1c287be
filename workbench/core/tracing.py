"""Tracing: OpenTelemetry spans (run -> stage -> task) written to the run's trace.jsonl.

Each run gets its own TracerProvider (not the process-global one), so two runs in one
notebook never mix their traces. When OTEL_EXPORTER_OTLP_ENDPOINT is set, spans are
also exported over OTLP (Langfuse, Jaeger, ...).
"""

from __future__ import annotations

import json
import os
import threading
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from opentelemetry.sdk.trace import ReadableSpan, TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor, SpanExporter, SpanExportResult
from opentelemetry.trace import Tracer


class JsonlSpanExporter(SpanExporter):
    def __init__(self, path: Path) -> None:
        self.path = path
        self._lock = threading.Lock()

    def export(self, spans: Sequence[ReadableSpan]) -> SpanExportResult:
        lines = []
        for s in spans:
            ctx = s.get_span_context()
            parent = s.parent
            record: dict[str, Any] = {
                "event": "span",
                "name": s.name,
                "trace_id": f"{ctx.trace_id:032x}" if ctx else None,
                "span_id": f"{ctx.span_id:016x}" if ctx else None,
                "parent_id": f"{parent.span_id:016x}" if parent else None,
                "start_ns": s.start_time,
                "end_ns": s.end_time,
                "status": s.status.status_code.name,
                "attributes": dict(s.attributes or {}),
            }
            lines.append(json.dumps(record, default=str))
        with self._lock, open(self.path, "a", encoding="utf-8") as f:
            f.write("\n".join(lines) + "\n")
        return SpanExportResult.SUCCESS

    def shutdown(self) -> None:
        return None


def make_tracer(trace_path: Path) -> tuple[Tracer, TracerProvider]:
    provider = TracerProvider()
    provider.add_span_processor(SimpleSpanProcessor(JsonlSpanExporter(trace_path)))
    if os.environ.get("OTEL_EXPORTER_OTLP_ENDPOINT"):
        from opentelemetry.exporter.otlp.proto.grpc.trace_exporter import OTLPSpanExporter
        from opentelemetry.sdk.trace.export import BatchSpanProcessor

        provider.add_span_processor(BatchSpanProcessor(OTLPSpanExporter()))
    return provider.get_tracer("research-workbench"), provider


def _pct(values: list[float], q: float) -> float | None:
    if not values:
        return None
    s = sorted(values)
    i = min(len(s) - 1, max(0, round(q * (len(s) - 1))))
    return round(s[i], 4)


def summarize(trace_path: Path, ledger: dict[str, Any] | None = None) -> dict[str, Any]:
    """The per-run summary: tasks, tokens, cost, p50/p95 latency, failures, retries."""
    tasks: list[float] = []
    calls: list[float] = []
    failures = 0
    retries = 0
    stages: dict[str, dict[str, int]] = {}
    if trace_path.exists():
        with open(trace_path, encoding="utf-8") as f:
            for line in f:
                try:
                    rec = json.loads(line)
                except json.JSONDecodeError:
                    continue  # a line cut by a kill
                if rec.get("event") == "task_failed":
                    failures += 1
                elif rec.get("event") == "stage_done":
                    stages[rec["stage"]] = {"executed": rec["executed"], "reused": rec["reused"]}
                elif rec.get("event") == "span" and rec.get("end_ns") and rec.get("start_ns"):
                    seconds = (rec["end_ns"] - rec["start_ns"]) / 1e9
                    name = str(rec.get("name", ""))
                    attrs = rec.get("attributes", {})
                    if name.startswith("task "):
                        tasks.append(seconds)
                    elif attrs.get("gen_ai.operation.name") == "chat":
                        calls.append(seconds)
                        retries += max(0, int(attrs.get("workbench.attempts", 1)) - 1)
    led = ledger or {}
    return {
        "tasks": {
            "executed": sum(s["executed"] for s in stages.values()),
            "reused": sum(s["reused"] for s in stages.values()),
            "failed": failures,
            "by_stage": stages,
        },
        "task_latency_s": {"p50": _pct(tasks, 0.5), "p95": _pct(tasks, 0.95), "n": len(tasks)},
        "model_calls": {
            "n": max(len(calls), int(led.get("calls", 0))),
            "p50_s": _pct(calls, 0.5),
            "p95_s": _pct(calls, 0.95),
            "retries": max(retries, int(led.get("retries", 0))),
            "failures": int(led.get("failures", 0)),
        },
        "tokens": led.get("tokens", {"input": 0, "output": 0}),
        "cost_usd": led.get("cost_usd", "0"),
    }
