"""The tool-call grammar: built from the schemas, parsed by llama.cpp's own
GBNF parser (no model needed), and the parser of what the model wrote."""

from __future__ import annotations

import pytest

from assistant.dialogue.builtin_tools import ToolEnv, builtin_registry
from assistant.dialogue.tools import Tool, ToolOutcome
from assistant.llm.grammar import (
    CALL_OPEN,
    CallError,
    build_grammar,
    compile_grammar,
    parse_call,
    tool_instructions,
)

TOOLS = list(builtin_registry(ToolEnv()))


def run(_a: dict) -> ToolOutcome:
    return ToolOutcome("")


def test_builtin_grammar_compiles_in_llama_cpp() -> None:
    text = build_grammar(TOOLS)
    assert compile_grammar(text) is not None
    root = text.splitlines()[0]
    assert root.startswith('root ::= "none\\"}" | call-get-time | call-set-timer')
    assert all(f"call-{t.name.replace('_', '-')}" in root for t in TOOLS)


def test_no_free_whitespace_and_bounded_strings() -> None:
    text = build_grammar(TOOLS)
    assert "ws" not in text and "[ \\t\\n]" not in text
    assert "char{1,200}" in text  # note text: at most 200 characters
    assert "*" not in text and "+" not in text  # every repetition is bounded


def test_argument_orders() -> None:
    props = {
        "a": {"type": "integer", "minimum": 1, "maximum": 500},
        "b": {"type": "boolean"},
        "c": {"type": "string", "enum": ["x", "y"]},
    }
    required = Tool("req", "d", {"type": "object", "properties": props, "required": ["a"]}, run)
    text = build_grammar([required], allow_none=False)
    assert text.splitlines()[0] == "root ::= call-req"
    assert (
        'call-req ::= "req\\",\\"args\\":{" "\\"a\\":" [1-9] [0-9]{0,2} '
        '("," "\\"b\\":" ("true" | "false"))? ("," "\\"c\\":" ("\\"x\\"" | "\\"y\\""))? "}}"'
    ) in text
    optional = Tool("opt", "d", {"type": "object", "properties": props}, run)
    assert compile_grammar(build_grammar([optional])) is not None
    empty = Tool("nothing", "d", {"type": "object", "properties": {}}, run)
    assert 'call-nothing ::= "nothing\\",\\"args\\":{" "" "}}"' in build_grammar([empty])
    with pytest.raises(ValueError):
        build_grammar([], allow_none=False)


def test_parse_call() -> None:
    call = parse_call('set_timer","args":{"seconds":300}}')
    assert (call.tool, call.args) == ("set_timer", {"seconds": 300})
    assert call.text == CALL_OPEN + 'set_timer","args":{"seconds":300}}'
    assert parse_call('none"}').tool == "none"
    with pytest.raises(CallError, match="incomplete"):
        parse_call('add_note","args":{"text":"cut off')
    with pytest.raises(CallError, match="not a tool call"):
        parse_call('x","tool":7}')


def test_tool_block_is_short() -> None:
    block = tool_instructions(TOOLS)
    # One line per tool plus the example: every word here is prefill on a tool turn.
    assert len(block.splitlines()) == len(TOOLS) + 4  # 2 blank, header, example
    assert len(block) < 1200
