"""The chart-maker (offline): which charts a run's findings and themes support, and their data.

Across themes: prevalence, sentiment, themes by segment (participants' roles that recur
across documents, else a document attribute), themes over time; then one chart per theme.
Each chart is (chart id, kind, title, data); the workbench draws them with the templated
chart programs of `exports.charts` in a sandbox (`workbench.outputs.charts`), so every
number can be checked against its data file and redrawn.
"""

from __future__ import annotations

from collections import Counter, defaultdict
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Protocol

from retrieval.roles import SpeakerRoles
from retrieval.types import Document
from subagents.findings import Finding, Synthesis, Theme, is_prompt_role


class ChartCorpus(Protocol):
    """What the chart-maker reads of a corpus."""

    @property
    def noun(self) -> str: ...

    @property
    def documents(self) -> Sequence[Document]: ...

    @property
    def roles(self) -> Mapping[str, SpeakerRoles]: ...


SENTIMENTS = ["positive", "mixed", "neutral", "negative"]
# document metadata that orders documents in time (meeting_part: a, b, c, d of an AMI series)
PERIOD_KEYS = ("period", "phase", "meeting_part", "date", "created_at", "month")
MAX_SEGMENTS = 8  # more groups than this do not read as a breakdown


def plan_charts(
    corpus: ChartCorpus, findings: Sequence[Finding], synthesis: Synthesis, *, note: str
) -> list[tuple[str, str, str, dict[str, Any]]]:
    """(chart id, kind, title, data) for every chart this run can support.

    Across themes: prevalence, sentiment, themes by segment, themes over time. Then one
    chart per theme (`theme_<n>`, n from 1 in the synthesis' order) that shows that
    theme: its breakdown by segment when the corpus has segments (participants' roles
    that recur across documents, else a document attribute), else its codes, else its
    prevalence highlighted among all themes.
    """
    noun = corpus.noun
    themes = synthesis.themes
    out: list[tuple[str, str, str, dict[str, Any]]] = []
    if not themes:
        return out
    prevalence = {
        "themes": [
            {"label": t.label, "n": t.n_documents, "total": t.total_documents} for t in themes
        ],
        "xlabel": f"Share of the {noun} analysed",
        "note": note,
    }
    out.append(("theme_prevalence", "prevalence", f"How many {noun} raise each theme", prevalence))
    fmap = {f.id: f for f in findings}
    counts = []
    for t in themes:
        c: Counter[str] = Counter(fmap[fid].sentiment for fid in t.finding_ids if fid in fmap)
        counts.append([c.get(s, 0) for s in SENTIMENTS])
    out.append(
        (
            "sentiment_by_theme",
            "sentiment",
            "Sentiment of the findings in each theme",
            {
                "themes": [t.label for t in themes],
                "sentiments": SENTIMENTS,
                "counts": counts,
                "note": note,
            },
        )
    )
    period_of = _periods(corpus)
    segments = _segments(corpus, fmap, exclude=_period_key(corpus))
    if segments is not None:
        out.append(
            (
                "segment_theme_heatmap",
                "heatmap",
                segments.heatmap_title,
                {
                    "themes": [t.label for t in themes],
                    "segments": segments.names,
                    "segment_totals": [len(segments.docs[n]) for n in segments.names],
                    "counts": [
                        [len(segments.raised(t, n)) for n in segments.names] for t in themes
                    ],
                    "colorbar_label": segments.share_label,
                    "note": note,
                },
            )
        )
    if period_of:
        periods = sorted(set(period_of.values()))
        totals_p = [sum(1 for v in period_of.values() if v == p) for p in periods]
        series = []
        for t in themes:
            per = [len({d for d in t.doc_ids if period_of.get(d) == p}) for p in periods]
            series.append({"label": t.label, "n": per})
        out.append(
            (
                "themes_over_time",
                "timeline",
                "Themes over time",
                {"periods": periods, "period_totals": totals_p, "series": series, "note": note},
            )
        )
    for k, t in enumerate(themes, start=1):
        out.append(_theme_chart(k, t, segments, prevalence, noun, note))
    for _, kind, _, data in out:  # how to read it: under the chart in the deck and report
        caption = _caption(kind, data, noun)
        if caption:
            data["caption"] = caption
    return out


