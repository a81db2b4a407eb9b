"""Moonshine tiny English (moonshine-voice 0.1.0) with its real model: accuracy on
the LibriVox clips of Debian's pocketsphinx-testdata and on flite commands,
nothing heard in silence, noise or music, partials through the worker process,
a final that reuses the pause-time decode, a killed worker replaced, damaged
model files named, and the engine choice.

The model loads once in this process (module fixture) and once per worker.
Run with `-s` to see the measured numbers.
"""

from __future__ import annotations

import os
import re
import shutil
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

import numpy as np
import pytest

from assistant.speech import moonshine, stt
from assistant.speech.moonshine import BackgroundRecognizer, MoonshineEngine
from assistant.speech.stt_worker import RecognizerProcess
from assistant.speech.wer import corpus_wer, normalize, wer

pytest.importorskip("moonshine_voice")
pytestmark = pytest.mark.slow

FRAME = 480  # 30 ms: what capture delivers
RATE = stt.SAMPLE_RATE
LIBRIVOX = Path("/usr/share/pocketsphinx/test/data/librivox")
SHORT_CLIP = "sense_and_sensibility_01_austen_64kb-0880"  # 3.0 s
PARLEY = [sys.executable, "-m", "assistant.cli"]


def librivox() -> dict[str, str]:
    transcription = LIBRIVOX / "transcription"
    if not transcription.is_file():
        pytest.skip(f"{LIBRIVOX} is missing (Debian package pocketsphinx-testdata)")
    refs = {}
    for line in transcription.read_text().splitlines():
        m = re.fullmatch(r"<s> (.*) </s> \((.*)\)", line.strip())
        assert m, line
        refs[m[2]] = m[1]
    return refs


def clip(name: str) -> np.ndarray:
    librivox()
    return stt.read_wav(LIBRIVOX / f"{name}.wav")


def flite(text: str, folder: Path, voice: str = "slt") -> np.ndarray:
    for tool in ("flite", "sox"):
        if shutil.which(tool) is None:
            pytest.skip(f"`{tool}` is not installed (Debian package {tool})")
    slug = re.sub(r"\W+", "_", text)
    raw, out = folder / "raw.wav", folder / f"{slug}.wav"
    subprocess.run(["flite", "-voice", voice, "-t", text, "-o", str(raw)], check=True)
    subprocess.run(["sox", str(raw), "-r", str(RATE), str(out)], check=True)
    return stt.read_wav(out)


def silence(seconds: float) -> np.ndarray:
    return np.zeros(int(seconds * RATE), np.int16)


def white_noise(seconds: float, dbfs: float, seed: int = 0) -> np.ndarray:
    rms = 32768 * 10 ** (dbfs / 20)
    noise = np.random.default_rng(seed).standard_normal(int(seconds * RATE)) * rms
    return np.clip(noise, -32768, 32767).astype(np.int16)


def music(seconds: float = 3.6) -> np.ndarray:
    """Plucked notes with five harmonics over held chords, and a noise drum."""
    t_note = np.arange(int(0.3 * RATE)) / RATE

    def note(f: float, t: np.ndarray, amp: float = 0.15) -> np.ndarray:
        env = np.minimum(1, t * 50) * np.exp(-3 * t)
        return amp * env * sum(0.6**k * np.sin(2 * np.pi * f * (k + 1) * t) for k in range(5))

    melody = np.concatenate([note(f, t_note) for f in (262, 294, 330, 349, 392, 440) * 2])
    t_chord = np.arange(int(0.9 * RATE)) / RATE
    chords = np.concatenate(
        [note(f, t_chord) + note(f * 1.26, t_chord) + note(f * 1.5, t_chord)
         for f in (196, 220, 262, 175)]
    )
    n = min(len(melody), len(chords), int(seconds * RATE))
    out = melody[:n] + chords[:n]
    rng = np.random.default_rng(1)
    for i in range(0, n - 800, 4000):
        out[i : i + 800] += rng.standard_normal(800) * np.exp(-np.arange(800) / 100) * 0.4
    return (np.clip(out, -1, 1) * 32767).astype(np.int16)


def feed(rec: stt.Recognizer, audio: np.ndarray) -> None:
    for i in range(0, len(audio), FRAME):
        rec.accept(audio[i : i + FRAME])


