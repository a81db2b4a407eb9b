"""Compare the frame VADs on real speech: accuracy, endpointing, noise, CPU.

Behind ``parley bench vad``; also ``python -m assistant.speech.vad_compare [WAV...]``.

Reference labelling: pocketsphinx forced alignment of each clip to its known
transcript (``Decoder.set_align_text``). The alignment comes from an acoustic
model that has nothing in common with the VADs under test, and it pins the
first word's start and the last word's end to 10 ms frames, which is exactly
what endpointing needs. Its limit: pocketsphinx places silence only at the
clip's edges, so short gaps between words (50-200 ms in these read sentences)
count as speech. The frame score is therefore "inside the utterance or not",
and gaps a VAD opens inside it are reported separately (``max_gap_ms``), since
those are what cause false endpoints.

Each clip is padded with 1 s before and 1.5 s after of noise with the level
and spectrum of the clip's own background (a real microphone never delivers
digital zeros, and a different noise at the joins would be a cue no live
stream has), then scored clean and with white noise mixed in at `snr_db`
relative to the speech power. Debian's pocketsphinx-testdata ships no noise
recordings.
"""

from __future__ import annotations

import argparse
import statistics
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

from assistant.audio.format import FRAME_SAMPLES, FRAME_SECONDS, SAMPLE_RATE, read_wav_16k
from assistant.speech.vad import (
    Endpointer,
    EndpointEventType,
    FrameVad,
    available_vads,
    iter_frames,
    make_vad,
)

if TYPE_CHECKING:
    from pocketsphinx import Decoder

LIBRIVOX_DIR = Path("/usr/share/pocketsphinx/test/data/librivox")
"""Where Debian's pocketsphinx-testdata puts its LibriVox clips and transcripts."""

COMPARED_KINDS = ("energy", "webrtc:1", "webrtc:2", "webrtc:3", "silero")
LEAD_S = 1.0
TRAIL_S = 1.5
LONG_HANGOVER_S = 0.6
SHORT_HANGOVER_S = 0.2
_ENDS = (EndpointEventType.SPEECH_END, EndpointEventType.TIMEOUT)
_EPS = 1e-6


@dataclass(frozen=True)
class Word:
    text: str
    start_s: float
    """Seconds from the start of the clip."""
    end_s: float


@dataclass(frozen=True)
class LabelledStream:
    """A padded clip with its reference labels, ready to feed a VAD frame by frame."""

    name: str
    samples: np.ndarray
    """int16, 16 kHz mono."""
    reference: np.ndarray
    """bool per FRAME_SAMPLES frame: speech according to the alignment."""
    speech_start_s: float
    """Stream seconds where the first aligned word starts."""
    speech_end_s: float
    """Stream seconds where the last aligned word ends: the true end of speech."""


def librivox_clips() -> list[Path]:
    """The testdata clips, sorted; empty when the Debian package is not installed."""
    return sorted(LIBRIVOX_DIR.glob("*.wav"))


def load_transcripts(path: Path) -> dict[str, str]:
    """Parse a Sphinx transcription file: ``<s> words </s> (utterance-id)`` per line."""
    result: dict[str, str] = {}
    for line in path.read_text(encoding="utf-8").splitlines():
        text, sep, rest = line.rpartition("(")
        if not sep:
            continue
        words = [w for w in text.split() if w not in ("<s>", "</s>")]
        result[rest.strip().rstrip(")")] = " ".join(words)
    return result


def align_words(samples: np.ndarray, text: str, decoder: Decoder | None = None) -> list[Word]:
    """Forced alignment of `text` to `samples` with pocketsphinx's bundled English model."""
    import pocketsphinx

    dec = decoder if decoder is not None else pocketsphinx.Decoder(loglevel="FATAL")
    dec.set_align_text(text)
    dec.start_utt()
    dec.process_raw(samples.tobytes(), full_utt=True)
    dec.end_utt()
    frame_s = 1.0 / float(dec.config["frate"])
    words = []
    for seg in dec.seg():
        if seg.word.startswith(("<", "[", "+")):  # <s>, <sil>, [NOISE], ++BREATH++
            continue
        word = seg.word.split("(")[0]  # "to(3)" is a pronunciation variant
        words.append(Word(word, seg.start_frame * frame_s, (seg.end_frame + 1) * frame_s))
    if not words:
        raise ValueError(f"pocketsphinx could not align {text!r}")
    return words


