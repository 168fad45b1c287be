"""Clustering synthesis: the offline theme-synthesizer, a codebook of themes and codes.

1. **Represent.** Each finding is embedded (MiniLM) with the research question's own
   words masked where most findings repeat them (they say nothing about which theme a
   finding belongs to), plus, at lower weights, the prompt it answers
   (`Finding.context`) and, in a semi-structured interview, the guide question whose
   section it is in (`Finding.section`): an answer is read in the light of what was
   asked, and where.
2. **Themes.** Spectral clustering of the findings' k-nearest-neighbour graph (the
   graph view that BERTopic's UMAP + HDBSCAN also relies on), with the number of themes
   the one whose partition has the highest modularity, at most `max_themes` (by default
   `theme_cap(N)`: 8 up to about 25 documents, growing with the log of the corpus to 20).
   A theme whose own neighbour graph falls apart into clear communities (modularity of
   at least `SPLIT_MODULARITY`, Newman and Girvan's mark of real structure), each backed
   by enough documents, is split into them, largest first, while there is room under
   the cap: on a tracker shared by several products the first cut follows the products,
   and a support lead needs the problems inside them. Above `sample_size` findings the
   clustering runs on a sample and every other finding joins the theme of its nearest
   sampled neighbours, so time and memory grow linearly.
3. **Significance, not a share.** A theme must be backed by
   `max(2, min(share * N, 3 ln N))` of N documents: 2 of 7 interviews, 4 of 36, 22 of
   1,500 tickets, 28 of 10,000 (a fixed 10% would ask for 1,000). A finding far from
   every theme's centre fits none and is said so, as is every document none of whose
   findings fits a theme, with the reason.
4. **Codes.** Inside each theme, agglomerative clustering of the findings' own content
   gives its codes (theme > code, as researchers code); a code needs two documents.
5. **Names.** KeyBERT-style: candidate phrases are the theme's n-grams (scikit-learn's
   CountVectorizer), scored by how close their embedding is to the theme's centre and
   how distinctive they are of the theme (class-based TF-IDF, as in BERTopic), then
   diversified; a theme's description is its most central sentence, verbatim.

Prevalence is counted from the findings: documents, and participants where speaker
roles are known. The synthesizer never writes text of its own beyond the labels.
"""

from __future__ import annotations

import hashlib
import itertools
import math
import re
import warnings
from collections import Counter, defaultdict
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from subagents.findings import Code, Finding, QuestionPart, Synthesis, Theme
from subagents.offline.analyst import Encoder
from subagents.offline.text import FILLERS, STOPWORDS, clean, content_words, sentence_spans, stem

SYNTHESIS_VERSION = "codebook-synthesis/4"
SPECTRAL_MIN = 30  # fewer findings than this are grouped by average linkage instead
SMALL_DISTANCE = 0.75  # ... at this cosine distance
NAMING_SAMPLE = 3000  # findings of a theme read to name it
SPLIT_MODULARITY = 0.3  # a theme whose own graph has this much community structure splits
SPLIT_PARTS = 6  # at most this many parts from one split


@dataclass(frozen=True)
class SynthesisSettings:
    max_themes: int | None = None  # None: theme_cap(number of documents)
    min_doc_share: float = 0.1  # with 3 ln N, the significance floor (see the module doc)
    min_docs: int = 2
    context_weight: float = 0.3  # weight of the prompt's embedding beside the finding's
    section_weight: float = 1.0  # weight of the interview guide section's question
    neighbours: int = 10  # k of the k-nearest-neighbour graph
    outlier_similarity: float = 0.2  # below this cosine to every theme centre: fits none
    code_distance: float = 0.55  # average-linkage cosine distance at which codes stop merging
    max_codes: int = 6
    sample_size: int = 4000  # cluster at most this many; assign the rest to neighbours
    quotes_per_theme: int = 3
    seed: int = 0


def theme_cap(total: int) -> int:
    """Themes a corpus of `total` documents may have: 8 for a study of a few dozen
    interviews, growing with the log of the corpus (13 at 150, 18 at 1,500), at most 20
    (one slide a theme)."""
    return max(8, min(20, round(2.5 * math.log(max(total, 1)))))