@pytest.fixture(scope="module")
def engine() -> MoonshineEngine:
    started = time.monotonic()
    eng = MoonshineEngine()
    print(f"\nMoonshine tiny-en loaded in {time.monotonic() - started:.2f} s")
    return eng


@pytest.fixture(scope="module")
def worker() -> RecognizerProcess:
    rec = RecognizerProcess(engine="moonshine")
    rec.ready()
    print(f"\nMoonshine worker ready in {rec.load_seconds:.2f} s")
    yield rec
    rec.close()


# --------------------------------------------------------------------------- accuracy


def test_librivox_word_error_rate(engine: MoonshineEngine) -> None:
    pairs, audio_s, decode_s = [], 0.0, 0.0
    for name, ref in librivox().items():
        audio = clip(name)
        audio_s += len(audio) / RATE
        started = time.monotonic()
        text = stt.transcribe(audio, engine.recognizer()).text  # as `parley transcribe` does
        decode_s += time.monotonic() - started
        pairs.append((ref, text))
        print(f"{name}: WER {wer(ref, text):.3f}  {text!r}")
    total = corpus_wer(pairs)
    print(f"Moonshine LibriVox WER {total.wer:.3f} ({total.errors}/{total.words}), "
          f"real-time factor {decode_s / audio_s:.3f} ({decode_s:.2f} s for {audio_s:.1f} s)")
    assert total.wer <= 0.08
    assert all(text == text.lower() and "," not in text for _, text in pairs)  # plain form


@pytest.mark.parametrize(
    "said, heard",
    [
        ("set a timer for ten minutes", {"set a timer for ten minutes",
                                         "set a timer for 10 minutes"}),
        ("what time is it", {"what time is it"}),
        ("what is twelve times seven", {"what is twelve times seven",
                                        "what is 12 times 7"}),
        ("turn off the lights", {"turn off the lights"}),
        ("no", {"no"}),
    ],
)
def test_flite_commands(engine: MoonshineEngine, tmp_path: Path, said: str, heard: set) -> None:
    # pocketsphinx heard the first as "said a diner for ten minutes".
    audio = np.concatenate([silence(0.3), flite(said, tmp_path), silence(0.5)])
    tr = stt.transcribe(audio, engine.recognizer())
    assert tr.text in heard
    assert tr.engine == "moonshine" and tr.confidence == moonshine.HEARD_CONFIDENCE


# --------------------------------------------------------------------------- nothing heard


def test_moonshine_alone_makes_words_up(engine: MoonshineEngine) -> None:
    # Why the guard exists: the bare model hears "You" in digital silence.
    assert engine.decode(np.zeros(RATE, np.float32)) != ""


@pytest.mark.parametrize(
    "name, audio",
    [
        ("digital silence", silence(2.0)),
        ("dither, -70 dBFS", white_noise(2.0, -70)),
        ("white noise, -40 dBFS", white_noise(2.0, -40)),
        ("white noise, -20 dBFS", white_noise(2.0, -20)),
        ("white noise, -10 dBFS", white_noise(2.0, -10)),
        ("a 440 Hz tone", (8000 * np.sin(2 * np.pi * 440 * np.arange(2 * RATE) / RATE))
         .astype(np.int16)),
        ("music", music()),
        ("a click", np.concatenate([silence(0.5), white_noise(0.02, -6), silence(0.5)])),
        ("30 ms", white_noise(0.03, -20)),
    ],
)
def test_no_speech_gives_an_empty_transcript(
    engine: MoonshineEngine, name: str, audio: np.ndarray
) -> None:
    rec = engine.recognizer()
    feed(rec, audio)
    assert rec.partial() == "", name
    tr = rec.final()
    assert (tr.text, tr.confidence) == ("", 0.0), name
    assert rec.decodes == 0, name  # skipped: nothing for Moonshine to make words of


def test_noise_before_and_after_speech_adds_no_words(
    engine: MoonshineEngine, tmp_path: Path
) -> None:
    words = flite("what time is it", tmp_path)
    noisy = np.concatenate([white_noise(1.0, -45), words, white_noise(1.5, -45, seed=1)])
    assert stt.transcribe(noisy, engine.recognizer()).text == "what time is it"


