"""The offline ticket classifier: the team's own categories, learned from its labelled tickets.

Several linear views of a ticket each give class probabilities; a stacking model turns
them into calibrated probabilities:

- `embed`: MiniLM sentence embeddings of the title and of title + body (through the injected `Encoder`; `retrieval.Embedder` in the product), with a
  multinomial logistic regression;
- `words`: which word unigrams and bigrams the raw text has (templates, headings and all:
  an issue template is a strong sign of its category), weighted by their naive-Bayes
  log-count ratio per category, then logistic regression (NB-LR, Wang & Manning 2012);
- `chars`: TF-IDF of character 2-5-grams of the cleaned text, logistic regression;
- `layers`: the mean-pooled states of each of MiniLM's six layers, of the title and of
  title + body (`ticket_layers`: how a ticket is written as well as what it is about),
  logistic regression; left out with an encoder that has no `encode_layers`;
- `structure`: the shape of the raw ticket (the template headings it has, code, a stack
  trace, versions, a question in the title, its length: `ticket_structure`), logistic
  regression.

With groups (say, one per repository), the views of `group_views` are fitted on all
tickets and again on each group's own; both feed the stacker, so a group's habits count
where it has enough examples. The stacker, a multinomial logistic regression, is fitted
on out-of-fold probabilities of the views (k-fold over the labelled examples), so its
probabilities are calibrated: of tickets given 0.8, about 80% are right. With groups it
also weighs the views per group (each view's log-probabilities times the group's
indicator, beside the shared ones), since how far a view can be trusted differs from one
group to the next; a ticket of a group it has not seen gets the shared weights. The same out-of-fold predictions
give an honest estimate of the classifier's accuracy on unseen tickets (`FitReport`).

Evidence: the sentences of the ticket that most support the predicted category over the
others, scored by the word view's coefficients and the embedding view's direction
between classes, quoted verbatim from a segment.

Limits: it learns only the categories it is shown (with at least `min_examples` each),
reads English best (MiniLM and the word view learn from the labelled tickets' language),
and reads at most the opening `max_chars` of a ticket.
"""

from __future__ import annotations

import hashlib
import re
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any, Protocol

import numpy as np

from subagents.offline.ticket_layers import LayerFeatures, has_layers
from subagents.offline.ticket_structure import StructureVectorizer

PREDICT_CHUNK = 2000  # tickets labelled at once
# 2: the fine-tuned view; 3: structure view, stack per group; 4: the layers view
TRIAGE_VERSION = "linear-triage/4"


class Encoder(Protocol):
    def encode(self, texts: list[str]) -> np.ndarray: ...


class Fitted(Protocol):
    def predict_proba(self, texts: Sequence[str]) -> np.ndarray: ...


class Tuner(Protocol):
    """Trains a text model on labels (`subagents.offline.tuned.MiniLMTuner` in the product)."""

    def fit(self, texts: Sequence[str], y: np.ndarray, n_classes: int) -> Fitted: ...


@dataclass(frozen=True)
class ClassifierSettings:
    views: tuple[str, ...] = ("embed", "layers", "words", "chars", "structure")
    c_embed: float = 1.0
    c_layers: float = 0.3
    c_words: float = 4.0
    c_chars: float = 10.0
    c_structure: float = 1.0
    c_stack: float = 0.03
    folds: int = 5
    per_group: bool = True
    group_views: tuple[str, ...] = ("embed", "layers", "structure")  # also fitted per group
    stack_per_group: bool = True  # the stacker's weights per group, beside shared ones
    min_heading_tickets: int = 3  # a heading is a feature when this many tickets have it
    min_group_examples: int = 30  # a group with fewer labelled tickets uses the pooled views
    evidence_quotes: int = 2
    max_chars: int = 20_000
    seed: int = 0
    # the fine-tuned view (when a tuner is given): learned on two halves of the labelled
    # tickets, each half's model scoring the other half for the stacker
    tuned_min_examples: int = 60  # fewer labelled tickets: no fine-tuned view
    tuned_min_per_category: int = 6


@dataclass
class TicketInput:
    """One ticket as the classifier sees it; `parts` are its quotable segments."""

    doc_id: str
    title: str
    body: str
    parts: list[tuple[str, str]] = field(default_factory=list)  # (segment id, text)
    group: str | None = None
    # segment id -> [start, end) spans the ticket shares with many others: never quoted
    # (`retrieval.recurring.find_recurring`)
    recurring: dict[str, list[tuple[int, int]]] = field(default_factory=dict)


