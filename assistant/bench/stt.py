"""`parley bench stt`: each English recogniser on real speech and on spoken commands.

Per engine (Moonshine, pocketsphinx, Vosk when an English model is installed):

- LibriVox (Debian's pocketsphinx-testdata): word error rate, real-time factor
  and load time, decoding each clip as `parley transcribe` does
  (`bench.stt_engines.offline`); the time from the endpoint to the final
  transcript through the voice loop's recogniser (`stt_engines.endpoint_latency`).
- Commands (`bench/commands.txt`) rendered by several test voices (`bench.voices`):
  word error rate, and intent accuracy: the intent Parley acts on for the heard
  text against the intent of the line as typed (`acted_intent`), before and
  after the command bias (`speech.command_bias`).
- False conversions: heard text that is no command (an open question, a
  LibriVox sentence) turned into one by the bias.
- The grammar pass (`speech.grammar_pass`): its decodes per voice, and for the
  engines that run in a worker process, the commands it re-read heard again
  through the voice loop's worker, where the pass decodes: the final's time
  after the endpoint, and whether its reading is the one the pass here makes
  of the worker's words and the same audio (`worker_rereads`).

Numbers only: it never fails on a goal; the table marks the goals met.
"""

from __future__ import annotations

import json
import re
import statistics
import time
from collections.abc import Callable, Iterable
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from assistant.bench import stt_engines, voices
from assistant.dialogue import intents
from assistant.speech import stt
from assistant.speech.wer import corpus_wer

COMMANDS_FILE = Path(__file__).with_name("commands.txt")
NATURAL_VOICES = voices.PIPER_VOICES
GOAL_WER = 0.05
GOAL_NATURAL = 0.95
GOAL_ROBOTIC = 0.90
GOAL_FINAL_MS = 60.0
LLM = "llm"
"""The acted intent of text no rule answers: the language model gets it."""


def commands(path: Path = COMMANDS_FILE) -> list[str]:
    """The spoken commands: one a line; blank lines and # comments skipped."""
    lines = (line.strip() for line in path.read_text(encoding="utf-8").splitlines())
    return [line for line in lines if line and not line.startswith("#")]


def _canon(value: Any) -> Any:
    if isinstance(value, str):
        return " ".join(re.sub(r"[^\w\s]", " ", value.lower()).split())
    if isinstance(value, float):
        return round(value, 6)
    return value


def acted_intent(text: str) -> str:
    """What Parley does with `text`: a rule intent with its entities (case and
    punctuation aside), or "llm" when no rule is sure enough to answer."""
    intent = intents.parse(text)
    if intent is None or intent.confidence < intents.RULE_CONFIDENCE:
        return LLM
    entities = {k: _canon(v) for k, v in intent.entities.items() if k != "spoken"}
    return f"{intent.name.value} {json.dumps(entities, sort_keys=True)}"


@dataclass
class VoiceScore:
    voice: str
    clips: int
    wer: float
    wer_biased: float
    intent_accuracy: float
    intent_accuracy_biased: float
    false_conversions: int
    """Open questions (typed: no command) that the bias made a command."""
    second_pass_ms: list[float] = field(default_factory=list)
    """The grammar pass's decodes (near-misses only), in ms."""
    worker_final_ms: list[float] = field(default_factory=list)
    """The same near-misses through the voice loop's worker (the pass decoding
    there): final() after the endpoint, in ms."""
    worker_same: int = 0
    """Of those, finals that are what the pass here reads of the worker's
    words and the same audio."""
    misses: list[tuple[str, str, str]] = field(default_factory=list)
    """(reference, heard, biased) where the acted intent still differs."""


@dataclass
class EngineReport:
    engine: str
    librivox_wer: float = float("nan")
    librivox_wer_biased: float = float("nan")
    librivox_false_conversions: int = 0
    rtf: float = float("nan")
    load_s: float = float("nan")
    worker_ready_s: float = float("nan")
    final_ms_median: float = float("nan")
    final_ms_max: float = float("nan")
    voices: list[VoiceScore] = field(default_factory=list)
    skipped: str = ""


class Hearing:
    """What Parley acts on for a heard text and its audio: the command bias,
    and the grammar pass over near-misses (`speech.grammar_pass`), whose
    decodes are timed."""

    def __init__(self, grammar_pass: bool = True) -> None:
        from assistant.speech.command_bias import CommandBias
        from assistant.speech.grammar_pass import GrammarPass

        self.bias = CommandBias()
        self.second = GrammarPass(self.bias) if grammar_pass else None
        self.second_ms: list[float] = []
        self.decoded: list[int] = []
        """The calls where the pass decoded."""
        self.calls = 0

    def __call__(self, text: str, audio: np.ndarray | None = None) -> str:
        from assistant.speech.command_bias import read_final

        if self.second is not None:
            self.second.last_ms = 0.0
        out = read_final(text, self.bias, self.second, audio)
        if self.second is not None and self.second.last_ms:
            self.second_ms.append(self.second.last_ms)
            self.decoded.append(self.calls)
        self.calls += 1
        return out