def min_documents(total: int, share: float, floor: int = 2) -> int:
    """Documents a theme needs among `total`: significance that grows with the corpus."""
    if total <= 0:
        return floor
    return max(floor, math.ceil(min(share * total, 3 * math.log(total))))


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
        participants: Mapping[str, Sequence[str]] | None = None,
        vectors: np.ndarray | None = None,
    ) -> Synthesis:
        """Group findings into themes with codes; see the module docstring.

        `participants` (document id -> its participants' names) turns on participant
        counts; documents absent from it contribute no participants. `vectors` (one row
        per finding, in the order given) skips encoding the findings."""
        s = self.settings
        total = len(doc_ids)
        need = min_documents(total, s.min_doc_share, s.min_docs)
        cap = s.max_themes if s.max_themes is not None else theme_cap(total)
        order = sorted(range(len(findings)), key=lambda i: (findings[i].doc_id, findings[i].id))
        findings = [findings[i] for i in order]
        if vectors is not None:
            vectors = _normalise(np.asarray(vectors, dtype=np.float32)[order])
        method = (
            f"{SYNTHESIS_VERSION}: MiniLM embeddings of {len(findings)} findings (question words "
            f"masked, prompt at weight {s.context_weight}), spectral clustering of their "
            f"{s.neighbours}-nearest-neighbour graph (number of themes by modularity, at most "
            f"{cap}; a theme with modularity >= {SPLIT_MODULARITY} inside is split), codes by "
            f"agglomerative clustering inside each theme; a theme needs "
            f">= {need} of {total} {noun}; names from KeyBERT-style candidate phrases"
        )
        finding_docs = {f.doc_id for f in findings}
        if len(findings) < 2 * s.min_docs:
            return Synthesis(
                themes=[],
                unassigned_doc_ids=sorted(doc_ids),
                unassigned_reasons=_reasons(doc_ids, finding_docs, set()),
                outlier_finding_ids=[f.id for f in findings],
                method=method,
            )
        asked = common_question_words(question, findings)
        content = (
            vectors
            if vectors is not None
            else self.encoder.encode([mask(f.claim, asked) for f in findings])
        )
        vecs = _with_context(
            content, findings, self.encoder, asked, s.context_weight, s.section_weight
        )
        labels = cluster_themes(vecs, s, cap)
        groups = _assign_outliers(vecs, labels, s.outlier_similarity)
        docs_of = [f.doc_id for f in findings]
        groups = split_themes(groups, vecs, docs_of, need, cap, s)
        kept = [g for g in groups if len({docs_of[i] for i in g}) >= need]
        kept.sort(key=lambda g: (-len({docs_of[i] for i in g}), -len(g), min(g)))
        kept = kept[:cap]
        names = name_groups(
            [[findings[i] for i in g] for g in kept],
            [content[g] for g in kept],
            self.encoder,
            asked,
        )
        people = _participant_index(findings, participants)
        total_people = sum(len(set(v)) for v in participants.values()) if participants else None
        themes: list[Theme] = []
        in_theme: set[int] = set()
        for g, (label, keywords) in zip(kept, names, strict=True):
            in_theme.update(g)
            codes = self._codes(g, findings, content, asked, people)
            themes.append(
                self._theme(g, findings, content, label, keywords, total, noun, codes, people)
            )
            if total_people is not None:
                themes[-1].total_participants = total_people
        assigned_docs = {findings[i].doc_id for i in in_theme}
        parts = question_parts(question, findings, content, kept, themes, self.encoder)
        return Synthesis(
            themes=themes,
            parts=parts,
            unassigned_doc_ids=sorted(d for d in doc_ids if d not in assigned_docs),
            unassigned_reasons=_reasons(doc_ids, finding_docs, assigned_docs),
            outlier_finding_ids=[findings[i].id for i in range(len(findings)) if i not in in_theme],
            method=method,
        )

    def _codes(
        self,
        group: list[int],
        findings: Sequence[Finding],
        content: np.ndarray,
        asked: set[str],
        people: dict[int, tuple[str, str]],
    ) -> list[Code]:
        s = self.settings
        sub = cluster_codes(content[group], s.code_distance, s.sample_size, s.seed)
        by: dict[int, list[int]] = defaultdict(list)
        for local, lab in enumerate(sub):
            by[int(lab)].append(group[local])
        parts = [
            g for g in by.values() if len(g) >= 3 and len({findings[i].doc_id for i in g}) >= 2
        ]
        if len(parts) <= 1:
            return []
        parts.sort(key=lambda g: (-len({findings[i].doc_id for i in g}), -len(g), min(g)))
        parts = parts[: s.max_codes]
        names = name_groups(
            [[findings[i] for i in g] for g in parts],
            [content[g] for g in parts],
            self.encoder,
            asked,
        )
        codes = []
        for g, (label, keywords) in zip(parts, names, strict=True):
            reps = _representatives(g, findings, content, 3)
            doc_ids = sorted({findings[i].doc_id for i in g})
            codes.append(
                Code(
                    id="code-" + _digest(findings[i].id for i in g),
                    label=label,
                    description=_central_sentence(g, findings, content, self.encoder),
                    finding_ids=[findings[i].id for i in sorted(g)],
                    doc_ids=doc_ids,
                    n_documents=len(doc_ids),
                    n_participants=_count_people(g, people),
                    keywords=keywords,
                    representative_finding_ids=[findings[i].id for i in reps],
                )
            )
        return codes

    def _theme(
        self,
        group: list[int],
        findings: Sequence[Finding],
        content: np.ndarray,
        label: str,
        keywords: list[str],
        total: int,
        noun: str,
        codes: list[Code],
        people: dict[int, tuple[str, str]],
    ) -> Theme:
        reps = _representatives(group, findings, content, max(self.settings.quotes_per_theme, 5))
        doc_ids = sorted({findings[i].doc_id for i in group})
        n_people = _count_people(group, people)
        who = f" ({n_people} participants)" if n_people is not None else ""
        description = _central_sentence(group, findings, content, self.encoder)
        summary = f"Raised in {len(doc_ids)} of {total} {noun}{who}."
        return Theme(
            id="theme-" + _digest(findings[i].id for i in group),
            label=label,
            summary=summary,
            description=description,
            finding_ids=[findings[i].id for i in sorted(group)],
            doc_ids=doc_ids,
            n_documents=len(doc_ids),
            total_documents=total,
            keywords=keywords,
            representative_finding_ids=[findings[i].id for i in reps],
            codes=codes,
            n_participants=n_people,
        )