@dataclass
class Quote:
    segment_id: str
    quote: str  # verbatim substring of the segment's text
    start: int  # offset in the segment's text
    score: float


@dataclass
class TicketPrediction:
    doc_id: str
    category: str
    confidence: float
    probabilities: dict[str, float]
    evidence: list[Quote]
    group_model: str | None  # the group whose own views were used, if any


@dataclass
class FitReport:
    """What the classifier learned from, and how well it does on held-out examples."""

    n_examples: int
    categories: dict[str, int]
    groups: dict[str, int]
    cv_f1: float  # macro F1 of out-of-fold predictions (mean over groups when grouped)
    cv_accuracy: float
    cv_per_group: dict[str, float]
    seconds: float = 0.0
    notes: list[str] = field(default_factory=list)


# -- text ------------------------------------------------------------------------------------
_COMMENT = re.compile(r"<!--.*?-->", re.S)
_FENCE = re.compile(r"```.*?(?:```|$)", re.S)
_URL = re.compile(r"https?://\S+")
_WS = re.compile(r"\s+")


def clean_text(text: str) -> str:
    """Markdown ticket text without template comments, code blocks and URLs."""
    text = _COMMENT.sub(" ", text)
    text = _FENCE.sub(" ", text)
    text = _URL.sub(" ", text)
    return _WS.sub(" ", text).strip()


def _views_text(t: TicketInput, max_chars: int) -> tuple[str, str, str]:
    body = t.body[:max_chars]
    cleaned = clean_text(body)
    return t.title, f"{t.title}\n{body}", f"{t.title}\n{cleaned}"


