"""The model recommender's decision from given cores, memory and a measured
speed: pure logic on numbers (no engine, no measurement), and the kept check."""

from __future__ import annotations

import os
import stat
import time
from dataclasses import replace
from pathlib import Path

import pytest

from assistant.inventory.catalog import EMBEDDED_ID, CatalogEntry, load_catalog
from assistant.models import recommend as rec

GB = 1_000_000_000
EMBEDDED_BYTES = 253_113_024


def llm(model_id: str, size: int, name: str, **more: object) -> CatalogEntry:
    fields: dict = dict(
        id=model_id, kind="llm", language="multi", url=f"https://example.org/{model_id}.gguf",
        sha256="0" * 64, size=size, license="Apache-2.0", description="test", name=name,
        chat_template="chatml",
    )
    fields.update(more)
    return CatalogEntry(**fields)


CATALOG = [
    llm("small", 397_808_192, "Qwen2.5 0.5B Instruct"),
    llm("medium", 986_048_768, "Qwen2.5 1.5B Instruct"),
    llm("large", 1_929_903_264, "Qwen2.5 3B Instruct", license="Qwen-Research"),
    llm(EMBEDDED_ID, EMBEDDED_BYTES, "Gemma 3 270M (built in)", url="", builtin=True,
        chat_template="gemma"),
    CatalogEntry(id="vosk-x", kind="stt", language="en-us", url="https://example.org/v.zip",
                 sha256="0" * 64, size=40_000_000, license="Apache-2.0", description="stt"),
]


def machine(cores: int = 4, total_gb: float = 16, free_gb: float = 10) -> rec.Machine:
    return rec.Machine(cores, cores * 2, int(total_gb * GB), int(free_gb * GB))


def measured(tokens_per_s: float, *, cores: int = 4, busy: float = 0.0) -> rec.SpeedCheck:
    """The embedded model timed at `tokens_per_s`."""
    return rec.SpeedCheck(
        tokens_per_s=tokens_per_s, model="gemma-3-270m-q4_k_m.gguf",
        model_bytes=EMBEDDED_BYTES, threads=0, gpu_layers=0, cores=cores, logical=cores * 2,
        llama_cpp=rec._llama_version(), measured_at=time.time(), busy=busy,
    )


def test_a_fast_computer_gets_the_largest_model() -> None:
    pick = rec.decide(CATALOG, machine(8, 32, 20), measured(100))
    assert pick is not None and pick.id == "large" and not pick.builtin
    assert pick.tokens_per_s == pytest.approx(100 * EMBEDDED_BYTES / 1_929_903_264)
    assert pick.size == 1_929_903_264 and pick.measured
    assert pick.sentence == ("Qwen2.5 3B Instruct: 1.9 GB download, about 10 words a second "
                             "on this computer.")
    assert "Qwen-Research" in pick.why  # a licence that is not an open one is named


def test_two_cores_pick_the_model_that_keeps_conversational_speed() -> None:
    # 43 tokens/s for the 270M model: 3B would write 5.6, 1.5B 11, 0.5B 27.
    pick = rec.decide(CATALOG, machine(2, 25, 21), measured(43, cores=2))
    assert pick is not None and pick.id == "medium"
    assert pick.tokens_per_s == pytest.approx(11.04, abs=0.01)
    assert pick.sentence == ("Qwen2.5 1.5B Instruct: 986 MB download, about 8 words a second "
                             "on this computer.")
    assert "Qwen2.5 3B Instruct would write only about 4 words a second" in pick.why
    assert "the built-in model wrote about 32 words a second" in pick.why
    assert [e.id for e in pick.estimates] == ["large", "medium", "small"]
    assert [e.fast_enough for e in pick.estimates] == [False, True, True]


def test_the_floor_itself_is_fast_enough() -> None:
    exactly = rec.FLOOR_TOKENS_PER_S * 986_048_768 / EMBEDDED_BYTES  # 1.5B at exactly 8
    pick = rec.decide(CATALOG, machine(), measured(exactly))
    assert pick is not None and pick.id == "medium"
    assert pick.tokens_per_s == pytest.approx(rec.FLOOR_TOKENS_PER_S)
    slower = rec.decide(CATALOG, machine(), measured(exactly * 0.99))
    assert slower is not None and slower.id == "small"


def test_a_slow_computer_keeps_the_built_in_model() -> None:
    pick = rec.decide(CATALOG, machine(2, 8, 4), measured(6, cores=2))
    assert pick is not None and pick.id == EMBEDDED_ID and pick.builtin and not pick.download
    assert pick.size == 0 and pick.tokens_per_s == pytest.approx(6)
    assert pick.sentence == ("Gemma 3 270M: built in, no download, about 4 words a second on "
                             "this computer.")
    assert "Even the smallest download, Qwen2.5 0.5B Instruct" in pick.why
    assert "it needs no download" in pick.why


