"""Human review: findings under a confidence threshold wait for a person's decision.

A finding's review score combines the model's (or analyst's) confidence with the
evidence checks: a quote that failed the verbatim gate scores 0, a finding the critic
flagged is halved. Findings scoring under `settings.review.threshold` go to the queue
(`review_queue.json`). Decisions (accept / reject / edit) are appended to
`reviews.jsonl` with who made them and when, survive a resume, and are used by
synthesis: rejected findings are left out, edited claims replace the originals.

In a notebook the run waits for the queue (`policy="wait"`) and a widget calls
`accept`/`reject`/`edit` from another thread; in batch the queue is written out and the
policy (`accept` or `reject`) decides, recorded as `by: "policy:<name>"`.

Triage uses the same queue for tickets: the claim names the predicted category, an edit
gives the right category (`edit_check` refuses a name that is not one), and findings can
be queued whatever their score, with the reason said (`propose(..., force=...)`).
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import asdict, dataclass, field
from typing import TYPE_CHECKING, Any

from subagents.findings import Finding
from workbench.core.errors import UserError
from workbench.runs.store import now_iso

if TYPE_CHECKING:
    from workbench.core.settings import ReviewSettings
    from workbench.runs.control import RunControl
    from workbench.runs.store import RunStore


@dataclass
class ReviewItem:
    finding_id: str
    doc_id: str
    claim: str
    quote: str
    score: float
    reasons: list[str] = field(default_factory=list)


class ReviewQueue:
    """Thread-safe; see the module docstring."""

    def __init__(
        self, store: RunStore, settings: ReviewSettings, control: RunControl | None = None
    ) -> None:
        self.store = store
        self.settings = settings
        self.control = control
        self._lock = threading.Lock()
        self._items: dict[str, ReviewItem] = {}
        self.decisions: dict[str, dict[str, Any]] = {}
        # checks (and may normalise) an edited claim; raises UserError to refuse it
        self.edit_check: Callable[[str], str] | None = None
        for rec in store.read_jsonl("reviews.jsonl"):
            self.decisions[rec["finding_id"]] = rec

    @staticmethod
    def score(f: Finding, *, quote_ok: bool = True, flagged: bool = False) -> float:
        s = f.confidence * (1.0 if quote_ok else 0.0)
        return round(s * (0.5 if flagged else 1.0), 3)

    def propose(
        self,
        findings: Sequence[Finding],
        flagged: Iterable[str] = (),
        *,
        force: Iterable[str] = (),
        reasons: Mapping[str, Sequence[str]] | None = None,
    ) -> list[ReviewItem]:
        """Queue the findings scoring under the threshold, and those in `force`.

        `reasons` adds what else a person should know about a finding (e.g. "the ticket
        is not in the language of the labelled examples").
        """
        flagged_ids = set(flagged)
        forced = set(force)
        extra = reasons or {}
        with self._lock:
            for f in findings:
                sc = self.score(f, flagged=f.id in flagged_ids)
                if sc < self.settings.threshold or f.id in forced:
                    why = [f"confidence {f.confidence:.2f}"]
                    if f.id in flagged_ids:
                        why.append("flagged by the critic")
                    why.extend(extra.get(f.id, ()))
                    self._items[f.id] = ReviewItem(
                        f.id, f.doc_id, f.claim, f.evidence[0].quote, sc, why
                    )
            items = list(self._items.values())
        self.store.write_json(
            "review_queue.json",
            {
                "threshold": self.settings.threshold,
                "policy": self.settings.policy,
                "items": [asdict(i) for i in items],
            },
        )
        return items

    def pending(self) -> list[ReviewItem]:
        with self._lock:
            return [i for fid, i in self._items.items() if fid not in self.decisions]

    def items(self) -> list[ReviewItem]:
        with self._lock:
            return list(self._items.values())

    def _decide(self, finding_id: str, decision: str, by: str, claim: str | None = None) -> None:
        with self._lock:
            if finding_id not in self._items:
                raise UserError(
                    f"finding {finding_id!r} is not in the review queue; "
                    f"queued: {sorted(self._items)[:10]}"
                )
            rec: dict[str, Any] = {
                "finding_id": finding_id,
                "decision": decision,
                "by": by,
                "at": now_iso(),
            }
            if claim is not None:
                rec["claim"] = claim
            self.decisions[finding_id] = rec
            self.store.append_jsonl("reviews.jsonl", rec)
        if self.control is not None:
            self.control.wake()

    def accept(self, finding_id: str, *, by: str = "user") -> None:
        self._decide(finding_id, "accept", by)

    def reject(self, finding_id: str, *, by: str = "user") -> None:
        self._decide(finding_id, "reject", by)

    def edit(self, finding_id: str, claim: str, *, by: str = "user") -> None:
        if not claim.strip():
            raise UserError("an edited claim cannot be empty")
        claim = claim.strip()
        if self.edit_check is not None:
            claim = self.edit_check(claim)
        self._decide(finding_id, "edit", by, claim)

    async def settle(self) -> None:
        """Batch: the policy decides what is pending. Interactive: wait for a person."""
        if (
            self.settings.policy == "wait"
            and self.control is not None
            and getattr(self.control, "interactive", False)
        ):
            await self.control.wait_until(lambda: not self.pending())
            return
        # batch (or nobody to ask): the policy decides; "wait" without a person accepts
        policy = "reject" if self.settings.policy == "reject" else "accept"
        for item in self.pending():
            self._decide(item.finding_id, policy, f"policy:{policy}")

    def apply(self, findings: Sequence[Finding]) -> list[Finding]:
        """Findings as synthesis should see them: rejected left out, edits applied."""
        out = []
        for f in findings:
            d = self.decisions.get(f.id)
            if d is None or d["decision"] == "accept":
                out.append(f)
            elif d["decision"] == "edit":
                out.append(f.model_copy(update={"claim": d["claim"]}))
        return out
