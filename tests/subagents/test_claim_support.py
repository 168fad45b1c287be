"""`claim_support`: a verbatim quote is not enough, the claim must say what the quote says."""

from __future__ import annotations

import pytest

from subagents.findings import Evidence, Finding
from subagents.verify import CLAIM_SUPPORT_THRESHOLD, claim_support, unsupported_claims

CRASH = "The export button crashes when the file is large"


@pytest.mark.parametrize(
    ("claim", "quote"),
    [
        ("The team worries about battery life", "battery life of the remote worries me"),
        ("Participants want a smaller, yellow remote", "I think it should be yellow and smaller"),
        ("In ES2002a a participant said: the export crashes", CRASH),
        ("A participant said this", CRASH),  # nothing asserted beyond the frame
    ],
)
def test_supported_claims_pass_without_a_model(claim: str, quote: str) -> None:
    assert claim_support(claim, quote) >= CLAIM_SUPPORT_THRESHOLD


@pytest.mark.parametrize(
    "claim",
    ["ALL USERS LOVE THE PRODUCT", "Pricing is the top priority for every customer"],
)
def test_unrelated_claims_fail(claim: str) -> None:
    assert claim_support(claim, CRASH) < CLAIM_SUPPORT_THRESHOLD


def _finding(fid: str, claim: str, quote: str) -> Finding:
    ev = Evidence(doc_id="d", segment_id="d#0", quote=quote)
    return Finding(id=fid, task_key="t", doc_id="d", claim=claim, evidence=[ev], confidence=0.9)


def test_unsupported_claims_names_the_findings() -> None:
    good = _finding("f1", "Large files crash the export", CRASH)
    bad = _finding("f2", "ALL USERS LOVE THE PRODUCT", CRASH)
    (problem,) = unsupported_claims([good, bad])
    assert problem.finding_id == "f2" and problem.support == 0.0


@pytest.mark.slow
def test_a_paraphrase_is_supported_with_the_embedder() -> None:
    from retrieval import Embedder

    embedder = Embedder()
    assert claim_support("Cost is a concern", "the price matters most") == 0.0
    assert claim_support("Cost is a concern", "the price matters most", embedder=embedder) >= 0.5
    assert claim_support("ALL USERS LOVE THE PRODUCT", CRASH, embedder=embedder) < 0.25
    bad = _finding("f2", "ALL USERS LOVE THE PRODUCT", CRASH)
    para = _finding("f3", "Cost is a concern", "the price matters most")
    assert [p.finding_id for p in unsupported_claims([bad, para], embedder=embedder)] == ["f2"]
