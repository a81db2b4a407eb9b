"""The tool registry: what Parley can do on the user's machine, described so
that rules and the LLM call the same code.

Each tool has a name, a one-line description, a JSON schema for its
arguments, `consequential` (runs only after the user's yes) and `run(args)`,
which returns a `ToolOutcome`: text for speech plus data for the transcript.

The schema language is a small subset of JSON Schema, the same subset the
grammar builder (llm/grammar.py) turns into GBNF, so every call the grammar
lets the model write is one this validator can judge:

    {"type": "object", "properties": {NAME: PROP, ...}, "required": [NAME, ...]}
    PROP: {"type": "string" | "integer" | "number" | "boolean", "description": str,
           "enum": [...], "minimum": n, "maximum": n, "minLength": n, "maxLength": n}

Unknown arguments are rejected (additionalProperties is always false). We
validate ourselves rather than with `jsonschema`: the subset is tiny, the
messages are spoken to the user, and no new dependency is needed.

Nothing here raises into the turn: `Registry.call` turns an unknown tool, bad
arguments or a tool that raises into an outcome with ok=False and a message.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

log = logging.getLogger(__name__)

TYPES = ("string", "integer", "number", "boolean")


class ToolError(Exception):
    """A tool cannot do what was asked; the message is spoken to the user."""


@dataclass(frozen=True)
class ToolOutcome:
    text: str
    """The outcome in words, suitable for speech."""
    data: dict[str, Any] = field(default_factory=dict)
    """Details for the transcript (ids, values), JSON-serialisable."""
    ok: bool = True


@dataclass(frozen=True)
class Plan:
    """What a call will do, decided before it runs (and before the user is asked)."""

    description: str
    """Exactly what will happen, as a clause: "delete the note 'buy milk'"."""
    args: dict[str, Any]
    """The resolved arguments `run` receives: what was described is what runs."""


@dataclass(frozen=True)
class Tool:
    name: str
    description: str
    """One short line: the LLM reads it, so every word is prefill time."""
    parameters: dict[str, Any]
    """JSON schema of the arguments (the subset in the module docstring)."""
    run: Callable[[dict[str, Any]], ToolOutcome]
    consequential: bool = False
    """Acts on the world in a way the user must approve first."""
    read_only: bool = False
    """Only reads (time, sums, lists): rule answers need no audit row for it."""
    plan: Callable[[dict[str, Any]], Plan] | None = None
    """Resolves and describes a call (raises ToolError when it cannot be done)."""
    keywords: tuple[str, ...] = ()
    """Words that suggest a turn may need this tool (see `Registry.might_need`)."""
    undo: Callable[[ToolOutcome], None] | None = None
    """Reverses a successful run, given its outcome: a turn Parley ended too
    early is taken back when the user goes on speaking (`DialogueManager.retract`)."""

    def __post_init__(self) -> None:
        check_schema(self.name, self.parameters)

    @property
    def properties(self) -> dict[str, dict[str, Any]]:
        return dict(self.parameters.get("properties", {}))

    @property
    def required(self) -> tuple[str, ...]:
        return tuple(self.parameters.get("required", ()))

    def signature(self) -> str:
        """Compact form for the prompt: set_timer(seconds:int,label?:str)."""
        short = {"string": "str", "integer": "int", "number": "num", "boolean": "bool"}
        parts = []
        for name, prop in self.properties.items():
            opt = "" if name in self.required else "?"
            kind = short[prop["type"]]
            if "enum" in prop:
                kind = "|".join(str(v) for v in prop["enum"])
            parts.append(f"{name}{opt}:{kind}")
        return f"{self.name}({','.join(parts)})"


def check_schema(name: str, schema: Mapping[str, Any]) -> None:
    """Refuse schemas outside the supported subset when the tool is defined."""
    if schema.get("type") != "object":
        raise ValueError(f"tool {name}: the argument schema must be an object")
    props = schema.get("properties", {})
    for prop_name, prop in props.items():
        if prop.get("type") not in TYPES:
            raise ValueError(f"tool {name}: argument {prop_name} needs a type in {TYPES}")
        if prop["type"] == "string" and "enum" not in prop and "maxLength" not in prop:
            # Unbounded strings let a constrained model write until max_tokens.
            raise ValueError(f"tool {name}: string argument {prop_name} needs maxLength")
    for req in schema.get("required", ()):
        if req not in props:
            raise ValueError(f"tool {name}: required argument {req} is not a property")


def validate(tool: Tool, args: Any) -> dict[str, Any]:
    """The arguments, checked against the tool's schema; ToolError says what is wrong."""
    if not isinstance(args, Mapping):
        raise ToolError(f"The arguments for {tool.name} must be an object, not {_kind(args)}.")
    props = tool.properties
    unknown = [k for k in args if k not in props]
    if unknown:
        known = ", ".join(props) or "none"
        raise ToolError(f"{tool.name} has no argument {unknown[0]!r} (its arguments: {known}).")
    missing = [k for k in tool.required if k not in args]
    if missing:
        raise ToolError(f"{tool.name} needs the argument {missing[0]!r}.")
    out: dict[str, Any] = {}
    for key, value in args.items():
        out[key] = _check_value(tool.name, key, props[key], value)
    return out


