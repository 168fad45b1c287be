"""The chart step: one chart per theme that shows that theme, and segments of participants."""

from __future__ import annotations

from pathlib import Path
from types import SimpleNamespace
from typing import Any

from exports.charts import render_chart
from retrieval.roles import RoleSettings
from retrieval.types import Document, Segment
from subagents.findings import Code, Evidence, Finding, Synthesis, Theme
from workbench.outputs.charts import chart_data
from workbench.runs.corpus import Corpus

NOTE = "Offline engine: no language model was used."


def _doc(doc_id: str, turns: list[tuple[str, str]], **metadata: Any) -> Document:
    text, segs, at = "", [], 0
    for i, (speaker, said) in enumerate(turns):
        line = f"{speaker}: {said}\n"
        start = at + len(speaker) + 2
        segs.append(
            Segment(
                id=f"{doc_id}#{i}",
                doc_id=doc_id,
                index=i,
                text=said,
                speaker=speaker,
                start_char=start,
                end_char=start + len(said),
            )
        )
        text += line
        at += len(line)
    return Document(
        id=doc_id,
        kind="conversation",
        title=doc_id,
        source_path=f"{doc_id}.txt",
        text=text,
        segments=segs,
        metadata=metadata,
    )


def _corpus(tmp_path: Path, docs: list[Document]) -> Corpus:
    corpus = Corpus(path=tmp_path, documents=docs)
    corpus.annotate(RoleSettings())
    return corpus


def _finding(fid: str, doc: Document, index: int) -> Finding:
    seg = doc.segments[index]
    return Finding(
        id=fid,
        task_key="t",
        doc_id=doc.id,
        claim=seg.text,
        evidence=[Evidence(doc_id=doc.id, segment_id=seg.id, quote=seg.text, speaker=seg.speaker)],
        confidence=0.8,
    )


def _theme(tid: str, label: str, findings: list[Finding], total: int, codes: int = 0) -> Theme:
    docs = sorted({f.doc_id for f in findings})
    return Theme(
        id=tid,
        label=label,
        summary="s",
        finding_ids=[f.id for f in findings],
        doc_ids=docs,
        n_documents=len(docs),
        total_documents=total,
        codes=[
            Code(
                id=f"{tid}-c{k}",
                label=f"{label} code {k}",
                finding_ids=[findings[k].id],
                doc_ids=[findings[k].doc_id],
                n_documents=1,
            )
            for k in range(codes)
        ],
    )


def _charts(ctx: Any, findings: list[Finding], themes: list[Theme]) -> dict[str, Any]:
    out = chart_data(ctx, findings, Synthesis(themes=themes))
    return {chart_id: (kind, title, data) for chart_id, kind, title, data in out}


def test_interviews_theme_charts_show_codes_or_the_theme_highlighted_never_the_interviewer(
    tmp_path: Path,
) -> None:
    docs = [
        _doc(
            f"P{k}",
            [
                ("Interviewer", "How do you monitor your models once they are deployed?"),
                ("Participant", "We watch the drift of the inputs every week with a dashboard."),
                ("Interviewer", "What about the labels you train on, are they any good?"),
                ("Participant", "Labels are often missing, so we relabel a sample each month."),
            ],
        )
        for k in range(1, 5)
    ]
    corpus = _corpus(tmp_path, docs)
    assert all(r.interviewers == ["Interviewer"] for r in corpus.roles.values())
    drift = [_finding(f"d{k}", d, 1) for k, d in enumerate(docs)]
    labels = [_finding(f"l{k}", d, 3) for k, d in enumerate(docs[:3])]
    themes = [
        _theme("t1", "Monitoring drift", drift, 4, codes=2),
        _theme("t2", "Missing labels", labels, 4),
    ]
    ctx = SimpleNamespace(engine_short=NOTE, corpus=corpus)
    charts = _charts(ctx, drift + labels, themes)
    # one participant label everywhere and the interviewer left out: no segments to show
    assert "segment_theme_heatmap" not in charts
    kind, title, data = charts["theme_1"]
    assert kind == "breakdown" and title == "\u201cMonitoring drift\u201d and its codes"
    assert [(b["label"], b["n"], b["total"]) for b in data["bars"]] == [
        ("Whole theme", 4, 4),
        ("Monitoring drift code 0", 1, 4),
        ("Monitoring drift code 1", 1, 4),
    ]
    kind, title, data = charts["theme_2"]
    assert kind == "prevalence" and data["highlight"] == "Missing labels"
    assert title == "\u201cMissing labels\u201d among all themes"
    assert charts["theme_1"][2] != charts["theme_2"][2]  # not the same chart twice
    assert charts["theme_prevalence"][2]["caption"].startswith("Each theme: the conversations")
    assert "caption" not in charts["theme_1"][2]  # its subtitle says how to read it
    for chart_id, (kind, title, data) in charts.items():  # every chart draws
        spec = render_chart(kind, data, tmp_path, chart_id=chart_id, title=title)
        assert (tmp_path / spec.png_path).is_file()