def test_a_second_engine_in_the_same_process_loads(engine: MoonshineEngine) -> None:
    """`parley bench stt` opens one for LibriVox and one for the commands: the
    package, imported bare by the first (moonshine._transcriber_api), must not
    break the second."""
    second = MoonshineEngine()
    audio = clip(SHORT_CLIP)
    assert normalize(second.decode(audio)) == normalize(engine.decode(audio)) != ""


def test_empty_and_odd_input(engine: MoonshineEngine) -> None:
    rec = engine.recognizer()
    assert rec.final().text == ""  # nothing fed at all
    rec.accept(np.zeros(0, np.int16))
    assert rec.partial() == "" and rec.final().text == ""
    with pytest.raises(TypeError, match="int16"):
        rec.accept(np.zeros(480, np.float32))


# --------------------------------------------------------------------------- streaming


def test_partials_follow_the_cadence_not_the_calls(engine: MoonshineEngine) -> None:
    rec = engine.recognizer()
    audio = np.concatenate([silence(0.3), clip(SHORT_CLIP), silence(0.4)])
    partials = []
    for i in range(0, len(audio), FRAME):
        rec.accept(audio[i : i + FRAME])
        partials.append(rec.partial())  # the ear asks every 150 ms; this asks every 30
    speech_s = len(audio) / RATE
    print(f"{len(partials)} partial() calls, {rec.decodes} decodes for {speech_s:.1f} s")
    assert rec.decodes <= speech_s / moonshine.PARTIAL_STEP_S + 2
    assert any(p and p != partials[-1] for p in partials)  # grew while speech came
    before = rec.decodes
    tr = rec.final()
    assert rec.decodes == before  # the pause-time decode is reused
    assert tr.text == partials[-1] == "he was not an ill disposed young man"


def test_background_final_reuses_the_pause_decode(engine: MoonshineEngine) -> None:
    got: list[tuple[int, str]] = []
    rec = BackgroundRecognizer(engine.recognizer(), on_partial=lambda u, t: got.append((u, t)))
    try:
        feed(rec, np.concatenate([silence(0.3), clip(SHORT_CLIP), silence(0.3)]))
        deadline = time.monotonic() + 10
        while rec.partial() != "he was not an ill disposed young man":
            assert time.monotonic() < deadline, rec.partial()
            time.sleep(0.01)
        time.sleep(0.05)  # nothing more is due: no decode runs
        before = rec.decodes
        tr = rec.final()
        assert rec.decodes == before
        assert tr.text == got[-1][1] and got[-1][0] == 0
        # The next utterance starts clean; speech with no pause is decoded by final().
        assert rec.partial() == "" and rec.utterance == 1
        feed(rec, np.concatenate([silence(0.3), clip(SHORT_CLIP)]))
        assert rec.final().text == "he was not an ill disposed young man"
        assert rec.utterance == 2
        tags = [u for u, _ in got]
        assert tags == sorted(tags) and set(tags) <= {0, 1}  # none late, none for a reset one
    finally:
        rec.close()


def test_long_speech_is_decoded_in_pieces(engine: MoonshineEngine) -> None:
    refs = librivox()
    audio = np.concatenate([np.concatenate([clip(n), silence(0.6)]) for n in refs])
    rec = engine.recognizer()
    feed(rec, audio)
    segments = rec.segments()
    assert len(segments) >= 2
    assert all(b - a <= moonshine.MAX_SEGMENT_S * RATE for a, b in segments)
    text = rec.final().text
    assert wer(" ".join(refs.values()), text) <= 0.08, text


# --------------------------------------------------------------------------- worker