# -- representation ---------------------------------------------------------------------

COMMON_SHARE = 0.2  # a question word in at least this share of the findings is masked


def common_question_words(question: str, findings: Sequence[Finding]) -> set[str]:
    """The question's words (stemmed) that many findings repeat: they say nothing about
    which theme a finding belongs to. A word of one part of the question ("what worries
    them") that few findings use still tells those findings apart, and stays."""
    asked = {stem(w) for w in content_words(question)}
    if not findings or not asked:
        return asked
    counts: Counter[str] = Counter()
    for f in findings:
        counts.update({stem(w) for w in content_words(f.claim)} & asked)
    return {w for w in asked if counts[w] >= COMMON_SHARE * len(findings)}


def mask(text: str, asked: set[str]) -> str:
    """The text without the question's own words (stemmed match)."""
    if not asked:
        return text
    kept = [w for w in text.split() if stem(w.strip(".,?!;:\"'").lower()) not in asked]
    return " ".join(kept) or text


def _with_context(
    content: np.ndarray,
    findings: Sequence[Finding],
    encoder: Encoder,
    asked: set[str],
    weight: float,
    section_weight: float = 0.0,
) -> np.ndarray:
    """Each finding's vector plus, at lower weights, its prompt's and its guide section's:
    an answer is read in the light of what was asked, and where in the interview."""
    texts = {
        ev.quote: mask(clean(ev.quote), asked)
        for f in findings
        for ev, w in ((f.context, weight), (f.section, section_weight))
        if ev is not None and w > 0
    }
    if not texts:
        return content
    keys = list(texts)
    tv = dict(zip(keys, encoder.encode([texts[k] for k in keys]), strict=True))
    out = content.copy()
    for i, f in enumerate(findings):
        for ev, w in ((f.context, weight), (f.section, section_weight)):
            if ev is not None and w > 0:
                out[i] = out[i] + w * tv[ev.quote]
    return _normalise(out)


def _normalise(x: np.ndarray) -> np.ndarray:
    n = np.linalg.norm(x, axis=1, keepdims=True)
    return x / np.where(n == 0, 1, n)


STANCE_BONUS = 0.1  # similarity a finding gains for taking the stance a question part asks


def question_parts(
    question: str,
    findings: Sequence[Finding],
    content: np.ndarray,
    groups: Sequence[Sequence[int]],
    themes: Sequence[Theme],
    encoder: Encoder,
    per_part: int = 5,
) -> list[QuestionPart]:
    """For a question of several parts, the themes and findings that answer each part best
    (by embedding similarity to the part), so that no part goes unanswered."""
    from subagents.offline.analyst import question_clauses
    from subagents.offline.sentiment import sentiment_of

    pairs = question_clauses(question)
    if len(pairs) < 2 or not len(findings):
        return []
    clauses = [shown for shown, _ in pairs]
    qv = encoder.encode(clauses)  # the words asked: "what worries them" carries the stance
    sims = content @ qv.T  # findings x parts
    # how much more a finding answers this part than the others
    lead = sims - sims.mean(axis=1, keepdims=True)
    # a part that asks for a stance ("what worries them", "what do they like") prefers
    # findings that take it: MiniLM alone reads "worries" as little more than a topic
    for p, clause in enumerate(clauses):
        stance = sentiment_of(clause)
        if stance in ("positive", "negative"):
            lead[:, p] += [
                STANCE_BONUS
                if f.sentiment in (stance, "mixed")
                else (0.0 if f.sentiment == "neutral" else -STANCE_BONUS)
                for f in findings
            ]
    out = []
    for p, clause in enumerate(clauses):
        order = np.argsort(-(sims[:, p] + lead[:, p]))
        picked: list[int] = []
        seen: set[str] = set()
        for i in order:
            if findings[i].doc_id in seen:
                continue
            picked.append(int(i))
            seen.add(findings[i].doc_id)
            if len(picked) >= per_part:
                break
        ranked = sorted(
            range(len(groups)),
            key=lambda g: -float((sims[list(groups[g]), p] + lead[list(groups[g]), p]).mean()),
        )
        out.append(
            QuestionPart(
                question=clause[0].upper() + clause[1:],
                theme_ids=[themes[g].id for g in ranked[:3]],
                finding_ids=[findings[i].id for i in picked],
            )
        )
    return out


