"""`parley bench ...`: performance numbers (medians and ratios, one run)."""

from __future__ import annotations

import argparse
import json
from pathlib import Path
from typing import Any


def add_parser(subparsers: Any) -> None:
    p = subparsers.add_parser("bench", help="measure Parley's speed")
    sub = p.add_subparsers(dest="bench", metavar="BENCH", required=True)
    llm = sub.add_parser("llm", help="LLM engine: first token, tokens/s vs bare llama-cpp, reuse")
    llm.add_argument(
        "--model", metavar="PATH", help="GGUF to measure (default: the configured one)"
    )
    llm.add_argument("--runs", type=int, default=5)
    llm.add_argument("--tokens", type=int, default=64, help="tokens generated per run")
    llm.add_argument("--threads", type=int, default=0, help="0 = physical cores")
    llm.add_argument("--json", action="store_true")
    llm.set_defaults(func=run_llm)

    gap = sub.add_parser("turn-gap", help="acoustic gap from end of speech to first reply sample")
    gap.add_argument("--rounds", type=int, default=1, help="times each question is asked")
    gap.add_argument("--idle-seconds", type=float, default=30.0)
    gap.add_argument("--no-librivox", action="store_true", help="flite questions only")
    gap.add_argument(
        "--no-hesitant", action="store_true", help="fluent requests only (no pause inside)"
    )
    gap.add_argument(
        "--set", action="append", default=[], metavar="KEY=VALUE",
        help="a setting for the Parley under test, e.g. stt_engine=pocketsphinx",
    )
    gap.add_argument(
        "--voices", default="joe,slt,rms",
        help="test voices, in turn: joe (natural, Piper), slt, rms, awb (flite)",
    )
    gap.add_argument("--model", metavar="PATH")
    gap.add_argument("--json", action="store_true")
    gap.set_defaults(func=run_turn_gap)

    wake = sub.add_parser("wake", help="wake-word detections and false wakes per threshold")
    wake.add_argument("--phrase", default="", help="default: the setting")
    wake.add_argument("--quick", action="store_true", help="fewer renderings")
    wake.set_defaults(func=run_wake)

    stt = sub.add_parser("stt", help="recognisers: WER, speed, commands' intent accuracy")
    stt.add_argument("--engines", default="", help="e.g. moonshine,pocketsphinx (default: all)")
    stt.add_argument("--voices", default="", help="test voices (default: all that speak here)")
    stt.add_argument("--repeat", type=int, default=5, help="endpoint latency measurements")
    stt.add_argument("--misses", action="store_true", help="list the commands heard wrong")
    stt.add_argument("--json", action="store_true")
    stt.set_defaults(func=run_stt)

    startup = sub.add_parser(
        "startup",
        help="time to the window and to ready-to-listen; memory of each process at rest",
    )
    startup.add_argument("--runs", type=int, default=5, help="measured runs of each")
    startup.add_argument(
        "--settle", type=float, default=10.0, help="seconds at rest before memory is read"
    )
    startup.add_argument("--model", default="", metavar="PATH|ID", help="llm_model for the run")
    startup.add_argument(
        "--home", type=Path, metavar="DIR",
        help="PARLEY_HOME for the runs, kept (its config.toml is replaced; default: a temporary)",
    )
    startup.add_argument(
        "--no-exchange", action="store_true", help="memory once ready only, not after an exchange"
    )
    startup.add_argument("--json", action="store_true")
    startup.set_defaults(func=run_startup)

    vad = sub.add_parser("vad", help="compare the VADs on the LibriVox clips")
    vad.add_argument("--snr", type=float, default=10.0, help="noise level for the noisy run (dB)")
    vad.add_argument("--json", action="store_true")
    vad.set_defaults(func=run_vad)

    answers = sub.add_parser("answers", help="answer quality: facts, context, leaks, false claims")
    answers.add_argument(
        "--model", action="append", default=[], metavar="PATH|ID",
        help="a GGUF or installed model id; repeat to compare (default: the configured one)",
    )
    answers.add_argument(
        "--set", action="append", default=[], metavar="KEY=VALUE",
        help="a setting for the run, e.g. temperature=0.3",
    )
    answers.add_argument("--only", metavar="CATEGORY", help="run one category of cases")
    answers.add_argument("--seed", type=int, default=1234)
    answers.add_argument(
        "--repeat-penalty", type=float, default=0.0, metavar="X",
        help="llama.cpp's repeat penalty for the run (1 = none; default: the model family's)",
    )
    answers.add_argument(
        "--no-copy-guard", dest="copy_guard", action="store_false",
        help="let replies copy the prompt's fixed start (to measure the guard)",
    )
    answers.add_argument("-v", "--verbose", action="store_true", help="every case, as it runs")
    answers.add_argument("--json", action="store_true")
    answers.set_defaults(func=run_answers)


