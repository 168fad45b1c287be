"""Clustering synthesis: the offline theme-synthesizer.

Findings from all documents are embedded and grouped by agglomerative clustering on
cosine distance. A group becomes a theme only if it is backed by enough distinct
documents; smaller groups are outliers, and documents none of whose findings land
in a theme are reported as not fitting any theme rather than forced into one. Labels
come from class-based TF-IDF (as in BERTopic) over multi-word phrases, so they read
as a topic ("Battery life and kinetic charging"), not a bag of keywords.
"""

from __future__ import annotations

import hashlib
import math
from collections import Counter, defaultdict
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from subagents.findings import Finding, Synthesis, Theme
from subagents.offline.analyst import Encoder
from subagents.offline.text import FILLERS, STOPWORDS, content_words, stem, words

SYNTHESIS_VERSION = "clustering-synthesis/2"


@dataclass(frozen=True)
class SynthesisSettings:
    distance_threshold: float = 0.72  # average-linkage cosine distance at which groups stop merging
    min_doc_share: float = 0.1  # a theme needs findings from at least this share of documents
    min_docs: int = 3
    max_themes: int = 8
    merge_similarity: float = 0.8  # themes whose centroids are closer than this are merged
    quotes_per_theme: int = 3


class ClusteringSynthesizer:
    def __init__(self, encoder: Encoder, settings: SynthesisSettings | None = None) -> None:
        self.encoder = encoder
        self.settings = settings or SynthesisSettings()

    def synthesize(
        self,
        findings: Sequence[Finding],
        doc_ids: Sequence[str],
        *,
        noun: str = "documents",
        question: str = "",
    ) -> Synthesis:
        """Group findings into themes. The question's own words are masked out before
        embedding and labelling: every finding is about the question, so its words say
        nothing about which theme a finding belongs to."""
        s = self.settings
        total = len(doc_ids)
        findings = sorted(findings, key=lambda f: (f.doc_id, f.id))
        method = (
            f"{SYNTHESIS_VERSION}: MiniLM embeddings of {len(findings)} findings, average-linkage "
            f"agglomerative clustering (cosine distance {s.distance_threshold}), themes need "
            f">= {self._min_docs(total)} of {total} {noun}; labels by class-based TF-IDF"
        )
        if len(findings) < 2:
            return Synthesis(themes=[], unassigned_doc_ids=sorted(doc_ids), method=method)
        asked = {stem(w) for w in content_words(question)}
        masked = [_mask(f.claim, asked) for f in findings]
        vecs = self.encoder.encode(masked)
        labels = _cluster(vecs, s.distance_threshold)
        groups: dict[int, list[int]] = defaultdict(list)
        for i, lab in enumerate(labels):
            groups[int(lab)].append(i)
        groups_list = _merge_close(list(groups.values()), vecs, s.merge_similarity)
        min_docs = self._min_docs(total)
        kept = [g for g in groups_list if len({findings[i].doc_id for i in g}) >= min_docs]
        kept.sort(
            key=lambda g: (-len({findings[i].doc_id for i in g}), -_coherence(vecs, g), min(g))
        )
        kept = kept[: s.max_themes]
        phrase_sets = [[(findings[i].doc_id, masked[i]) for i in g] for g in kept]
        labels_text = _ctfidf_labels(phrase_sets)
        themes: list[Theme] = []
        in_theme: set[int] = set()
        for g, (label, keywords) in zip(kept, labels_text, strict=True):
            in_theme.update(g)
            themes.append(self._theme(g, findings, vecs, label, keywords, total, noun))
        assigned_docs = {findings[i].doc_id for i in in_theme}
        return Synthesis(
            themes=themes,
            unassigned_doc_ids=sorted(d for d in doc_ids if d not in assigned_docs),
            outlier_finding_ids=[findings[i].id for i in range(len(findings)) if i not in in_theme],
            method=method,
        )

    def _min_docs(self, total: int) -> int:
        return max(self.settings.min_docs, math.ceil(self.settings.min_doc_share * total))

    def _theme(
        self,
        group: list[int],
        findings: Sequence[Finding],
        vecs: np.ndarray,
        label: str,
        keywords: list[str],
        total: int,
        noun: str,
    ) -> Theme:
        centroid = vecs[group].mean(axis=0)
        order = sorted(group, key=lambda i: -float(vecs[i] @ centroid))
        reps: list[int] = []
        seen_docs: set[str] = set()
        for i in order:  # most central first, one per document
            if findings[i].doc_id not in seen_docs:
                reps.append(i)
                seen_docs.add(findings[i].doc_id)
            if len(reps) >= max(self.settings.quotes_per_theme, 5):
                break
        doc_ids = sorted({findings[i].doc_id for i in group})
        speakers = Counter(
            e.speaker for i in group for e in findings[i].evidence if e.speaker
        ).most_common(2)
        who = f", most often by {' and '.join(s for s, _ in speakers)}" if speakers else ""
        summary = (
            f"Raised in {len(doc_ids)} of {total} {noun}{who}. "
            f"Most representative remark: \u201c{findings[reps[0]].claim}\u201d"
        )
        tid = hashlib.sha256("|".join(sorted(findings[i].id for i in group)).encode()).hexdigest()[
            :12
        ]
        return Theme(
            id=f"theme-{tid}",
            label=label,
            summary=summary,
            finding_ids=[findings[i].id for i in sorted(group)],
            doc_ids=doc_ids,
            n_documents=len(doc_ids),
            total_documents=total,
            keywords=keywords,
            representative_finding_ids=[findings[i].id for i in reps],
        )