# -- the classifier --------------------------------------------------------------------------
class TicketClassifier:
    """Fit on labelled tickets, predict categories with calibrated probabilities and quotes."""

    def __init__(
        self,
        encoder: Encoder,
        settings: ClassifierSettings | None = None,
        *,
        tuner: Tuner | None = None,
    ) -> None:
        self.encoder = encoder
        self.settings = settings or ClassifierSettings()
        self.tuner = tuner
        self._tuned: list[Fitted] = []
        self.classes: list[str] = []
        self._emb_cache: dict[str, np.ndarray] = {}
        self._word_vec: Any = None
        self._char_vec: Any = None
        self._structure_vec: StructureVectorizer | None = None
        self._layers = LayerFeatures(encoder) if has_layers(encoder) else None
        # the settings' views this encoder can give (no `layers` without `encode_layers`)
        self.views = tuple(v for v in self.settings.views if v != "layers" or self._layers)
        self._models: dict[tuple[str, str | None], Any] = {}  # (view, group) -> LR
        self._stacker: Any = None
        self._linear_stacker: Any = None
        self._groups: list[str] = []
        self.report: FitReport | None = None

    # features ---------------------------------------------------------------------------
    def _embed(self, texts: list[str]) -> np.ndarray:
        keys = [hashlib.sha256(t.encode("utf-8", "replace")).hexdigest() for t in texts]
        todo = sorted(
            {k: t for k, t in zip(keys, texts, strict=True) if k not in self._emb_cache}.items()
        )
        if todo:
            vecs = np.asarray(self.encoder.encode([t for _, t in todo]), dtype=np.float32)
            for (k, _), v in zip(todo, vecs, strict=True):
                self._emb_cache[k] = v
        return np.stack([self._emb_cache[k] for k in keys])

    def _features(self, tickets: Sequence[TicketInput], *, fit: bool) -> dict[str, Any]:
        from sklearn.feature_extraction.text import CountVectorizer, TfidfVectorizer

        s = self.settings
        texts = [_views_text(t, s.max_chars) for t in tickets]
        out: dict[str, Any] = {}
        if "embed" in self.views:
            titles = self._embed([tx[0] or tx[2][:200] for tx in texts])
            whole = self._embed([tx[2] for tx in texts])
            out["embed"] = np.hstack([titles, whole])
        if "layers" in self.views and self._layers is not None:
            # kept for the labelled tickets (refits reuse them), not for every ticket labelled
            titles = self._layers([tx[0] or tx[2][:200] for tx in texts], keep=fit)
            out["layers"] = np.hstack([titles, self._layers([tx[2] for tx in texts], keep=fit)])
        if "words" in self.views:
            if fit:
                self._word_vec = CountVectorizer(
                    ngram_range=(1, 2),
                    binary=True,
                    min_df=2,
                    max_features=300_000,
                    dtype=np.float64,
                )
                out["words"] = self._word_vec.fit_transform([tx[1] for tx in texts])
            else:
                out["words"] = self._word_vec.transform([tx[1] for tx in texts])
        if "chars" in self.views:
            if fit:
                self._char_vec = TfidfVectorizer(
                    analyzer="char_wb",
                    ngram_range=(2, 5),
                    sublinear_tf=True,
                    min_df=2,
                    max_features=200_000,
                )
                out["chars"] = self._char_vec.fit_transform([tx[2] for tx in texts])
            else:
                out["chars"] = self._char_vec.transform([tx[2] for tx in texts])
        if "structure" in self.views:
            shapes = [(t.title, t.body[: s.max_chars]) for t in tickets]
            if fit:
                self._structure_vec = StructureVectorizer(min_df=s.min_heading_tickets)
                out["structure"] = self._structure_vec.fit_transform(shapes)
            else:
                assert self._structure_vec is not None
                out["structure"] = self._structure_vec.transform(shapes)
        return out

    def _c(self, view: str) -> float:
        s = self.settings
        return {
            "embed": s.c_embed,
            "layers": s.c_layers,
            "words": s.c_words,
            "chars": s.c_chars,
            "structure": s.c_structure,
        }[view]

    def _by_group(self, cols: np.ndarray, groups: Sequence[str | None]) -> np.ndarray:
        """The stacker's inputs: the columns, then per known group the columns times its
        indicator (zero for a ticket of another or no group)."""
        if not (self._groups and self.settings.stack_per_group):
            return cols
        blocks = [cols]
        for g in self._groups:
            mask = np.array([gg == g for gg in groups], dtype=float)[:, None]
            blocks.append(cols * mask)
        return np.hstack(blocks)

    def _lr(self, view: str) -> Any:
        from sklearn.linear_model import LogisticRegression

        if view == "words":
            return NBLogistic(C=self._c(view))
        return LogisticRegression(C=self._c(view), max_iter=3000)

    def _proba(self, model: Any, x: Any) -> np.ndarray:
        """Probabilities over all classes (a model fitted on a subset gets 0 elsewhere)."""
        p = model.predict_proba(x)
        out = np.full((x.shape[0], len(self.classes)), 1e-4)
        for j, c in enumerate(model.classes_):
            out[:, self.classes.index(c)] = p[:, j]
        result: np.ndarray = out / out.sum(axis=1, keepdims=True)
        return result

    def _stack_columns(
        self,
        feats: dict[str, Any],
        groups: Sequence[str | None],
        models: dict[tuple[str, str | None], Any],
    ) -> np.ndarray:
        """Log-probabilities of every view, pooled then own-group, side by side."""
        cols = []
        for view in self.views:
            x = feats[view]
            cols.append(np.log(self._proba(models[(view, None)], x)))
            if self._groups and view in self.settings.group_views:
                own = np.log(self._proba(models[(view, None)], x))
                for g in set(groups):
                    if (view, g) not in models:
                        continue
                    idx = [i for i, gg in enumerate(groups) if gg == g]
                    own[idx] = np.log(self._proba(models[(view, g)], x[idx]))
                cols.append(own)
        return np.hstack(cols)

    def _fit_views(
        self, feats: dict[str, Any], y: np.ndarray, groups: Sequence[str | None], idx: np.ndarray
    ) -> dict[tuple[str, str | None], Any]:
        models: dict[tuple[str, str | None], Any] = {}
        for view in self.views:
            x = feats[view]
            models[(view, None)] = self._lr(view).fit(x[idx], y[idx])
            if view not in self.settings.group_views:
                continue
            for g in self._groups:
                gi = np.array([i for i in idx if groups[i] == g])
                if len(gi) >= self.settings.min_group_examples and len(set(y[gi])) >= 2:
                    models[(view, g)] = self._lr(view).fit(x[gi], y[gi])
        return models

    def fit(self, tickets: Sequence[TicketInput], labels: Sequence[str]) -> FitReport:
        import time

        from sklearn.linear_model import LogisticRegression
        from sklearn.model_selection import StratifiedKFold

        t0 = time.perf_counter()
        s = self.settings
        if len(tickets) != len(labels):
            raise ValueError(f"{len(tickets)} tickets but {len(labels)} labels")
        counts = Counter(labels)
        self.classes = sorted(counts)
        y = np.array(labels)
        groups = [t.group for t in tickets]
        gcount = Counter(g for g in groups if g is not None)
        self._groups = sorted(gcount) if s.per_group and len(gcount) > 1 else []
        feats = self._features(tickets, fit=True)
        # out-of-fold probabilities of the views: the stacker's training data
        n_folds = max(2, min(s.folds, min(counts.values())))
        strata = np.array([f"{g}|{lab}" for g, lab in zip(groups, labels, strict=True)])
        strata_counts = Counter(strata)
        if min(strata_counts.values()) < n_folds:
            strata = y
        skf = StratifiedKFold(n_splits=n_folds, shuffle=True, random_state=s.seed)
        oof: np.ndarray | None = None
        for tr, te in skf.split(np.zeros(len(y)), strata):
            models = self._fit_views(feats, y, groups, tr)
            sub = {k: v[te] for k, v in feats.items()}
            cols = self._stack_columns(sub, [groups[i] for i in te], models)
            if oof is None:
                oof = np.zeros((len(y), cols.shape[1]))
            oof[te] = cols
        assert oof is not None
        notes: list[str] = []
        if "layers" in s.views and "layers" not in self.views:
            notes.append(
                "layers view off: the encoder gives no per-layer states (no encode_layers)"
            )
        tuned_oof = self._fit_tuned(tickets, y, strata, counts, notes)
        self._linear_stacker = None
        if tuned_oof is not None:
            # the stack without the fine-tuned view, to compare with (`predict_linear`)
            self._linear_stacker = LogisticRegression(C=s.c_stack, max_iter=3000).fit(
                self._by_group(oof, groups), y
            )
            oof = np.hstack([oof, tuned_oof])
        oof = self._by_group(oof, groups)
        self._stacker = LogisticRegression(C=s.c_stack, max_iter=3000).fit(oof, y)
        # the estimate: the stacker's own out-of-fold predictions
        pred = np.empty(len(y), dtype=object)
        for tr, te in skf.split(np.zeros(len(y)), strata):
            st = LogisticRegression(C=s.c_stack, max_iter=3000).fit(oof[tr], y[tr])
            pred[te] = st.predict(oof[te])
        self._models = self._fit_views(feats, y, groups, np.arange(len(y)))
        self.report = _report(y, pred, groups, time.perf_counter() - t0)
        self.report.notes.extend(notes)
        return self.report

    def _tuned_text(self, t: TicketInput) -> str:
        return _views_text(t, self.settings.max_chars)[2]

    def _fit_tuned(
        self,
        tickets: Sequence[TicketInput],
        y: np.ndarray,
        strata: np.ndarray,
        counts: Counter[str],
        notes: list[str],
    ) -> np.ndarray | None:
        """The fine-tuned view's held-out log-probabilities (two halves, each scoring the other)."""
        from sklearn.model_selection import StratifiedKFold

        s = self.settings
        self._tuned = []
        if self.tuner is None:
            return None
        if len(y) < s.tuned_min_examples or min(counts.values()) < s.tuned_min_per_category:
            notes.append(
                f"fine-tuned view not used: it needs {s.tuned_min_examples} labelled tickets "
                f"and {s.tuned_min_per_category} per category"
            )
            return None
        texts = [self._tuned_text(t) for t in tickets]
        yi = np.array([self.classes.index(v) for v in y])
        halves = strata if min(Counter(strata).values()) >= 2 else y
        out = np.zeros((len(y), len(self.classes)))
        skf = StratifiedKFold(n_splits=2, shuffle=True, random_state=s.seed)
        for tr, te in skf.split(np.zeros(len(y)), halves):
            model = self.tuner.fit([texts[i] for i in tr], yi[tr], len(self.classes))
            out[te] = model.predict_proba([texts[i] for i in te])
            self._tuned.append(model)
        notes.append("fine-tuned view: MiniLM trained on the labels (two halves)")
        return _log_proba(out)

    def _tuned_columns(self, tickets: Sequence[TicketInput]) -> np.ndarray:
        texts = [self._tuned_text(t) for t in tickets]
        probs = np.mean([m.predict_proba(texts) for m in self._tuned], axis=0)
        return _log_proba(probs)

    def predict(self, tickets: Sequence[TicketInput]) -> list[TicketPrediction]:
        if self._stacker is None:
            raise RuntimeError("fit the classifier before predicting")
        if not tickets:
            return []
        if len(tickets) > PREDICT_CHUNK:  # bounded memory: dense views of many tickets
            return [
                p
                for i in range(0, len(tickets), PREDICT_CHUNK)
                for p in self.predict(tickets[i : i + PREDICT_CHUNK])
            ]
        feats = self._features(tickets, fit=False)
        groups = [t.group if t.group in self._groups else None for t in tickets]
        cols = self._stack_columns(feats, groups, self._models)
        if self._tuned:
            cols = np.hstack([cols, self._tuned_columns(tickets)])
        probs = self._stacker.predict_proba(self._by_group(cols, groups))
        order = [list(self._stacker.classes_).index(c) for c in self.classes]
        probs = probs[:, order]
        out = []
        for i, t in enumerate(tickets):
            k = int(np.argmax(probs[i]))
            out.append(
                TicketPrediction(
                    doc_id=t.doc_id,
                    category=self.classes[k],
                    confidence=float(probs[i, k]),
                    probabilities={
                        c: round(float(probs[i, j]), 4) for j, c in enumerate(self.classes)
                    },
                    evidence=self.explain(t, self.classes[k]),
                    group_model=groups[i] if groups[i] is not None else None,
                )
            )
        return out

    def predict_linear(self, tickets: Sequence[TicketInput]) -> np.ndarray | None:
        """Probabilities (columns `classes`) of the stack without the fine-tuned view; None
        when that view was not used (then `predict` is that stack)."""
        if self._linear_stacker is None or not tickets:
            return None
        feats = self._features(tickets, fit=False)
        groups = [t.group if t.group in self._groups else None for t in tickets]
        cols = self._stack_columns(feats, groups, self._models)
        probs: np.ndarray = self._linear_stacker.predict_proba(self._by_group(cols, groups))
        order = [list(self._linear_stacker.classes_).index(c) for c in self.classes]
        return probs[:, order]

    # evidence -----------------------------------------------------------------------------
    def explain(self, ticket: TicketInput, category: str) -> list[Quote]:
        """The sentences that most support `category` over the other categories."""
        # not the text the ticket shares with many others (a template's headings, its
        # "No response" fillers), unless the ticket has nothing else to show
        cands = _candidates(ticket.parts, self.settings.max_chars, ticket.recurring)
        cands = cands or _candidates(ticket.parts, self.settings.max_chars)
        if not cands:
            return []
        k = self.classes.index(category)
        scores = np.zeros(len(cands))
        texts = [c[2] for c in cands]
        model = self._models.get(("words", ticket.group)) or self._models.get(("words", None))
        if model is not None and self._word_vec is not None:
            x = self._word_vec.transform(texts)
            w = _direction(model, self.classes, k)
            if w is not None:
                scores += _zscore(np.asarray(x @ w).ravel())
        emodel = self._models.get(("embed", ticket.group)) or self._models.get(("embed", None))
        if emodel is not None:
            w = _direction(emodel, self.classes, k)
            if w is not None:
                vecs = self._embed(texts)
                d = vecs.shape[1]
                # the whole-ticket block's weights read one sentence as a tiny ticket
                scores += _zscore(vecs @ w[d : 2 * d])
        order = np.argsort(-scores, kind="stable")
        out: list[Quote] = []
        for i in order[: self.settings.evidence_quotes]:
            seg_id, start, text = cands[int(i)]
            out.append(Quote(seg_id, text, start, float(scores[int(i)])))
        return out


