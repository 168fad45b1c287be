"""exports: what the user takes to stakeholders.

Charts (as code run in a sandbox), text and media clips, an editable deck, a
self-contained HTML report (and Markdown), a replayable run bundle, and the checks that
every quote is verbatim and every number matches. Everything renders from a `ReportSpec`;
this package imports nothing from the other workbench packages.
"""

from exports.errors import ExportError
from exports.spec import ChartSpec, FindingRow, QuoteSpec, ReportSpec, ThemeSpec

__all__ = ["ChartSpec", "ExportError", "FindingRow", "QuoteSpec", "ReportSpec", "ThemeSpec"]
