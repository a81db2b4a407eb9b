"""Fitting a conversation into the model's context window by a token budget.

Budget = n_ctx - reply reserve. The system prompt (with tool descriptions) is
always kept; the newest turns are kept; older turns drop out.

Dropping is done in steps, not one turn at a time: when the conversation no
longer fits, the window's start jumps forward until the prompt fills at most
`refill_fraction` of the budget. Every drop changes the prompt's beginning and
costs one full prefill, so dropping a big block at once makes that happen rarely
instead of on every turn (between drops each prompt extends the previous one and
the KV cache is reused).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field

from assistant.llm.templates import Message

PromptCounter = Callable[[Sequence[Message]], int]


MIN_MESSAGE_ROOM = 48
"""Tokens a prompt must leave for the user's message (a long spoken sentence):
with less, no ordinary message fits, and a setting is to blame, not the words."""


class ContextOverflow(Exception):
    """The newest user message alone does not fit the context window.

    `fixed` is the part every prompt starts with (system prompt and tool
    descriptions). When it leaves no room for an ordinary message
    (`fixed_part`), the user's words are not the cause: the caller names the
    setting that is (dialogue/manager.py)."""

    def __init__(self, needed: int, available: int, fixed: int = 0) -> None:
        self.needed = needed
        self.available = available
        self.fixed = fixed
        if self.fixed_part:
            text = (
                f"The start of every prompt (system prompt and tools) takes {fixed} of the "
                f"{available} tokens a prompt may use: no message fits."
            )
        else:
            text = (
                f"That message is too long for the model: it needs {needed - fixed} tokens "
                f"and only {available - fixed} fit. Please say it in fewer words."
            )
        super().__init__(text)

    @property
    def fixed_part(self) -> bool:
        return self.available - self.fixed < MIN_MESSAGE_ROOM


@dataclass
class ContextWindow:
    """Keeps the index of the oldest turn still in context; it only moves forward."""

    n_ctx: int
    reply_reserve: int
    refill_fraction: float = 0.6
    start: int = 0
    dropped_total: int = field(default=0)

    @property
    def budget(self) -> int:
        return self.n_ctx - self.reply_reserve

    def fit(self, turns: Sequence[Message], prompt_tokens: PromptCounter) -> list[Message]:
        """The newest turns that fit, oldest first.

        `turns` is the whole conversation (user/assistant), oldest first, ending
        with the new user message. `prompt_tokens(kept)` counts the tokens of the
        full prompt (system prompt, tools and `kept`) as it will be sent. Raises
        ContextOverflow when even the new message alone exceeds the budget
        (with what the prompt's fixed start, `prompt_tokens([])`, takes).
        """
        if self.start > len(turns) - 1:
            self.start = max(0, len(turns) - 1)
        if prompt_tokens(turns[self.start :]) <= self.budget:
            return list(turns[self.start :])
        last = len(turns) - 1
        alone = prompt_tokens(turns[last:])
        if alone > self.budget:
            raise ContextOverflow(alone, self.budget, prompt_tokens([]))
        target = int(self.budget * self.refill_fraction)
        # Smallest start (most history) whose prompt fits under the target; the
        # kept window must start with a user turn so roles still alternate.
        first = self.start + 1
        while first < last and (
            turns[first].role != "user" or prompt_tokens(turns[first:]) > target
        ):
            first += 1
        self.dropped_total += first - self.start
        self.start = first
        return list(turns[first:])