def test_partials_arrive_through_the_worker_without_waiting(worker: RecognizerProcess) -> None:
    audio = np.concatenate([silence(0.3), clip(SHORT_CLIP)])
    tail = silence(0.5)  # the pause before the endpoint (short hangover 0.2 s, plus margin)
    worker.reset()
    seen, call_s = [], []
    started = time.monotonic()
    frames = [audio[i : i + FRAME] for i in range(0, len(audio), FRAME)]
    frames += [tail[i : i + FRAME] for i in range(0, len(tail), FRAME)]
    for n, frame in enumerate(frames):  # paced like a microphone
        time.sleep(max(0.0, started + n * FRAME / RATE - time.monotonic()))
        worker.accept(frame)
        if n % 5 == 0:  # the ear's 150 ms
            t0 = time.monotonic()
            seen.append((n * FRAME / RATE, worker.partial()))
            call_s.append(time.monotonic() - t0)
    deadline = time.monotonic() + 10
    while not worker.settled() and time.monotonic() < deadline:  # as the ear waits for it
        time.sleep(0.01)
    last_partial = worker.partial()
    t0 = time.monotonic()
    tr = worker.final()
    final_s = time.monotonic() - t0
    speech_end = len(audio) / RATE
    mid = [text for at, text in seen if at < speech_end - 0.3 and text]
    print(f"worker: {len(mid)} partials before the speech ended, e.g. {mid[:2]}; "
          f"partial() took at most {max(call_s) * 1000:.2f} ms; final() after a "
          f"{len(tail) / RATE:.1f} s pause took {final_s * 1000:.1f} ms: {tr.text!r}")
    assert mid, seen
    assert "he was" in mid[-1]
    assert tr.text == last_partial == "he was not an ill disposed young man"
    # (How fast final() is after the pause is `parley bench stt`'s number, not a test's.)
    assert worker.partial() == ""  # the next utterance has nothing yet
    worker.accept(audio[: FRAME * 20])
    os.kill(worker.pid, signal.SIGSTOP)  # a worker that cannot answer...
    try:  # ...does not hold partial() up: it reads what was pushed
        reader = threading.Thread(target=lambda: (worker.partial(), worker.settled()))
        reader.start()
        reader.join(timeout=5)
        assert not reader.is_alive(), "partial() waited for the worker"
    finally:
        os.kill(worker.pid, signal.SIGCONT)
        reader.join(timeout=10)
    worker.reset()


def test_the_worker_stays_quiet_for_noise(worker: RecognizerProcess) -> None:
    worker.reset()
    feed(worker, white_noise(1.5, -20))
    assert worker.final().text == ""


def test_a_killed_worker_loses_only_the_utterance_in_progress() -> None:
    rec = RecognizerProcess(engine="moonshine")
    try:
        audio = np.concatenate([silence(0.3), clip(SHORT_CLIP), silence(0.3)])
        feed(rec, audio)
        assert rec.pid is not None and rec.pid != os.getpid()
        os.kill(rec.pid, 9)
        assert rec.final().text == ""  # lost with the worker, and said so in the log
        feed(rec, audio)  # the next frame starts a new worker
        assert rec.final().text == "he was not an ill disposed young man"
        assert rec.restarts == 1
    finally:
        rec.close()
    assert rec.pid is None



DECODE_THREADS = """
import os, sys
import numpy as np
from assistant.speech.moonshine import MoonshineEngine
engine = MoonshineEngine()
before = len(os.listdir("/proc/self/task"))
engine.decode(np.zeros(16000, np.float32))
print(before, len(os.listdir("/proc/self/task")), os.environ.get("MOONSHINE_ORT_SINGLE_THREAD"))
"""


@pytest.mark.skipif(not Path("/proc/self/task").is_dir(), reason="needs Linux's /proc")
def test_decodes_run_on_the_calling_thread_only() -> None:
    """No ONNX Runtime thread pool: its threads would spin on the cores the LLM
    needs right after a decode (moonshine.SINGLE_THREAD_ENV). A fresh process,
    so no earlier load in this one has set the variable."""
    env = {k: v for k, v in os.environ.items() if k != moonshine.SINGLE_THREAD_ENV}
    out = subprocess.run([sys.executable, "-c", DECODE_THREADS], env=env, capture_output=True,
                         text=True, timeout=120, check=True)  # fmt: skip
    before, after, value = out.stdout.split()
    assert after == before
    assert value == "1"

# --------------------------------------------------------------------------- model files


@pytest.fixture
def model_copy(tmp_path: Path) -> Path:
    src = moonshine.model_dir()
    assert src is not None
    return Path(shutil.copytree(src, tmp_path / "tiny-en"))


def test_a_missing_model_file_is_named(model_copy: Path) -> None:
    (model_copy / "tokenizer.bin").unlink()
    with pytest.raises(stt.SttError) as err:
        MoonshineEngine(model_copy)
    assert err.value.code == "model_missing"
    assert str(model_copy / "tokenizer.bin") in str(err.value)