def _bias() -> Hearing:
    return Hearing()


def score_voice(
    voice: str,
    refs: list[str],
    heard: list[str],
    bias: Callable[..., str],
    audio: list[np.ndarray] | None = None,
) -> VoiceScore:
    """`bias(text)`, or `bias(text, audio)` for each clip's `audio` when given."""
    if audio is None:
        biased = [bias(h) for h in heard]
    else:
        biased = [bias(h, a) for h, a in zip(heard, audio, strict=True)]
    ref_intents = [acted_intent(r) for r in refs]
    raw_intents = [acted_intent(h) for h in heard]
    fixed_intents = [acted_intent(b) for b in biased]
    n = len(refs)
    false = sum(
        1 for ref, raw, fix in zip(ref_intents, raw_intents, fixed_intents, strict=True)
        if ref == LLM and raw == LLM and fix != LLM
    )
    misses = [
        (r, h, b)
        for r, h, b, ri, fi in zip(refs, heard, biased, ref_intents, fixed_intents, strict=True)
        if ri != fi
    ]
    return VoiceScore(
        voice=voice,
        clips=n,
        wer=corpus_wer(list(zip(refs, heard, strict=True))).wer,
        wer_biased=corpus_wer(list(zip(refs, biased, strict=True))).wer,
        intent_accuracy=sum(a == b for a, b in zip(ref_intents, raw_intents, strict=True)) / n,
        intent_accuracy_biased=sum(
            a == b for a, b in zip(ref_intents, fixed_intents, strict=True)
        ) / n,
        false_conversions=false,
        misses=misses,
    )


def worker_rereads(engine: Any, bias: Hearing, clips: list[np.ndarray]) -> tuple[list[float], int]:
    """`clips` heard through the voice loop's recogniser in its worker process
    (`hearing.recognizer`), fed in real time, with the bias and the grammar
    pass decoding in the worker: final()'s times after the endpoint (s), and
    how many finals are what the pass here reads of the worker's words and the
    same audio."""
    from assistant.speech import hearing
    from assistant.speech.command_bias import read_final
    from assistant.speech.grammar_pass import WorkerGrammarPass

    rec = hearing.recognizer(engine, worker=True)
    rec.reread_near_misses(sorted(bias.bias.apps))  # type: ignore[attr-defined]
    there = WorkerGrammarPass(bias.bias, rec)  # type: ignore[arg-type]
    times, same = [], 0
    try:
        rec.ready()  # type: ignore[attr-defined]
        for audio in clips:
            rec.reset()
            started = time.monotonic()
            frame = stt_engines.FRAME
            for n, i in enumerate(range(0, len(audio), frame)):
                time.sleep(max(0.0, started + n * frame / stt.SAMPLE_RATE - time.monotonic()))
                rec.accept(audio[i : i + frame])
                if n % 5 == 0:
                    bias.bias.correct(rec.partial())  # as the ear asks
            t0 = time.monotonic()
            heard = rec.final().text
            text = read_final(heard, bias.bias, there)  # as BiasedRecognizer.final
            times.append(time.monotonic() - t0)
            same += text == read_final(heard, bias.bias, bias.second, audio)
    finally:
        rec.close()
    return times, same


def render_commands(lines: list[str], voice_names: Iterable[str]) -> dict[str, list[np.ndarray]]:
    """Each command spoken by each voice, with the ear's pre-roll of silence
    before it and a short hangover after."""
    lead = np.zeros(int(stt_engines.LEAD_S * stt.SAMPLE_RATE), np.int16)
    tail = np.zeros(int(stt_engines.HANGOVER_S * stt.SAMPLE_RATE), np.int16)
    return {
        v: [np.concatenate([lead, voices.speak(line, v), tail]) for line in lines]
        for v in voice_names
    }


def engine_kinds() -> list[str]:
    kinds = ["moonshine", "pocketsphinx"]
    if stt.find_vosk_model("en") is not None:
        kinds.append("vosk")
    return kinds


