"""English recognisers side by side: Moonshine against pocketsphinx.

    python -m assistant.bench.stt_engines [--repeat N]

For each engine: word error rate on the LibriVox clips of Debian's
pocketsphinx-testdata, decoding time per second of speech (real-time factor)
and load time, in this process as `parley transcribe` decodes a file; then the
time from the endpoint to the final transcript through the worker process the
voice loop uses, for the 3.0 s clip followed by the short 0.2 s hangover, fed
at the microphone's pace. Numbers only: it never fails on timing.
"""

from __future__ import annotations

import argparse
import re
import statistics
import time
from pathlib import Path

import numpy as np

from assistant.speech import stt
from assistant.speech.stt_worker import RecognizerProcess
from assistant.speech.wer import corpus_wer

LIBRIVOX = Path("/usr/share/pocketsphinx/test/data/librivox")
SHORT_CLIP = "sense_and_sensibility_01_austen_64kb-0880"  # 3.0 s
FRAME = 480
LEAD_S, HANGOVER_S = 0.3, 0.2
"""The ear's pre-roll before speech, and its shortest hangover after it."""


def references() -> dict[str, str]:
    refs = {}
    for line in (LIBRIVOX / "transcription").read_text().splitlines():
        m = re.fullmatch(r"<s> (.*) </s> \((.*)\)", line.strip())
        if m:
            refs[m[2]] = m[1]
    return refs


def offline(kind: str) -> dict[str, float]:
    """WER, real-time factor and load time, decoding in this process."""
    started = time.monotonic()
    engine = stt.open_engine("en", kind=kind)
    load_s = time.monotonic() - started
    pairs, audio_s, decode_s = [], 0.0, 0.0
    for clip, ref in references().items():
        audio = stt.read_wav(LIBRIVOX / f"{clip}.wav")
        rec = engine.recognizer()
        started = time.monotonic()
        pairs.append((ref, stt.transcribe(audio, rec).text))
        decode_s += time.monotonic() - started
        audio_s += len(audio) / stt.SAMPLE_RATE
    total = corpus_wer(pairs)
    return {"wer": total.wer, "errors": total.errors, "words": total.words,
            "rtf": decode_s / audio_s, "load_s": load_s}


def endpoint_latency(kind: str, repeat: int) -> tuple[float, list[float], str]:
    """(worker start-up s, final() times after the hangover, last text)."""
    rec = RecognizerProcess(two_pass=False, engine=kind)
    started = time.monotonic()
    rec.ready()
    ready_s = time.monotonic() - started
    audio = np.concatenate([
        np.zeros(int(LEAD_S * stt.SAMPLE_RATE), np.int16),
        stt.read_wav(LIBRIVOX / f"{SHORT_CLIP}.wav"),
        np.zeros(int(HANGOVER_S * stt.SAMPLE_RATE), np.int16),
    ])
    times, text = [], ""
    try:
        for _ in range(repeat):
            rec.reset()
            t0 = time.monotonic()
            for n, i in enumerate(range(0, len(audio), FRAME)):
                time.sleep(max(0.0, t0 + n * FRAME / stt.SAMPLE_RATE - time.monotonic()))
                rec.accept(audio[i : i + FRAME])
                if n % 5 == 0:
                    rec.partial()  # as the ear asks
            started = time.monotonic()
            text = rec.final().text
            times.append(time.monotonic() - started)
    finally:
        rec.close()
    return ready_s, times, text


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--repeat", type=int, default=5, help="endpoint measurements per engine")
    args = p.parse_args(argv)
    if not (LIBRIVOX / "transcription").is_file():
        print(f"{LIBRIVOX} is missing (Debian package pocketsphinx-testdata)")
        return 1
    for kind in ("moonshine", "pocketsphinx"):
        o = offline(kind)
        ready_s, times, text = endpoint_latency(kind, args.repeat)
        print(f"{kind}: LibriVox WER {o['wer']:.3f} ({o['errors']}/{o['words']}), "
              f"real-time factor {o['rtf']:.3f}, load {o['load_s']:.2f} s in process, "
              f"worker ready in {ready_s:.2f} s")
        print(f"  final() {HANGOVER_S:.1f} s after a 3.0 s utterance: median "
              f"{statistics.median(times) * 1000:.1f} ms, max {max(times) * 1000:.1f} ms "
              f"over {len(times)}: {text!r}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
