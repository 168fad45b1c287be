"""Deductive coding offline: findings coded against the researcher's codebook by similarity.

Each code is represented by its path and description ("Benefits > Speed: the tool saves
time") and by each of its examples; a finding's similarity to a code is its best cosine
(MiniLM) to any of them, averaged with the same for the finding's context (the question
that drew it) when it has one: an answer is coded by what it answers as much as by its
words ("Yes, all the time" says little alone). Raw cosines are not comparable across codes (a broad code is
close to everything), so the threshold is calibrated on the run's own findings: each
code's similarities are standardised over all findings (a z-score per code) and a
finding is coded with the code where it stands out most, if it stands out enough
(`min_z`) and is close enough in absolute terms (`min_similarity`). What fits no code
is "other": those findings are clustered (the inductive synthesizer) into candidate
codes, proposed apart from the codebook's themes for the researcher to accept.

Limits: a code with neither description nor examples is matched on its name alone;
evidence an interviewer spoke is never coded (it is the question, not the data).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from subagents.codebook import PATH_SEP, Codebook, synthesis_from_coding
from subagents.findings import Finding, Synthesis, is_prompt_role
from subagents.offline.analyst import Encoder

CODER_VERSION = "codebook-coder/1"


@dataclass(frozen=True)
class CoderSettings:
    # cosine to the best code's description or example: MiniLM rarely gives 0.3 to two texts on
    # unrelated topics, so a code the data never touches stays at 0 of N
    min_similarity: float = 0.3
    # how far above that code's mean similarity over the run's findings, in standard
    # deviations: 0 = closer to the code than the run's average finding is
    min_z: float = 0.0
    min_findings_to_calibrate: int = 8  # fewer findings: the absolute floor alone decides


class CodebookCoder:
    """Codes findings with a codebook's leaf codes; see the module docstring."""

    def __init__(
        self, encoder: Encoder, codebook: Codebook, settings: CoderSettings | None = None
    ) -> None:
        self.encoder = encoder
        self.book = codebook
        self.settings = settings or CoderSettings()
        self.leaves = [c.code for c in codebook.leaves()]
        texts: list[str] = []
        owner: list[int] = []
        for i, c in enumerate(codebook.leaves()):
            path = f" {PATH_SEP} ".join(codebook.path(c.code))
            texts.append(f"{path}: {c.description}" if c.description else path)
            owner.append(i)
            for ex in c.examples:
                texts.append(ex)
                owner.append(i)
        self._profile = self._unit(self.encoder.encode(texts))
        self._owner = np.array(owner)

    @staticmethod
    def _unit(v: np.ndarray) -> np.ndarray:
        v = np.asarray(v, dtype=np.float32)
        n = np.linalg.norm(v, axis=1, keepdims=True)
        return v / np.where(n == 0, 1, n)

    def _code_sims(self, texts: list[str]) -> np.ndarray:
        raw = self._unit(self.encoder.encode(texts)) @ self._profile.T
        out = np.full((len(texts), len(self.leaves)), -1.0, dtype=np.float32)
        for j in range(len(self.leaves)):
            out[:, j] = raw[:, self._owner == j].max(axis=1)
        return out

    def similarities(
        self, findings: Sequence[Finding], contexts: Mapping[str, str] | None = None
    ) -> np.ndarray:
        """(n_findings, n_leaf_codes): best cosine of each finding to each code's texts,
        averaged with its context's (`contexts[finding id]`, else `Finding.context`)."""
        if not findings:
            return np.zeros((0, len(self.leaves)), dtype=np.float32)
        sims = self._code_sims([f.claim for f in findings])
        ctx = [
            (contexts or {}).get(f.id) or (f.context.quote if f.context else "") for f in findings
        ]
        have = [i for i, c in enumerate(ctx) if c.strip()]
        if have:
            ctx_sims = self._code_sims([ctx[i] for i in have])
            sims[have] = (sims[have] + ctx_sims) / 2
        return sims

    def code(
        self, findings: Sequence[Finding], contexts: Mapping[str, str] | None = None
    ) -> tuple[dict[str, str], dict[str, float]]:
        """finding id -> leaf code name for the findings that fit one; and each one's score."""
        s = self.settings
        codable = [f for f in findings if not any(is_prompt_role(e.role) for e in f.evidence)]
        sims = self.similarities(codable, contexts)
        min_z = s.min_z
        if len(codable) >= s.min_findings_to_calibrate:
            std = sims.std(axis=0)
            z = (sims - sims.mean(axis=0)) / np.where(std < 1e-6, 1.0, std)
        else:  # too few to calibrate: the closest code, if close enough
            z, min_z = sims, -np.inf
        coded: dict[str, str] = {}
        scores: dict[str, float] = {}
        for i, f in enumerate(codable):
            j = int(np.argmax(np.where(sims[i] >= s.min_similarity, z[i], -np.inf)))
            if sims[i, j] >= s.min_similarity and z[i, j] >= min_z:
                coded[f.id] = self.leaves[j]
                scores[f.id] = round(float(sims[i, j]), 4)
        return coded, scores

    def synthesize(
        self,
        findings: Sequence[Finding],
        doc_ids: Sequence[str],
        *,
        noun: str = "documents",
        question: str = "",
        candidates_from: object | None = None,
        contexts: Mapping[str, str] | None = None,
        participants: Mapping[str, Sequence[str]] | None = None,
    ) -> Synthesis:
        """Themes = the codebook's top-level codes; candidate codes from what fit none.

        `contexts`: finding id -> what drew it, for findings without `Finding.context`.
        `participants`: document id -> its participants, where roles are known (the
        denominator of participant counts).
        `candidates_from`: an inductive synthesizer (`synthesize(findings, doc_ids, noun=,
        question=)`) that groups the uncoded findings into candidate codes; None: no
        candidates are proposed.
        """
        s = self.settings
        findings = sorted(findings, key=lambda f: (f.doc_id, f.id))
        coded, _ = self.code(findings, contexts)
        other = [f for f in findings if f.id not in coded]
        candidates = []
        if candidates_from is not None and len(other) >= 2:
            leftover = candidates_from.synthesize(  # type: ignore[attr-defined]
                other, list(doc_ids), noun=noun, question=question, participants=participants
            )
            taken = {c.code.lower() for c in self.book.codes}
            candidates = [
                t.model_copy(
                    update={
                        # a proposed code never reads as one the codebook already has
                        "label": f"{t.label} (new)" if t.label.lower() in taken else t.label,
                        "flags": [*t.flags, "candidate code: not in the codebook"],
                    }
                )
                for t in leftover.themes
            ]
        method = (
            f"{CODER_VERSION}: deductive coding with the codebook {Path(self.book.source).name} "
            f"({len(self.leaves)} codes under {len(self.book.roots())} top-level codes); "
            f"MiniLM similarity of each finding (and of the prompt that drew it) to each code's description and examples, "
            f"calibrated per code on this run's {len(findings)} findings (z >= {s.min_z}, "
            f"cosine >= {s.min_similarity}); {len(coded)} coded, {len(other)} fit no code"
            + (f"; {len(candidates)} candidate codes proposed from those" if candidates else "")
        )
        return synthesis_from_coding(
            self.book,
            findings,
            coded,
            doc_ids,
            noun=noun,
            method=method.replace("  ", " "),
            candidates=candidates,
            total_participants=(
                sum(len(set(v)) for v in participants.values()) if participants else None
            ),
        )
