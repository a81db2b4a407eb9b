"""The tool-call loop on its own (dialogue/tool_loop.py): a scripted writer
stands in for the model, small tools for Parley's, and recording fakes for
what the manager supplies (prepare, execute, ask, audit rows, events). The
loop through the whole manager is in test_tools_confirm.py; with the real
model in tests/integration/test_tools_llm.py."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import pytest

from assistant.dialogue.tool_loop import MAX_TOOL_CALLS, ToolLoop
from assistant.dialogue.tools import Plan, Registry, Tool, ToolOutcome
from assistant.events import ErrorCode, ToolResult
from assistant.llm import grammar as tool_grammar
from assistant.llm.cancel import CancelToken
from assistant.llm.engine import LlmError
from assistant.llm.templates import Message

TEXT = {
    "type": "object",
    "properties": {"text": {"type": "string", "maxLength": 40}},
    "required": ["text"],
}
TIMER = {
    "type": "object",
    "properties": {"seconds": {"type": "integer"}, "label": {"type": "string", "maxLength": 40}},
    "required": ["seconds"],
}
NOTHING: dict[str, Any] = {"type": "object", "properties": {}}


def tools() -> Registry:
    return Registry(
        [
            Tool("get_time", "the time", NOTHING, lambda a: ToolOutcome("It's noon."),
                 read_only=True, keywords=("time", "clock")),
            Tool("add_note", "save a note", TEXT, lambda a: ToolOutcome(f"Noted: {a['text']}."),
                 keywords=("note",)),
            Tool("set_timer", "start a timer", TIMER,
                 lambda a: ToolOutcome(f"Timer set: {a.get('label', 'no label')}."),
                 keywords=("timer",)),
            Tool("delete_all_notes", "delete every note", NOTHING, lambda a: ToolOutcome("Gone."),
                 consequential=True, plan=lambda a: Plan("delete all your notes", a),
                 keywords=("delete",)),
        ]
    )  # fmt: skip


class Engine:
    """Renders a prompt the way the plain format ends one: with "Parley:"."""

    def render(self, messages: Sequence[Message], add_generation_prompt: bool = True) -> str:
        return "".join(f"{m.role}: {m.content}\n" for m in messages) + "Parley:"


@dataclass
class Loop:
    """A ToolLoop whose model writes `calls`, one a step, then "none"."""

    calls: list[str]
    registry: Registry = field(default_factory=tools)
    prompts: list[str] = field(default_factory=list)
    grammars: list[str] = field(default_factory=list)
    prepared: list[tuple[str, Any]] = field(default_factory=list)
    executed: list[str] = field(default_factory=list)
    asked: list[tuple[str, Plan]] = field(default_factory=list)
    audits: list[tuple[str, str, dict[str, Any]]] = field(default_factory=list)
    events: list[object] = field(default_factory=list)
    cancel: CancelToken = field(default_factory=CancelToken)
    timings: dict[str, float] = field(default_factory=dict)

    def complete(self, engine, prompt, grammar_text, *, cancel=None, stats=None) -> str:  # type: ignore[no-untyped-def]
        self.prompts.append(prompt)
        self.grammars.append(grammar_text)
        if stats is not None:
            stats.total_ms = 5.0
        written = self.calls.pop(0) if self.calls else 'none"}'
        if isinstance(written, Exception):
            raise written
        return written

    def prepare(self, name: str, args: Any) -> Plan | ToolOutcome:
        self.prepared.append((name, args))
        return self.registry.prepare(name, args)

    def execute(self, name: str, plan: Plan) -> ToolOutcome:
        self.executed.append(name)
        return self.registry.execute(name, plan.args)

    def ask(self, name: str, plan: Plan) -> str:
        self.asked.append((name, plan))
        return f"I'll {plan.description}. Shall I?"

    def audit(self, kind: str, text: str, data: dict[str, Any]) -> None:
        self.audits.append((kind, text, data))

    def run(self, request: str) -> list[str]:
        loop = ToolLoop(
            complete=self.complete,
            prepare=self.prepare,
            execute=self.execute,
            ask=self.ask,
            audit=self.audit,
            emit=self.events.append,
        )
        prompt = [Message("system", "Be brief."), Message("user", request)]
        return loop.run(Engine(), prompt, request, self.registry, self.cancel, self.timings)


def test_a_call_runs_and_its_result_is_fed_back() -> None:
    loop = Loop(['add_note","args":{"text":"milk"}}', 'get_time","args":{}}'])
    said = loop.run("take a note milk and tell me the time")
    assert said == ["Noted: milk.", "It's noon."]
    assert loop.executed == ["add_note", "get_time"]
    # The reply is opened as a call after the ordinary prompt (a space after "Parley:").
    assert loop.prompts[0] == "system: Be brief.\nuser: take a note milk and tell me the time\n" + (
        'Parley: {"tool":"'
    )
    # The next step sees the call and its result as data.
    assert loop.prompts[1] == loop.prompts[0] + 'add_note","args":{"text":"milk"}}\n' + (
        'Result: Noted: milk.\n{"tool":"'
    )
    assert loop.timings == {"tool_call_1": 5.0, "tool_call_2": 5.0}


def test_none_means_the_model_answers_in_words() -> None:
    loop = Loop(['none"}'])
    assert loop.run("what is the time in words") == []
    assert loop.executed == [] and len(loop.prompts) == 1


@pytest.mark.parametrize(
    "failure",
    [
        'add_note","args":{"text":"never end',  # cut off: not a whole call
        LlmError(ErrorCode.CONTEXT_FULL, "The conversation is too long for a tool call."),
    ],
)
def test_a_step_that_fails_ends_the_loop(failure: Any) -> None:
    loop = Loop(['get_time","args":{}}', failure])
    assert loop.run("take a note about the time") == ["It's noon."]  # what was done stays said
    assert loop.executed == ["get_time"] and len(loop.prompts) == 2
    assert list(loop.timings) == ["tool_call_1"]


def test_only_the_tools_the_words_point_at_are_offered() -> None:
    loop = Loop(['get_time","args":{}}'])
    loop.run("what does the clock say")
    assert '"get_time' in loop.grammars[0]
    assert "add_note" not in loop.grammars[0] and "delete_all_notes" not in loop.grammars[0]


def test_a_tool_not_offered_is_refused_and_recorded() -> None:
    # The grammar would not allow it; a writer that ignores the grammar still cannot.
    loop = Loop(['get_time","args":{}}', 'delete_all_notes","args":{}}'])
    said = loop.run("read my note and check the clock")
    assert said == ["It's noon.", "I can't use delete_all_notes for that request."]
    assert loop.asked == [] and "delete_all_notes" not in loop.executed
    kind, text, data = loop.audits[-1]
    assert (kind, data["ok"]) == ("tool_request", False)
    assert text.endswith(": rejected: not offered for this request")
    refused = [e for e in loop.events if isinstance(e, ToolResult)]
    assert [(e.tool, e.ok, e.data) for e in refused] == [
        ("delete_all_notes", False, {"error": "not_offered"})
    ]


def test_a_consequential_call_asks_and_ends_the_loop() -> None:
    loop = Loop(['add_note","args":{"text":"x"}}', 'delete_all_notes","args":{}}', 'get_time"}'])
    said = loop.run("take a note x then delete all my notes and tell me the time")
    assert said == ["Noted: x.", "I'll delete all your notes. Shall I?"]
    assert [name for name, _plan in loop.asked] == ["delete_all_notes"]
    assert "delete_all_notes" not in loop.executed  # only the user's yes runs it
    assert len(loop.prompts) == 2  # no step after the question


def test_each_tool_is_offered_once_a_turn() -> None:
    loop = Loop(['add_note","args":{"text":"a"}}', 'add_note","args":{"text":"b"}}'])
    said = loop.run("take a note a, and a note b, at this time")
    assert said[0] == "Noted: a."
    assert loop.executed[0] == "add_note"
    assert "add_note" not in loop.grammars[1] and '"get_time' in loop.grammars[1]
    # The writer ignored the grammar and repeated the tool: not offered any more.
    assert said[1] == "I can't use add_note for that request."


def test_the_loop_ends_when_every_offered_tool_was_used() -> None:
    loop = Loop(['add_note","args":{"text":"a"}}', 'get_time","args":{}}'])
    loop.run("take a note a")  # only add_note is offered
    assert len(loop.prompts) == 1


def test_a_repeated_call_ends_the_loop() -> None:
    loop = Loop(['get_time","args":{}}', 'get_time","args":{}}', 'add_note","args":{"text":"z"}}'])
    assert loop.run("take a note with the time") == ["It's noon."]
    assert loop.executed == ["get_time"] and len(loop.prompts) == 2


def test_at_most_max_tool_calls_steps() -> None:
    # More tools than the cap, each called once with its own text: nothing
    # repeats and something is always left to offer, so only the cap ends it.
    many = MAX_TOOL_CALLS + 2
    registry = Registry(
        Tool(f"note{i}", "save", TEXT, lambda a: ToolOutcome("ok"), keywords=("note",))
        for i in range(many)
    )
    loop = Loop([f'note{i}","args":{{"text":"n{i}"}}}}' for i in range(many)], registry)
    said = loop.run("note it")
    assert len(loop.prompts) == MAX_TOOL_CALLS
    assert len(said) == MAX_TOOL_CALLS


def test_a_cancelled_turn_runs_nothing_more() -> None:
    loop = Loop(['get_time","args":{}}'])
    loop.cancel.cancel()
    assert loop.run("what time is it") == []
    assert loop.executed == []


def test_a_label_the_user_did_not_say_is_dropped() -> None:
    loop = Loop(['set_timer","args":{"seconds":60,"label":"pasta"}}'])
    assert loop.run("start a timer for a minute") == ["Timer set: no label."]
    assert loop.prepared == [("set_timer", {"seconds": 60})]
    loop = Loop(['set_timer","args":{"seconds":60,"label":"pasta"}}'])
    assert loop.run("start a pasta timer for a minute") == ["Timer set: pasta."]


def test_bad_arguments_are_said_not_run() -> None:
    loop = Loop(['add_note","args":{}}'])
    assert loop.run("take a note") == ["add_note needs the argument 'text'."]
    assert loop.executed == []


def test_the_grammar_follows_the_offered_tools() -> None:
    loop = Loop(['get_time","args":{}}'])
    loop.run("take a note of the time")
    offered = [t for t in tools() if t.name in ("get_time", "add_note")]
    assert loop.grammars[0] == tool_grammar.build_grammar(offered)
    assert loop.grammars[1] == tool_grammar.build_grammar(offered[1:])