class NBLogistic:
    """One-vs-rest logistic regressions on features scaled by their NB log-count ratio."""

    def __init__(self, C: float = 4.0) -> None:
        self.C = C
        self.classes_: np.ndarray = np.array([])
        self.ratios: list[np.ndarray] = []
        self.models: list[Any] = []

    def fit(self, x: Any, y: np.ndarray) -> NBLogistic:
        from sklearn.linear_model import LogisticRegression

        self.classes_ = np.array(sorted(set(y.tolist())))
        self.ratios, self.models = [], []
        for c in self.classes_:
            yes = y == c
            p = np.asarray(x[yes].sum(axis=0)).ravel() + 1.0
            q = np.asarray(x[~yes].sum(axis=0)).ravel() + 1.0
            r = np.log((p / p.sum()) / (q / q.sum()))
            self.ratios.append(r)
            self.models.append(
                LogisticRegression(C=self.C, solver="liblinear", max_iter=1000).fit(
                    x.multiply(r).tocsr(), yes.astype(int)
                )
            )
        return self

    def predict_proba(self, x: Any) -> np.ndarray:
        cols = [
            m.predict_proba(x.multiply(r).tocsr())[:, 1]
            for m, r in zip(self.models, self.ratios, strict=True)
        ]
        p = np.clip(np.stack(cols, axis=1), 1e-6, None)
        result: np.ndarray = p / p.sum(axis=1, keepdims=True)
        return result

    def direction(self, j: int) -> np.ndarray:
        """Per feature: how much its presence pushes towards class j."""
        result: np.ndarray = np.asarray(self.models[j].coef_).ravel() * self.ratios[j]
        return result


