"""Sentence spans, transcript clean-up and term extraction for the offline engine.

Quotes must stay verbatim, so sentence splitting returns character spans into the
original text; `clean` produces a readable rendering for claims and labels only.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

# Transcription markup such as {vocalsound}, {disfmarker}, {gap}.
_MARKUP = re.compile(r"\{[a-z_]+\}")
_SPACE_BEFORE_PUNCT = re.compile(r"\s+([.,?!;:])")
_SPELLED = re.compile(r"\b((?:[A-Za-z]_){2,})")
_WS = re.compile(r"\s+")
_SENTENCE_END = re.compile(r"[.?!]+(?=\s|$)")
_WORD = re.compile(r"[A-Za-z][A-Za-z'\-]*")

FILLERS = frozenset(
    """um uh uhm hmm mm mm-hmm mhm uh-huh huh ah oh eh er erm yeah yep yes no okay ok right
    so well like you know i mean kind of sort of just really actually basically alright
    sure cool good great fine""".split()
)

STOPWORDS = frozenset(
    """a about above after again against all am an and any are aren't as at be because been
    before being below between both but by can can't cannot could couldn't did didn't do does
    doesn't doing don't down during each few for from further get gets getting got gonna had
    hadn't has hasn't have haven't having he he'd he'll he's her here here's hers herself him
    himself his how how's i i'd i'll i'm i've if in into is isn't it it's its itself let's me
    more most mustn't my myself no nor not of off on once only or other ought our ours
    ourselves out over own same shan't she she'd she'll she's should shouldn't so some such
    than that that's the their theirs them themselves then there there's these they they'd
    they'll they're they've this those through to too under until up very was wasn't we we'd
    we'll we're we've were weren't what what's when when's where where's which while who who's
    whom why why's will with won't would wouldn't you you'd you'll you're you've your yours
    yourself yourselves also thing things think want wanna going go one two three something
    anything everything lot bit maybe probably perhaps quite much many us would could should
    might may must shall can see say said says know knew make made take put use used come
    way kind sort mean guess need needs got gotta stuff yeah okay um uh mm hmm right well
    just like really actually basically alright oh ah ooh let look looks looking thats dont
    cos cause gonna gotta wanna yes no sure good great fine cool bit little else even still
    another whatever anyway though already again""".split()
)


@dataclass(frozen=True, slots=True)
class Span:
    """A sentence: [start, end) character offsets into the text it came from."""

    start: int
    end: int
    text: str


def clean(text: str) -> str:
    """Readable rendering of a transcript snippet: markup removed, spacing fixed."""
    out = _MARKUP.sub(" ", text)
    out = _SPELLED.sub(lambda m: m.group(1).replace("_", ""), out)
    out = _SPACE_BEFORE_PUNCT.sub(r"\1", out)
    out = _WS.sub(" ", out).strip()
    out = re.sub(r"^[,.;:]\s*", "", out)
    return out


def words(text: str) -> list[str]:
    return [w.lower() for w in _WORD.findall(_MARKUP.sub(" ", text))]


def content_words(text: str) -> list[str]:
    return [w for w in words(text) if w not in STOPWORDS and w not in FILLERS and len(w) > 2]


def sentence_spans(text: str) -> list[Span]:
    """Split into sentences, each trimmed of leading fillers and markup, offsets kept."""
    spans: list[Span] = []
    start = 0
    for m in _SENTENCE_END.finditer(text):
        end = m.end()
        spans.extend(_trimmed(text, start, end))
        start = end
    if start < len(text):
        spans.extend(_trimmed(text, start, len(text)))
    return spans


_LEADING_JUNK = re.compile(
    r"^(?:\s|\{[a-z_]+\}|[,.;:?!\-]|\b(?:um|uh|uhm|hmm|mm|mm-hmm|ah|oh|er|erm|so|well|okay|"
    r"ok|and|but|yeah|right|like)\b)+",
    re.IGNORECASE,
)
_TRAILING_JUNK = re.compile(r"(?:\s|\{[a-z_]+\}|,)+$")


def _trimmed(text: str, start: int, end: int) -> list[Span]:
    chunk = text[start:end]
    lead = _LEADING_JUNK.match(chunk)
    s = start + (lead.end() if lead else 0)
    tail = _TRAILING_JUNK.search(text[s:end])
    e = s + tail.start() if tail else end
    if e <= s:
        return []
    # Inner markup breaks a sentence in two: a quote never spans a {disfmarker}.
    parts: list[Span] = []
    cursor = s
    for m in _MARKUP.finditer(text, s, e):
        if m.start() > cursor:
            parts.append(Span(cursor, m.start(), text[cursor : m.start()]))
        cursor = m.end()
    if cursor < e:
        parts.append(Span(cursor, e, text[cursor:e]))
    out: list[Span] = []
    for p in parts:
        inner = text[p.start : p.end]
        ls = len(inner) - len(inner.lstrip(" ,;:-"))
        rs = len(inner.rstrip(" ,;:-"))
        if rs > ls:
            out.append(Span(p.start + ls, p.start + rs, inner[ls:rs]))
    return out
