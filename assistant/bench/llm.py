"""`parley bench llm`: Parley's LLM engine against a bare llama-cpp-python loop
on the same `Llama` (same model, same threads), measured in one run.

Reports time to first token (cold: whole prompt; warm: a second turn with
prefix reuse), decode tokens/s of both loops and their ratio, and the prefix
reuse ratio: prompt tokens evaluated on turn 2 / the new tokens of turn 2.
"""

from __future__ import annotations

import time
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

from assistant.bench.stats import median
from assistant.llm.engine import GenerationStats, LlmEngine, LlmOptions
from assistant.llm.templates import Message

SYSTEM = Message("system", "You are Parley, a helpful assistant. Answer briefly.")
TURN1 = Message("user", "Tell me a long story about a dragon who learns to bake bread.")
TURN2 = Message("user", "What was the dragon's name?")
SAMPLING = {"top_k": 40, "top_p": 0.95, "min_p": 0.05, "repeat_penalty": 1.1}


@dataclass
class LlmBench:
    model: str
    threads: int
    runs: int
    max_tokens: int
    ttft_cold_ms: float
    ttft_warm_ms: float
    parley_tokens_per_s: float
    bare_tokens_per_s: float
    ratio: float
    """Parley tokens/s divided by bare tokens/s (goal >= 0.95)."""
    turn2_evaluated: int
    turn2_new: int
    turn2_reuse_ratio: float
    """Tokens evaluated on turn 2 / its new tokens (goal <= 1.1)."""

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    def table(self) -> str:
        return "\n".join(
            [
                f"model {self.model}, {self.threads} threads, {self.runs} runs, "
                f"{self.max_tokens} tokens each (medians)",
                f"  time to first token, cold prompt   {self.ttft_cold_ms:8.1f} ms",
                f"  time to first token, turn 2 (warm) {self.ttft_warm_ms:8.1f} ms",
                f"  decode, Parley engine              {self.parley_tokens_per_s:8.1f} tokens/s",
                f"  decode, bare llama-cpp-python      {self.bare_tokens_per_s:8.1f} tokens/s",
                f"  ratio Parley / bare                {self.ratio:8.3f}   (goal >= 0.95)",
                f"  turn 2: evaluated {self.turn2_evaluated} of {self.turn2_new} new tokens: "
                f"ratio {self.turn2_reuse_ratio:.2f}   (goal <= 1.1)",
            ]
        )


def _bare_decode(engine: LlmEngine, prompt: str, n: int) -> float:
    """Tokens/s of the plainest loop llama-cpp-python offers: generate() and
    count tokens, nothing else. Cache reset so both loops do the same work."""
    llm: Any = engine._llm
    tokens = llm.tokenize(prompt.encode(), add_bos=True, special=True)
    llm.reset()
    first = last = 0.0
    count = 0
    for _tok in llm.generate(tokens, temp=0.7, **SAMPLING):
        last = time.monotonic()
        if count == 0:
            first = last
        count += 1
        if count >= n:
            break
    return (count - 1) / (last - first) if count > 1 and last > first else 0.0


def _parley_decode(engine: LlmEngine, messages: list[Message], n: int) -> tuple[float, float]:
    engine._llm.reset()  # type: ignore[attr-defined]
    stats = GenerationStats()
    for _ in engine.stream(messages, max_tokens=n, stats=stats, temperature=0.7, ignore_eos=True):
        pass
    return stats.tokens_per_s, stats.first_token_ms


def run_llm_bench(
    model: Path, *, threads: int = 0, runs: int = 5, max_tokens: int = 64, n_ctx: int = 2048
) -> LlmBench:
    engine = LlmEngine.load(model, LlmOptions(n_ctx=n_ctx, n_threads=threads))
    llm: Any = engine._llm
    messages = [SYSTEM, TURN1]
    prompt = engine.render(messages)
    parley, bare, cold = [], [], []
    _parley_decode(engine, messages, 8)  # warm-up: first-call allocations
    for _ in range(runs):  # interleaved, so drift on a shared machine hits both alike
        rate, ttft = _parley_decode(engine, messages, max_tokens)
        parley.append(rate)
        cold.append(ttft)
        bare.append(_bare_decode(engine, prompt, max_tokens))

    evaluated, new, warm = [], [], []
    for _ in range(runs):
        llm.reset()
        s1 = GenerationStats()
        reply1 = "".join(engine.stream(messages, max_tokens=40, stats=s1)).strip()
        convo = [SYSTEM, TURN1, Message("assistant", reply1)]
        before = engine.count_tokens(engine.render(convo, add_generation_prompt=False))
        s2 = GenerationStats()
        for _ in engine.stream([*convo, TURN2], max_tokens=8, stats=s2):
            pass
        evaluated.append(s2.evaluated_tokens)
        new.append(s2.prompt_tokens - before)
        warm.append(s2.first_token_ms)
    p, b = median(parley), median(bare)
    ev, nw = median(evaluated), median(new)
    return LlmBench(
        model=model.name,
        threads=llm.n_threads if hasattr(llm, "n_threads") else threads,
        runs=runs,
        max_tokens=max_tokens,
        ttft_cold_ms=round(median(cold), 1),
        ttft_warm_ms=round(median(warm), 1),
        parley_tokens_per_s=round(p, 1),
        bare_tokens_per_s=round(b, 1),
        ratio=round(p / b, 3) if b else float("nan"),
        turn2_evaluated=int(ev),
        turn2_new=int(nw),
        turn2_reuse_ratio=round(ev / nw, 3) if nw else float("nan"),
    )
