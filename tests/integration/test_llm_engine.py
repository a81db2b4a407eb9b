"""The LLM engine on the real embedded Gemma 3 270M GGUF through llama-cpp-python."""

from __future__ import annotations

from pathlib import Path

import pytest

from assistant.llm.cancel import CancelToken
from assistant.llm.engine import GenerationStats, LlmEngine, LlmError, LlmOptions
from assistant.llm.templates import BASE_MODEL_EXAMPLES, Message, PlainFormat

SYSTEM = Message("system", "You are Parley, a helpful assistant. Answer briefly.")
HEADER = [SYSTEM, *BASE_MODEL_EXAMPLES]


def test_base_model_gets_plain_format(llm_engine: LlmEngine) -> None:
    # The embedded Gemma is a base model: its GGUF has no chat template.
    assert isinstance(llm_engine.format, PlainFormat)
    assert "no chat template" in llm_engine.format_reason


def test_streams_several_deltas_and_stops_before_next_user_line(llm_engine: LlmEngine) -> None:
    stats = GenerationStats()
    deltas = list(
        llm_engine.stream(
            [*HEADER, Message("user", "Name three colours.")], max_tokens=40, stats=stats
        )
    )
    text = "".join(deltas)
    assert text.strip()
    assert stats.generated_tokens >= 1
    assert stats.finish in {"eos", "stop", "length"}
    assert "\nUser:" not in text  # the stop sequence ends the reply
    assert stats.generated_tokens <= 40


def test_max_tokens_is_enforced(llm_engine: LlmEngine) -> None:
    stats = GenerationStats()
    list(
        llm_engine.stream(
            [SYSTEM, Message("user", "Tell me a long story.")],
            max_tokens=5,
            stats=stats,
            ignore_eos=True,
        )
    )
    assert stats.generated_tokens == 5
    assert stats.finish == "length"


def test_cancel_stops_within_one_token(llm_engine: LlmEngine) -> None:
    cancel = CancelToken()
    stats = GenerationStats()
    seen_at_cancel = 0
    for _ in llm_engine.stream(
        [SYSTEM, Message("user", "Tell me a long story about a fox.")],
        max_tokens=100,
        cancel=cancel,
        stats=stats,
        ignore_eos=True,
    ):
        if not cancel.cancelled:
            seen_at_cancel = stats.generated_tokens
            cancel.cancel()
    assert stats.finish == "cancelled"
    assert stats.generated_tokens <= seen_at_cancel + 1


def test_second_turn_evaluates_only_its_new_tokens(llm_engine: LlmEngine) -> None:
    turn1 = [*HEADER, Message("user", "What is the capital of Italy?")]
    s1 = GenerationStats()
    reply = "".join(llm_engine.stream(turn1, max_tokens=20, stats=s1)).strip()
    convo = [*turn1, Message("assistant", reply or "Rome.")]
    before = llm_engine.count_tokens(llm_engine.render(convo, add_generation_prompt=False))
    s2 = GenerationStats()
    list(llm_engine.stream([*convo, Message("user", "And of Spain?")], max_tokens=5, stats=s2))
    new = s2.prompt_tokens - before
    assert new > 0
    # Prefix reuse: only the new turn (plus at most the reply's last token) is evaluated,
    # never the whole prompt again.
    assert s2.evaluated_tokens <= new + 2
    assert s2.evaluated_tokens < s2.prompt_tokens / 2


def test_prefill_puts_system_prompt_in_cache(llm_engine: LlmEngine) -> None:
    llm_engine._llm.reset()  # type: ignore[attr-defined]
    n = llm_engine.prefill([SYSTEM])
    assert n > 5
    stats = GenerationStats()
    list(llm_engine.stream([SYSTEM, Message("user", "Hi!")], max_tokens=2, stats=stats))
    assert stats.evaluated_tokens < stats.prompt_tokens - n + 3


def test_a_prefill_stops_between_chunks_and_what_it_did_is_reused(llm_engine: LlmEngine) -> None:
    llm_engine._llm.reset()  # type: ignore[attr-defined]
    long = [SYSTEM, Message("user", "Tell me about the sea. " * 30)]
    text = llm_engine.format.render(long, add_generation_prompt=False)
    total = len(llm_engine.tokenize(text))
    calls = []

    def waiting() -> bool:  # a turn arrives after two chunks
        calls.append(1)
        return len(calls) > 2

    done = llm_engine.prefill_text(text, should_stop=waiting, chunk=16)
    assert done == 32 < total
    # The 32 tokens evaluated are a cached prefix: the full prefill does only the rest.
    assert llm_engine.prefill_text(text) == total - 32


def _reply(engine: LlmEngine, messages: list[Message], stats: GenerationStats) -> str:
    return "".join(engine.stream(messages, max_tokens=24, temperature=0.0, stats=stats))


def test_a_reply_run_ahead_is_taken_up_where_it_stopped(llm_engine: LlmEngine) -> None:
    prompt = [*HEADER, Message("user", "What colour is the sky on a clear day?")]
    plain = _reply(llm_engine, prompt, GenerationStats())  # greedy: the reference
    llm_engine._llm.reset()  # type: ignore[attr-defined]
    assert llm_engine.generate_ahead(prompt, temperature=0.0, budget=5) == 5
    stats = GenerationStats()
    assert _reply(llm_engine, prompt, stats) == plain  # the same reply, not restarted
    assert stats.ahead_tokens == 5 and stats.evaluated_tokens == 1


def test_a_reply_run_ahead_is_dropped_when_the_words_changed(llm_engine: LlmEngine) -> None:
    guess = [*HEADER, Message("user", "What colour is the sky")]
    final = [*HEADER, Message("user", "What colour is the sea?")]
    stopped = iter([False, False, True])  # a turn arrives after the third token
    assert llm_engine.generate_ahead(guess, temperature=0.0, should_stop=lambda: next(stopped)) == 3
    stats = GenerationStats()
    assert _reply(llm_engine, final, stats).strip()
    assert stats.ahead_tokens == 0 and stats.evaluated_tokens > 5  # the new words, evaluated
    # Anything else that uses the model in between also drops it.
    llm_engine.generate_ahead(final, temperature=0.0, budget=4)
    llm_engine.prefill_text("Something else entirely.")
    stats = GenerationStats()
    assert _reply(llm_engine, final, stats).strip() and stats.ahead_tokens == 0


def test_missing_model_file(tmp_path: Path) -> None:
    with pytest.raises(LlmError) as e:
        LlmEngine.load(tmp_path / "nope.gguf")
    assert e.value.code == "model_missing"
    assert "not found" in e.value.message


def test_random_bytes_are_refused_before_llama_cpp(tmp_path: Path) -> None:
    bad = tmp_path / "random.gguf"
    bad.write_bytes(bytes(range(256)) * 400)
    with pytest.raises(LlmError) as e:
        LlmEngine.load(bad)
    assert e.value.code == "model_corrupt"
    assert "not a GGUF" in e.value.message


def test_truncated_gguf_is_a_clear_error(tmp_path: Path, gguf_path: Path) -> None:
    cut = tmp_path / "cut.gguf"
    with gguf_path.open("rb") as f:
        cut.write_bytes(f.read(2_000_000))
    with pytest.raises(LlmError) as e:
        LlmEngine.load(cut, LlmOptions(n_ctx=256))
    assert e.value.code == "model_corrupt"
    assert "damaged" in e.value.message