def test_a_cut_model_file_is_named_before_loading(model_copy: Path) -> None:
    path = model_copy / "encoder_model.ort"
    path.write_bytes(path.read_bytes()[:1000])
    with pytest.raises(stt.SttError) as err:
        MoonshineEngine(model_copy, load=False)
    assert err.value.code == "model_corrupt" and str(path) in str(err.value)
    assert "pip install --force-reinstall moonshine-voice==0.1.0" in str(err.value)


def test_a_scrambled_model_file_is_found_by_its_hash(model_copy: Path) -> None:
    path = model_copy / "decoder_model_merged.ort"
    data = bytearray(path.read_bytes())
    data[:4096] = b"\x5a" * 4096  # same size: only the failed load and the hash tell
    path.write_bytes(bytes(data))
    with pytest.raises(stt.SttError) as err:
        MoonshineEngine(model_copy)
    assert err.value.code == "model_corrupt" and str(path) in str(err.value)


# --------------------------------------------------------------------------- choice


def test_auto_picks_moonshine_for_english_only() -> None:
    choice = stt.choose_engine("en-US")
    assert (choice.kind, choice.fallback) == ("moonshine", False)
    assert "no Vosk model" in choice.reason
    assert isinstance(stt.open_engine("en", load=False), MoonshineEngine)  # the config: auto
    assert stt.choose_engine("en", kind="pocketsphinx").kind == "pocketsphinx"
    assert isinstance(stt.open_engine("en", kind="pocketsphinx", load=False),
                      stt.PocketsphinxEngine)
    assert stt.choose_engine("en", "pocketsphinx-en-us").kind == "pocketsphinx"  # stt_model
    with pytest.raises(stt.SttError, match="No speech model for 'de'"):
        stt.choose_engine("de")  # Moonshine's model is English only
    with pytest.raises(stt.SttError, match="vosk-model-small-en-us"):
        stt.choose_engine("en", kind="vosk")


def test_without_moonshine_english_falls_back_to_pocketsphinx(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(moonshine, "package_dir", lambda: None)  # as where no wheel exists
    choice = stt.choose_engine("en")
    assert (choice.kind, choice.fallback) == ("pocketsphinx", True)
    assert "moonshine-voice package is not installed" in choice.reason
    assert isinstance(stt.open_engine("en", load=False), stt.PocketsphinxEngine)
    forced = stt.choose_engine("en", kind="moonshine")
    assert forced.kind == "pocketsphinx" and forced.reason.startswith("stt_engine is moonshine")

    from assistant.commands import doctor

    [check] = doctor._hearing()
    assert check.status == "ok" and "pocketsphinx" in check.detail
    assert "wheels only for" in check.detail


def test_doctor_names_the_engine_and_why() -> None:
    from assistant.commands import doctor

    [check] = doctor._hearing()
    assert check.status == "ok", check
    assert check.detail.startswith("Moonshine tiny English (moonshine-voice 0.1.0")
    assert "stt_engine is auto" in check.detail


def test_transcribe_command_follows_the_setting(parley_home: Path, tmp_path: Path) -> None:
    librivox()
    wav = tmp_path / "clip.wav"
    shutil.copy(LIBRIVOX / f"{SHORT_CLIP}.wav", wav)
    env = {**os.environ, "PARLEY_HOME": str(parley_home)}
    out = subprocess.run([*PARLEY, "transcribe", str(wav), "--json"], capture_output=True,
                         text=True, env=env, timeout=120)
    assert out.returncode == 0 and "Traceback" not in out.stderr, out.stderr
    assert '"engine": "moonshine"' in out.stdout
    assert normalize(out.stdout.split('"text": "')[1].split('"')[0]) == normalize(
        "he was not an ill disposed young man")
    (parley_home / "config.toml").write_text('stt_engine = "pocketsphinx"\n')
    out = subprocess.run([*PARLEY, "transcribe", str(wav), "--json"], capture_output=True,
                         text=True, env=env, timeout=120)
    assert out.returncode == 0, out.stderr
    assert '"engine": "pocketsphinx"' in out.stdout
