"""Tool calls under a grammar: a GBNF grammar built from the tool schemas, so
whatever the model writes is one valid JSON call naming a real tool (or the
"none" marker: no tool, just talk).

The call has one compact shape, with no free whitespace anywhere:

    {"tool":"set_timer","args":{"seconds":300,"label":"tea"}}
    {"tool":"none"}

Why it is built this way (llama.cpp / llama-cpp-python issue trackers):
- Whitespace rules like `ws ::= [ \\t\\n]*` let a constrained model loop on
  blank space until max_tokens; here JSON is compact and whitespace never
  appears outside strings.
- Every string has a maximum length and every call a `max_tokens`, so a
  constrained generation always ends.
- The fixed opening `{"tool":"` is written into the prompt, not sampled:
  prompt tokens are evaluated in one batch, sampled ones one by one, and
  grammar sampling over Gemma's 262k-token vocabulary is the slow part.
- The prompt extends the ordinary one (same conversation, same rendering) so
  the KV cache is reused up to the user's words.

`complete()` runs a grammar-constrained generation on an `LlmEngine`'s model
under the engine's lock, with the engine's own prefix reuse.
"""

from __future__ import annotations

import ctypes
import json
import logging
import time
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from functools import lru_cache
from typing import Any, Protocol

import numpy as np

from assistant.events import ErrorCode
from assistant.llm.cancel import CancelToken
from assistant.llm.engine import GenerationStats, LlmEngine, LlmError

log = logging.getLogger(__name__)


class Tool(Protocol):
    """What the grammar reads of a tool: `dialogue.tools.Tool` has it (llm does
    not import dialogue, which sits above it)."""

    name: str
    description: str

    @property
    def properties(self) -> dict[str, dict[str, Any]]: ...

    @property
    def required(self) -> tuple[str, ...]: ...

    def signature(self) -> str: ...


CALL_OPEN = '{"tool":"'
"""Written into the prompt: the grammar covers what follows it."""
NONE = "none"
MAX_CALL_TOKENS = 96
"""A call longer than this is cut off (and then rejected as incomplete)."""


@dataclass(frozen=True)
class ToolCall:
    tool: str
    """A tool name, or NONE when the model chose to answer in words."""
    args: dict[str, Any]
    text: str
    """The call exactly as written (CALL_OPEN included)."""


class CallError(ValueError):
    """What the model wrote is not a complete call (cut off by max_tokens)."""


# --- the grammar ------------------------------------------------------------------


def _lit(text: str) -> str:
    """A GBNF string literal for `text`."""
    return '"' + text.replace("\\", "\\\\").replace('"', '\\"') + '"'


def _rule_name(*parts: str) -> str:
    return "-".join(p.replace("_", "-") for p in parts).lower()


def _value(rules: dict[str, str], prop: dict[str, Any]) -> str:
    """The GBNF expression for one argument value (adding helper rules)."""
    if "enum" in prop:
        return "(" + " | ".join(_lit(json.dumps(v)) for v in prop["enum"]) + ")"
    kind = prop["type"]
    if kind == "boolean":
        return '("true" | "false")'
    if kind in ("integer", "number"):
        low, high = prop.get("minimum"), prop.get("maximum")
        digits = len(str(int(max(abs(low or 0), abs(high or 0))))) if high is not None else 9
        sign = '"-"? ' if low is None or low < 0 else ""
        lead = "[1-9]" if low is not None and low >= 1 else None
        if lead:
            whole = f"[1-9] [0-9]{{0,{max(0, digits - 1)}}}"
        else:
            whole = f'("0" | [1-9] [0-9]{{0,{max(0, digits - 1)}}})'
        frac = ' ("." [0-9]{1,6})?' if kind == "number" else ""
        return f"{sign}{whole}{frac}"
    # string: JSON characters without control characters, bounded length
    rules["char"] = r'[^"\\\x00-\x1f] | "\\" ["\\/bfnrt]'
    low, high = int(prop.get("minLength", 0)), int(prop["maxLength"])
    return f'"\\"" char{{{low},{high}}} "\\""'


def _pair(rules: dict[str, str], name: str, prop: dict[str, Any]) -> str:
    return f"{_lit(json.dumps(name) + ':')} {_value(rules, prop)}"


