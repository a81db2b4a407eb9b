"""What the processes keep out of memory at rest (docs/ARCHITECTURE.md,
Memory). The sizes themselves are measured by `parley bench startup`, not
here."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from assistant.memory import trim_heap
from assistant.speech import cmudict
from assistant.speech.stt_worker import Op, _serve

DICTIONARY = (
    "'bout B AW T\n"
    "a AH\n"
    "a(2) EY\n"
    "a's EY Z\n"
    "parley P AA R L IY\n"
    "read R EH D\n"
    "read(2) R IY D\n"
    "zywicki Z IH W IH K IY\n"
)


def test_words_are_found_by_binary_search_in_the_sorted_file(tmp_path: Path) -> None:
    path = tmp_path / "small.dict"
    path.write_text(DICTIONARY)
    lex = cmudict.Pronunciations(path)
    assert lex.get("a") == (("AH",), ("EY",))
    assert lex.get("'bout") == (("B", "AW", "T"),)  # the first line
    assert lex.get("zywicki") == (("Z", "IH", "W", "IH", "K", "IY"),)  # the last
    assert lex.entries("read") == [("read", "R EH D"), ("read(2)", "R IY D")]
    assert lex.get("a's") == (("EY", "Z"),)
    for absent in ("", "aa", "b", "zz", "read(2)", "parle"):
        assert lex.get(absent) == () and absent not in lex
    assert lex.get("nothing", (("X",),)) == (("X",),)
    assert lex and "parley" in lex


def test_an_empty_dictionary_is_falsy(tmp_path: Path) -> None:
    path = tmp_path / "empty.dict"
    path.write_text("")
    lex = cmudict.Pronunciations(path)
    assert not lex and lex.get("a") == ()


def test_the_real_dictionary_reads_as_a_dict_of_it_would() -> None:
    lex = cmudict.english()
    if lex is None:
        pytest.skip("pocketsphinx is not installed")
    whole: dict[str, tuple[tuple[str, ...], ...]] = {}
    for line in lex.path.read_text(encoding="utf-8").splitlines():
        head, _, phones = line.partition(" ")
        word = head.split("(", 1)[0]
        whole[word] = (*whole.get(word, ()), tuple(phones.split()))
    words = sorted(whole)
    sample = words[:50] + words[-50:] + words[:: len(words) // 1500]
    assert all(lex.get(w) == whole[w] for w in sample)


def test_the_wake_spotter_holds_only_the_phrase_words() -> None:
    pytest.importorskip("pocketsphinx")
    from assistant.speech.wakeword import KeyphraseSpotter, WakeWordError

    spotter = KeyphraseSpotter("hey jarvis")
    decoder: Any = spotter._decoder
    assert decoder.lookup_word("jarvis") == "JH AA R V AH S"
    assert decoder.lookup_word("jarvis(2)") == "JH AA R V IH S"  # its second pronunciation
    assert decoder.lookup_word("hello") is None  # not the whole dictionary
    with pytest.raises(WakeWordError, match="zorblax"):
        KeyphraseSpotter("hey zorblax")
    KeyphraseSpotter("hey zorblax", pronunciations={"zorblax": "Z AO R B L AE K S"})


def _imports(code: str) -> set[str]:
    out = subprocess.run(
        [sys.executable, "-c", f"{code}\nimport sys; print(' '.join(sys.modules))"],
        capture_output=True, text=True, check=True, timeout=60,
    )
    return set(out.stdout.split())


def test_the_tts_worker_module_does_not_import_numpy() -> None:
    assert "numpy" not in _imports("import assistant.speech.tts")


def test_moonshine_loads_without_its_downloader() -> None:
    from assistant.speech import moonshine

    if moonshine.unavailable_reason():
        pytest.skip(f"Moonshine is not available: {moonshine.unavailable_reason()}")
    loaded = _imports(
        "from assistant.speech.moonshine import _transcriber_api\n"
        "transcriber, arch = _transcriber_api(); assert arch.TINY is not None"
    )
    assert "moonshine_voice.transcriber" in loaded
    assert not {"requests", "urllib3", "tqdm"} & loaded


class _Conn:
    def __init__(self, requests: list[tuple[Op, bytes]]) -> None:
        self.requests = requests

    def recv(self) -> tuple[Op, bytes]:
        if not self.requests:
            raise EOFError
        return self.requests.pop(0)


class _Rec:
    def accept(self, _samples: object) -> None: ...
    def partial(self) -> str:
        return ""
    def final(self) -> str:
        return "done"
    def reset(self) -> None: ...


def test_the_speech_worker_trims_its_heap_when_an_utterance_ends(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    import assistant.speech.stt_worker as worker

    trims: list[int] = []
    monkeypatch.setattr(worker, "trim_heap", lambda: trims.append(1) or True)
    sent: list[object] = []
    requests = [(Op.ACCEPT, b"\0\0" * 480), (Op.PARTIAL, b""), (Op.FINAL, b""),
                (Op.ACCEPT, b"\0\0" * 480), (Op.RESET, b"")]
    _serve(_Conn(requests), _Rec(), sent.append)  # type: ignore[arg-type]
    assert sent == ["", "done"] and len(trims) == 2  # after the final and the reset


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="glibc's malloc_trim")
def test_trim_heap_works_on_linux() -> None:
    assert trim_heap()


def test_the_voice_trims_the_heap_once_per_quiet_spell(monkeypatch: pytest.MonkeyPatch) -> None:
    import time

    import assistant.speech.speaker as speaker_module

    trims: list[float] = []
    monkeypatch.setattr(speaker_module, "REST_AFTER_S", 0.05)
    monkeypatch.setattr(speaker_module, "trim_heap", lambda: trims.append(time.monotonic()))

    class Out:
        def play(self, samples: object, rate: int) -> None: ...
        def stop(self) -> None: ...
        def wait_done(self, timeout: float | None = None) -> bool:
            return True

    speaker = speaker_module.Speaker(object(), Out())  # type: ignore[arg-type]  # never asked to speak
    speaker.start()
    try:
        time.sleep(0.4)
        assert len(trims) == 1  # at rest after start-up, once however long it lasts
        speaker.warm()  # a turn begins
        time.sleep(0.4)
        assert len(trims) == 2
    finally:
        speaker.close()


def test_the_llm_runs_small_batches_on_the_cpu(tmp_path: Path) -> None:
    pytest.importorskip("llama_cpp")
    from tiny_gguf import write_tiny_qwen

    from assistant.llm.engine import CPU_UBATCH, LlmEngine, LlmOptions

    engine = LlmEngine.load(write_tiny_qwen(tmp_path / "tiny.gguf"), LlmOptions(n_ctx=256))
    llama: Any = engine._llm
    assert llama.context_params.n_ubatch == CPU_UBATCH
