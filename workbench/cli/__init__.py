"""The `workbench` command: `app` holds the commands, `ask`, `qda` and `triage` their
groups, `common` what they share.
"""

from workbench.cli.app import main

__all__ = ["main"]
