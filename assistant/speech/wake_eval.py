"""Measure the wake phrase spotter: detections, false wakes, CPU.

Behind ``parley bench wake``; also ``python -m assistant.speech.wake_eval``.

Clips, rendered once into a temporary folder and read as 16 kHz (soxr):

- ``positive``: the phrase, and the phrase + a command, by flite's voices (slt,
  rms, awb; English only) and by eSpeak NG (``-v ko`` and friends for other
  languages), each clean with 0.5 s of silence around it and inside 1 s of
  white noise at 30 and 20 dB SNR.
- ``espeak``: English only: eSpeak NG en-us / en-gb saying the same. Counted
  apart: pocketsphinx's model hears eSpeak's English poorly.
- ``librivox``: every LibriVox clip of Debian's pocketsphinx-testdata: real
  read speech, none of it the phrase. The goal is no false wake here.
- ``other``: the same synthetic voices saying ordinary sentences; also a false
  wake when it fires.
- ``confusable``: near misses ("hey charlie", "hey party"); reported, not part
  of the goal (a phrase that sounds the same should wake).

Every clip goes through a ``GatedSpotter`` (VAD-gated, as in the pipeline) with one
spotter per threshold; the VAD's decisions are computed once and replayed.
The threshold is pocketsphinx's keyphrase threshold or Vosk's minimum word
confidence; for both a larger value is stricter.
"""

from __future__ import annotations

import argparse
import shutil
import statistics
import subprocess
import tempfile
import time
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from assistant.audio.format import FRAME_SAMPLES, SAMPLE_RATE
from assistant.speech import wakeword as ww
from assistant.speech.stt import VoskEngine, find_vosk_model, read_wav
from assistant.speech.vad import iter_frames, make_vad
from assistant.speech.vad_compare import librivox_clips

KWS_THRESHOLDS = (1e-5, 1e-10, 1e-15, 1e-20, 1e-25, 1e-30, 1e-35, 1e-40)
CONFIDENCES = (0.3, 0.5, 0.7, 0.9)
FLITE_VOICES = ("slt", "rms", "awb")
ESPEAK_EN_VOICES = ("en-us", "en-gb")
SNRS_DB = (30.0, 20.0)
"""White noise levels (dB below the speech power) of the noisy variants."""
_TRIM_LEVEL = 100
"""Samples at or below this (-50 dBFS) at a rendering's edges are its own silence."""
GOAL_SETS = ("librivox", "other")
"""Clip sets where any wake is a false wake."""

# What each language's renderings say. {p} is the wake phrase.
_TEXTS = {
    "en": {
        "positive": ("{p}", "{p}, what time is it"),
        "other": (
            "what time is it",
            "please set a timer for ten minutes",
            "the party was held in paris last year",
        ),
        "confusable": ("hey charlie", "hey party", "a pearly necklace", "hey barley"),
    },
    "ko": {
        "positive": ("{p}", "{p}, 지금 몇 시야"),
        "other": (
            "안녕하세요, 오늘 날씨가 참 좋네요.",
            "프랑스의 수도는 파리입니다.",
            "내일 아침 일곱 시에 깨워 주세요.",
            "팔이 아파요.",
        ),
        "confusable": ("안녕히 가세요.",),
    },
}
_ESPEAK_VARIANTS = tuple((wpm, pitch) for wpm in (120, 150, 175) for pitch in (40, 60))
"""eSpeak NG (words per minute, pitch) for the positive renderings of a non-English phrase."""


@dataclass(frozen=True)
class Clip:
    name: str
    kind: str
    """positive, espeak, librivox, other or confusable."""
    samples: np.ndarray
    phrase_end: int | None
    """Sample where the spoken phrase ends, for renderings of the phrase alone
    (the padding after it is silence or noise); None for the others."""


@dataclass(frozen=True)
class _Job:
    name: str
    kind: str
    cmd: list[str]
    path: Path
    phrase_only: bool


