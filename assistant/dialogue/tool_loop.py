"""The LLM's tool calls in one turn: the model writes a call (grammar-
constrained), Parley runs it or asks first, the result is fed back, and the
model may write another, up to MAX_TOOL_CALLS.

What the calls said is the turn's reply (the manager delivers it); when the
model answers in words at once, the turn streams an ordinary reply instead.
The safety rules live here: only the tools the user's words point at are
offered, a consequential call ends the loop with a question (only the user's
next turn can say yes), and results are fed back as data, so text inside a
result can never confirm or widen anything.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import Any, Protocol

from assistant.dialogue.builtin_tools import grounded_args
from assistant.dialogue.tools import Plan, Registry, ToolOutcome
from assistant.events import ToolResult
from assistant.llm import grammar as tool_grammar
from assistant.llm.cancel import CancelToken
from assistant.llm.engine import GenerationStats, LlmEngine, LlmError
from assistant.llm.templates import Message

log = logging.getLogger(__name__)

MAX_TOOL_CALLS = 4
"""Tool calls the LLM may make in one user turn, results fed back after each."""


class CompleteCall(Protocol):
    """Writes one grammar-constrained call after `prompt` (`grammar.complete`)."""

    def __call__(
        self,
        engine: LlmEngine,
        prompt: str,
        grammar_text: str,
        *,
        cancel: CancelToken | None = ...,
        stats: GenerationStats | None = ...,
    ) -> str: ...


class ToolLoop:
    """Runs the model's tool calls for one turn (`run`).

    Thread: the brain thread, inside a turn (it uses the engine and the
    manager's tool rows). The manager supplies the steps that touch its state:
    `prepare` validates a call and writes its request row, `execute` runs one
    and records it as the turn's action, `ask` parks a consequential call
    (confirmation.py).
    """

    def __init__(
        self,
        *,
        complete: CompleteCall,
        prepare: Callable[[str, Any], Plan | ToolOutcome],
        execute: Callable[[str, Plan], ToolOutcome],
        ask: Callable[[str, Plan], str],
        audit: Callable[[str, str, dict[str, Any]], None],
        emit: Callable[[object], None],
    ) -> None:
        self.complete = complete
        """Writes one call (replaceable in logic tests: `DialogueManager.complete_call`)."""
        self._prepare = prepare
        self._execute = execute
        self._ask = ask
        self._audit = audit
        self._emit = emit

    def run(
        self,
        engine: LlmEngine,
        prompt: list[Message],
        request: str,
        tools: Registry,
        cancel: CancelToken,
        timings: dict[str, float],
    ) -> list[str]:
        """Let the model call the tools of `tools` that `request` (the user's
        words) points at, each result fed back. Returns what the calls said, in
        order (the last a question when a call waits for the user's yes); empty
        when the model chose to answer in words or wrote nothing usable. Each
        step's time goes into `timings` ("tool_call_1", ...)."""
        offered_tools = tools.relevant(request)
        offered = {t.name for t in offered_tools}
        # The ordinary prompt (the tool list is in its system part) with the
        # reply opened as a call: the KV cache holds all of it but the opener.
        base = engine.render(prompt)
        base += " " if base.endswith(":") else ""
        gbnf = tool_grammar.build_grammar(offered_tools)
        written = ""
        said: list[str] = []
        seen: set[str] = set()
        for step in range(MAX_TOOL_CALLS):
            stats = GenerationStats()
            try:
                prompt_text = base + written + tool_grammar.CALL_OPEN
                generated = self.complete(engine, prompt_text, gbnf, cancel=cancel, stats=stats)
                call = tool_grammar.parse_call(generated)
            except (LlmError, tool_grammar.CallError) as e:
                # The error quotes the call written so far: user content, not logged.
                log.warning("tool call step %d failed: %s", step, type(e).__name__)
                break
            timings[f"tool_call_{step + 1}"] = round(stats.total_ms, 1)
            log.info(
                "tool call %d in %.0f ms (%d tokens, %d evaluated): %s, %d argument(s)",
                step + 1,
                stats.total_ms,
                stats.generated_tokens,
                stats.evaluated_tokens,
                call.tool,  # the name only: the arguments are the user's words
                len(call.args),
            )
            if call.tool == tool_grammar.NONE or call.text in seen or cancel.cancelled:
                break
            seen.add(call.text)
            if call.tool in tools and call.tool not in offered:
                # The grammar only offers these; this guards any other writer.
                plan: Plan | ToolOutcome = ToolOutcome(
                    f"I can't use {call.tool} for that request.", {"error": "not_offered"}, False
                )
                self._audit(
                    "tool_request",
                    f"{call.text}: rejected: not offered for this request",
                    {"tool": call.tool, "arguments": call.args, "origin": "llm", "ok": False},
                )
                self._emit(ToolResult("", call.tool, False, plan.text, dict(plan.data)))
            else:
                plan = self._prepare(call.tool, grounded_args(call.args, request))
            if isinstance(plan, ToolOutcome):
                outcome = plan
            elif (tool := tools.get(call.tool)) is not None and tool.consequential:
                said.append(self._ask(call.tool, plan))
                break  # the turn ends here: only the user's next turn can say yes
            else:
                outcome = self._execute(call.tool, plan)
            said.append(outcome.text)
            # Fed back as data: text inside a result can never confirm anything.
            written += f"{call.text}\nResult: {outcome.text}\n"
            # Each tool once a turn: a small model otherwise repeats a call with
            # new arguments (four timers for one request).
            offered.discard(call.tool)
            offered_tools = [t for t in offered_tools if t.name in offered]
            if not offered_tools:
                break
            gbnf = tool_grammar.build_grammar(offered_tools)
        return said