def _direction(model: Any, classes: list[str], k: int) -> np.ndarray | None:
    """The weight vector for class k against the others (a two-class model: its sign)."""
    cls = list(model.classes_)
    if classes[k] not in cls:
        return None
    if isinstance(model, NBLogistic):
        return model.direction(cls.index(classes[k]))
    coef: np.ndarray = np.asarray(model.coef_, dtype=float)
    if coef.shape[0] == 1:  # binary: coef is for classes_[1]
        row: np.ndarray = coef[0] if cls.index(classes[k]) == 1 else -coef[0]
        return row
    j = cls.index(classes[k])
    others = [i for i in range(coef.shape[0]) if i != j]
    diff: np.ndarray = coef[j] - coef[others].mean(axis=0)
    return diff


def _log_proba(p: np.ndarray) -> np.ndarray:
    p = np.clip(np.asarray(p, dtype=float), 1e-4, None)
    result: np.ndarray = np.log(p / p.sum(axis=1, keepdims=True))
    return result


def _zscore(v: np.ndarray) -> np.ndarray:
    sd = float(v.std())
    return (v - v.mean()) / sd if sd > 1e-9 else np.zeros_like(v)


_SENT = re.compile(r"[^\n]+")
_SENT_END = re.compile(r"(?<=[.!?])\s+(?=[A-Z\"'(\[])")
_LETTERS = re.compile(r"[^\W\d_]{2,}")