def _render(job: _Job) -> np.ndarray | None:
    try:
        subprocess.run(job.cmd, check=True, capture_output=True, timeout=60)
    except (OSError, subprocess.SubprocessError):
        return None
    if not job.path.exists() or job.path.stat().st_size <= 44:
        return None
    # TTS files end with some silence of their own: trim it, so the phrase's end
    # is where the speech ends. (The lead-in stays: cutting it cost the Korean
    # Vosk model most of its detections of eSpeak NG.)
    speech = read_wav(job.path)
    loud = np.flatnonzero(np.abs(speech.astype(np.int32)) > _TRIM_LEVEL)
    return speech[: loud[-1] + 1] if len(loud) else None


def _padded(job: _Job, speech: np.ndarray, snr_db: float | None, rng: np.random.Generator) -> Clip:
    lead = np.zeros(SAMPLE_RATE // (2 if snr_db is None else 1), np.int16)
    audio = np.concatenate([lead, speech, lead]).astype(np.float64)
    if snr_db is not None:
        power = float(np.mean(speech.astype(np.float64) ** 2))
        audio += rng.normal(0.0, np.sqrt(power / 10 ** (snr_db / 10)), len(audio))
    samples = np.clip(audio, -32768, 32767).astype(np.int16)
    end = len(lead) + len(speech) if job.phrase_only else None
    name = job.name if snr_db is None else f"{job.name}+noise{snr_db:.0f}dB"
    return Clip(name, job.kind, samples, end)


def _jobs(phrase: str, lang: str, language: str, workdir: Path, quick: bool) -> list[_Job]:
    texts = _TEXTS.get(lang, {"positive": ("{p}",)})
    jobs: list[_Job] = []
    for kind, lines in texts.items():
        for line in lines:
            text = line.format(p=phrase)
            voices: list[tuple[str, str, str, int, int]] = []  # tool, voice, set, wpm, pitch
            if lang == "en":
                voices += [("flite", v, kind, 0, 0) for v in FLITE_VOICES]
                if kind == "positive":
                    voices += [("espeak-ng", v, "espeak", 175, 50) for v in ESPEAK_EN_VOICES]
            else:
                variants = _ESPEAK_VARIANTS if kind == "positive" else ((175, 50),)
                voices += [("espeak-ng", language, kind, s, p) for s, p in variants]
            for tool, voice, set_kind, wpm, pitch in voices[:1] if quick else voices:
                path = workdir / f"{len(jobs):03d}.wav"
                if tool == "flite":
                    cmd = ["flite", "-voice", voice, "-t", text, "-o", str(path)]
                else:
                    cmd = ["espeak-ng", "-v", voice, "-s", str(wpm), "-p", str(pitch)]
                    cmd += ["-w", str(path), text]
                name = f"{tool}:{voice}{f':{wpm}:{pitch}' if wpm else ''}:{text}"
                jobs.append(_Job(name, set_kind, cmd, path, line == "{p}"))
    return jobs


def build_clips(phrase: str, language: str, workdir: Path, quick: bool = False) -> list[Clip]:
    """Render and load the clip sets (see the module docstring). `quick`: one
    voice per text, clean only, and two LibriVox clips."""
    lang = language.split("-")[0].lower()
    rng = np.random.default_rng(11)
    clips: list[Clip] = []
    for job in _jobs(phrase, lang, language, workdir, quick):
        speech = _render(job)
        if speech is None:
            continue
        for snr_db in (None,) if quick else (None, *SNRS_DB):
            clips.append(_padded(job, speech, snr_db, rng))
    for path in librivox_clips()[: 2 if quick else None]:
        clips.append(Clip(f"librivox:{path.stem}", "librivox", read_wav(path), None))
    return clips


class _ReplayVad:
    """Replays recorded VAD decisions so each threshold sees the same gating."""

    frame_samples = FRAME_SAMPLES

    def __init__(self, decisions: list[bool]) -> None:
        self._decisions = decisions
        self._i = 0

    def is_speech(self, frame: np.ndarray) -> bool:
        self._i += 1
        return self._decisions[self._i - 1]

    def reset(self) -> None:
        self._i = 0


def _engine_kind(language: str, model_dir: str, engine: str) -> tuple[str, Path | None]:
    if engine == "pocketsphinx":
        return "pocketsphinx", None
    path = Path(model_dir).expanduser() if model_dir else find_vosk_model(language)
    if path is not None and ww.supports_grammar(path):
        return "vosk", path
    if engine == "vosk":
        raise ww.WakeWordError(f"No Vosk model with a lookahead graph for '{language}'.")
    return "pocketsphinx", None


def evaluate(
    phrase: str = ww.DEFAULT_PHRASE,
    language: str = "en",
    model_dir: str = "",
    engine: str = "auto",
    thresholds: Sequence[float] | None = None,
    vad_kind: str = "auto",
    quick: bool = False,
) -> dict:
    """Run the spotter over every clip at each threshold. Returns a JSON-able dict:
    `rows` (one per threshold: detections and wakes per clip set, end-sample
    error), `best` (the highest detection rate with no wake in GOAL_SETS; the
    strictest such threshold on ties), `cpu` and `clips`."""
    kind, path = _engine_kind(language, model_dir, engine)
    vosk_engine = VoskEngine(path) if path is not None else None
    if thresholds is None:
        thresholds = KWS_THRESHOLDS if kind == "pocketsphinx" else CONFIDENCES

    def spotter(threshold: float) -> ww.WakeSpotter:
        if vosk_engine is not None:
            return ww.VoskGrammarSpotter(vosk_engine, phrase, min_confidence=threshold)
        return ww.KeyphraseSpotter(phrase, threshold=threshold)

    with tempfile.TemporaryDirectory(prefix="parley-wake-") as tmp:
        clips = build_clips(phrase, language, Path(tmp), quick)
    vad = make_vad(vad_kind)
    decisions, vad_cpu = [], 0.0
    for clip in clips:
        vad.reset()
        started = time.process_time()
        decisions.append([vad.is_speech(f) for f in iter_frames(clip.samples)])
        vad_cpu += time.process_time() - started
    stream_s = sum(len(c.samples) for c in clips) / SAMPLE_RATE

    rows, fed_s, spot_cpu = [], 0.0, 0.0
    for threshold in thresholds:
        spot = spotter(threshold)
        counts: dict[str, list[int]] = {}  # set -> [clips, clips with a hit, hits]
        end_err_ms: list[float] = []
        missed, woke = [], []
        started = time.process_time()
        for clip, dec in zip(clips, decisions, strict=True):
            gate = ww.GatedSpotter(spot, _ReplayVad(dec))
            hits = []
            for frame in iter_frames(clip.samples):
                wake = gate.process(frame)
                if wake is not None:
                    hits.append(wake.hit)
            spot.reset()
            c = counts.setdefault(clip.kind, [0, 0, 0])
            c[0] += 1
            c[1] += bool(hits)
            c[2] += len(hits)
            if clip.kind in ("positive", "espeak") and not hits:
                missed.append(clip.name)
            elif clip.kind not in ("positive", "espeak") and hits:
                woke.append(clip.name)
            if hits and clip.phrase_end is not None:
                end_err_ms.append(1000 * (hits[0].end_sample - clip.phrase_end) / SAMPLE_RATE)
        spot_cpu += time.process_time() - started
        fed_s += stream_s
        rows.append(
            {
                "threshold": threshold,
                "sets": {k: {"clips": v[0], "woke": v[1], "hits": v[2]} for k, v in counts.items()},
                "false_wakes": sum(counts.get(k, [0, 0, 0])[2] for k in GOAL_SETS),
                "detected": counts.get("positive", [0, 0])[1],
                "end_error_ms": _spread(end_err_ms),
                "missed": missed,
                "woke_on": woke,
            }
        )
    ok = [r for r in rows if r["false_wakes"] == 0]
    best = max(ok, key=lambda r: (r["detected"], r["threshold"]), default=None)
    by_set: dict[str, int] = {}
    for clip in clips:
        by_set[clip.kind] = by_set.get(clip.kind, 0) + 1
    return {
        "phrase": phrase,
        "language": language,
        "engine": kind,
        "model": str(path) if path else "pocketsphinx en-us",
        "vad": vad_kind,
        "clips": by_set,
        "stream_seconds": round(stream_s, 1),
        "rows": rows,
        "best": best["threshold"] if best else None,
        "cpu": {
            "vad_s_per_audio_s": vad_cpu / stream_s,
            "gated_spotter_s_per_audio_s": spot_cpu / fed_s if fed_s else None,
            "spotter_s_per_speech_s": _continuous_cpu(spotter(thresholds[0]), clips),
        },
    }


def _spread(values: list[float]) -> dict[str, float] | None:
    if not values:
        return None
    return {"median": statistics.median(values), "min": min(values), "max": max(values)}


def _continuous_cpu(spotter: ww.WakeSpotter, clips: list[Clip]) -> float:
    """CPU seconds per second of audio for the spotter fed without gating: the
    cost while someone talks (gated, silence costs only the VAD)."""
    speech = [c.samples for c in clips if c.kind == "librivox"] or [c.samples for c in clips]
    audio = np.concatenate(speech)
    started = time.process_time()
    for frame in iter_frames(audio):
        spotter.accept(frame)
    return (time.process_time() - started) / (len(audio) / SAMPLE_RATE)


def format_table(result: dict) -> str:
    """A plain-text report of `evaluate`'s result."""
    sets = list(result["clips"])
    lines = [
        f"wake phrase {result['phrase']!r} ({result['language']}), engine {result['engine']}"
        f" ({result['model']}), VAD {result['vad']}",
        "clips: "
        + ", ".join(f"{k} {v}" for k, v in result["clips"].items())
        + f"; {result['stream_seconds']} s in all",
        "threshold  " + "  ".join(f"{k:>12}" for k in sets) + "  false  end error ms",
    ]
    for row in result["rows"]:
        cells = []
        for k in sets:
            s = row["sets"].get(k, {"clips": 0, "woke": 0, "hits": 0})
            extra = f"+{s['hits'] - s['woke']}" if s["hits"] > s["woke"] else ""
            cells.append(f"{s['woke']:>3}/{s['clips']:<3}{extra:<3}".rjust(12))
        end = row["end_error_ms"]
        lines.append(
            f"{row['threshold']:<9.3g}  "
            + "  ".join(cells)
            + f"  {row['false_wakes']:>5}"
            + ("" if end is None else "  {median:+.0f} ({min:+.0f}..{max:+.0f})".format(**end))
        )
    cpu = result["cpu"]
    lines += [
        f"best threshold (no false wake, most detections): {result['best']}",
        f"CPU per second of audio: VAD {cpu['vad_s_per_audio_s']:.4f} s; spotter on speech "
        f"{cpu['spotter_s_per_speech_s']:.4f} s; gated spotter over all clips "
        f"{cpu['gated_spotter_s_per_audio_s']:.4f} s",
        "(n/m = clips that woke it / clips; +k = extra hits in those clips; end error ="
        " hit end_sample - end of the phrase, phrase-only clips: median (min..max))",
    ]
    return "\n".join(lines)


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--phrase", default=ww.DEFAULT_PHRASE)
    parser.add_argument("--language", default="en")
    parser.add_argument("--model-dir", default="")
    parser.add_argument("--engine", choices=("auto", "vosk", "pocketsphinx"), default="auto")
    parser.add_argument("--threshold", type=float, action="append", dest="thresholds")
    parser.add_argument("--vad", default="auto")
    parser.add_argument("--quick", action="store_true")
    args = parser.parse_args(argv)
    missing = [t for t in ("flite", "espeak-ng") if shutil.which(t) is None]
    if missing:
        print(f"note: {', '.join(missing)} not installed; those renderings are skipped")
    result = evaluate(
        args.phrase,
        args.language,
        args.model_dir,
        args.engine,
        args.thresholds,
        args.vad,
        args.quick,
    )
    print(format_table(result))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
