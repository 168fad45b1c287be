"""The offline critic: reviews findings and themes the way a researcher would.

It checks, in code:

- every quote is verbatim in its source (`quote_not_verbatim`), and a claim says no more
  than its quote (`unsupported_claim`: the claim's content words must come from the
  quote, which holds by construction for extractive claims);
- theme counts match the findings they cite (`count_inconsistent`);
- a theme's evidence is what participants said: any interviewer's words in it are
  `interviewer_voice`;
- a theme carried by one speaker (`one_speaker`: most of its findings from one speaker
  label, such as one role in a meeting series) or by one document (`one_document`);
- near-identical quotes inside a theme (`near_duplicate`), which inflate it;
- a theme that restates the research question instead of answering it
  (`restates_question`: its name is made of the question's own words).

Finding-level problems (verbatim, support, interviewer voice) are high or medium and
send their documents back to the analyst; theme-level ones are notes for the reader,
attached to the theme in the outputs.
"""

from __future__ import annotations

import difflib
from collections import Counter
from collections.abc import Mapping, Sequence
from typing import Literal

from retrieval.types import Document
from subagents.findings import Finding, Synthesis, Theme, is_prompt_role
from subagents.offline.text import clean, content_words, stem
from subagents.outputs import CriticIssue, CriticOutput
from subagents.verify import check_findings, claim_support

ONE_SOURCE_SHARE = 0.6  # a theme with more of its findings from one speaker or document
NEAR_DUPLICATE = 0.9  # difflib ratio of two cleaned quotes
SUPPORTED_SHARE = 0.6  # share of a claim's content words its quote must hold


def claim_supported(claim: str, quote: str) -> bool:
    """Whether a claim stays within its quote: `verify.claim_support` (the measure the
    claims gate uses on model findings) reaches SUPPORTED_SHARE, a stricter bar than the
    gate's, since the critic only flags for review."""
    return claim_support(claim, quote) >= SUPPORTED_SHARE


def review(
    findings: Sequence[Finding],
    synthesis: Synthesis,
    docs: Mapping[str, Document],
    *,
    question: str = "",
) -> CriticOutput:
    """Check findings and themes (see the module docstring); verdict `revise` on any high
    issue, `pass` otherwise."""
    issues = [
        CriticIssue(
            finding_id=p.finding_id, kind="quote_not_verbatim", detail=p.problem, severity="high"
        )
        for p in check_findings(findings, docs)
    ]
    fmap = {f.id: f for f in findings}
    for f in findings:
        quote = " ".join(ev.quote for ev in f.evidence)
        if not claim_supported(f.claim, quote):
            issues.append(
                CriticIssue(
                    finding_id=f.id,
                    kind="unsupported_claim",
                    detail="the claim says more than its quotes: most of its words are not in them",
                    severity="medium",
                )
            )
        if any(is_prompt_role(ev.role) for ev in f.evidence):
            issues.append(
                CriticIssue(
                    finding_id=f.id,
                    kind="interviewer_voice",
                    detail=f"the evidence is the {_prompt_role(f)}'s words, not a participant's",
                    severity="high",
                )
            )
    asked = {stem(w) for w in content_words(question)}
    for t in synthesis.themes:
        issues.extend(_theme_issues(t, fmap, asked))
    verdict: Literal["pass", "revise"] = (
        "revise" if any(i.severity == "high" for i in issues) else "pass"
    )
    flagged = sum(1 for i in issues if i.theme_id)
    return CriticOutput(
        verdict=verdict,
        issues=issues,
        summary=(
            f"checked {len(findings)} findings and {len(synthesis.themes)} themes: quotes "
            f"verbatim, claims within their quotes, counts, whose voice, one-source themes, "
            f"near-duplicates, restated question; {flagged} theme notes"
        ),
    )


