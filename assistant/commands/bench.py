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
