"""The model engine at thousands of documents: every request within the context window.

    python benchmarks/model_context.py --json            # 5,000 documents, 200k and 8k
    python benchmarks/model_context.py --docs 500 --json

The model engine's stages (an analyst per document, synthesis, critic) run through the
real `AnthropicModel` (real SDK, real HTTP) against `FakeAnthropicServer` on loopback,
which *enforces* the window: a request whose input plus `max_tokens` exceeds it is
answered 400 ("prompt is too long") and the run fails. Two runs:

1. the default window (200,000 tokens): documents fit one request each; the findings
   do not fit one synthesizer request, so synthesis is hierarchical;
2. an 8,192-token window (a local model's): long documents are analysed in parts,
   synthesis runs in more, smaller groups and merge rounds, the critic per theme.

The corpus is generated (support tickets over twelve product areas, 3-8 fields each,
one in twenty with a body of 20,000-60,000 characters in one field, as real tickets
have), so the benchmark runs without the shared corpora. The scripted server answers
like a model: three findings per request quoting the document verbatim, themes by the
product area a finding names, a passing critic. Indexing is not part of this
measurement (the engine's search tool is never called by the scripted model).

Figures (keys of #19): `max_request_tokens_5000_docs` (the largest request's input
tokens as the server counted them, default window), `small_window_completed` (the 8k
run finished with no request refused), calls and cost per run. `measure()` is the
function other benchmarks import.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import random
import re
import sys
import time
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

AREAS = "battery screen login export search billing sync upload notifications printing calendar backup".split()
PROBLEMS = [
    "fails",
    "is slow",
    "crashes the app",
    "shows the wrong data",
    "loses my work",
    "times out",
]


def make_corpus(n: int, seed: int = 0) -> list[Any]:
    """`n` generated tickets (see the module docstring)."""
    from retrieval.types import Document, Segment

    rng = random.Random(seed)
    docs = []
    for i in range(n):
        doc_id = f"T{i:05d}"
        area = AREAS[rng.randrange(len(AREAS))]
        fields = [f"{area.capitalize()} {rng.choice(PROBLEMS)} after the update"]
        for k in range(rng.randint(3, 8)):
            a = area if rng.random() < 0.7 else AREAS[rng.randrange(len(AREAS))]
            fields.append(
                f"When I use {a} on my phone it {rng.choice(PROBLEMS)}; step {k} of what I tried "
                f"was to restart, reinstall and log in again, and the {a} still {rng.choice(PROBLEMS)}."
            )
        if i % 20 == 7:  # a long pasted log in one field
            line = f"[log] {area} worker {rng.randint(1, 99)} {rng.choice(PROBLEMS)} at step "
            fields.append(" ".join(line + str(j) for j in range(rng.randint(250, 750))))
        segments, text, at = [], "", 0
        for k, t in enumerate(fields):
            segments.append(
                Segment(
                    id=f"{doc_id}#{k}",
                    doc_id=doc_id,
                    index=k,
                    text=t,
                    start_char=at,
                    end_char=at + len(t),
                    attrs={"field": "title" if k == 0 else "body"},
                )
            )
            text += t + "\n"
            at += len(t) + 1
        docs.append(
            Document(
                id=doc_id,
                kind="ticket",
                title=fields[0],
                source_path=f"{doc_id}.json",
                text=text,
                segments=segments,
            )
        )
    return docs


_LINE = re.compile(r"^(\S+#\d+)((?: [^\[:]+?)?)((?: \[[^\]]*\])*): (.*)$")


def _tool(data: dict[str, Any]) -> list[dict[str, Any]]:
    return [
        {
            "type": "tool_use",
            "id": f"toolu_{abs(hash(json.dumps(data)))}",
            "name": "final_output",
            "input": data,
        }
    ]


def _area(text: str) -> str:
    for a in AREAS:
        if a in text.lower():
            return a
    return "other"


def responder(body: dict[str, Any]) -> list[dict[str, Any]]:
    """Answers like a model, from what the request holds (see the module docstring)."""
    system = "\n".join(b.get("text", "") for b in body.get("system", []))
    first = body["messages"][0]["content"]
    docs = [b for b in first if b.get("type") == "document"]
    if "synthesise findings" in system:
        rows = [json.loads(x) for x in docs[0]["source"]["data"].splitlines() if x.strip()]
        by: dict[str, list[str]] = {}
        for r in rows:
            by.setdefault(_area(r["claim"]), []).append(r["id"])
        themes = [
            {
                "label": f"Problems with {a}",
                "summary": f"Users report {a} problems.",
                "finding_ids": ids,
                "keywords": [a],
            }
            for a, ids in by.items()
        ]
        return _tool({"themes": themes})
    if "You are the critic" in system:
        return _tool({"verdict": "pass", "issues": [], "summary": "ok"})
    findings = []
    for d in docs:
        for line in d["source"]["data"].splitlines():
            m = _LINE.match(line)
            if not m or len(m.group(4)) < 60:
                continue
            seg_id, text = m.group(1), m.group(4)
            findings.append(
                {
                    "claim": f"The user reports that {_area(text)} {text[20:50].strip()}",
                    "evidence": [
                        {"doc_id": seg_id.split("#")[0], "segment_id": seg_id, "quote": text[:40]}
                    ],
                    "confidence": 0.8,
                }
            )
            if len(findings) == 3:
                break
        if len(findings) == 3:
            break
    return _tool({"summary": "findings", "findings": findings})


class _NoSearch:
    """The engine's index: the scripted model never searches; grouping uses `embedder`."""

    def __init__(self, embedder: Any) -> None:
        self.embedder = embedder

    def search(self, *a: Any, **k: Any) -> Any:
        raise AssertionError("the scripted model does not search")