def _theme_issues(t: Theme, fmap: Mapping[str, Finding], asked: set[str]) -> list[CriticIssue]:
    out: list[CriticIssue] = []
    members = [fmap[i] for i in t.finding_ids if i in fmap]
    docs_cited = {f.doc_id for f in members}
    if len(docs_cited) != t.n_documents:
        out.append(
            CriticIssue(
                theme_id=t.id,
                kind="count_inconsistent",
                detail=f"theme {t.label!r} says {t.n_documents} documents, "
                f"its findings come from {len(docs_cited)}",
                severity="high",
            )
        )
    if not members:
        return out
    voices = [f.evidence[0].role for f in members]
    interviewer = sum(1 for r in voices if is_prompt_role(r))
    if interviewer:
        out.append(
            CriticIssue(
                theme_id=t.id,
                kind="interviewer_voice",
                detail=f"{interviewer} of {len(members)} findings are an interviewer's or a "
                "maintainer's words (prompts)",
                severity="high" if interviewer / len(members) > 0.2 else "medium",
            )
        )
    if len(members) >= 4:
        speakers = Counter(f.evidence[0].speaker for f in members if f.evidence[0].speaker)
        if len(speakers) >= 2 or len(docs_cited) >= 2:
            who, n = speakers.most_common(1)[0] if speakers else (None, 0)
            if who and n / len(members) > ONE_SOURCE_SHARE and len(speakers) > 1:
                out.append(
                    CriticIssue(
                        theme_id=t.id,
                        kind="one_speaker",
                        detail=f"carried by {who}: {n} of {len(members)} findings",
                        severity="low",
                    )
                )
        doc, n = Counter(f.doc_id for f in members).most_common(1)[0]
        if n / len(members) > ONE_SOURCE_SHARE:
            out.append(
                CriticIssue(
                    theme_id=t.id,
                    kind="one_document",
                    detail=f"carried by one document ({doc}): {n} of {len(members)} findings",
                    severity="low",
                )
            )
    dupes = _near_duplicates(members)
    if dupes:
        a, b = dupes[0]
        out.append(
            CriticIssue(
                theme_id=t.id,
                kind="near_duplicate",
                detail=f"{len(dupes)} near-identical quote pairs (e.g. in {a.doc_id} and {b.doc_id})",
                severity="low",
            )
        )
    named = {stem(w) for w in content_words(t.label)}
    if named and asked and named <= asked:
        out.append(
            CriticIssue(
                theme_id=t.id,
                kind="restates_question",
                detail=f"the theme's name {t.label!r} is made of the question's own words",
                severity="medium",
            )
        )
    return out


def _near_duplicates(members: Sequence[Finding]) -> list[tuple[Finding, Finding]]:
    texts = [clean(f.evidence[0].quote).lower() for f in members]
    pairs = []
    by_len = sorted(range(len(members)), key=lambda i: len(texts[i]))
    for x, i in enumerate(by_len):
        for j in by_len[x + 1 : x + 40]:  # similar quotes have similar lengths
            if len(texts[j]) > 1.25 * len(texts[i]) + 5:
                break
            if difflib.SequenceMatcher(None, texts[i], texts[j]).ratio() >= NEAR_DUPLICATE:
                pairs.append((members[i], members[j]))
    return pairs


def flag_themes(synthesis: Synthesis, critique: CriticOutput) -> Synthesis:
    """The synthesis with each theme's critic notes in `Theme.flags`."""
    notes: dict[str, list[str]] = {}
    for i in critique.issues:
        if i.theme_id:
            notes.setdefault(i.theme_id, []).append(f"{i.kind.replace('_', ' ')}: {i.detail}")
    themes = [t.model_copy(update={"flags": notes.get(t.id, [])}) for t in synthesis.themes]
    return synthesis.model_copy(update={"themes": themes})


def _prompt_role(f: Finding) -> str:
    """The prompt role whose words a finding quotes (the interviewer, a maintainer)."""
    return next((str(ev.role) for ev in f.evidence if is_prompt_role(ev.role)), "interviewer")
