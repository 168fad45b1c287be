"""Small labelled ticket sets, generated: three categories, two products, dates.

Each category has its own ways of speaking (a bug reports a failure and its steps, a
feature asks for something new, a question asks how), mixed with shared product words,
so a classifier has something real to learn and can still be wrong.
"""

from __future__ import annotations

import csv
import random
from pathlib import Path

AREAS = ["editor", "sync", "login", "export", "search", "settings", "billing", "upload"]
THINGS = ["dark mode", "a CSV export", "keyboard shortcuts", "offline mode", "a REST API",
          "two-factor login", "bulk editing", "custom fields"]  # fmt: skip
BUG = [
    ("The {a} crashes when I save a file",
     "Steps to reproduce: open the {a}, press save. Expected: the file is saved. "
     "Actual: the app crashes with TypeError: undefined is not a function. This is a regression."),
    ("Error 500 in {a} after update",
     "Since the last update the {a} fails with an error 500. It worked in the previous version. "
     "Stack trace attached. The bug happens every time."),
    ("{a} is broken on Windows",
     "The {a} does not work anymore: nothing happens and the console shows an exception. "
     "Reproduce: start the app on Windows and open the {a}."),
]  # fmt: skip
FEATURE = [
    ("Add {t} to the {a}",
     "It would be nice to have {t} in the {a}. Proposal: a new option in the menu. "
     "This feature would save us a lot of time."),
    ("Feature request: {t}",
     "Please support {t}. Many users ask for it and other tools already offer it. "
     "I suggest adding it to the {a} as an enhancement."),
    ("Support {t} in {a}",
     "We would love {t}. Describe the solution you'd like: the {a} should allow it. "
     "Alternatives considered: none."),
]  # fmt: skip
QUESTION = [
    ("How do I configure the {a}?",
     "I am trying to set up the {a} but I cannot find where. Is there a way to change it? "
     "Any help is appreciated, thanks."),
    ("Question about {t}",
     "Is it possible to use {t} with the {a}? I read the docs but I am not sure how it works. "
     "What is the recommended way?"),
    ("Where can I find the {a} options?",
     "How can I change the {a} options? I looked in the settings but could not find them. "
     "Can someone explain?"),
]  # fmt: skip
KINDS = {"bug": BUG, "feature": FEATURE, "question": QUESTION}
PRODUCTS = ["desktop", "mobile"]


def rows(
    n_per_label: int, seed: int = 0, labels: tuple[str, ...] = ("bug", "feature", "question")
) -> list[dict[str, str]]:
    rng = random.Random(seed)
    out = []
    for label in labels:
        for i in range(n_per_label):
            title, body = rng.choice(KINDS[label])
            a, t = rng.choice(AREAS), rng.choice(THINGS)
            noise = " ".join(rng.choice(AREAS) for _ in range(rng.randint(1, 4)))
            out.append(
                {
                    "id": f"{label[0]}{seed}-{i}",
                    "title": title.format(a=a, t=t),
                    "body": body.format(a=a, t=t) + f" Related: {noise}.",
                    "label": label,
                    "product": PRODUCTS[i % 2],
                    "created_at": f"2024-{1 + (i % 6):02d}-{1 + (i % 27):02d} 10:00:00",
                }
            )
    rng.shuffle(out)
    return out


def write_csv(path: Path, records: list[dict[str, str]], columns: list[str] | None = None) -> Path:
    columns = columns or list(records[0])
    with path.open("w", encoding="utf-8", newline="") as fh:
        w = csv.DictWriter(fh, fieldnames=columns, extrasaction="ignore")
        w.writeheader()
        w.writerows(records)
    return path