def _theme_chart(
    n: int,
    t: Theme,
    segments: _Segments | None,
    prevalence: dict[str, Any],
    noun: str,
    note: str,
) -> tuple[str, str, str, dict[str, Any]]:
    chart_id = f"theme_{n}"
    overall = {"label": f"All {noun}", "n": t.n_documents, "total": t.total_documents}
    if segments is not None:
        bars = [overall] + [
            {
                "label": name,
                "n": len(segments.raised(t, name)),
                "total": len(segments.docs[name]),
                "group": "segment",
            }
            for name in segments.names
        ]
        data = {
            "bars": bars,
            "subtitle": segments.bar_subtitle,
            "xlabel": f"Share of {noun}",
            "note": note,
        }
        return chart_id, "breakdown", f"{segments.who} raises \u201c{t.label}\u201d", data
    if len(t.codes) >= 2:
        bars = [{**overall, "label": "Whole theme"}] + [
            {"label": c.label, "n": c.n_documents, "total": t.total_documents, "group": "code"}
            for c in t.codes
        ]
        data = {
            "bars": bars,
            "subtitle": f"{noun.capitalize()} in which the theme, and each of its codes, comes up",
            "xlabel": f"Share of the {noun} analysed",
            "note": note,
        }
        return chart_id, "breakdown", f"\u201c{t.label}\u201d and its codes", data
    data = {
        **prevalence,
        "highlight": t.label,
        "subtitle": f"This theme (dark) among all themes: {noun} in which each comes up",
    }
    return chart_id, "prevalence", f"\u201c{t.label}\u201d among all themes", data


@dataclass
class _Segments:
    """Groups of documents to break themes down by: participants' roles that recur across
    documents (a segment's documents are those its speaker took part in; a theme is raised
    by it where one of its findings is that speaker's), or a document attribute."""

    names: list[str]
    docs: dict[str, set[str]]  # segment -> its documents
    finding_in: Callable[[Finding, str], bool]  # is this finding one of the segment's?
    who: str  # "Who" / "Which plan"
    heatmap_title: str
    share_label: str
    bar_subtitle: str
    fmap: dict[str, Finding]

    def raised(self, t: Theme, name: str) -> set[str]:
        return {
            self.fmap[fid].doc_id
            for fid in t.finding_ids
            if fid in self.fmap and self.finding_in(self.fmap[fid], name)
        } & self.docs[name]


def _segments(
    corpus: ChartCorpus, fmap: dict[str, Finding], *, exclude: str | None
) -> _Segments | None:
    noun = corpus.noun
    by_speaker = _speaker_docs(corpus)
    if by_speaker is not None:
        canon = {
            d: (corpus.roles[d].canonical if d in corpus.roles else {})
            for d in (doc.id for doc in corpus.documents)
        }

        def spoken_by(f: Finding, name: str) -> bool:
            return any(
                canon.get(f.doc_id, {}).get(e.speaker, e.speaker) == name
                for e in f.evidence
                if e.speaker
            )

        return _Segments(
            names=list(by_speaker),
            docs=by_speaker,
            finding_in=spoken_by,
            who="Who",
            heatmap_title="Which participants raise each theme",
            share_label=f"% of the {noun} the participant took part in",
            bar_subtitle=f"{noun.capitalize()} in which each participant raised it, "
            f"of the {noun} they took part in",
            fmap=fmap,
        )
    attr = _attribute(corpus, exclude)
    if attr is None:
        return None
    key, value_of = attr
    docs: dict[str, set[str]] = defaultdict(set)
    for d, v in value_of.items():
        docs[v].add(d)
    names = sorted(docs, key=lambda v: (-len(docs[v]), v))
    shown = key.replace("_", " ")
    return _Segments(
        names=names,
        docs=dict(docs),
        finding_in=lambda f, name: value_of.get(f.doc_id) == name,
        who=f"Which {shown}",
        heatmap_title=f"Themes by {shown}",
        share_label=f"% of the {noun} with this {shown}",
        bar_subtitle=f"{noun.capitalize()} that raise it, of the {noun} with each {shown}",
        fmap=fmap,
    )


