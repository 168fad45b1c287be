"""E2B template for research-workbench sandboxes: code-interpreter plus the analysis stack.

Build it once per E2B account (needs ``E2B_API_KEY``)::

    python -m sandboxes.templates.e2b_template

then ``AsyncE2BSandbox(template="research-workbench-sandbox")`` (the default) starts VMs
from it in about a second, with polars, matplotlib and friends already installed and
imported modules' files in the page cache.
"""

from __future__ import annotations

import shlex
from typing import Any

TEMPLATE_ALIAS = "research-workbench-sandbox"
BASE_TEMPLATE = "code-interpreter-v1"
#: Kept in step with the kernel-side stack LocalSandbox gets from the project venv.
PACKAGES = [
    "polars>=1.0",
    "pyarrow>=15",
    "matplotlib>=3.8",
    "numpy>=1.26",
    "scipy>=1.11",
    "scikit-learn>=1.4",
]


def template() -> Any:
    from e2b import Template

    return (
        Template()
        .from_template(BASE_TEMPLATE)
        # not .pip_install(): it does not quote, and the shell reads ">=" as a redirect
        .run_cmd("pip install " + " ".join(shlex.quote(p) for p in PACKAGES), user="root")
        # read-only inputs are uploaded here as root; the work dir belongs to the user
        .run_cmd("mkdir -p /inputs /home/user/work && chown user:user /home/user/work", user="root")
        .set_envs(
            {
                "MPLBACKEND": "module://matplotlib_inline.backend_inline",
                "SANDBOX_WORK_DIR": "/home/user/work",
                "SANDBOX_INPUTS_DIR": "/inputs",
            }
        )
        # warm matplotlib's font cache at build time, not in every VM
        .run_cmd('python -c "import matplotlib.pyplot, polars"')
    )


def build() -> None:
    from e2b import Template

    Template.build(template(), alias=TEMPLATE_ALIAS, cpu_count=2, memory_mb=2048)


if __name__ == "__main__":
    build()
