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
    """
    actually ah alright basically cool eh er erm fine good great hmm huh i just kind know
    like mean mhm mm mm-hmm no of oh ok okay really right so sort sure uh uh-huh uhm um well
    yeah yep yes you
    """.split()
)

STOPWORDS = frozenset(
    """
    a able about above actually after again against ah all already alright also am an and
    another any anybody anything anyway are aren't as at basic basically be because been
    before being below between bit both bring but by can can't cannot cause come cool cos
    could couldn't decide decided did didn't different discuss discussed do does doesn't
    doing don't dont down during each else even everybody everyone everything feel felt few
    find fine first for found from further get gets getting give given go going gonna good
    got gotta great guess had hadn't has hasn't have haven't having he he'd he'll he's her
    here here's hers herself him himself his hmm how how's i i'd i'll i'm i've idea ideas if
    important in interesting into is isn't it it's its itself just keep kept kind knew know
    last let let's like little look looking looks lot made main make many may maybe me mean
    might mm more most move much must mustn't my myself need needs new next no nor not now
    of off oh okay old on once one only ooh or other ought our ours ourselves out over own
    part people perhaps person point points pretty probably put quite really right said same
    say says see seem seems shall shan't she she'd she'll she's should shouldn't so some
    somebody someone something sort start started still stuff such sure take talk talked
    talking tell than that that's thats the their theirs them themselves then there there's
    these they they'd they'll they're they've thing things think this those though three
    through time to today told too tried try trying two uh um under until up us use used
    very wanna want was wasn't way we we'd we'll we're we've well were weren't what what's
    whatever when when's where where's which while who who's whole whom why why's will with
    won't would wouldn't yeah yes you you'd you'll you're you've your yours yourself
    yourselves
    """.split()
)


def stem(word: str) -> str:
    """A light plural stemmer, enough to treat 'button' and 'buttons' as one word."""
    if "'" in word:
        return word.split("'", 1)[0]
    if len(word) > 4 and word.endswith("ies"):
        return word[:-3] + "y"
    if len(word) > 3 and word.endswith("s") and not word.endswith(("ss", "us", "is")):
        return word[:-1]
    return word


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
