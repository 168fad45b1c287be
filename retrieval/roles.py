"""Speaker roles in conversations: who interviews and who is a participant.

A research finding is what a participant said; the interviewer's questions are the
prompts that drew it. `detect_roles` tells them apart per document:

1. labels named in the settings (`interviewers`, `participants`) win;
2. labels that name a role ("Interviewer 1", "Moderator", "Facilitator", "Host", "Q";
   "Participant", "Interviewee", "Respondent", "P3", "A") are read as that role;
3. in a one-to-one conversation the speaker who asks the questions is the interviewer,
   when the difference is clear (at least twice the other's share of question turns);
4. with three or more speakers (a meeting, a focus group) only a speaker who asks far
   more questions than everyone else is taken for a moderator; otherwise there is no
   interviewer and every speaker is a participant.

Label variants ("Interviewer1", "interviewer", "INTERVIEWER 1") and near-identical
spellings of one speaker in one document ("Participant" / "Particpant") are grouped, so
counts of participants do not double. Every assignment carries a plain-words note of why
(shown in the outputs), and `confident=False` where the roles could not be told apart.
"""

from __future__ import annotations

import difflib
import re
from collections import Counter
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from typing import Literal

from retrieval.types import Document

Role = Literal["interviewer", "participant"]
Method = Literal[
    "settings", "named", "asks-questions", "no-interviewer", "one-speaker", "unlabelled", "none"
]

INTERVIEWER_WORDS = frozenset(
    "interviewer interviewers moderator moderators facilitator facilitators host researcher "
    "researchers interrogator question questioner".split()
)
PARTICIPANT_WORDS = frozenset(
    "participant participants interviewee interviewees respondent respondents subject "
    "customer user guest patient client answer candidate".split()
)
# one-letter labels used by transcription conventions: Q/A, I/R (interviewer/respondent),
# P1, P2 (participants)
_LETTER_ROLES: dict[str, Role] = {
    "q": "interviewer",
    "i": "interviewer",
    "iv": "interviewer",
    "int": "interviewer",
    "a": "participant",
    "r": "participant",
    "p": "participant",
}
_SPLIT = re.compile(r"(?<=[a-z])(?=\d)|(?<=\d)(?=[a-z])")
_NON_ALNUM = re.compile(r"[^a-z0-9]+")

# one-to-one: the interviewer asks at least this share of their turns as questions and at
# least this many times the other speaker's share
MIN_QUESTION_SHARE = 0.2
QUESTION_RATIO = 2.0
# group conversations: a moderator asks this share and this many times anyone else's
MODERATOR_SHARE = 0.35
MODERATOR_RATIO = 3.0
# a speaker with fewer turns than this share of the document's turns is a minor voice
# (a stray label, a one-word interjection) and does not decide the shape
MINOR_SHARE = 0.05


def normalise_label(label: str) -> str:
    """'Interviewer1', 'INTERVIEWER 1', 'interviewer_1' -> 'interviewer 1'."""
    low = label.strip().lower()
    low = _SPLIT.sub(" ", low)
    return " ".join(_NON_ALNUM.sub(" ", low).split())


def named_role(label: str) -> Role | None:
    """The role a speaker label names, if it names one."""
    words = normalise_label(label).split()
    if not words:
        return None
    if any(w in INTERVIEWER_WORDS for w in words):
        return "interviewer"
    if any(w in PARTICIPANT_WORDS for w in words):
        return "participant"
    letters = [w for w in words if not w.isdigit()]
    if len(letters) == 1 and letters[0] in _LETTER_ROLES:
        return _LETTER_ROLES[letters[0]]
    return None


@dataclass(frozen=True)
class RoleSettings:
    """Overrides by speaker label (matched after normalisation), applied to every document."""

    interviewers: tuple[str, ...] = ()
    participants: tuple[str, ...] = ()
    detect: bool = True  # False: every speaker is a participant unless named in `interviewers`


@dataclass
class SpeakerRoles:
    """The roles of one document's speakers, how they were decided, and why."""

    doc_id: str
    roles: dict[str, Role] = field(default_factory=dict)  # by the label as written
    canonical: dict[str, str] = field(default_factory=dict)  # label -> the speaker it spells
    method: Method = "none"
    note: str = ""
    confident: bool = True

    @property
    def interviewers(self) -> list[str]:
        return sorted(
            {self.canonical.get(s, s) for s, r in self.roles.items() if r == "interviewer"}
        )

    @property
    def participants(self) -> list[str]:
        return sorted(
            {self.canonical.get(s, s) for s, r in self.roles.items() if r == "participant"}
        )

    def role_of(self, speaker: str | None) -> Role | None:
        if speaker is None:
            return None
        return self.roles.get(speaker)

    def as_dict(self) -> dict[str, object]:
        return {
            "interviewers": self.interviewers,
            "participants": self.participants,
            "method": self.method,
            "note": self.note,
            "confident": self.confident,
        }


@dataclass
class _Voice:
    turns: int = 0
    questions: int = 0
    words: int = 0

    @property
    def question_share(self) -> float:
        return self.questions / self.turns if self.turns else 0.0


def group_spellings(labels: Sequence[str], turns: Counter[str]) -> dict[str, str]:
    """Map each label to the speaker it spells: normalised variants and one-off misspellings
    ("Particpant" beside a frequent "Participant") join the more frequent label."""
    order = sorted(labels, key=lambda s: (-turns[s], s))
    total = sum(turns.values()) or 1
    canonical: dict[str, str] = {}
    heads: list[str] = []

    def misspells(label: str, head: str) -> bool:
        a, b = normalise_label(label), normalise_label(head)
        return (
            len(a) >= 6
            and turns[label] <= max(2, 0.05 * total)  # a one-off, beside a frequent label
            and not _different_roles(label, head)  # never "Interviewee" for "Interviewer"
            and not any(c.isdigit() for c in a + b)
            and difflib.SequenceMatcher(None, a, b).ratio() >= 0.85
        )

    for label in order:
        norm = normalise_label(label)
        match = next((h for h in heads if normalise_label(h) == norm or misspells(label, h)), None)
        canonical[label] = match or label
        if match is None:
            heads.append(label)
    return canonical