def _speaker_docs(corpus: ChartCorpus) -> dict[str, set[str]] | None:
    """Participants' speaker labels (spelling variants joined, interviewers left out) that
    recur across documents, with the documents each took part in: roles such as "Project
    Manager" or "Marketing" in a series of meetings. None when fewer than two recur or
    too many do to read as roles."""
    docs_with: dict[str, set[str]] = defaultdict(set)
    for d in corpus.documents:
        roles = corpus.roles.get(d.id)
        for s in d.segments:
            if not s.speaker or not s.text.strip():
                continue
            role = roles.role_of(s.speaker) if roles is not None else s.attrs.get("role")
            if is_prompt_role(role):
                continue
            name = roles.canonical.get(s.speaker, s.speaker) if roles is not None else s.speaker
            docs_with[name].add(d.id)
    recurring = {n: ds for n, ds in docs_with.items() if len(ds) >= 2}
    if not 2 <= len(recurring) <= MAX_SEGMENTS:
        return None
    names = sorted(recurring, key=lambda n: (-len(recurring[n]), n))
    return {n: recurring[n] for n in names}


def _attribute(corpus: ChartCorpus, exclude: str | None) -> tuple[str, dict[str, str]] | None:
    """A document attribute every document has, with 2-8 text values each shared by at
    least two documents (a plan, a team, a company size); the period key is left to the
    over-time chart."""
    docs = corpus.documents
    keys = sorted({k for d in docs for k, v in d.metadata.items() if isinstance(v, str)})
    for key in keys:
        if key in (exclude, "language"):
            continue
        values = {d.id: d.metadata.get(key) for d in docs}
        if not all(isinstance(v, str) and v.strip() for v in values.values()):
            continue
        sizes = Counter(str(v) for v in values.values())
        if 2 <= len(sizes) <= MAX_SEGMENTS and min(sizes.values()) >= 2:
            return key, {d: str(v) for d, v in values.items()}
    return None


def _period_key(corpus: ChartCorpus) -> str | None:
    for key in PERIOD_KEYS:
        vals = {
            d.id: str(d.metadata[key]) for d in corpus.documents if d.metadata.get(key) is not None
        }
        if len(vals) == len(corpus.documents) and 2 <= len(set(vals.values())) <= 24:
            return key
    return None


def _periods(corpus: ChartCorpus) -> dict[str, str]:
    key = _period_key(corpus)
    if key is None:
        return {}
    return {d.id: str(d.metadata[key]) for d in corpus.documents}


def _caption(kind: str, data: dict[str, Any], noun: str) -> str:
    """How to read the chart, in one sentence (under it in the report and the deck)."""
    if kind == "sentiment":
        return (
            "Each bar is one theme's findings, split by the tone of the words quoted "
            "(counts in the bars, N findings at the right)."
        )
    if kind == "heatmap":
        return (
            f"Each cell: of the {noun} in a column's group, how many raise the row's theme "
            "(n of N, and the share as colour)."
        )
    if kind == "timeline":
        return (
            f"For each period, the share of its {noun} that raise each theme (N per period below)."
        )
    if kind == "prevalence" and not data.get("highlight"):
        return f"Each theme: the {noun} in which it comes up, of all {noun} analysed (n of N)."
    return ""  # the chart's own subtitle says how to read it