def _args_rule(rules: dict[str, str], tool: Tool) -> str:
    """Compact JSON object: required arguments in schema order, then any of
    the optional ones, in order, each at most once."""
    props = tool.properties
    required = [n for n in props if n in tool.required]
    optional = [n for n in props if n not in tool.required]
    if required:
        head = ' "," '.join(_pair(rules, n, props[n]) for n in required)
        tail = "".join(f' ("," {_pair(rules, n, props[n])})?' for n in optional)
        return head + tail
    if not optional:
        return '""'
    # No required argument: none, or a run of optional ones starting anywhere.
    starts = []
    for i, n in enumerate(optional):
        rest = "".join(f' ("," {_pair(rules, m, props[m])})?' for m in optional[i + 1 :])
        starts.append(_pair(rules, n, props[n]) + rest)
    return "(" + " | ".join(f"({s})" for s in starts) + ")?"


def build_grammar(tools: Iterable[Tool], allow_none: bool = True) -> str:
    """GBNF for what follows CALL_OPEN: one call of one of `tools`, or "none"."""
    rules: dict[str, str] = {}
    alternatives = []
    if allow_none:
        alternatives.append(_lit(NONE + '"}'))
    for tool in tools:
        name = _rule_name("call", tool.name)
        opening = _lit(tool.name + '","args":{')
        rules[name] = f"{opening} {_args_rule(rules, tool)} {_lit('}}')}"
        alternatives.append(name)
    if not alternatives:
        raise ValueError("a tool grammar needs at least one tool or the none marker")
    lines = [f"root ::= {' | '.join(alternatives)}"]
    lines += [f"{k} ::= {v}" for k, v in rules.items()]
    return "\n".join(lines) + "\n"


@lru_cache(maxsize=8)
def compile_grammar(text: str) -> Any:
    """The llama-cpp-python grammar object for GBNF `text` (parsed once)."""
    from llama_cpp import LlamaGrammar

    try:
        return LlamaGrammar.from_string(text, verbose=False)
    except (ValueError, RuntimeError) as e:
        raise LlmError(
            ErrorCode.GRAMMAR_INVALID, f"The tool-call grammar does not parse: {e}"
        ) from e


# --- parsing ----------------------------------------------------------------------


def parse_call(generated: str) -> ToolCall:
    """The call in CALL_OPEN + `generated`; CallError when it is incomplete."""
    text = CALL_OPEN + generated
    try:
        obj = json.loads(text)
    except json.JSONDecodeError as e:
        raise CallError(f"the tool call is incomplete: {text[:120]!r}") from e
    if not isinstance(obj, dict) or not isinstance(obj.get("tool"), str):
        raise CallError(f"not a tool call: {text[:120]!r}")
    args = obj.get("args", {})
    return ToolCall(obj["tool"], args if isinstance(args, dict) else {}, text)


# --- generation -------------------------------------------------------------------