def _mask(text: str, asked: set[str]) -> str:
    if not asked:
        return text
    kept = [w for w in text.split() if stem(w.strip(".,?!;:\"'").lower()) not in asked]
    return " ".join(kept) or text


def _cluster(vecs: np.ndarray, threshold: float) -> np.ndarray:
    from sklearn.cluster import AgglomerativeClustering

    model = AgglomerativeClustering(
        n_clusters=None, metric="cosine", linkage="average", distance_threshold=threshold
    )
    return np.asarray(model.fit_predict(vecs))


def _coherence(vecs: np.ndarray, group: list[int]) -> float:
    c = vecs[group].mean(axis=0)
    return float(np.linalg.norm(c))  # mean resultant length of unit vectors: 1 = identical


def _merge_close(groups: list[list[int]], vecs: np.ndarray, threshold: float) -> list[list[int]]:
    merged = True
    groups = [sorted(g) for g in groups]
    while merged and len(groups) > 1:
        merged = False
        cents = np.stack([vecs[g].mean(axis=0) for g in groups])
        cents /= np.linalg.norm(cents, axis=1, keepdims=True)
        sims = cents @ cents.T
        np.fill_diagonal(sims, -1.0)
        i, j = np.unravel_index(int(np.argmax(sims)), sims.shape)
        if sims[i, j] >= threshold:
            groups[i] = sorted(groups[i] + groups[j])
            del groups[j]
            merged = True
    return groups


def _phrases(text: str) -> set[str]:
    """Unigrams, bigrams and trigrams of consecutive content words, plurals folded."""
    raw = words(text)
    ok = [len(t) > 2 and "'" not in t and t not in STOPWORDS and t not in FILLERS for t in raw]
    toks = [stem(t) for t in raw]
    out: set[str] = set()
    for i, t in enumerate(toks):
        if not ok[i]:
            continue
        out.add(t)
        if i + 1 < len(toks) and ok[i + 1] and toks[i + 1] != t:
            out.add(f"{t} {toks[i + 1]}")
            if i + 2 < len(toks) and ok[i + 2]:
                out.add(f"{t} {toks[i + 1]} {toks[i + 2]}")
    return out


def _ctfidf_labels(classes: list[list[tuple[str, str]]]) -> list[tuple[str, list[str]]]:
    """Class-based TF-IDF over phrases, counted once per document of the class.

    `classes` holds (document id, text) pairs. Counting a phrase once per document
    makes a label what several documents share, not what one talkative document
    repeats; a label is the best one or two phrases that share no word.
    """
    counts: list[Counter[str]] = []
    for members in classes:
        per_doc: dict[str, set[str]] = defaultdict(set)
        for doc, text in members:
            per_doc[doc] |= _phrases(text)
        c: Counter[str] = Counter()
        for phrases in per_doc.values():
            c.update(phrases)
        counts.append(c)
    df: Counter[str] = Counter()
    for c in counts:
        df.update(c)
    avg = sum(sum(c.values()) for c in counts) / max(1, len(counts))
    out: list[tuple[str, list[str]]] = []
    for c in counts:
        total = sum(c.values()) or 1
        scored = []
        # a label should be shared by at least two documents of the theme; when no phrase
        # is, the theme's own best phrases still name it better than a placeholder
        floor = 2 if any(n >= 2 for n in c.values()) else 1
        for p, n in c.items():
            if n < floor:
                continue
            score = (n / total) * math.log(1 + avg / df[p]) * (1.0 + 0.5 * p.count(" "))
            scored.append((score, p))
        scored.sort(key=lambda x: (-x[0], x[1]))
        keywords = [p for _, p in scored[:8]]
        out.append((_label_from(keywords), keywords))
    return _distinct_labels(out)


def _distinct_labels(labelled: list[tuple[str, list[str]]]) -> list[tuple[str, list[str]]]:
    """Two themes never share a label: a repeat takes its next keyword, else a number."""
    seen: dict[str, int] = {}
    out: list[tuple[str, list[str]]] = []
    for label, keywords in labelled:
        if label in seen:
            used = {w for k in keywords[:2] for w in k.split()}
            extra = next((k for k in keywords[2:] if not (set(k.split()) & used)), None)
            candidate = f"{label}, {extra}" if extra else ""
            if not candidate or candidate in seen:
                candidate = f"{label} ({seen[label] + 1})"
            seen[label] += 1
            label = candidate
        seen.setdefault(label, 1)
        out.append((label, keywords))
    return out


def _label_from(keywords: list[str]) -> str:
    if not keywords:
        return "Miscellaneous remarks"
    first = keywords[0]
    used = set(first.split())
    second = next((k for k in keywords[1:] if not (set(k.split()) & used)), None)
    label = first if second is None else f"{first} and {second}"
    return label[0].upper() + label[1:]
