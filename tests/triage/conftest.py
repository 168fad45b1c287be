"""Files for the triage runs: labelled tickets and tickets to sort, with the hard cases."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.triage.data import rows, write_csv

GERMAN = {
    "id": "de-1",
    "title": "Die Anwendung stürzt beim Speichern immer wieder ab",
    "body": "Wenn ich auf Speichern klicke, schließt sich das Programm sofort und alle "
    "Änderungen sind verloren. Bitte um schnelle Hilfe, vielen Dank im Voraus.",
    "product": "desktop",
    "created_at": "2024-03-02 10:00:00",
}
HUGE = {
    "id": "big-1",
    "title": "Sync crashes with a long log",
    "body": "The sync crashes with an exception every time. Log:\n"
    + "worker heartbeat ok, queue depth nominal\n" * 5_000,
    "product": "mobile",
    "created_at": "2024-04-05 10:00:00",
}


@pytest.fixture(scope="session")
def triage_files(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    d = tmp_path_factory.mktemp("triage-files")
    labelled = rows(10, seed=1)
    tickets = rows(4, seed=2)
    for r in tickets:
        r["label"] = ""
    already = [dict(labelled[0]), dict(labelled[1])]  # the team labelled these already
    everything = [*tickets, *already, dict(GERMAN, label=""), dict(HUGE, label="")]
    cols = ["id", "title", "body", "label", "product", "created_at"]
    return {
        "labelled": write_csv(d / "labelled.csv", labelled, cols),
        "tickets": write_csv(d / "tickets.csv", everything, cols),
        "dir": d,
    }