def complete(
    engine: LlmEngine,
    prompt: str,
    grammar_text: str,
    *,
    max_tokens: int = MAX_CALL_TOKENS,
    cancel: CancelToken | None = None,
    stats: GenerationStats | None = None,
) -> str:
    """Generate under `grammar_text` after `prompt` (which ends with
    CALL_OPEN); returns the text after it. Greedy: a call should be the
    model's likeliest, not a creative one. Stops as soon as the text is a
    complete call, at EOS, at `max_tokens` or on `cancel`.

    Sampling is ours, not `Llama.generate`'s: its chain runs the grammar over
    the whole vocabulary (262k tokens for Gemma) before choosing, about a
    second per token here. We offer the grammar the TOP_CANDIDATES likeliest
    tokens first and take the best it allows; only when it allows none of
    them is the whole vocabulary checked (llama.cpp's own "resampling")."""
    import llama_cpp

    stats = stats if stats is not None else GenerationStats()
    compile_grammar(grammar_text)  # a grammar that does not parse fails here, clearly
    t0 = time.monotonic()
    raw = b""
    out = ""
    generated: list[int] = []
    with engine.own_decoding(prompt) as model:
        if len(model.tokens) + max_tokens > model.n_ctx:
            raise LlmError(ErrorCode.CONTEXT_FULL, "The conversation is too long for a tool call.")
        stats.prompt_tokens = len(model.tokens)
        stats.evaluated_tokens = len(model.tokens) - model.reused
        stats.finish = "length"
        sampler = llama_cpp.llama_sampler_init_grammar(
            model.vocab, grammar_text.encode("utf-8"), b"root"
        )
        if not sampler:
            raise LlmError(ErrorCode.GRAMMAR_INVALID, "llama.cpp refused the tool-call grammar.")
        try:
            model.start()
            while stats.generated_tokens < max_tokens:
                if cancel is not None and cancel.cancelled:
                    stats.finish = "cancelled"
                    break
                logits = model.logits()
                if generated:  # greedy text repeats itself: damp that
                    logits = logits.copy()
                    seen = np.array(sorted(set(generated)), dtype=np.int64)
                    hit = logits[seen]
                    logits[seen] = np.where(hit > 0, hit / REPEAT_PENALTY, hit * REPEAT_PENALTY)
                token = _pick(llama_cpp, sampler, logits)
                generated.append(token)
                if stats.generated_tokens == 0:
                    stats.first_token_ms = (time.monotonic() - t0) * 1000
                stats.generated_tokens += 1
                if token < 0 or model.is_end(token):
                    stats.finish = "eos"
                    break
                llama_cpp.llama_sampler_accept(sampler, token)
                raw += model.detokenize([token])
                out = raw.decode("utf-8", "ignore")
                if out.endswith("}") and _complete(out):
                    stats.finish = "stop"
                    break
                model.accept(token)
        finally:
            llama_cpp.llama_sampler_free(sampler)
            stats.total_ms = (time.monotonic() - t0) * 1000
    return out


REPEAT_PENALTY = 1.3
"""As llama.cpp's repeat penalty, on the tokens this call already wrote."""
TOP_CANDIDATES = (48, 4096)
"""The likeliest tokens offered to the grammar, in widening rounds, before the
whole vocabulary is: most steps end in the first round."""
_TOKEN_DATA = np.dtype([("id", np.int32), ("logit", np.float32), ("p", np.float32)])


def _pick(llama_cpp: Any, sampler: Any, logits: np.ndarray) -> int:
    """The likeliest token the grammar allows (-1 when it allows none)."""
    rounds: list[np.ndarray | None] = []
    for k in TOP_CANDIDATES:
        if k < len(logits):
            top = np.argpartition(logits, -k)[-k:]
            rounds.append(top[np.argsort(-logits[top])])
    for ids in (*rounds, None):  # None: the whole vocabulary
        cand = np.zeros(len(logits) if ids is None else len(ids), dtype=_TOKEN_DATA)
        cand["id"] = np.arange(len(logits)) if ids is None else ids
        cand["logit"] = logits if ids is None else logits[ids]
        array = llama_cpp.llama_token_data_array(
            data=cand.ctypes.data_as(ctypes.POINTER(llama_cpp.llama_token_data)),
            size=len(cand),
            selected=-1,
            sorted=ids is not None,
        )
        llama_cpp.llama_sampler_apply(sampler, ctypes.byref(array))
        allowed = np.isfinite(cand["logit"])
        if allowed.any():
            return int(cand["id"][np.argmax(np.where(allowed, cand["logit"], -np.inf))])
    return -1


def _complete(generated: str) -> bool:
    try:
        json.loads(CALL_OPEN + generated)
    except json.JSONDecodeError:
        return False
    return True


# --- the prompt -------------------------------------------------------------------


def tool_list(tools: Sequence[Tool]) -> str:
    """The tools as the model sees them: one short line each."""
    return "\n".join(f"{t.signature()}: {t.description}" for t in tools)


def tool_instructions(tools: Sequence[Tool]) -> str:
    """The tool list as it ends the system prompt. Kept short: it is prefilled
    once at load, but it takes room in the context window."""
    return (
        "\n\nYou can use these tools:\n"
        + tool_list(tools)
        + '\nUse one by replying with JSON: {"tool":"NAME","args":{...}}.'
    )
