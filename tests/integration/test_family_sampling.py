"""Sampling per model family (issue 15): the base model's temperature and
repeat penalty are the ones `parley bench answers` measured best
(docs/ARCHITECTURE.md, Answers); instruct formats keep llama.cpp's common
defaults; the temperature setting's default, below 0, means automatic."""

from __future__ import annotations

from assistant.config import Settings
from assistant.llm.engine import (
    COMMON_SAMPLING,
    FAMILY_SAMPLING,
    GenerationStats,
    LlmEngine,
)
from assistant.llm.templates import BASE_MODEL_EXAMPLES, ChatMLFormat, GemmaFormat, Message

QUESTION = [
    Message("system", "You are Parley, a helpful assistant. Answer briefly."),
    *BASE_MODEL_EXAMPLES,
    Message("user", "Name a fruit that is yellow."),
]


def test_the_base_model_samples_as_measured(llm_engine: LlmEngine) -> None:
    measured = FAMILY_SAMPLING["plain"]
    assert llm_engine.sampling == measured
    assert Settings().temperature < 0  # the default setting: automatic
    assert llm_engine.temperature_for(Settings().temperature) == measured.temperature
    assert llm_engine.temperature_for(0.0) == 0.0  # a chosen temperature is kept
    assert llm_engine.temperature_for(1.3) == 1.3


def test_instruct_formats_keep_the_common_defaults(llm_engine: LlmEngine) -> None:
    for fmt in (GemmaFormat(), ChatMLFormat()):
        engine = LlmEngine(llm_engine._llm, llm_engine.path, fmt, "test")
        assert engine.sampling == COMMON_SAMPLING
        assert engine.temperature_for(-1.0) == 0.7
    engine = LlmEngine(llm_engine._llm, llm_engine.path, GemmaFormat(), "test", (), 1.3)
    assert engine.sampling.repeat_penalty == 1.3  # LlmOptions.repeat_penalty


def test_automatic_is_the_measured_temperature(llm_engine: LlmEngine) -> None:
    """llama-cpp-python seeds each reply's sampler alike: the same prompt at
    the same temperature gives the same words, so automatic must equal the
    family's temperature given outright."""
    measured = FAMILY_SAMPLING["plain"].temperature
    replies = []
    for temperature in (-1.0, measured):
        stats = GenerationStats()
        text = "".join(
            llm_engine.stream(QUESTION, max_tokens=24, temperature=temperature, stats=stats)
        )
        replies.append(text)
    assert replies[0] == replies[1] and replies[0].strip()