def test_memory_rules_out_what_does_not_fit() -> None:
    # A fast processor with 4 GB: half is 2 GB, and the 3B model needs about 2.8.
    pick = rec.decide(CATALOG, machine(8, 4, 3.5), measured(200))
    assert pick is not None and pick.id == "medium"
    assert "Qwen2.5 3B Instruct needs about 2.8 GB of memory, more than the 2.0 GB" in pick.why
    large = pick.estimates[0]
    assert large.fast_enough and not large.fits
    assert large.memory_needed == int(1_929_903_264 * rec.MEMORY_FACTOR + rec.MEMORY_OVERHEAD)


def test_little_free_memory_keeps_the_built_in_model() -> None:
    pick = rec.decide(CATALOG, machine(8, 16, 1.0), measured(200))  # 0.8 GB may be used
    assert pick is not None and pick.builtin
    assert "needs about 989 MB of memory; Parley may use 800 MB here" in pick.why


def test_without_a_measurement_the_core_count_guesses() -> None:
    eight = rec.decide(CATALOG, machine(8, 32, 20), None)
    assert eight is not None and eight.id == "large" and not eight.measured
    # 8 cores x 2.5 GB/s over 1.93 GB: about 10 tokens a second.
    assert eight.tokens_per_s == pytest.approx(8 * 2.5e9 / 1_929_903_264)
    assert "(a first guess)" in eight.sentence and "roughly" in eight.sentence
    assert eight.why.startswith("Not measured yet")
    sixteen = rec.decide(CATALOG, machine(16, 64, 40), None)
    assert sixteen is not None and sixteen.tokens_per_s == eight.tokens_per_s  # bus-bound
    two = rec.decide(CATALOG, machine(2, 8, 6), None, note="no language model on disk to time")
    assert two is not None and two.id == "small"
    assert "(no language model on disk to time)" in two.why


def test_a_busy_check_says_so() -> None:
    pick = rec.decide(CATALOG, machine(), measured(40, busy=0.9))
    assert pick is not None and "90% busy" in pick.why and "errs slow" in pick.why


def test_words_and_sizes_read_plainly() -> None:
    assert rec.words_text(11) == "about 8 words a second"
    assert rec.words_text(1.4) == "about one word a second"
    assert rec.words_text(0.3) == "less than one word a second"
    assert rec.size_text(986_048_768) == "986 MB"
    assert rec.size_text(1_929_903_264) == "1.9 GB"


def test_only_language_models_and_the_users_language() -> None:
    assert rec.recommend("stt", "en") is None  # nothing to decide for speech models
    german = llm("german-only", 500_000_000, "German model", language="de")
    assert rec.fits_language(german, "de") and not rec.fits_language(german, "en-us")
    assert rec.fits_language(CATALOG[0], "ko")  # "multi" serves every language
    assert rec.decide([CATALOG[-1]], machine(), measured(40)) is None  # no LLM at all


def test_the_shipped_catalog_gives_a_sane_pick() -> None:
    entries = list(load_catalog())
    for speed, expected in ((300, "qwen2.5-3b-instruct-q4_k_m"),
                            (43, "qwen2.5-1.5b-instruct-q4_k_m"),
                            (15, "qwen2.5-0.5b-instruct-q4_k_m"), (5, EMBEDDED_ID)):
        pick = rec.decide(entries, machine(8, 32, 20), measured(speed))
        assert pick is not None and pick.id == expected, (speed, pick)


def test_the_check_is_kept_private_and_reused(parley_home: Path) -> None:
    check = measured(43, cores=2)
    path = rec.save_check(check)
    assert path == parley_home / "model_speed.json"
    if os.name == "posix":
        assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert rec.load_check() == check
    here = machine(2)
    now = time.time()
    assert check.matches(here, 0, 0, now)
    assert not check.matches(machine(4), 0, 0, now)  # another processor
    assert not check.matches(here, 2, 0, now)  # another thread setting
    assert not check.matches(here, 0, 0, now + rec.CACHE_MAX_AGE_S + 1)
    assert not replace(check, llama_cpp="0.0.1").matches(here, 0, 0, now)
    busy = replace(check, busy=0.8)
    assert busy.matches(here, 0, 0, now + 3600)
    assert not busy.matches(here, 0, 0, now + rec.BUSY_MAX_AGE_S + 1)  # measured again soon
    path.write_text("{not json", encoding="utf-8")
    assert rec.load_check() is None


def test_recommend_uses_the_kept_check(parley_home: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    here = machine(2, 25, 21)
    monkeypatch.setattr(rec, "this_machine", lambda: here)
    rec.save_check(measured(43, cores=2))
    pick = rec.recommend("llm", "en", machine=here)  # no measuring: the kept check serves
    assert pick is not None and pick.measured and pick.id == "qwen2.5-1.5b-instruct-q4_k_m"