def _candidates(
    parts: Sequence[tuple[str, str]],
    max_chars: int,
    recurring: dict[str, list[tuple[int, int]]] | None = None,
) -> list[tuple[str, int, str]]:
    """(segment id, start, sentence) of quotable sentences: no template comments, code or
    `recurring` spans."""
    out: list[tuple[str, int, str]] = []
    budget = max_chars
    for seg_id, text in parts:
        hidden = list((recurring or {}).get(seg_id, []))
        hidden += [(m.start(), m.end()) for m in _COMMENT.finditer(text)]
        hidden += [(m.start(), m.end()) for m in _FENCE.finditer(text)]
        for line in _SENT.finditer(text[:budget]):
            for start, sent in _split_line(line.group(), line.start()):
                if any(a <= start < b for a, b in hidden):
                    continue
                stripped = sent.strip(" \t#>*-_`|")
                if len(stripped) < 8 or len(_LETTERS.findall(stripped)) < 2:
                    continue
                off = sent.index(stripped)
                out.append((seg_id, start + off, stripped[:400]))
        budget -= len(text)
        if budget <= 0:
            break
    return out


def _split_line(line: str, offset: int) -> list[tuple[int, str]]:
    out = []
    start = 0
    for m in _SENT_END.finditer(line):
        out.append((offset + start, line[start : m.start()]))
        start = m.end()
    out.append((offset + start, line[start:]))
    return out


def _report(
    y: np.ndarray, pred: np.ndarray, groups: Sequence[str | None], seconds: float
) -> FitReport:
    def macro_f1(idx: list[int]) -> float:
        labels = sorted(set(y[idx]))
        f1s = []
        for lab in labels:
            tp = sum(1 for i in idx if y[i] == lab and pred[i] == lab)
            fp = sum(1 for i in idx if y[i] != lab and pred[i] == lab)
            fn = sum(1 for i in idx if y[i] == lab and pred[i] != lab)
            f1s.append(2 * tp / (2 * tp + fp + fn) if tp else 0.0)
        return sum(f1s) / len(f1s) if f1s else 0.0

    names = sorted({g for g in groups if g is not None})
    per_group = {
        g: round(macro_f1([i for i, gg in enumerate(groups) if gg == g]), 4) for g in names
    }
    overall = (
        sum(per_group.values()) / len(per_group) if per_group else macro_f1(list(range(len(y))))
    )
    return FitReport(
        n_examples=len(y),
        categories=dict(sorted(Counter(y.tolist()).items())),
        groups=dict(sorted(Counter(g for g in groups if g is not None).items())),
        cv_f1=round(overall, 4),
        cv_accuracy=round(float(np.mean(y == pred)), 4),
        cv_per_group=per_group,
        seconds=round(seconds, 2),
    )
