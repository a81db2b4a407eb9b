"""Chat formats: how a conversation becomes one prompt string.

Rendering is deterministic and append-only: the prompt for turn N+1 starts with
the exact text of turn N's prompt followed by turn N's reply. That is what lets
the engine reuse the KV cache and evaluate only the new tokens of each turn.
"""

from __future__ import annotations

import functools
import re
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any, Literal, Protocol

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
    llama-cpp-python's Jinja2 formatter (the same one its chat API uses).

    `fold_system`: the template has no system role (Gemma 2's raises "System
    role not supported"): the system text opens the first user turn instead,
    as GemmaFormat does."""

    template: str
    bos_token: str
    eos_token: str
    name: str = "gguf"
    fold_system: bool = False

    @property
    def stop(self) -> tuple[str, ...]:
        return (self.eos_token,) if self.eos_token else ()

    def render(self, messages: Sequence[Message], add_generation_prompt: bool = True) -> str:
        formatter = _jinja(self.template, self.eos_token, self.bos_token, add_generation_prompt)
        turns = [{"role": m.role, "content": m.content} for m in messages]
        if not self.fold_system:
            return formatter(messages=turns).prompt
        if all(t["role"] == "system" for t in turns):
            # Only the system text so far (the prefill at load): the opening of
            # the first user turn, which every later prompt starts with.
            mark = "\x00"
            turns.append({"role": "user", "content": mark})
            text = formatter(messages=_fold_system(turns)).prompt
            return text[: text.index(mark)] if mark in text else ""
        return formatter(messages=_fold_system(turns)).prompt


@functools.lru_cache(maxsize=8)
def _jinja(template: str, eos: str, bos: str, add_generation_prompt: bool) -> Any:
    """The compiled template (compiling it costs more than rendering a turn)."""
    from llama_cpp.llama_chat_format import Jinja2ChatFormatter

    return Jinja2ChatFormatter(
        template=template, eos_token=eos, bos_token=bos,
        add_generation_prompt=add_generation_prompt,
    )  # fmt: skip


def _fold_system(turns: list[dict[str, str]]) -> list[dict[str, str]]:
    system = "".join(t["content"] + "\n\n" for t in turns if t["role"] == "system")
    rest = [dict(t) for t in turns if t["role"] != "system"]
    if not system:
        return rest
    if rest and rest[0]["role"] == "user":
        rest[0]["content"] = system + rest[0]["content"]
        return rest
    return [{"role": "user", "content": system.rstrip()}, *rest]


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
example stands out (`parley bench answers` checks for copies).
A greedy base model falls back on the example nearest the question: with the
refusal last it gives that line, word for word, to 8 of the bench's open
questions ("what is the opposite of hot"). With the refusal first it gave it to
none at the same facts score, but "yes open it" with nothing pending then made
it invent an app to open (tests/integration/test_honest_words.py), so the order
stays until an example set does both. The copy guard (llm/copy_guard.py) now
ends such a copy after three words; the model still refuses, in words of its
own ("what gas do plants take in" -> "I can't control the air."): no leak, and
no answer either (facts + follow-ups 50.0 % with and without the guard).
Measured on the bench and on 31 held-out prompts (issue 15, greedy): the
"yes open it" test passes almost only with the refusal last (mid or first, the
model writes an open_app call). A refusal worded for its own question stops the
copies but no longer refuses: "No, the television isn't connected to me." gave
leaks 0 and facts + follow-ups 57.9 % (held-out 56.2 %), yet 6 of 8 requests no
tool can do got a promise the claim gate does not know ("I'll buy you a train
ticket to Leeds."); "I can't control the television. I can set timers, ..."
still leaked (5-6) at 42-45 %. A fifth example (~20 tokens: header 376-388 of
the 200-turn test's 400) likely overflows that test (estimated, not run). None
beat this set on every count. With the claim gate's "world" family correcting
those promises, the question-specific refusal was shipped and then taken back:
its "No, the ..." made the model decline a tool request ("I would like a 10
minute countdown going for my tea" -> "No, the 10 minute countdown is for
you.", tests/integration/test_tools_llm.py). Tried again with the guard on
(bench, greedy): that refusal 57.9 % (the same tool test fails); it with "I can
set timers, take notes and open apps." after it 60.5 %, but "Yes, the front
door is locked." and a heard "I'll make it."; "I can't switch off the
television. I can set timers, ..." 34.2 %; the request as an imperative
("Switch off the television.") 47.4 %, "Turn the television off, please."
44.7 %; banning the refusal's opening in answers to wh-questions 50.0 % ("I
can set a timer." for "what is the opposite of hot")."""


NAMED_FORMATS: dict[str, ChatFormat] = {
    "plain": PlainFormat(),
    "gemma": GemmaFormat(),
    "chatml": ChatMLFormat(),
    "llama3": Llama3Format(),
}


@dataclass(frozen=True)
class FormatWarning:
    """A chat format that does not fit the model, found at load: what is
    wrong and the fix, in plain words (the log, a notice, `parley doctor`)."""

    problem: str
    fix: str

    def __str__(self) -> str:
        return f"{self.problem} {self.fix}"


@dataclass(frozen=True)
class FormatChoice:
    format: ChatFormat
    reason: str
    """Why this format, one sentence for the log."""
    warnings: tuple[FormatWarning, ...] = field(default=())


TEMPLATE_MARKERS = (
    "<|", "<start_of_turn>", "<end_of_turn>", "<bos>", "<eos>", "<s>", "</s>", "[INST]",
    "[/INST]",
)  # fmt: skip
"""Template markup that ends any reply where the model writes it (beside each
format's own stops): a model in a format it was not trained on writes the next
turn's header as text, and the user must never see or hear it."""

SETTING_NAME = "the chat template setting (chat_template; Prompt format in the app's settings)"
_FAMILY_MARKS = {
    "gemma": "<start_of_turn>", "chatml": "<|im_start|>", "llama3": "<|start_header_id|>",
}  # fmt: skip
_FAMILY_LABELS = {"gemma": "Gemma", "chatml": "ChatML (Qwen)", "llama3": "Llama 3"}
_INSTRUCT_WORD = re.compile(r"(?i)(?<![a-z0-9])(instruct|it|chat)(?![a-z0-9])")
_PROBE = (
    Message("system", "Probe system text."),
    Message("user", "Probe question one?"),
    Message("assistant", "Probe answer one."),
    Message("user", "Probe question two?"),
)
"""A conversation of every role a Parley prompt has: a template must render it
with every message's words in it, or it is not used."""


def model_name(metadata: dict[str, str], filename: str = "") -> str:
    return metadata.get("general.name", "") or filename or "this model"


def template_family(template: str) -> str:
    """The NAMED_FORMATS name whose markup a Jinja template writes ("" for none)."""
    return next((name for name, mark in _FAMILY_MARKS.items() if mark in template), "")


def family_format(metadata: dict[str, str], filename: str = "") -> str:
    """The chat format the model's family uses, from its architecture and name
    ("" when it cannot be told)."""
    arch = metadata.get("general.architecture", "").lower()
    names = f"{metadata.get('general.name', '')} {metadata.get('general.basename', '')} {filename}"
    if arch.startswith("gemma"):
        return "gemma"
    if arch.startswith("qwen"):
        return "chatml"
    if arch == "llama" and re.search(r"(?i)llama[\s._-]?3", names):
        return "llama3"
    return ""


def instruct_evidence(metadata: dict[str, str], filename: str = "") -> str:
    """What says the model is tuned for chat ("" for nothing): an instruct,
    "it" or chat fine-tune in its GGUF metadata (general.finetune,
    general.name) or in its file name."""
    for key in ("general.finetune", "general.name"):
        value = metadata.get(key, "")
        if _INSTRUCT_WORD.search(value):
            return f"its {key} is {value!r}"
    if _INSTRUCT_WORD.search(filename.removesuffix(".gguf")):
        return f"its file name is {filename!r}"
    return ""


def gguf_format(template: str, bos: str = "", eos: str = "") -> tuple[JinjaFormat | None, str]:
    """The GGUF's template as a format, tried on a probe conversation: as it
    is, then with the system text folded into the first user turn (templates
    without a system role). (None, why) when it cannot render a Parley prompt."""
    problem = ""
    for fold in (False, True):
        fmt = JinjaFormat(template, bos, eos, fold_system=fold)
        why = _probe_problem(fmt)
        if not why:
            return fmt, ""
        problem = problem or why  # the template as it is says best what is wrong
    return None, problem


def _probe_problem(fmt: JinjaFormat) -> str:
    """Why `fmt` cannot render the probe conversation ("" when it can)."""
    try:
        text = fmt.render(_PROBE)
        fmt.render(_PROBE[:3], add_generation_prompt=False)
        fmt.render(_PROBE[:1], add_generation_prompt=False)
    except Exception as e:  # any template error: syntax, raise_exception, bad fields
        return _template_error(e)
    if not isinstance(text, str) or any(m.content not in text for m in _PROBE):
        return "it leaves the conversation's words out of the prompt"
    return ""


def _template_error(e: Exception) -> str:
    lineno = getattr(e, "lineno", None)
    where = f" (line {lineno})" if lineno else ""
    if type(e).__name__ == "TemplateSyntaxError":
        first = str(getattr(e, "message", None) or e).split(". ")[0].rstrip(".")
        return f"it uses Jinja that Parley cannot run: {first}{where}"
    text = " ".join(str(e).split())
    text = text if len(text) <= 160 else text[:157] + "..."
    return f"it fails to render: {type(e).__name__}: {text}{where}"


def setting_warnings(
    metadata: dict[str, str], named: str, filename: str = ""
) -> tuple[FormatWarning, ...]:
    """A chat template setting that does not fit the model: `plain` for a
    model with its own chat template, a chat format for a base model, or
    another family's format."""
    if not named:
        return ()
    model = model_name(metadata, filename)
    template = metadata.get("tokenizer.chat_template", "")
    own = template_family(template)
    clear = f"Clear {SETTING_NAME}: this model has its own chat template."
    if named == "plain":
        if not template:
            return ()
        return (
            FormatWarning(
                f"{model} has its own chat template (an instruct model), but the chat "
                "template setting is 'plain', the transcript format for base models.",
                clear,
            ),
        )
    if template:
        if own and own != named:
            return (
                FormatWarning(
                    f"The chat template setting is {named!r}, but {model}'s own chat "
                    f"template is {_FAMILY_LABELS[own]}.",
                    clear,
                ),
            )
        return ()
    evidence = instruct_evidence(metadata, filename)
    if not evidence:
        return (
            FormatWarning(
                f"{model} looks like a base model (no chat template in the file, and "
                f"nothing in its metadata or name says instruct), but the chat template "
                f"setting is {named!r}, a format for instruct models: a base model does "
                "not know those turns and answers poorly.",
                f"Clear {SETTING_NAME}: Parley then talks to a base model as a transcript.",
            ),
        )
    family = family_format(metadata, filename)
    if family and family != named:
        return (
            FormatWarning(
                f"The chat template setting is {named!r}, but {model} is of a family "
                f"that uses {_FAMILY_LABELS[family]}.",
                f"Set {SETTING_NAME} to {family!r}.",
            ),
        )
    return ()


def select_format(
    metadata: dict[str, str],
    named: str = "",
    *,
    bos: str = "",
    eos: str = "",
    fallback: str = "",
    filename: str = "",
) -> FormatChoice:
    """Pick the chat format: a name from settings wins, then the GGUF's own
    template (when it renders a Parley prompt), then `fallback` (the model
    catalog's name for it), then the plain transcript for base models. With
    the reason for the log, and warnings when the result does not fit the
    model (a wrong setting, a template that fails, an instruct model without
    one). ValueError for a name that is no format."""
    for name in (named, fallback):
        if name and name not in NAMED_FORMATS:
            known = ", ".join(NAMED_FORMATS)
            raise ValueError(f"unknown chat template {name!r} (known: {known})")
    warnings = setting_warnings(metadata, named, filename)
    if named:
        why = f"chat template {named!r} from settings"
        return FormatChoice(NAMED_FORMATS[named], why, warnings)
    model = model_name(metadata, filename)
    family = family_format(metadata, filename)
    template = metadata.get("tokenizer.chat_template", "")
    if template:
        fmt, problem = gguf_format(template, bos, eos)
        if fmt is not None:
            folded = " (no system role: the system text opens the first user turn)"
            why = "chat template from the GGUF metadata" + (folded if fmt.fold_system else "")
            return FormatChoice(fmt, why, warnings)
        fix = (
            f"Set {SETTING_NAME} to {family!r}, the format of this model's family."
            if family
            else f"Set {SETTING_NAME} to the model's format (gemma, chatml or llama3), "
            "or choose another model."
        )
        warning = FormatWarning(
            f"{model}'s own chat template cannot be used ({problem}): Parley talks to it "
            "as a plain transcript, and its answers may be poor.",
            fix,
        )
        return FormatChoice(
            PlainFormat(),
            "the chat template in the GGUF cannot be used: plain transcript format",
            (*warnings, warning),
        )
    if fallback:
        why = f"chat template {fallback!r} from the model catalog"
        return FormatChoice(NAMED_FORMATS[fallback], why, warnings)
    evidence = instruct_evidence(metadata, filename)
    if not evidence:
        why = "no chat template in the GGUF: plain transcript format (base model)"
        return FormatChoice(PlainFormat(), why, warnings)
    fix = (
        f"Set {SETTING_NAME} to {family!r}, the format of this model's family."
        if family
        else f"Set {SETTING_NAME} to the model's format (gemma, chatml or llama3)."
    )
    warning = FormatWarning(
        f"{model} looks like an instruct model ({evidence}) but its file has no chat "
        "template: Parley talks to it as a plain transcript, and its answers may be poor.",
        fix,
    )
    why = "no chat template in the GGUF: plain transcript format"
    return FormatChoice(PlainFormat(), why, (*warnings, warning))


def choose_format(
    metadata: dict[str, str],
    named: str = "",
    *,
    bos: str = "",
    eos: str = "",
    fallback: str = "",
) -> tuple[ChatFormat, str]:
    """`select_format` without the warnings: the format and why."""
    choice = select_format(metadata, named, bos=bos, eos=eos, fallback=fallback)
    return choice.format, choice.reason
