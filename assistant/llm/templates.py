"""Chat formats: how a conversation becomes one prompt string.

Rendering is deterministic and append-only: the prompt for turn N+1 starts with
the exact text of turn N's prompt followed by turn N's reply. That is what lets
the engine reuse the KV cache and evaluate only the new tokens of each turn.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Literal, Protocol

Role = Literal["system", "user", "assistant"]


@dataclass(frozen=True)
class Message:
    role: Role
    content: str
    origin: str = ""
    """Who wrote a reply: "" (the model or the user), or "rule", "tool",
    "system" for Parley's own words (llm/prompt.py keeps them from being copied)."""


class ChatFormat(Protocol):
    name: str
    stop: tuple[str, ...]
    """Text that ends a reply when the model writes it (beside its EOS token)."""

    def render(self, messages: Sequence[Message], add_generation_prompt: bool = True) -> str:
        """The prompt for `messages`, ending with the assistant's turn opener
        (without it: a prefix that every later prompt starts with)."""
        ...


@dataclass(frozen=True)
class PlainFormat:
    """For base models with no chat template: a transcript the model continues.

    A few example exchanges in the header teach a base model to answer in one
    short line; the stop sequences end the reply before it writes the user's
    next line.
    """

    name: str = "plain"
    user_label: str = "User"
    assistant_label: str = "Parley"

    @property
    def stop(self) -> tuple[str, ...]:
        return (f"\n{self.user_label}:", f"\n{self.assistant_label}:", "\n\n")

    def render(self, messages: Sequence[Message], add_generation_prompt: bool = True) -> str:
        parts: list[str] = []
        for m in messages:
            if m.role == "system":
                parts.append(f"{m.content}\n\n")
            elif m.role == "user":
                parts.append(f"{self.user_label}: {m.content}\n")
            else:
                parts.append(f"{self.assistant_label}: {m.content}\n")
        if add_generation_prompt:
            parts.append(f"{self.assistant_label}:")
        return "".join(parts)


@dataclass(frozen=True)
class GemmaFormat:
    """Gemma 2/3 instruct turns. Gemma has no system role: the system text
    opens the first user turn, as Google's own template does."""

    name: str = "gemma"
    stop: tuple[str, ...] = ("<end_of_turn>",)

    def render(self, messages: Sequence[Message], add_generation_prompt: bool = True) -> str:
        out = ["<bos>"]
        system = ""
        for m in messages:
            if m.role == "system":
                system = m.content + "\n\n"
                continue
            role = "model" if m.role == "assistant" else "user"
            out.append(f"<start_of_turn>{role}\n{system}{m.content}<end_of_turn>\n")
            system = ""
        if system:  # only a system prompt so far: the opening of the first user turn
            out.append(f"<start_of_turn>user\n{system}")
            return "".join(out)
        if add_generation_prompt:
            out.append("<start_of_turn>model\n")
        return "".join(out)


@dataclass(frozen=True)
class ChatMLFormat:
    """ChatML (Qwen, many fine-tunes)."""

    name: str = "chatml"
    stop: tuple[str, ...] = ("<|im_end|>", "<|endoftext|>")

    def render(self, messages: Sequence[Message], add_generation_prompt: bool = True) -> str:
        out = [f"<|im_start|>{m.role}\n{m.content}<|im_end|>\n" for m in messages]
        if add_generation_prompt:
            out.append("<|im_start|>assistant\n")
        return "".join(out)


@dataclass(frozen=True)
class Llama3Format:
    """Llama 3.x instruct headers."""

    name: str = "llama3"
    stop: tuple[str, ...] = ("<|eot_id|>", "<|end_of_text|>")

    def render(self, messages: Sequence[Message], add_generation_prompt: bool = True) -> str:
        out = ["<|begin_of_text|>"]
        for m in messages:
            out.append(f"<|start_header_id|>{m.role}<|end_header_id|>\n\n{m.content}<|eot_id|>")
        if add_generation_prompt:
            out.append("<|start_header_id|>assistant<|end_header_id|>\n\n")
        return "".join(out)


@dataclass(frozen=True)
class JinjaFormat:
    """The chat template stored in the GGUF's own metadata, rendered with
    llama-cpp-python's Jinja2 formatter (the same one its chat API uses)."""

    template: str
    bos_token: str
    eos_token: str
    name: str = "gguf"

    @property
    def stop(self) -> tuple[str, ...]:
        return (self.eos_token,) if self.eos_token else ()

    def render(self, messages: Sequence[Message], add_generation_prompt: bool = True) -> str:
        from llama_cpp.llama_chat_format import Jinja2ChatFormatter

        formatter = Jinja2ChatFormatter(
            template=self.template,
            eos_token=self.eos_token,
            bos_token=self.bos_token,
            add_generation_prompt=add_generation_prompt,
        )
        result = formatter(messages=[{"role": m.role, "content": m.content} for m in messages])
        return result.prompt


BASE_MODEL_EXAMPLES = (
    Message("user", "Who invented the telephone?"),
    Message("assistant", "Alexander Graham Bell invented the telephone."),
    Message("user", "And the light bulb?"),
    Message("assistant", "Thomas Edison made the first practical light bulb."),
    Message("user", "My tortoise is twelve years old. How old is it?"),
    Message("assistant", "Your tortoise is twelve."),
    Message("user", "Can you switch off the television?"),
    Message("assistant", "I can't control devices. I can set timers, take notes and open apps."),
)
"""Base models have no instructions to follow: example exchanges after the
system text show them a spoken answer: short, answering the question (a
follow-up from its context), no claim of an action it cannot do. Few and short:
they are in every prompt (a long request gets room by `llm/prompt.py`
`wants_long`, not by an example). Their facts are far from what users ask, so a copied
example stands out (`parley bench answers` checks for copies)."""


NAMED_FORMATS: dict[str, ChatFormat] = {
    "plain": PlainFormat(),
    "gemma": GemmaFormat(),
    "chatml": ChatMLFormat(),
    "llama3": Llama3Format(),
}


def choose_format(
    metadata: dict[str, str],
    named: str = "",
    *,
    bos: str = "",
    eos: str = "",
    fallback: str = "",
) -> tuple[ChatFormat, str]:
    """Pick the chat format: a name from settings wins, then the GGUF's own
    template, then `fallback` (the model catalog's name for it), then the plain
    transcript for base models. Returns the format and a sentence saying why,
    for the log."""
    for name in (named, fallback):
        if name and name not in NAMED_FORMATS:
            known = ", ".join(NAMED_FORMATS)
            raise ValueError(f"unknown chat template {name!r} (known: {known})")
    if named:
        return NAMED_FORMATS[named], f"chat template {named!r} from settings"
    template = metadata.get("tokenizer.chat_template", "")
    if template:
        return JinjaFormat(template, bos, eos), "chat template from the GGUF metadata"
    if fallback:
        return NAMED_FORMATS[fallback], f"chat template {fallback!r} from the model catalog"
    return PlainFormat(), "no chat template in the GGUF: plain transcript format (base model)"