def _check_value(tool: str, key: str, prop: Mapping[str, Any], value: Any) -> Any:
    kind = prop["type"]
    where = f"{tool}: {key!r}"
    if kind == "boolean":
        if not isinstance(value, bool):
            raise ToolError(f"{where} must be true or false, not {_kind(value)}.")
    elif kind == "integer":
        if isinstance(value, float) and value.is_integer():
            value = int(value)
        if isinstance(value, bool) or not isinstance(value, int):
            raise ToolError(f"{where} must be a whole number, not {_kind(value)}.")
    elif kind == "number":
        if isinstance(value, bool) or not isinstance(value, int | float):
            raise ToolError(f"{where} must be a number, not {_kind(value)}.")
    elif kind == "string":
        if not isinstance(value, str):
            raise ToolError(f"{where} must be text, not {_kind(value)}.")
        value = value.strip()
        if len(value) < prop.get("minLength", 0):
            raise ToolError(
                f"{where} must not be empty." if not value else f"{where} is too short."
            )
        if "maxLength" in prop and len(value) > prop["maxLength"]:
            raise ToolError(f"{where} is too long (at most {prop['maxLength']} characters).")
    if "enum" in prop and value not in prop["enum"]:
        choices = ", ".join(map(str, prop["enum"]))
        raise ToolError(f"{where} must be one of {choices}, not {value!r}.")
    if "minimum" in prop and value < prop["minimum"]:
        raise ToolError(f"{where} must be at least {prop['minimum']}, not {value}.")
    if "maximum" in prop and value > prop["maximum"]:
        raise ToolError(f"{where} must be at most {prop['maximum']}, not {value}.")
    return value


def _kind(value: Any) -> str:
    if value is None:
        return "nothing"
    if isinstance(value, bool):
        return str(value).lower()
    if isinstance(value, str):
        return repr(value[:40])
    if isinstance(value, int | float):
        return str(value)
    return type(value).__name__


_ASKING = re.compile(r"\bremind me (?=(?:what|who|whom|where|which|how|whether)\b)")
"""'Remind me what day it is' asks a question: its 'remind' points at no timer."""


_QUESTION = re.compile(
    r"(?:what|who|whom|whose|which|where|when|why|how)(?! about)\b"
    r"|(?:is|are|am|was|were|does|has|should|shall|isn t|aren t|doesn t|wasn t) (?:i|you|we"
    r"|they|he|she|it|there|people|anyone|the|my|your|our|this|that|these|those)\b"
    r"|(?:do|did|have|had|don t|didn t) (?:i|you|we|they|he|she|it|people|anyone)\b"
)
"""A question that asks for something ("what is a timer", "who invented the
alarm clock", "is it good to wake up early"): not a request. "Can you ...",
"how about ..." and "do a countdown" are requests."""
_POLITE = re.compile(r"\b(?:can|could|would|will) you\b|\bplease\b")


def _spaced(text: str) -> str:
    """`text` in lower case, its words split by single spaces, marks dropped."""
    return " ".join("".join(c if c.isalnum() else " " for c in text.lower()).split())


