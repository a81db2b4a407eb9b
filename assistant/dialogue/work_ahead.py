"""Work on the model before a turn needs it, so the end of the user's turn
leaves little to evaluate (docs/ARCHITECTURE.md, "Nothing twice" and
Turn-taking):

- `prepare_next_turn`: after a reply, the prompt up to where the user's next
  words will go;
- `listen_ahead`: while the user speaks, the prompt up to the words so far;
- `speculate`: at a pause, the reply's first tokens (or, for a turn that may
  call a tool, its prompt).

None of it writes history or sends events; what a turn does not use is only
lost work. A rule-answered request needs none of it.
"""

from __future__ import annotations

import logging
from collections.abc import Callable

from assistant.config import Settings
from assistant.dialogue import intents
from assistant.dialogue.intents import RULE_CONFIDENCE
from assistant.llm.engine import LlmEngine, LlmError
from assistant.llm.prompt import min_reply_tokens
from assistant.llm.provider import LlmProvider, LlmState
from assistant.llm.templates import Message

log = logging.getLogger(__name__)

SPECULATE_TOKENS = 12
"""Tokens generated ahead at a pause: about the first clause (6 words)."""
_MARK = "\x00"
"""Stands in for the user's words in a rendered prompt, to cut it there."""


class WorkAhead:
    """Evaluates prompts (and a reply's start) into the model's KV cache
    ahead of the turn that will use them.

    Thread: the brain thread, between turns (the pipeline queues
    `_ListenAhead` and `_Speculate` there and runs `prepare_next_turn` after
    a reply): the engine is the turn's, so this work never overlaps one.
    `should_stop` lets a waiting turn end it between chunks. Only a model
    already loaded is used: this never starts or waits for loading.
    """

    def __init__(
        self,
        *,
        llm: LlmProvider | None,
        prompt: Callable[[LlmEngine, str], list[Message]],
        settings: Callable[[], Settings],
        might_call_tool: Callable[[str], bool],
    ) -> None:
        self._llm = llm
        self._prompt = prompt
        """The prompt the conversation would send with the given words as the
        next user turn (`DialogueManager._next_prompt`)."""
        self._settings = settings  # a getter: the manager's may be replaced
        self._might_call_tool = might_call_tool

    def prepare_next_turn(self, should_stop: Callable[[], bool] | None = None) -> int:
        """Evaluate the prompt up to the next user turn's words: the reply
        just given (rule replies are not in the KV cache yet), its end-of-turn
        markup and the user-turn opener. Returns the tokens evaluated."""
        return self._prefill(_MARK, lambda text: text[: text.index(_MARK)].rstrip(" "), should_stop)

    def listen_ahead(self, words: str, should_stop: Callable[[], bool] | None = None) -> int:
        """Evaluate the prompt up to `words`, what the user has said so far.
        Nothing when a rule will answer. Returns the tokens evaluated."""
        words = " ".join(words.split())
        if not words or _rule_answers(words):
            return 0

        def upto_words(text: str) -> str:
            return text[: text.index(_MARK)] if _MARK in text else ""

        return self._prefill(words + _MARK, upto_words, should_stop)

    def speculate(self, text: str, should_stop: Callable[[], bool] | None = None) -> int:
        """The user paused after `text`: generate the reply's first
        SPECULATE_TOKENS (`generate_ahead`; the engine keeps them for a turn
        with the same prompt). A turn that may call a tool has its prompt
        evaluated only: its reply may not be words. Returns the tokens made or
        evaluated; 0 when a rule will answer."""
        text = " ".join(text.split())
        if not text or _rule_answers(text):
            return 0  # a rule answers: nothing to warm up
        if self._might_call_tool(text):
            return self._prefill(text, lambda prompt: prompt, should_stop)
        return self._with_prompt(
            text,
            lambda engine, prompt: engine.generate_ahead(
                prompt,
                temperature=self._settings().temperature,
                budget=SPECULATE_TOKENS,
                should_stop=should_stop,
                min_tokens=min_reply_tokens(text),
            ),
        )

    def _prefill(
        self,
        user_text: str,
        cut: Callable[[str], str],
        should_stop: Callable[[], bool] | None = None,
    ) -> int:
        """Evaluate into the KV cache `cut(prompt)`, where prompt is the one the
        conversation would send with `user_text` as the next user turn."""
        return self._with_prompt(
            user_text,
            lambda engine, prompt: engine.prefill_text(cut(engine.render(prompt)), should_stop),
        )

    def _with_prompt(self, user_text: str, work: Callable[[LlmEngine, list[Message]], int]) -> int:
        """`work(engine, prompt)` with the prompt for `user_text`; 0 without a
        loaded model, or when the model fails (the turn will say why)."""
        if self._llm is None or self._llm.state is not LlmState.READY:
            return 0
        engine = self._llm.get(0)
        if engine is None:
            return 0
        prompt = self._prompt(engine, user_text)
        try:
            return work(engine, prompt)
        except LlmError as e:
            log.warning("background work on the model failed: %s", e)
            return 0


def _rule_answers(text: str) -> bool:
    intent = intents.parse(text)
    return intent is not None and intent.confidence >= RULE_CONFIDENCE