def _different_roles(a: str, b: str) -> bool:
    ra, rb = named_role(a), named_role(b)
    return ra is not None and rb is not None and ra != rb


def _norm_set(labels: Iterable[str]) -> set[str]:
    return {normalise_label(s) for s in labels if s.strip()}


def detect_roles(doc: Document, settings: RoleSettings | None = None) -> SpeakerRoles:
    """Decide who interviews and who participates in one conversation (see module doc)."""
    s = settings or RoleSettings()
    out = SpeakerRoles(doc_id=doc.id)
    voices: dict[str, _Voice] = {}
    unlabelled = 0
    for seg in doc.segments:
        if not seg.text.strip():
            continue
        if not seg.speaker:
            unlabelled += 1
            continue
        v = voices.setdefault(seg.speaker, _Voice())
        v.turns += 1
        v.words += len(seg.text.split())
        v.questions += "?" in seg.text
    if not voices:
        out.method = "unlabelled"
        out.confident = False
        out.note = (
            "turns carry no speaker labels, so interviewer and participants cannot be told "
            "apart: questions are left out and everything else is read as participant speech"
        )
        return out
    turns = Counter({k: v.turns for k, v in voices.items()})
    out.canonical = group_spellings(list(voices), turns)
    merged: dict[str, _Voice] = {}
    for label, v in voices.items():
        m = merged.setdefault(out.canonical[label], _Voice())
        m.turns += v.turns
        m.questions += v.questions
        m.words += v.words

    def assign(interviewers: set[str], method: Method, note: str) -> SpeakerRoles:
        for label in voices:
            head = out.canonical[label]
            out.roles[label] = "interviewer" if head in interviewers else "participant"
        out.method = method
        out.note = note
        if unlabelled:
            out.note += f"; {unlabelled} turns without a speaker label are read as participants'"
        return out

    forced_i, forced_p = _norm_set(s.interviewers), _norm_set(s.participants)
    configured = {h for h in merged if normalise_label(h) in forced_i}
    if configured:
        return assign(
            configured,
            "settings",
            f"interviewer set in the settings: {', '.join(sorted(configured))}",
        )
    free = {h for h in merged if normalise_label(h) not in forced_p}
    if not s.detect:
        return assign(set(), "none", "role detection is off: every speaker is a participant")
    named = {h for h in free if named_role(h) == "interviewer"}
    if named:
        return assign(named, "named", f"{', '.join(sorted(named))} named as interviewer by label")
    total_turns = sum(v.turns for v in merged.values())
    major = {h: v for h, v in merged.items() if v.turns >= max(2, MINOR_SHARE * total_turns)}
    if len(major) <= 1:
        who = next(iter(major or merged))
        return assign(set(), "one-speaker", f"one speaker ({who}): read as a participant")
    ranked = sorted(major, key=lambda h: (-major[h].question_share, h))
    top, rest = ranked[0], ranked[1:]
    q_top = major[top].question_share
    q_next = max(major[h].question_share for h in rest)
    share = f"{top} asks questions in {q_top:.0%} of turns, {rest[0]} in {major[rest[0]].question_share:.0%}"
    if top in free:
        if len(major) == 2:
            other_named_p = named_role(rest[0]) == "participant" or rest[0] not in free
            ratio = QUESTION_RATIO if not other_named_p else 1.25
            if q_top >= MIN_QUESTION_SHARE and q_top >= ratio * max(q_next, 0.01):
                return assign({top}, "asks-questions", share + ": read as the interviewer")
        elif (
            q_top >= MODERATOR_SHARE
            and q_top >= MODERATOR_RATIO * max(q_next, 0.01)
            and major[top].turns >= 0.15 * total_turns
        ):
            return assign({top}, "asks-questions", share + ": read as the moderator")
    if len(major) == 2:
        out.confident = named_role(top) is not None or named_role(rest[0]) is not None
        note = (
            f"two speakers ({', '.join(sorted(major))}) ask questions alike, so neither is read "
            "as an interviewer: every speaker's words count as evidence"
        )
        if not out.confident:
            note += "; name the interviewer in the settings if there is one"
        return assign(set(), "no-interviewer", note)
    return assign(
        set(),
        "no-interviewer",
        f"{len(major)} speakers and no interviewer or moderator: every speaker is a participant",
    )


def annotate_roles(
    docs: Sequence[Document], settings: RoleSettings | None = None
) -> dict[str, SpeakerRoles]:
    """Detect roles for every conversation and record them on the documents.

    Each segment gets `attrs["role"]`; the document gets `metadata["speaker_roles"]`
    (interviewers, participants, method, note). Documents that are not conversations
    are left as they are.
    """
    out: dict[str, SpeakerRoles] = {}
    for doc in docs:
        if doc.kind != "conversation":
            continue
        sr = detect_roles(doc, settings)
        out[doc.id] = sr
        doc.metadata["speaker_roles"] = sr.as_dict()
        for seg in doc.segments:
            role = sr.role_of(seg.speaker)
            if role is not None:
                seg.attrs["role"] = role
            else:
                seg.attrs.pop("role", None)
            if seg.speaker and sr.canonical.get(seg.speaker, seg.speaker) != seg.speaker:
                seg.attrs["speaker_as"] = sr.canonical[seg.speaker]
    return out