class _Sizes:
    """Wraps the client; records the estimate of every request (the budget's count)."""

    def __init__(self, inner: Any) -> None:
        self.inner = inner
        self.name = inner.name
        self.max_estimate = 0

    def model_id(self, request: Any) -> str:
        return str(self.inner.model_id(request))

    async def complete(self, request: Any) -> Any:
        if self.inner.context is not None:
            self.max_estimate = max(self.max_estimate, self.inner.context.request_tokens(request))
        return await self.inner.complete(request)


async def run_engine(
    docs: list[Any], window: int, *, embedder: Any, concurrency: int = 64
) -> dict[str, Any]:
    from subagents.models.anthropic import AnthropicModel
    from subagents.models.ratelimit import AdaptiveLimiter
    from subagents.spec_loader import load_specs
    from subagents.testing.fake_server import FakeAnthropicServer, FakeServerConfig
    from workbench.core.settings import ModelSettings, Settings
    from workbench.engines.model import ModelEngine
    from workbench.engines.model_stack import context_budget
    from workbench.runs.fanout import Task

    settings = Settings(models=ModelSettings(context_window=window, cache=False))
    by_id = {d.id: d for d in docs}
    t0 = time.perf_counter()
    completed, error = True, None
    findings: list[Any] = []
    synthesis = critique = None
    async with FakeAnthropicServer(
        FakeServerConfig(context_window=window, max_lifetime_s=3600), responder
    ) as server:
        client = AnthropicModel(api_key="k", base_url=server.base_url, context=context_budget(settings),
                                limiter=AdaptiveLimiter(max_concurrency=concurrency, initial_concurrency=concurrency))  # fmt: skip
        model = _Sizes(client)
        engine = ModelEngine(settings, model, load_specs(None), _NoSearch(embedder), by_id)  # type: ignore[arg-type]
        gate = asyncio.Semaphore(concurrency)

        async def one(d: Any) -> dict[str, Any]:
            async with gate:
                payload = {
                    "doc_ids": [d.id],
                    "question": "What problems do users report?",
                    "subagent": "ticket-analyst",
                }
                return await engine.analyze(
                    Task(key=f"analyze-{d.id}", stage="analyze", label=d.title, payload=payload)
                )

        try:
            t_an = time.perf_counter()
            results = await asyncio.gather(*(one(d) for d in docs))
            t_an = time.perf_counter() - t_an
            from subagents.findings import Finding

            findings = [Finding.model_validate(f) for r in results for f in r["findings"]]
            parts = sum(r.get("requests", 1) for r in results)
            t_syn = time.perf_counter()
            synthesis = await engine.synthesize(
                findings, list(by_id), noun="tickets", question="What problems do users report?"
            )
            t_syn = time.perf_counter() - t_syn
            critique = await engine.critique(
                findings, synthesis, question="What problems do users report?"
            )
        except Exception as e:  # a refused request fails the run: that is the measurement
            completed, error = False, f"{type(e).__name__}: {e}"[:500]
            parts, t_an, t_syn = 0, 0.0, 0.0
        await client.aclose()
        records = list(server.records)
        biggest = server.max_input_tokens
    refused = sum(1 for r in records if r.status == 400)
    return {
        "window": window,
        "completed": completed and refused == 0,
        "error": error,
        "calls": len(records),
        "refused_400": refused,
        "max_request_tokens": biggest,  # input tokens, as the server counted them
        "max_request_tokens_estimated": model.max_estimate,  # the budget's (conservative) count
        "analyst_requests": parts,
        "findings": len(findings),
        "themes": len(synthesis.themes) if synthesis else 0,
        "synthesis_method": synthesis.method if synthesis else None,
        "critic": critique.summary if critique else None,
        "cost_usd": str(client.stats.cost_usd),
        "usage": client.stats.usage.model_dump(),
        "seconds": {
            "total": round(time.perf_counter() - t0, 1),
            "analyze": round(t_an, 1),
            "synthesize": round(t_syn, 1),
        },
    }


def measure(
    n_docs: int = 5000, *, small_window: int = 8192, embed: bool = True, seed: int = 0
) -> dict[str, Any]:
    """The #19 model-engine figures (see the module docstring); importable."""
    embedder = None
    if embed:
        from retrieval import Embedder

        embedder = Embedder()
    docs = make_corpus(n_docs, seed)
    default = asyncio.run(run_engine(docs, 200_000, embedder=embedder))
    small = asyncio.run(run_engine(docs, small_window, embedder=embedder))
    key = f"{n_docs}_docs"
    return {
        f"max_request_tokens_{key}": default["max_request_tokens"],
        "small_window_completed": small["completed"],
        "calls": {"200000": default["calls"], str(small_window): small["calls"]},
        "cost_usd": {"200000": default["cost_usd"], str(small_window): small["cost_usd"]},
        "documents": n_docs,
        "within_window": default["completed"] and default["max_request_tokens"] < 200_000,
        "default_window": default,
        "small_window": small,
    }


if __name__ == "__main__":
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--json", action="store_true")
    parser.add_argument("--docs", type=int, default=5000)
    parser.add_argument("--small-window", type=int, default=8192)
    parser.add_argument(
        "--no-embed", action="store_true", help="group findings in order, not by embedding"
    )
    ns = parser.parse_args()
    report = {
        "benchmark": "model_context",
        **measure(ns.docs, small_window=ns.small_window, embed=not ns.no_embed),
    }
    print(json.dumps(report, indent=None if ns.json else 2, default=str))
