"""The internal message shape: the Anthropic Messages API, as pydantic models.

Requests and responses of every model (Anthropic, cached, scripted, offline) use these
types. `to_api()` gives the exact JSON the Messages API expects, so a request can be
sent as-is, hashed for the cache, or put in a Message Batch.
"""

from __future__ import annotations

from decimal import Decimal
from typing import Annotated, Any, Literal, Protocol, runtime_checkable

from pydantic import BaseModel, Field

Tier = Literal["lead", "worker", "fast"]

# A tool call whose arguments the server sent as something other than a JSON object
# (unparseable JSON from a small model, a bare string) arrives as
# `{INVALID_JSON_KEY: <what was sent>}`; the agent loop sends it back for repair.
INVALID_JSON_KEY = "__invalid_json__"
StopReason = Literal[
    "end_turn",
    "max_tokens",
    "stop_sequence",
    "tool_use",
    "pause_turn",
    "refusal",
    "model_context_window_exceeded",
]


class CacheControl(BaseModel):
    type: Literal["ephemeral"] = "ephemeral"


class TextBlock(BaseModel):
    type: Literal["text"] = "text"
    text: str
    cache_control: CacheControl | None = None


class ToolUseBlock(BaseModel):
    type: Literal["tool_use"] = "tool_use"
    id: str
    name: str
    input: dict[str, Any]


class ToolResultBlock(BaseModel):
    type: Literal["tool_result"] = "tool_result"
    tool_use_id: str
    content: list[TextBlock]
    is_error: bool = False
    cache_control: CacheControl | None = None


class TextSource(BaseModel):
    type: Literal["text"] = "text"
    media_type: Literal["text/plain"] = "text/plain"
    data: str


class DocumentBlock(BaseModel):
    """A document given to the model as data (corpus text goes here or in tool results)."""

    type: Literal["document"] = "document"
    source: TextSource
    title: str | None = None
    context: str | None = None
    cache_control: CacheControl | None = None


ContentBlock = Annotated[
    TextBlock | ToolUseBlock | ToolResultBlock | DocumentBlock, Field(discriminator="type")
]


class Message(BaseModel):
    role: Literal["user", "assistant"]
    content: list[ContentBlock]


class ToolDefinition(BaseModel):
    name: str
    description: str
    input_schema: dict[str, Any]
    cache_control: CacheControl | None = None


class ModelRequest(BaseModel):
    """One call to a model. `model` wins over `tier`; a client maps the tier to a model id."""

    system: list[TextBlock] = Field(default_factory=list)
    messages: list[Message]
    tools: list[ToolDefinition] = Field(default_factory=list)
    max_tokens: int = 4096
    temperature: float | None = None
    model: str | None = None
    tier: Tier = "worker"
    tool_choice: dict[str, Any] | None = None
    cache: bool = True  # put cache_control breakpoints on tools, system and shared context
    # How many leading blocks of the first user message are context shared by every task
    # of a stage (they get their own cache breakpoint); None = the whole first message.
    shared_prefix_blocks: int | None = None

    def to_api(self, model: str) -> dict[str, Any]:
        """The JSON body of a Messages API request (with cache breakpoints if `cache`)."""
        body: dict[str, Any] = {"model": model, "max_tokens": self.max_tokens}
        system = [b.model_dump(exclude_none=True) for b in self.system]
        tools = [t.model_dump(exclude_none=True) for t in self.tools]
        messages = [m.model_dump(exclude_none=True) for m in self.messages]
        if self.cache:
            # Breakpoints (the API allows 4): end of tools, end of system, end of the shared
            # context (the leading blocks of the first user message that every task of a
            # stage sees), and the last block of the conversation so each step of an agent
            # loop reads the previous steps from cache. Prefix order: tools, system, messages.
            ephemeral = {"type": "ephemeral"}
            if tools:
                tools[-1]["cache_control"] = ephemeral
            if system:
                system[-1]["cache_control"] = ephemeral
            if messages and messages[0]["content"]:
                first = messages[0]["content"]
                n = self.shared_prefix_blocks
                if n is None or n >= len(first):
                    first[-1]["cache_control"] = ephemeral
                elif n > 0:
                    first[n - 1]["cache_control"] = ephemeral
            if len(messages) > 1 and messages[-1]["content"]:
                messages[-1]["content"][-1]["cache_control"] = ephemeral
        if system:
            body["system"] = system
        body["messages"] = messages
        if tools:
            body["tools"] = tools
        if self.tool_choice is not None:
            body["tool_choice"] = self.tool_choice
        if self.temperature is not None:
            # the pinned SDK (anthropic 2.x) has no `temperature` argument: sent in the body
            # as is, so the API, not a TypeError in the client, says whether it applies
            body["extra_body"] = {"temperature": self.temperature}
        return body


class Usage(BaseModel):
    input_tokens: int = 0
    output_tokens: int = 0
    cache_creation_input_tokens: int = 0
    cache_read_input_tokens: int = 0

    def __add__(self, other: Usage) -> Usage:
        return Usage(
            input_tokens=self.input_tokens + other.input_tokens,
            output_tokens=self.output_tokens + other.output_tokens,
            cache_creation_input_tokens=self.cache_creation_input_tokens
            + other.cache_creation_input_tokens,
            cache_read_input_tokens=self.cache_read_input_tokens + other.cache_read_input_tokens,
        )

    @property
    def fresh_tokens(self) -> int:
        """Tokens processed anew: input, cache writes and output (not cache reads)."""
        return self.input_tokens + self.cache_creation_input_tokens + self.output_tokens

    @property
    def total_tokens(self) -> int:
        return (
            self.input_tokens
            + self.output_tokens
            + self.cache_creation_input_tokens
            + self.cache_read_input_tokens
        )


class ModelResponse(BaseModel):
    id: str
    model: str
    content: list[ContentBlock]
    stop_reason: StopReason | None = "end_turn"
    usage: Usage = Field(default_factory=Usage)
    cost_usd: Decimal = Decimal(0)
    latency_s: float = 0.0
    attempts: int = 1  # HTTP attempts it took (1 = no retry)
    cached: bool = False  # served from CachedModel: no tokens spent now
    request_id: str | None = None

    @property
    def text(self) -> str:
        return "".join(b.text for b in self.content if isinstance(b, TextBlock))

    @property
    def tool_uses(self) -> list[ToolUseBlock]:
        return [b for b in self.content if isinstance(b, ToolUseBlock)]


@runtime_checkable
class Model(Protocol):
    """Anything that answers a ModelRequest. `name` identifies it in traces and cache keys."""

    name: str

    async def complete(self, request: ModelRequest) -> ModelResponse: ...


def user(*blocks: TextBlock | ToolResultBlock | DocumentBlock | str) -> Message:
    """A user message; plain strings become text blocks."""
    content: list[Any] = [TextBlock(text=b) if isinstance(b, str) else b for b in blocks]
    return Message(role="user", content=content)
