"""The house style shared by charts, deck and report.

One place for the palette, the chart rcParams and the way a prevalence is written
("5 of 12 (42%)"), so a number reads the same on a chart, a slide and in the report.
Chart code embeds `CHART_RC` and the source of `prevalence_label` (see `exports.charts`),
so the sandboxed chart and the deck cannot format a number differently.
"""

from __future__ import annotations

from typing import Any

# Okabe & Ito (2008), the usual colour-blind-safe qualitative palette; yellow last (low
# contrast on white), black kept for text-like marks.
HOUSE_PALETTE: tuple[str, ...] = (
    "#0072B2",  # blue
    "#E69F00",  # orange
    "#009E73",  # bluish green
    "#D55E00",  # vermillion
    "#CC79A7",  # reddish purple
    "#56B4E9",  # sky blue
    "#000000",  # black
    "#F0E442",  # yellow
)

SENTIMENT_COLOURS: dict[str, str] = {
    "negative": "#D55E00",
    "mixed": "#E69F00",
    "neutral": "#B8B8B8",
    "positive": "#0072B2",
}

INK = "#222222"
MUTED = "#666666"
ACCENT = HOUSE_PALETTE[0]

# Sized so a chart placed at ~60% of a 16:9 slide's width still reads at >= 11 pt.
CHART_RC: dict[str, Any] = {
    "font.family": "DejaVu Sans",
    "font.size": 13,
    "axes.titlesize": 16,
    "axes.titleweight": "bold",
    "axes.titlelocation": "left",
    "axes.labelsize": 13,
    "axes.edgecolor": "#999999",
    "axes.labelcolor": INK,
    "axes.spines.top": False,
    "axes.spines.right": False,
    "xtick.color": INK,
    "ytick.color": INK,
    "xtick.labelsize": 12,
    "ytick.labelsize": 12,
    "legend.fontsize": 12,
    "legend.frameon": False,
    "figure.facecolor": "white",
    "axes.facecolor": "white",
    "savefig.facecolor": "white",
    "text.color": INK,
    "svg.fonttype": "none",  # text stays text in the SVG: searchable and editable
    "svg.hashsalt": "research-workbench",  # deterministic SVG ids
}


def percent(n: int, total: int) -> int:
    """Whole percent, rounded half up (Python's round() would round 12.5 to 12)."""
    if total <= 0:
        return 0
    return int(100 * n / total + 0.5)


def prevalence_label(n: int, total: int) -> str:
    """How a prevalence is written everywhere: '5 of 12 (42%)'."""
    pct = int(100 * n / total + 0.5) if total > 0 else 0
    return f"{n} of {total} ({pct}%)"