def asks(text: str) -> bool:
    """Whether `text` is a question, not a request worded as one ("could you
    tell me ... and set a timer")."""
    return _asks_spaced(_spaced(text))


def _asks_spaced(words: str) -> bool:
    return _QUESTION.match(words) is not None and _POLITE.search(words) is None


class Registry:
    """The tools Parley has, by name, in the order they were added."""

    def __init__(self, tools: Iterable[Tool] = ()) -> None:
        self._tools: dict[str, Tool] = {}
        for tool in tools:
            self.add(tool)

    def add(self, tool: Tool) -> None:
        if tool.name in self._tools:
            raise ValueError(f"a tool named {tool.name} is already registered")
        self._tools[tool.name] = tool

    def __contains__(self, name: object) -> bool:
        return name in self._tools

    def __iter__(self):  # type: ignore[no-untyped-def]
        return iter(self._tools.values())

    def __len__(self) -> int:
        return len(self._tools)

    def get(self, name: str) -> Tool | None:
        return self._tools.get(name)

    def names(self) -> list[str]:
        return list(self._tools)

    def relevant(self, text: str) -> list[Tool]:
        """The tools whose keywords `text` uses, only the read-only ones when
        it is a question. Only these may be called in the turn: the model
        cannot pick a tool the user's words do not point at, and words inside
        a tool's result cannot widen the choice."""
        words = _spaced(text)
        # A question only reads: asking about a thing never does it ("who
        # invented the alarm clock" set an alarm, "what is a timer" a timer).
        question = _asks_spaced(words)
        words = f" {_ASKING.sub(' ', words)} "
        return [
            tool for tool in self
            if any(f" {k} " in words for k in tool.keywords) and (tool.read_only or not question)
        ]  # fmt: skip

    def might_need(self, text: str) -> bool:
        """Does `text` mention something a tool does? Only such turns pay for
        a tool-choice step; every other turn streams as an ordinary reply."""
        return bool(self.relevant(text))

    def prepare(self, name: str, args: Any) -> Plan | ToolOutcome:
        """Validate and resolve a call without running it: a `Plan`, or an
        outcome with ok=False saying why the call cannot be made."""
        tool = self._tools.get(name)
        if tool is None:
            known = ", ".join(self._tools)
            return ToolOutcome(
                f"There is no tool called {name!r}. The tools are: {known}.",
                {"error": "unknown_tool", "tool": name},
                ok=False,
            )
        try:
            checked = validate(tool, args)
            if tool.plan is not None:
                return tool.plan(checked)
            return Plan(_default_description(tool, checked), checked)
        except ToolError as e:
            return ToolOutcome(str(e), {"error": "bad_arguments", "tool": name}, ok=False)
        except Exception as e:  # a buggy plan must not end the turn
            log.exception("tool %s: plan failed", name)
            return ToolOutcome(
                f"The {name} tool failed: {e}", {"error": "tool_failed", "tool": name}, ok=False
            )

    def execute(self, name: str, args: dict[str, Any]) -> ToolOutcome:
        """Run a prepared call. A tool that raises gives an outcome with ok=False."""
        tool = self._tools.get(name)
        if tool is None:
            return ToolOutcome(
                f"There is no tool called {name!r}.", {"error": "unknown_tool"}, False
            )
        try:
            outcome = tool.run(args)
        except ToolError as e:
            return ToolOutcome(str(e), {"error": "tool_refused"}, ok=False)
        except Exception as e:
            log.exception("tool %s failed", name)
            return ToolOutcome(
                f"Sorry, the {name} tool failed: {e}", {"error": "tool_failed"}, ok=False
            )
        if not isinstance(outcome, ToolOutcome):
            return ToolOutcome(str(outcome), {}, ok=True)
        return outcome

    def call(self, name: str, args: Any) -> ToolOutcome:
        """Prepare and run in one step (callers that need no confirmation)."""
        plan = self.prepare(name, args)
        if isinstance(plan, ToolOutcome):
            return plan
        return self.execute(name, plan.args)


def _default_description(tool: Tool, args: Mapping[str, Any]) -> str:
    shown = ", ".join(f"{k} {v!r}" for k, v in args.items())
    return f"run {tool.name}" + (f" with {shown}" if shown else "")