def run_engine(
    kind: str,
    lines: list[str],
    clips: dict[str, list[np.ndarray]],
    *,
    repeat: int,
    bias: Callable[..., str],
    log: Callable[[str], None] = lambda _s: None,
) -> EngineReport:
    report = EngineReport(kind)
    try:
        engine = stt.open_engine("en", kind=kind)
    except stt.SttError as e:
        report.skipped = str(e)
        return report
    if stt_engines.LIBRIVOX.joinpath("transcription").is_file():
        log(f"{kind}: LibriVox")
        o = stt_engines.offline(kind)
        report.librivox_wer, report.rtf, report.load_s = o["wer"], o["rtf"], o["load_s"]
        pairs, false = [], 0
        for clip, ref in stt_engines.references().items():
            samples = stt.read_wav(stt_engines.LIBRIVOX / f"{clip}.wav")
            heard = stt.transcribe(samples, engine.recognizer()).text
            fixed = bias(heard, samples) if isinstance(bias, Hearing) else bias(heard)
            pairs.append((ref, fixed))
            false += acted_intent(heard) == LLM and acted_intent(fixed) != LLM
        report.librivox_wer_biased = corpus_wer(pairs).wer
        report.librivox_false_conversions = false
        if kind != "vosk":
            log(f"{kind}: endpoint latency")
            ready_s, times, _ = stt_engines.endpoint_latency(kind, repeat)
            report.worker_ready_s = ready_s
            report.final_ms_median = statistics.median(times) * 1000
            report.final_ms_max = max(times) * 1000
    for voice, audio in clips.items():
        log(f"{kind}: commands in {voice}")
        heard = [stt.transcribe(a, engine.recognizer()).text for a in audio]
        if isinstance(bias, Hearing):
            bias.second_ms, bias.decoded, bias.calls = [], [], 0
            score = score_voice(voice, lines, heard, bias, audio)
            score.second_pass_ms = bias.second_ms
            if kind != "vosk" and bias.decoded:
                log(f"{kind}: near-misses in {voice} through the worker")
                times, score.worker_same = worker_rereads(
                    engine, bias, [audio[i] for i in bias.decoded]
                )
                score.worker_final_ms = [t * 1000 for t in times]
        else:
            score = score_voice(voice, lines, heard, bias)
        report.voices.append(score)
    return report


def run(
    voice_names: list[str],
    kinds: list[str],
    *,
    repeat: int = 5,
    log: Callable[[str], None] = lambda _s: None,
) -> list[EngineReport]:
    lines = commands()
    started = time.monotonic()
    clips = render_commands(lines, voice_names)
    log(f"rendered {len(lines)} commands in {len(clips)} voices in "
        f"{time.monotonic() - started:.0f} s")
    bias = _bias()
    return [run_engine(k, lines, clips, repeat=repeat, bias=bias, log=log) for k in kinds]


def _mark(ok: bool) -> str:
    return "ok" if ok else "--"


def table(reports: list[EngineReport], *, misses: bool = False) -> str:
    out = []
    for r in reports:
        if r.skipped:
            out.append(f"{r.engine}: skipped ({r.skipped})")
            continue
        out.append(
            f"{r.engine}: LibriVox WER {r.librivox_wer:.3f} [{_mark(r.librivox_wer <= GOAL_WER)}]"
            f" (biased {r.librivox_wer_biased:.3f}, false conversions "
            f"{r.librivox_false_conversions}), real-time factor {r.rtf:.3f}, "
            f"load {r.load_s:.2f} s, worker ready {r.worker_ready_s:.2f} s"
        )
        out.append(
            f"  final after the endpoint: median {r.final_ms_median:.1f} ms, max "
            f"{r.final_ms_max:.1f} ms [{_mark(r.final_ms_median <= GOAL_FINAL_MS)}]"
        )
        out.append("  voice    clips  WER raw  biased  intent raw  biased  goal  false conv.")
        for v in r.voices:
            goal = GOAL_NATURAL if v.voice in NATURAL_VOICES else GOAL_ROBOTIC
            out.append(
                f"  {v.voice:<8} {v.clips:>5}  {v.wer:7.3f}  {v.wer_biased:6.3f}"
                f"  {v.intent_accuracy:9.1%}  {v.intent_accuracy_biased:6.1%}"
                f"  {_mark(v.intent_accuracy_biased >= goal):>4}  {v.false_conversions:>11}"
            )
            if v.second_pass_ms:
                ms = v.second_pass_ms
                out.append(
                    f"      grammar pass on {len(ms)} near-miss(es): median "
                    f"{statistics.median(ms):.0f} ms, max {max(ms):.0f} ms"
                )
            if v.worker_final_ms:
                ms = v.worker_final_ms
                out.append(
                    f"      through the worker: final after the endpoint median "
                    f"{statistics.median(ms):.0f} ms, max {max(ms):.0f} ms; the same "
                    f"reading as here {v.worker_same}/{len(ms)}"
                )
            if misses:
                for ref, heard, fixed in v.misses:
                    out.append(f"      {ref!r}: heard {heard!r}" +
                               (f" -> {fixed!r}" if fixed != heard else ""))
    return "\n".join(out)


def to_json(reports: list[EngineReport]) -> str:
    return json.dumps([asdict(r) for r in reports])
