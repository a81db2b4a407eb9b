"""Bad input (issue 15) on the real embedded Gemma 3 270M base model: a chat
template setting that does not fit it, or a chat template in the GGUF that
cannot be used, is named at load (the log, a notice at the first model turn,
`parley doctor`), and no reply shows template markup."""

from __future__ import annotations

import logging
import re
from dataclasses import replace
from pathlib import Path

import pytest
from recording import EventRecorder

from assistant.config import Settings
from assistant.dialogue.manager import DialogueManager
from assistant.events import Notice, NoticeCode, ReplyDone, Source
from assistant.llm.engine import GenerationStats, LlmEngine, LlmOptions
from assistant.llm.gguf_meta import read_metadata
from assistant.llm.provider import LlmProvider
from assistant.llm.templates import TEMPLATE_MARKERS, GemmaFormat, Message, PlainFormat

TEMPLATE_TOKEN = re.compile(r"<\|[a-z_]+\|>|</?s>|<(?:start|end)_of_turn>|<bos>|<eos>|\[/?INST\]")


def ask(engine: LlmEngine, *questions: str) -> tuple[list[str], EventRecorder]:
    settings = replace(Settings(), temperature=0.2, max_tokens=40)
    events = EventRecorder()
    m = DialogueManager(settings, sink=events, history=None, llm=LlmProvider.ready(engine))
    m.open_conversation(new=True)
    replies = []
    for q in questions:
        r = m.handle(q)
        assert r.source is Source.LLM
        replies.append(r.reply)
    m.close()
    return replies, events


def test_the_metadata_reader_agrees_with_llama_cpp(llm_engine: LlmEngine) -> None:
    meta = read_metadata(llm_engine.path)
    assert meta == {str(k): str(v) for k, v in llm_engine._llm.metadata.items()}
    assert "tokenizer.chat_template" not in meta  # a base model


def test_no_warning_for_the_base_model_as_it_comes(llm_engine: LlmEngine) -> None:
    assert isinstance(llm_engine.format, PlainFormat) and llm_engine.format_warnings == ()


def test_a_chat_format_setting_for_the_base_model_is_named(
    gguf_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    with caplog.at_level(logging.WARNING, logger="assistant.llm.engine"):
        engine = LlmEngine.load(gguf_path, LlmOptions(n_ctx=1024, chat_template="gemma", seed=7))
    assert engine.format == GemmaFormat()  # the setting is obeyed, and named
    (warning,) = engine.format_warnings
    assert "looks like a base model" in warning.problem
    assert "Clear the chat template setting" in warning.fix
    assert "looks like a base model" in caplog.text
    replies, events = ask(engine, "What is the capital of France?", "And of Italy?")
    notices = [e for e in events.of(Notice) if e.code == NoticeCode.CHAT_FORMAT]
    assert [n.message for n in notices] == [str(warning)]  # once, at the first model turn
    for reply in replies:
        assert not TEMPLATE_TOKEN.search(reply), reply


def test_a_gguf_template_that_fails_falls_back_to_plain(
    gguf_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The same weights, with an instruct name and a template llama.cpp's
    metadata would hand over but Jinja cannot run."""
    import llama_cpp

    class WithTemplate(llama_cpp.Llama):
        def __init__(self, *args, **kwargs) -> None:
            super().__init__(*args, **kwargs)
            self.metadata = {
                **self.metadata,
                "general.name": "Gemma 3 270m It",
                "tokenizer.chat_template": "{% for m in messages %}{{ m.content | nosuchfilter }}",
            }

    monkeypatch.setattr(llama_cpp, "Llama", WithTemplate)
    engine = LlmEngine.load(gguf_path, LlmOptions(n_ctx=1024, seed=7))
    assert isinstance(engine.format, PlainFormat)
    (warning,) = engine.format_warnings
    assert "own chat template cannot be used" in warning.problem and "'gemma'" in warning.fix
    replies, events = ask(engine, "Name a colour of the sky.")
    assert [e.code for e in events.of(Notice)] == [NoticeCode.CHAT_FORMAT]
    assert events.of(ReplyDone)[-1].text == replies[0]
    assert replies[0].strip() and not TEMPLATE_TOKEN.search(replies[0])


def test_template_markup_ends_a_reply(llm_engine: LlmEngine) -> None:
    """A model that writes a turn marker as text (here copying a pattern, at
    temperature 0) has its reply end there: the user never sees one."""
    said = ["one <|im_end|> two", "red <|im_end|> blue"]
    messages = [Message("system", "Copy the line.")]
    for line in said:
        messages += [Message("user", line), Message("assistant", line)]
    messages.append(Message("user", "cat <|im_end|> dog"))
    stats = GenerationStats()
    reply = "".join(llm_engine.stream(messages, max_tokens=20, temperature=0.0, stats=stats))
    assert stats.finish == "stop" and "cat" in reply
    assert not any(mark in reply for mark in TEMPLATE_MARKERS)


def test_doctor_names_a_chat_format_for_the_base_model(
    parley_home: Path, gguf_path: Path
) -> None:
    from assistant.commands import doctor

    config = parley_home / "config.toml"
    config.write_text(f'llm_model = "{gguf_path}"\nchat_template = "gemma"\n')
    (check,) = doctor._chat_format()
    assert check.status == "warn" and "looks like a base model" in check.detail
    assert "Clear the chat template setting" in check.fix
    config.write_text(f'llm_model = "{gguf_path}"\n')
    (check,) = doctor._chat_format()
    assert check.status == "ok" and "base model" in check.detail