# -- clustering ---------------------------------------------------------------------------


def _knn_affinity(vecs: np.ndarray, k: int) -> Any:
    """Symmetric k-nearest-neighbour graph weighted by cosine similarity (sparse)."""
    from scipy.sparse import csr_matrix

    n = len(vecs)
    k = min(k, n - 1)
    rows, cols, vals = [], [], []
    for start in range(0, n, 2048):
        block = vecs[start : start + 2048] @ vecs.T
        for r in range(len(block)):
            block[r, start + r] = -np.inf
        idx = np.argpartition(-block, k - 1, axis=1)[:, :k]
        for r in range(len(block)):
            rows.extend([start + r] * k)
            cols.extend(idx[r].tolist())
            vals.extend(np.clip(block[r, idx[r]], 0.01, None).tolist())
    a = csr_matrix((vals, (rows, cols)), shape=(n, n))
    return a.maximum(a.T)


def _modularity(affinity: Any, labels: np.ndarray) -> float:
    """Newman's modularity of a partition of a weighted graph."""
    a = affinity.tocsr()
    total = a.sum()
    if total == 0:
        return 0.0
    degree = np.asarray(a.sum(axis=1)).ravel()
    q = 0.0
    for c in np.unique(labels):
        idx = np.flatnonzero(labels == c)
        q += a[idx][:, idx].sum() / total - (degree[idx].sum() / total) ** 2
    return float(q)


def _spectral_best(affinity: Any, min_k: int, max_k: int, seed: int) -> np.ndarray:
    """Spectral clustering (k-means on the graph's spectral embedding) for every k in
    [min_k, max_k], keeping the partition of highest modularity: the number of themes is
    the one the neighbour graph supports best."""
    from sklearn.cluster import KMeans
    from sklearn.manifold import spectral_embedding

    n = affinity.shape[0]
    max_k = max(min_k, min(max_k, n - 1))
    with warnings.catch_warnings():  # separate communities are what is looked for here
        warnings.filterwarnings("ignore", message="Graph is not fully connected")
        emb = spectral_embedding(affinity, n_components=max_k, random_state=seed, drop_first=False)
    best: tuple[float, np.ndarray] | None = None
    for k in range(min_k, max_k + 1):
        x = emb[:, :k]
        x = x / np.maximum(np.linalg.norm(x, axis=1, keepdims=True), 1e-12)
        labels = KMeans(n_clusters=k, n_init=4, random_state=seed).fit_predict(x)
        q = _modularity(affinity, labels)
        if best is None or q > best[0] + 1e-9:
            best = (q, labels)
    assert best is not None
    return best[1]


