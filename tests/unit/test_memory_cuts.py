"""What the processes keep out of memory at rest (docs/ARCHITECTURE.md,
Memory). The sizes themselves are measured by `parley bench startup`, not
here."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from assistant.speech import cmudict

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