def test_meetings_theme_charts_break_the_theme_down_by_who_raised_it(tmp_path: Path) -> None:
    roles = ["Project Manager", "Marketing", "Designer"]
    docs = [
        _doc(
            f"M{k}",
            [
                ("Project Manager", "The remote needs fewer buttons than the old one."),
                ("Marketing", "Users told us the buttons are confusing and too many."),
                ("Designer", "A rubber case would make the remote feel friendly."),
                ("Marketing", "The case colour should match our corporate colour."),
            ],
            series="ES" if k < 2 else "TS",
        )
        for k in range(4)
    ]
    corpus = _corpus(tmp_path, docs)
    assert all(not r.interviewers for r in corpus.roles.values())
    buttons = [_finding(f"b{k}", d, 1) for k, d in enumerate(docs)]
    buttons += [_finding("b-pm", docs[0], 0)]
    case = [_finding(f"c{k}", d, 2) for k, d in enumerate(docs[:2])]
    themes = [_theme("t1", "Buttons", buttons, 4), _theme("t2", "The case", case, 4)]
    charts = _charts(SimpleNamespace(engine_short=NOTE, corpus=corpus), buttons + case, themes)
    kind, title, data = charts["theme_1"]
    assert kind == "breakdown" and title == "Who raises \u201cButtons\u201d"
    bars = {b["label"]: (b["n"], b["total"]) for b in data["bars"]}
    assert bars == {
        "All conversations": (4, 4),
        "Marketing": (4, 4),
        "Project Manager": (1, 4),
        "Designer": (0, 4),
    }
    assert charts["theme_2"][2]["bars"][0] == {"label": "All conversations", "n": 2, "total": 4}
    heat = charts["segment_theme_heatmap"][2]
    assert sorted(heat["segments"]) == sorted(roles)
    assert heat["counts"][0][heat["segments"].index("Marketing")] == 4


def test_a_document_attribute_is_the_segment_when_speakers_are_not(tmp_path: Path) -> None:
    docs = [
        _doc(
            f"P{k}",
            [
                ("Interviewer", "How do you monitor your models once they are deployed?"),
                ("Participant", "We watch the drift of the inputs every week with a dashboard."),
            ],
            plan="enterprise" if k % 2 else "free",
            meeting_part="a",  # one period only: no over-time chart
        )
        for k in range(4)
    ]
    corpus = _corpus(tmp_path, docs)
    drift = [_finding(f"d{k}", d, 1) for k, d in enumerate(docs[:3])]
    charts = _charts(
        SimpleNamespace(engine_short=NOTE, corpus=corpus),
        drift,
        [_theme("t1", "Monitoring drift", drift, 4)],
    )
    kind, title, data = charts["theme_1"]
    assert kind == "breakdown" and title == "Which plan raises \u201cMonitoring drift\u201d"
    assert {b["label"]: (b["n"], b["total"]) for b in data["bars"][1:]} == {
        "enterprise": (1, 2),
        "free": (2, 2),
    }
    assert charts["segment_theme_heatmap"][1] == "Themes by plan"
    assert "themes_over_time" not in charts