def run_llm(args: argparse.Namespace) -> int:
    from assistant.bench.llm import run_llm_bench
    from assistant.config import load_settings
    from assistant.llm.engine import LlmError
    from assistant.session import resolve_model

    settings = load_settings().settings
    try:
        model = Path(args.model) if args.model else resolve_model(settings)
        result = run_llm_bench(
            model,
            threads=args.threads or settings.n_threads,
            runs=args.runs,
            max_tokens=args.tokens,
        )
    except LlmError as e:
        print(f"parley: {e.message}")
        return 1
    print(json.dumps(result.to_dict()) if args.json else result.table())
    return 0


def run_turn_gap(args: argparse.Namespace) -> int:
    from assistant.audio.virtual import PulseError
    from assistant.bench.turn_gap import librivox_clips, run_turn_gap
    from assistant.bench.voices import VoiceMissing
    from assistant.config import load_settings
    from assistant.llm.engine import LlmError
    from assistant.session import resolve_model

    try:
        model = Path(args.model) if args.model else resolve_model(load_settings().settings)
        report = run_turn_gap(
            model,
            rounds=args.rounds,
            idle_seconds=args.idle_seconds,
            librivox=[] if args.no_librivox else librivox_clips(),
            hesitant=not args.no_hesitant,
            voices=tuple(v.strip() for v in args.voices.split(",") if v.strip()),
            settings=dict(kv.split("=", 1) for kv in args.set if "=" in kv),
        )
    except (LlmError, PulseError, VoiceMissing) as e:
        print(f"parley: {e}")
        return 1
    print(json.dumps(report.to_dict()) if args.json else report.table())
    return 0


def run_stt(args: argparse.Namespace) -> int:
    import sys

    from assistant.bench import stt
    from assistant.bench.voices import VOICES, VoiceMissing, available_voices

    names = [v.strip() for v in args.voices.split(",") if v.strip()] or available_voices()
    kinds = [k.strip() for k in args.engines.split(",") if k.strip()] or stt.engine_kinds()
    unknown = [v for v in names if v not in VOICES]
    if unknown:
        print(f"parley: unknown voice {unknown[0]!r}; choose from {', '.join(VOICES)}")
        return 1
    try:
        reports = stt.run(names, kinds, repeat=args.repeat,
                          log=lambda s: print(s, file=sys.stderr, flush=True))
    except VoiceMissing as e:
        print(f"parley: {e}")
        return 1
    print(stt.to_json(reports) if args.json else stt.table(reports, misses=args.misses))
    return 0


def run_startup(args: argparse.Namespace) -> int:
    import sys

    from assistant.bench.startup import run_startup as bench_startup

    report = bench_startup(
        max(1, args.runs), settle_s=args.settle, model=args.model, home=args.home,
        exchange=not args.no_exchange, log=lambda s: print(s, file=sys.stderr, flush=True),
    )
    print(json.dumps(report.to_dict()) if args.json else report.table())
    return 1 if report.problems else 0


def run_vad(args: argparse.Namespace) -> int:
    from assistant.speech.vad_compare import compare, format_table, librivox_clips

    clips = librivox_clips()
    if not clips:
        print("parley: no LibriVox clips found (Debian package pocketsphinx-testdata)")
        return 1
    results = compare(clips, snr_db=args.snr)
    print(json.dumps(results) if args.json else format_table(results))
    return 0


def run_wake(args: argparse.Namespace) -> int:
    from assistant.config import load_settings
    from assistant.speech.stt import POCKETSPHINX, SttError, stt_model_choice
    from assistant.speech.wake_eval import evaluate, format_table
    from assistant.speech.wakeword import WakeWordError

    s = load_settings().settings
    try:
        # stt_model may be an id; the evaluation wants a folder ("" = pocketsphinx or auto).
        choice = stt_model_choice(s.stt_model) if s.stt_model else ""
        model_dir = "" if choice == POCKETSPHINX else str(choice)
        engine = "pocketsphinx" if choice == POCKETSPHINX else "auto"
        result = evaluate(
            args.phrase or s.wake_phrase, s.language, model_dir, engine=engine, quick=args.quick
        )
    except (WakeWordError, SttError) as e:
        print(f"parley: {e}")
        return 1
    print(format_table(result))
    return 0


def run_answers(args: argparse.Namespace) -> int:
    import sys

    from assistant.bench.answers import bench_answers

    return bench_answers(
        args.model, args.set, only=args.only, seed=args.seed,
        repeat_penalty=args.repeat_penalty, copy_guard=args.copy_guard, verbose=args.verbose,
        as_json=args.json, err=sys.stderr,
    )
