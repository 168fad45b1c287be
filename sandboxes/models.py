"""Result types of a code execution, in the shape of E2B's ``Execution``.

Field names follow ``e2b_code_interpreter.models`` so code written against E2B
reads these unchanged: ``execution.results[0].png`` (base64 string),
``execution.logs.stdout`` (list of chunks), ``execution.error.traceback`` (str).
"""

from __future__ import annotations

import base64
from typing import Any

from pydantic import BaseModel, ConfigDict, Field

#: MIME type -> Result attribute, as E2B maps Jupyter display data.
MIME_FIELDS: dict[str, str] = {
    "text/plain": "text",
    "text/html": "html",
    "text/markdown": "markdown",
    "image/svg+xml": "svg",
    "image/png": "png",
    "image/jpeg": "jpeg",
    "application/pdf": "pdf",
    "text/latex": "latex",
    "application/json": "json",
    "application/javascript": "javascript",
}


class Result(BaseModel):
    """One displayed value: the cell's last expression (``is_main_result``) or a display call."""

    text: str | None = None
    html: str | None = None
    markdown: str | None = None
    svg: str | None = None
    png: str | None = None
    jpeg: str | None = None
    pdf: str | None = None
    latex: str | None = None
    json_data: dict[str, Any] | list[Any] | None = Field(default=None, alias="json")
    javascript: str | None = None
    data: dict[str, Any] | None = None
    is_main_result: bool = False
    extra: dict[str, Any] | None = None

    model_config = ConfigDict(populate_by_name=True, serialize_by_alias=True)

    @property
    def json(self) -> dict[str, Any] | list[Any] | None:  # type: ignore[override]
        """The ``application/json`` payload (E2B's name for it)."""
        return self.json_data

    def formats(self) -> list[str]:
        """Names of the representations present, as E2B's ``Result.formats()``."""
        out = [f for f in MIME_FIELDS.values() if f != "json" and getattr(self, f)]
        if self.json_data is not None:
            out.append("json")
        if self.data:
            out.append("data")
        return out

    def png_bytes(self) -> bytes | None:
        """The PNG decoded from base64, or None."""
        return base64.b64decode(self.png) if self.png else None

    @classmethod
    def from_mime_bundle(cls, bundle: dict[str, Any], *, is_main_result: bool) -> Result:
        fields: dict[str, Any] = {"is_main_result": is_main_result}
        extra: dict[str, Any] = {}
        for mime, value in bundle.items():
            name = MIME_FIELDS.get(mime)
            if name is None:
                extra[mime] = value
            elif name == "json":
                fields["json_data"] = value
            else:
                fields[name] = value.strip() if name == "png" and isinstance(value, str) else value
        if extra:
            fields["extra"] = extra
        return cls(**fields)


class Logs(BaseModel):
    """What the code printed, as the chunks the kernel streamed."""

    stdout: list[str] = Field(default_factory=list)
    stderr: list[str] = Field(default_factory=list)


class ExecutionError(BaseModel):
    """An error raised by the code, or by the sandbox around it.

    Sandbox-made names: ``TimeoutError`` (the code ran past its timeout; the kernel was
    interrupted or restarted), ``KernelDiedError`` (the kernel process died, e.g. killed by
    a resource limit; it was restarted), ``OutputLimitError`` (output flood, interrupted),
    ``DiskQuotaError`` (the work dir grew past its quota; kernel restarted).
    """

    name: str
    value: str
    traceback: str = ""


class Execution(BaseModel):
    """The outcome of one ``run_code`` call."""

    results: list[Result] = Field(default_factory=list)
    logs: Logs = Field(default_factory=Logs)
    error: ExecutionError | None = None
    execution_count: int | None = None
    #: True when output went past the sandbox's cap and was cut.
    truncated: bool = False
    #: Wall time of the call as seen by the caller, in seconds.
    duration_s: float = 0.0

    @property
    def text(self) -> str | None:
        """Text of the main result (the cell's last expression), as E2B's ``Execution.text``."""
        for result in self.results:
            if result.is_main_result:
                return result.text
        return None

    @property
    def ok(self) -> bool:
        return self.error is None

    @property
    def stdout(self) -> str:
        return "".join(self.logs.stdout)

    @property
    def stderr(self) -> str:
        return "".join(self.logs.stderr)