def cluster_themes(vecs: np.ndarray, s: SynthesisSettings, cap: int | None = None) -> np.ndarray:
    """Theme labels for every row (spectral clustering on the kNN graph, sampled above
    `sample_size` rows and extended to the rest through their nearest sampled rows)."""
    cap = cap if cap is not None else (s.max_themes or 8)
    n = len(vecs)
    if n < SPECTRAL_MIN:  # too few for a neighbour graph: average-linkage clustering
        if n < 2:
            return np.zeros(n, dtype=int)
        from sklearn.cluster import AgglomerativeClustering

        model = AgglomerativeClustering(
            n_clusters=None, metric="cosine", linkage="average", distance_threshold=SMALL_DISTANCE
        )
        return np.asarray(model.fit_predict(vecs))
    neighbours = min(s.neighbours, n // 3)
    rng = np.random.default_rng(s.seed)
    sample = (
        np.sort(rng.choice(n, size=s.sample_size, replace=False))
        if n > s.sample_size
        else np.arange(n)
    )
    sv = np.ascontiguousarray(vecs[sample])
    affinity = _knn_affinity(sv, neighbours)
    sample_labels = _spectral_best(affinity, min(3, cap), cap, s.seed)
    if len(sample) == n:
        return sample_labels
    return _extend(vecs, sample, sample_labels, neighbours)


def split_themes(
    groups: list[list[int]],
    vecs: np.ndarray,
    docs_of: Sequence[str],
    need: int,
    cap: int,
    s: SynthesisSettings,
) -> list[list[int]]:
    """Split themes whose own neighbour graph has clear communities (modularity >=
    SPLIT_MODULARITY) into those communities backed by `need` documents each, largest
    theme first, while there are fewer than `cap`; parts too small to stand join the
    nearest part that stands."""
    groups = [sorted(g) for g in groups]
    tried: set[tuple[int, ...]] = set()
    while len(groups) < cap:
        candidates = [
            g
            for g in groups
            if tuple(g) not in tried
            and len(g) >= SPECTRAL_MIN
            and len({docs_of[i] for i in g}) >= 2 * need
        ]
        if not candidates:
            break
        g = max(candidates, key=lambda g: (len({docs_of[i] for i in g}), len(g), -min(g)))
        tried.add(tuple(g))
        kmax = min(SPLIT_PARTS, cap - len(groups) + 1)
        rows = np.asarray(g)
        if len(rows) > s.sample_size:
            rows = np.sort(
                np.random.default_rng(s.seed).choice(rows, size=s.sample_size, replace=False)
            )
        sub = np.ascontiguousarray(vecs[rows])
        affinity = _knn_affinity(sub, min(s.neighbours, len(rows) // 3))
        labels = _spectral_best(affinity, 2, kmax, s.seed)
        if _modularity(affinity, labels) < SPLIT_MODULARITY:
            continue
        if len(rows) < len(g):  # sampled rows keep their labels, the rest vote
            sampled = set(rows.tolist())
            at = np.array([pos for pos, i in enumerate(g) if i in sampled])
            full = _extend(vecs[g], at, labels, s.neighbours)
        else:
            full = labels
        parts = [[g[j] for j in np.flatnonzero(full == c)] for c in np.unique(full)]
        standing = [p for p in parts if len({docs_of[i] for i in p}) >= need]
        if len(standing) < 2:
            continue
        centres = _normalise(np.stack([vecs[p].mean(axis=0) for p in standing]))
        for p in parts:
            if len({docs_of[i] for i in p}) < need:
                for i in p:
                    standing[int(np.argmax(centres @ vecs[i]))].append(i)
        groups.remove(g)
        groups.extend(sorted(p) for p in standing)
    return groups


def _extend(vecs: np.ndarray, sample: np.ndarray, labels: np.ndarray, k: int) -> np.ndarray:
    """Label every row by a vote of its k nearest sampled rows (weighted by similarity)."""
    out = np.empty(len(vecs), dtype=int)
    out[sample] = labels
    rest = np.setdiff1d(np.arange(len(vecs)), sample)
    sv = np.ascontiguousarray(vecs[sample])
    n_labels = int(labels.max()) + 1
    for start in range(0, len(rest), 4096):
        rows = rest[start : start + 4096]
        sims = np.ascontiguousarray(vecs[rows]) @ sv.T
        idx = np.argpartition(-sims, k - 1, axis=1)[:, :k]
        votes = np.zeros((len(rows), n_labels))
        for j in range(k):
            np.add.at(
                votes,
                (np.arange(len(rows)), labels[idx[:, j]]),
                np.take_along_axis(sims, idx[:, j : j + 1], 1)[:, 0],
            )
        out[rows] = votes.argmax(axis=1)
    return out


def _assign_outliers(vecs: np.ndarray, labels: np.ndarray, floor: float) -> list[list[int]]:
    """Groups by label; a row less similar than `floor` to its group's centre fits none."""
    groups: dict[int, list[int]] = defaultdict(list)
    for i, lab in enumerate(labels):
        groups[int(lab)].append(i)
    out = []
    for g in groups.values():
        centre = vecs[g].mean(axis=0)
        centre /= np.linalg.norm(centre) or 1.0
        sims = vecs[g] @ centre
        out.append([i for i, sim in zip(g, sims, strict=True) if sim >= floor])
    return [g for g in out if g]


def cluster_codes(vecs: np.ndarray, distance: float, sample_size: int, seed: int) -> np.ndarray:
    """Codes inside one theme: average-linkage agglomerative clustering on cosine distance."""
    from sklearn.cluster import AgglomerativeClustering

    n = len(vecs)
    if n < 4:
        return np.zeros(n, dtype=int)
    sample = np.arange(n)
    if n > sample_size:
        sample = np.sort(np.random.default_rng(seed).choice(n, size=sample_size, replace=False))
    model = AgglomerativeClustering(
        n_clusters=None, metric="cosine", linkage="average", distance_threshold=distance
    )
    labels = np.asarray(model.fit_predict(np.ascontiguousarray(vecs[sample])))
    if len(sample) == n:
        return labels
    return _extend(vecs, sample, labels, 5)


# -- prevalence ---------------------------------------------------------------------------


def _participant_index(
    findings: Sequence[Finding], participants: Mapping[str, Sequence[str]] | None
) -> dict[int, tuple[str, str]]:
    """finding index -> (document, participant) for findings spoken by a known participant."""
    if not participants:
        return {}
    out = {}
    for i, f in enumerate(findings):
        names = set(participants.get(f.doc_id, ()))
        for ev in f.evidence:
            if ev.role == "participant" and ev.speaker and names:
                who = ev.speaker if ev.speaker in names else _closest(ev.speaker, names)
                out[i] = (f.doc_id, who)
                break
    return out


def _closest(speaker: str, names: set[str]) -> str:
    import difflib

    match = difflib.get_close_matches(speaker, sorted(names), n=1, cutoff=0.8)
    return match[0] if match else speaker


def _count_people(group: Sequence[int], people: dict[int, tuple[str, str]]) -> int | None:
    if not people:
        return None
    return len({people[i] for i in group if i in people})


def _reasons(doc_ids: Sequence[str], with_findings: set[str], themed: set[str]) -> dict[str, str]:
    out = {}
    for d in doc_ids:
        if d in themed:
            continue
        out[d] = (
            "its findings fit no theme shared by enough documents"
            if d in with_findings
            else "nothing in it addresses the question (no finding)"
        )
    return out


# -- names and descriptions ---------------------------------------------------------------

_WORDS = re.compile(r"[a-z][a-z'\-]*[a-z]|[a-z]")
_STOP = (
    STOPWORDS | FILLERS | frozenset({"yeah", "okay", "um", "uh", "gonna", "kinda", "lot", "bit"})
)


def phrases(text: str) -> list[str]:
    """Candidate names in a text: runs of 1-3 consecutive words, none of them a stop word
    or filler (so "scatter plots", never a run that skips the words between)."""
    out = []
    # a URL, path, identifier or code ("github.com/microsoft/vscode", "foo_bar", "useState")
    # names no topic and breaks a run of words: phrases are taken between them
    for part in _CODEISH.split(text):
        toks = _WORDS.findall(part.lower())
        ok = [t not in _STOP and len(t) > 2 for t in toks]
        for i in range(len(toks)):
            for n in (1, 2, 3):
                if i + n <= len(toks) and all(ok[i : i + n]):
                    out.append(" ".join(toks[i : i + n]))
    return out


_CODEISH = re.compile(r"\S*(?:://|www\.|[/\\=<>{}\[\]#@`|$]|\w[._]\w|[a-z][A-Z]|\d)\S*")


def name_groups(
    groups: Sequence[Sequence[Finding]],
    centres_of: Sequence[np.ndarray],
    encoder: Encoder,
    asked: set[str],
    *,
    candidates: int = 25,
) -> list[tuple[str, list[str]]]:
    """A readable, distinct name and keywords for each group (see the module docstring).

    A candidate must be used in two documents of the group (one when the group has one);
    it scores by closeness of its embedding to the group's centre, by how specific it is
    to the group (lift over the whole), and by length (a phrase names a topic better
    than a word)."""
    if not groups:
        return []
    # a large group is named from an even sample of its findings: the phrases that matter
    # are the frequent ones, and counting every n-gram of 100,000 findings takes minutes
    groups = [
        g if len(g) <= NAMING_SAMPLE else list(g)[:: math.ceil(len(g) / NAMING_SAMPLE)]
        for g in groups
    ]
    per_group: list[Counter[str]] = []
    per_group_docs: list[dict[str, set[str]]] = []
    overall: Counter[str] = Counter()
    for g in groups:
        c: Counter[str] = Counter()
        docs: dict[str, set[str]] = defaultdict(set)
        for f in g:
            for ph in phrases(mask(f.claim, asked)):
                c[ph] += 1
                docs[ph].add(f.doc_id)
        per_group.append(c)
        per_group_docs.append(docs)
        overall.update(c)
    total_all = sum(overall.values()) or 1
    chosen: list[list[tuple[str, float]]] = []
    for gi, g in enumerate(groups):
        c, docs = per_group[gi], per_group_docs[gi]
        total = sum(c.values()) or 1
        need = min(2, len({f.doc_id for f in g}))
        scored = []
        for floor in sorted({need, 1}, reverse=True):  # shared by two documents if possible
            for ph, n in c.items():
                if len(docs[ph]) < floor or not _nameable(ph):
                    continue
                # distinctive of this group against the others (not against a whole
                # that includes it): a product name shared by every theme split from
                # one product is not what tells them apart
                lift = (n / total) / ((overall[ph] - n + 1) / (total_all - total + 1))
                scored.append((ph, math.log1p(lift) * math.sqrt(len(docs[ph]))))
            if scored:
                break
        scored.sort(key=lambda x: (-x[1], x[0]))
        chosen.append(scored[:candidates])
    unique = sorted({ph for cands in chosen for ph, _ in cands})
    phrase_vecs = dict(zip(unique, encoder.encode(unique), strict=True)) if unique else {}
    out: list[tuple[str, list[str]]] = []
    for gi, cands in enumerate(chosen):
        if not cands:
            out.append(("Miscellaneous remarks", []))
            continue
        centre = centres_of[gi].mean(axis=0)
        centre /= np.linalg.norm(centre) or 1.0
        names = [ph for ph, _ in cands]
        cvecs = np.stack([phrase_vecs[ph] for ph in names])
        spec = np.array([w for _, w in cands])
        spec = spec / (spec.max() or 1.0)
        length = np.array([(1.0, 1.6, 1.7)[min(ph.count(" "), 2)] for ph in names])
        score = np.clip(cvecs @ centre, 0, None) * (0.5 + 0.5 * spec) * length
        picked = _mmr(cvecs, score, 8, 0.7)
        texts = [f.claim for f in groups[gi]]
        keywords = [_surface(names[i], texts) for i in picked]
        out.append((_label(keywords), keywords))
    return _distinct(_unshared_heads(out))


def _roots(phrase: str) -> frozenset[str]:
    """The phrase's words reduced to their roots: "clusters" and "clustering" are one."""
    return frozenset(_root(w.lower()) for w in phrase.split())


def _root(word: str) -> str:
    from lemminflect import getAllLemmas

    lemmas = getAllLemmas(word)
    if word.endswith("ing") and lemmas.get("VERB"):
        return str(lemmas["VERB"][0])
    if lemmas.get("NOUN"):
        return str(lemmas["NOUN"][0])
    return stem(word)


def _unshared_heads(labelled: list[tuple[str, list[str]]]) -> list[tuple[str, list[str]]]:
    """A group whose best phrase another group (earlier: larger) already leads with
    ("Feature" beside "Features") leads with its own next phrase instead."""
    used: list[frozenset[str]] = []
    out: list[tuple[str, list[str]]] = []
    for label, keywords in labelled:
        if not keywords:
            out.append((label, keywords))
            continue
        fresh = [k for k in keywords if not any(_roots(k) <= u or u <= _roots(k) for u in used)]
        if fresh and fresh[0] != keywords[0]:
            keywords = [*fresh, *(k for k in keywords if k not in fresh)]
            label = _label(keywords)
        used.append(_roots(keywords[0]))
        out.append((label, keywords))
    return out


def _surface(phrase: str, texts: Sequence[str]) -> str:
    """The phrase as the speakers wrote it most often ("LCD screen", not "lcd screen")."""
    pattern = re.compile(r"\b" + r"\W+".join(map(re.escape, phrase.split())) + r"\b", re.IGNORECASE)
    forms = Counter(m.group(0) for t in texts for m in pattern.finditer(t))
    if not forms:
        return phrase
    # the most frequent form not capitalised only because it began a sentence
    ranked = sorted(forms.items(), key=lambda kv: (-kv[1], kv[0] != kv[0].lower()))
    out = " ".join(ranked[0][0].split())
    return out if out.lower() == phrase.lower() else phrase


# nouns that carry no topic of their own ("it makes sense", "in that case", "the ones"):
# they may be part of a longer name, never a name alone
LIGHT_NOUNS = frozenset(
    """
    bit case cases thing things stuff way ways lot lots sense kind sort part parts point
    points one ones time times example examples fact idea ideas question questions issue
    issues problem problems place end side number type types reason reasons bug bugs
    error errors request requests feature features version versions
    """.split()
)

_CONTRACTED = frozenset(
    "didn doesn isn wasn weren couldn wouldn shouldn haven hasn hadn aren ain".split()
)


def _pos(word: str) -> set[str]:
    from lemminflect import getAllLemmas

    return set(getAllLemmas(word))


def _nameable(phrase: str) -> bool:
    """Whether a phrase can name a topic: it ends in a noun (or a gerund, or a word the
    lexicon does not know, such as a product name), and holds no adverb or bare verb."""
    words = phrase.split()
    if len(set(words)) < len(words) or any(len(w) <= 2 or w in _CONTRACTED for w in words):
        return False
    if all(w in FILLERS for w in words):
        return False
    if len(words) == 1 and words[0] in LIGHT_NOUNS:
        return False
    *head, last = words
    tags = _pos(last)
    if tags and "NOUN" not in tags and not last.endswith("ing"):
        return False
    for w in head:
        t = _pos(w)
        if t and t <= {"ADV"}:
            return False
        if t and t <= {"VERB"} and not w.endswith(("ed", "ing")):
            return False
    return True


def _mmr(vecs: np.ndarray, score: np.ndarray, k: int, lam: float) -> list[int]:
    chosen: list[int] = []
    pool = list(range(len(score)))
    while pool and len(chosen) < k:
        redundancy = (vecs[pool] @ vecs[chosen].T).max(axis=1) if chosen else np.zeros(len(pool))
        mmr = lam * score[pool] - (1 - lam) * redundancy
        best = pool[int(np.argmax(mmr))]
        chosen.append(best)
        pool.remove(best)
    return chosen


def _label(keywords: list[str]) -> str:
    first = keywords[0]
    used = {w.lower() for w in first.split()}
    second = next(
        (
            k
            for k in keywords[1:3]
            if not ({w.lower() for w in k.split()} & used) and " " in k and " " in first
        ),
        None,
    )
    label = first if second is None else f"{first} and {second}"
    return label[0].upper() + label[1:]


def _distinct(labelled: list[tuple[str, list[str]]]) -> list[tuple[str, list[str]]]:
    """Two groups never share a name: a repeat takes its next keyword, else a number."""
    seen: dict[str, int] = {}
    out: list[tuple[str, list[str]]] = []
    for label, keywords in labelled:
        if label in seen:
            used = {w for k in keywords[:1] for w in k.split()}
            extra = next((k for k in keywords[1:] if not (set(k.split()) & used)), None)
            candidate = f"{label}: {extra}" if extra else ""
            if not candidate or candidate in seen:
                candidate = f"{label} ({seen[label] + 1})"
            seen[label] += 1
            label = candidate
        seen.setdefault(label, 1)
        out.append((label, keywords))
    return out


def _representatives(
    group: Sequence[int], findings: Sequence[Finding], vecs: np.ndarray, n: int
) -> list[int]:
    """Most central first, one per document."""
    centre = vecs[list(group)].mean(axis=0)
    order = sorted(group, key=lambda i: -float(vecs[i] @ centre))
    reps: list[int] = []
    seen: set[str] = set()
    for i in order:
        if findings[i].doc_id not in seen:
            reps.append(i)
            seen.add(findings[i].doc_id)
        if len(reps) >= n:
            break
    return reps


def _central_sentence(
    group: Sequence[int], findings: Sequence[Finding], vecs: np.ndarray, encoder: Encoder
) -> str:
    """The sentence of the group's most central findings closest to its centre, verbatim."""
    centre = vecs[list(group)].mean(axis=0)
    centre /= np.linalg.norm(centre) or 1.0
    ranked = sorted(group, key=lambda i: -float(vecs[i] @ centre))

    def readable(i: int) -> list[str]:
        return [
            clean(sp.text)
            for sp in sentence_spans(findings[i].claim)
            if 40 <= len(sp.text) <= 220 and len(content_words(sp.text)) >= 4 and _prose(sp.text)
        ]

    near = ranked[:8]
    sentences = [t for i in near for t in readable(i)]
    # none among the most central: the wider group, most central first (a theme of logs)
    for i in ranked[8:NAMING_SAMPLE] if not sentences else ():
        sentences.extend(readable(i))
        if len(sentences) >= 20:
            break
    if not sentences:  # no prose anywhere: better none than a log line read aloud
        first = clean(findings[near[0]].claim)[:220]
        return first if _prose(first) else ""
    sv = encoder.encode(sentences)
    # a description should read well: hesitations and repeated words cost
    halting = np.array([_halting(t) for t in sentences])
    best = sentences[int(np.argmax(sv @ centre - 0.04 * halting))]
    return best[0].upper() + best[1:]


def _prose(text: str) -> bool:
    """Whether a sentence reads as words, not as code, a log line, a URL or markup: a
    theme's description is read aloud."""
    toks = text.split()
    if not toks or re.search(r"://|www\.|```|</?[a-zA-Z][^>]*>", text):
        return False
    codeish = sum(1 for t in toks if _CODEISH.fullmatch(t))
    wordish = sum(1 for t in toks if re.fullmatch(r"[A-Za-z][A-Za-z'\-]*[,.;:!?)]?", t))
    return codeish <= 0.1 * len(toks) and wordish >= 0.75 * len(toks)


def _halting(text: str) -> int:
    toks = text.lower().split()
    fillers = sum(
        1 for t in toks if t.strip(",.") in ("uh", "um", "like", "-", "i-", "sort", "kind")
    )
    repeats = sum(1 for a, b in itertools.pairwise(toks) if a == b)
    return fillers + 2 * repeats + text.count("-")


def _digest(ids: object) -> str:
    return hashlib.sha256("|".join(sorted(ids)).encode()).hexdigest()[:12]  # type: ignore[call-overload]