def _frame_rms(samples: np.ndarray) -> np.ndarray:
    frames = samples[: len(samples) // FRAME_SAMPLES * FRAME_SAMPLES].astype(np.float64)
    return np.sqrt((frames.reshape(-1, FRAME_SAMPLES) ** 2).mean(axis=1))


def _to_int16(x: np.ndarray) -> np.ndarray:
    return np.clip(np.rint(x), -32768, 32767).astype(np.int16)


def background_noise(clip: np.ndarray, n: int, rng: np.random.Generator) -> np.ndarray:
    """`n` samples of stationary noise with the level and spectrum of the clip's quietest
    frames, so padding sounds like the same microphone and room, not a new noise."""
    rms = _frame_rms(clip)
    quiet = rms <= np.percentile(rms, 10)
    frames = clip[: len(rms) * FRAME_SAMPLES].reshape(-1, FRAME_SAMPLES)[quiet]
    spectrum = np.sqrt((np.abs(np.fft.rfft(frames.astype(np.float64), axis=1)) ** 2).mean(0))
    shaped = np.fft.rfft(rng.normal(0, 1, n))
    bins = np.linspace(0, len(spectrum) - 1, len(shaped))
    noise = np.fft.irfft(shaped * np.interp(bins, np.arange(len(spectrum)), spectrum), n)
    target = max(float(np.sqrt((frames.astype(np.float64) ** 2).mean())), 1.0)
    return noise * target / max(float(np.sqrt((noise**2).mean())), 1e-9)


def labelled_stream(
    name: str, clip: np.ndarray, words: Sequence[Word], rng: np.random.Generator
) -> LabelledStream:
    """Pad `clip` with its own background noise and label its frames from `words`."""
    lead, trail = int(LEAD_S * SAMPLE_RATE), int(TRAIL_S * SAMPLE_RATE)
    padded = np.concatenate(
        (
            background_noise(clip, lead, rng),
            clip.astype(np.float64),
            background_noise(clip, trail, rng),
        )
    )
    n_frames = len(padded) // FRAME_SAMPLES
    mask = np.zeros(n_frames * FRAME_SAMPLES, dtype=bool)
    for w in words:
        mask[lead + int(w.start_s * SAMPLE_RATE) : lead + int(w.end_s * SAMPLE_RATE)] = True
    reference = mask.reshape(n_frames, FRAME_SAMPLES).mean(axis=1) >= 0.5
    return LabelledStream(
        name=name,
        samples=_to_int16(padded),
        reference=reference,
        speech_start_s=LEAD_S + words[0].start_s,
        speech_end_s=LEAD_S + words[-1].end_s,
    )


def add_white_noise(
    stream: LabelledStream, snr_db: float, rng: np.random.Generator
) -> LabelledStream:
    """The same stream with white noise `snr_db` below the reference speech power."""
    frames = stream.samples[: len(stream.reference) * FRAME_SAMPLES].astype(np.float64)
    speech = frames.reshape(-1, FRAME_SAMPLES)[stream.reference]
    speech_rms = float(np.sqrt((speech**2).mean()))
    noise = rng.normal(0, speech_rms / 10 ** (snr_db / 20), len(stream.samples))
    return LabelledStream(
        name=stream.name,
        samples=_to_int16(stream.samples.astype(np.float64) + noise),
        reference=stream.reference,
        speech_start_s=stream.speech_start_s,
        speech_end_s=stream.speech_end_s,
    )


def run_vad(
    kind: str, stream: LabelledStream, vad: FrameVad | None = None
) -> tuple[np.ndarray, float]:
    """Speech decision per frame, and the mean CPU time of one decision in µs."""
    v = vad if vad is not None else make_vad(kind)
    v.reset()
    # Thread CPU time, not wall time: other processes on a shared machine don't count.
    started = time.thread_time_ns()
    labels = [v.is_speech(frame) for frame in iter_frames(stream.samples)]
    spent_ns = time.thread_time_ns() - started
    return np.array(labels, dtype=bool), spent_ns / max(len(labels), 1) / 1000.0


def _longest_gap_s(labels: np.ndarray, stream: LabelledStream) -> float:
    """Longest run of non-speech decisions inside the reference utterance."""
    inside = np.flatnonzero(stream.reference)
    longest = run = 0
    for is_speech in labels[inside[0] : inside[-1] + 1]:
        run = 0 if is_speech else run + 1
        longest = max(longest, run)
    return longest * FRAME_SECONDS


@dataclass
class _EndpointScore:
    false_ends: int = 0
    false_starts: int = 0
    missed: int = 0
    latency_s: float | None = None
    end_error_s: float | None = None


def score_endpointing(
    labels: np.ndarray, stream: LabelledStream, hangover_s: float
) -> _EndpointScore:
    """Feed decisions through an Endpointer and judge the utterances it finds."""
    ep = Endpointer(hangover_s=hangover_s, short_hangover_s=min(SHORT_HANGOVER_S, hangover_s))
    events = [e for is_speech in labels for e in ep.process(FRAME_SECONDS, bool(is_speech))]
    ends = [e for e in events + ep.flush() if e.type in _ENDS]
    score = _EndpointScore()
    final = None
    for e in ends:
        if e.speech_end_s <= stream.speech_start_s or e.speech_start_s >= stream.speech_end_s:
            score.false_starts += 1  # an utterance made of background noise only
        elif e.time_s < stream.speech_end_s:
            score.false_ends += 1  # cut while the speaker had words to come
        elif final is None:
            final = e
    if final is None or final.time_s > len(labels) * FRAME_SECONDS - _EPS:
        score.missed = 1
    else:
        score.latency_s = final.time_s - stream.speech_end_s
        score.end_error_s = final.speech_end_s - stream.speech_end_s
    return score


def _median_ms(values: list[float]) -> float:
    return round(1000 * statistics.median(values), 1) if values else float("nan")


def _score_condition(
    kind: str, vad: FrameVad, streams: Sequence[LabelledStream]
) -> dict[str, float]:
    tp = fp = fn = tn = 0
    costs, gaps, latencies, short_latencies, errors = [], [], [], [], []
    long_false = short_false = false_starts = missed = 0
    for stream in streams:
        labels, cost = run_vad(kind, stream, vad)
        ref = stream.reference[: len(labels)]
        tp += int(np.sum(labels & ref))
        fp += int(np.sum(labels & ~ref))
        fn += int(np.sum(~labels & ref))
        tn += int(np.sum(~labels & ~ref))
        costs.append(cost)
        gaps.append(_longest_gap_s(labels, stream))
        long = score_endpointing(labels, stream, LONG_HANGOVER_S)
        short = score_endpointing(labels, stream, SHORT_HANGOVER_S)
        long_false += long.false_ends
        short_false += short.false_ends
        false_starts += long.false_starts
        missed += long.missed
        if long.latency_s is not None and long.end_error_s is not None:
            latencies.append(long.latency_s)
            errors.append(long.end_error_s)
        if short.latency_s is not None:
            short_latencies.append(short.latency_s)
    total = tp + fp + fn + tn
    return {
        "accuracy": round((tp + tn) / total, 3),
        "speech_recall": round(tp / max(tp + fn, 1), 3),
        "false_alarm": round(fp / max(fp + tn, 1), 3),
        "end_error_ms": _median_ms(errors),
        "endpoint_latency_ms": _median_ms(latencies),
        "endpoint_latency_short_ms": _median_ms(short_latencies),
        "max_gap_ms": round(1000 * max(gaps), 1),
        "false_ends_long": float(long_false),
        "false_ends_short": float(short_false),
        "false_starts": float(false_starts),
        "missed_ends": float(missed),
        "cpu_us_per_frame": round(statistics.median(costs), 1),
    }


def compare(
    wav_files: Sequence[Path],
    transcripts: Mapping[str, str] | None = None,
    *,
    kinds: Sequence[str] | None = None,
    snr_db: float = 10.0,
    seed: int = 0,
) -> dict[str, dict[str, float]]:
    """Score each VAD kind on the clips, clean and in white noise at `snr_db`.

    `transcripts` maps a clip's file stem to its words; by default each clip's
    folder must hold a Sphinx ``transcription`` file. Returns, per VAD kind,
    metrics named ``<condition>.<metric>`` (conditions ``clean`` and
    ``noise<snr>db``) plus ``cpu_us_per_frame`` (thread CPU µs per 30 ms frame, clean
    streams, median over clips). Kinds whose engine is not installed are left out.

    - accuracy, speech_recall, false_alarm: frame agreement with the alignment;
    - end_error_ms: median (VAD's end of speech - true end); negative cuts speech;
    - endpoint_latency_ms / endpoint_latency_short_ms: median (SPEECH_END decision -
      true end) with the 0.6 s / 0.2 s hangover;
    - max_gap_ms: longest non-speech run the VAD opened inside an utterance;
    - false_ends_long / false_ends_short: SPEECH_END before the true end with the
      0.6 s / 0.2 s hangover, summed over clips;
    - false_starts: utterances made of background only; missed_ends: clips never ended.
    """
    import pocketsphinx

    if not wav_files:
        raise ValueError("no clips to compare")
    rng = np.random.default_rng(seed)
    decoder = pocketsphinx.Decoder(loglevel="FATAL")
    clean: list[LabelledStream] = []
    for path in wav_files:
        table = transcripts if transcripts is not None else _transcripts_beside(path)
        if path.stem not in table:
            raise ValueError(f"no transcript for {path.name}")
        samples = read_wav_16k(path)
        words = align_words(samples, table[path.stem], decoder)
        clean.append(labelled_stream(path.stem, samples, words, rng))
    noisy = [add_white_noise(s, snr_db, rng) for s in clean]
    noise_name = f"noise{snr_db:g}db"

    available = set(available_vads())
    results: dict[str, dict[str, float]] = {}
    for kind in kinds if kinds is not None else COMPARED_KINDS:
        if kind not in available:
            continue
        vad = make_vad(kind)
        row: dict[str, float] = {}
        for name, streams in (("clean", clean), (noise_name, noisy)):
            scores = _score_condition(kind, vad, streams)
            cost = scores.pop("cpu_us_per_frame")
            if name == "clean":
                row["cpu_us_per_frame"] = cost
            row.update({f"{name}.{k}": v for k, v in scores.items()})
        results[kind] = row
    return results


_transcript_cache: dict[Path, dict[str, str]] = {}


def _transcripts_beside(wav: Path) -> dict[str, str]:
    path = wav.parent / "transcription"
    if path not in _transcript_cache:
        _transcript_cache[path] = load_transcripts(path) if path.exists() else {}
    return _transcript_cache[path]


def format_table(results: Mapping[str, Mapping[str, float]]) -> str:
    """Metrics as rows, VAD kinds as columns, for a terminal."""
    kinds = list(results)
    if not kinds:
        return "(no VAD could be compared)"
    metrics = list(dict.fromkeys(m for row in results.values() for m in row))
    width = max(len(m) for m in metrics)
    lines = [" " * width + "".join(f"{k:>11}" for k in kinds)]
    for m in metrics:
        cells = "".join(f"{_cell(results[k].get(m)):>11}" for k in kinds)
        lines.append(f"{m:<{width}}{cells}")
    return "\n".join(lines)


def _cell(value: float | None) -> str:
    if value is None or value != value:  # missing or NaN
        return "-"
    return f"{value:g}"


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("wavs", nargs="*", type=Path, help="clips (default: LibriVox testdata)")
    parser.add_argument("--snr", type=float, default=10.0, help="noise condition SNR in dB")
    args = parser.parse_args(argv)
    wavs = args.wavs or librivox_clips()
    if not wavs:
        parser.error(f"no clips given and none in {LIBRIVOX_DIR} (pocketsphinx-testdata)")
    print(format_table(compare(wavs, snr_db=args.snr)))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
