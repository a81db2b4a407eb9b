"""The local LLM: one llama-cpp-python `Llama`, streaming, cancellable, with
prefix reuse between turns.

Why our own token loop over `Llama.generate` instead of `create_completion`:
`create_completion` has no cancel hook and hides how many prompt tokens it
evaluated. `generate` keeps llama-cpp-python's KV-cache prefix matching (only
tokens after the longest common prefix with the cached ones are evaluated),
and lets us check a cancel token and the stop sequences after every token.
"""

from __future__ import annotations

import codecs
import contextlib
import logging
import os
import sys
import threading
import time
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from assistant.events import ErrorCode
from assistant.llm.cancel import CancelToken
from assistant.llm.copy_guard import CopyGuard, TokenBans
from assistant.llm.templates import (
    BASE_MODEL_EXAMPLES,
    TEMPLATE_MARKERS,
    ChatFormat,
    FormatWarning,
    Message,
    select_format,
)

log = logging.getLogger(__name__)

GGUF_MAGIC = b"GGUF"
LONG_END_DENIALS = 6
"""Times a reply held open (`min_tokens`) may be kept from ending where the
model would end it: the 270M model ends a story after each sentence, and held
open past what it has to say it filled the rest with its prompt (the tool
list, the examples' names). Measured on the bench's and 6 held-out long
requests: 2 denials gave ~23 words, 4 ~46, 6 ~50-80."""
PREFILL_CHUNK = 16
"""Tokens per llama.cpp call in an interruptible prefill (~30 ms each here): the
longest a waiting turn waits for it."""
CPU_UBATCH = 128
"""llama.cpp's physical batch when the model runs on the CPU. Its compute
buffer is reserved for the largest batch and every page a batch touches stays
resident: with 128 instead of llama.cpp's 512, 5 MB less after the
system-prompt prefill and 14 MB less after a 380-token prompt evaluated at
once, at the same prompt speed (Gemma 3 270M, 2 cores, best of 5: 683 against
680 tokens/s for 128 tokens, 803 against 789 for 1000). A GPU keeps 512."""


class LlmError(Exception):
    """A model that cannot be used, with a message a user can act on."""

    def __init__(self, code: str, message: str) -> None:
        super().__init__(message)
        self.code = code
        self.message = message


@dataclass(frozen=True)
class LlmOptions:
    n_ctx: int = 2048
    n_threads: int = 0
    """0 = physical cores."""
    n_gpu_layers: int = 0
    """-1 offloads every layer (Metal on Apple Silicon)."""
    chat_template: str = ""
    """"" = from the GGUF, else a name in templates.NAMED_FORMATS."""
    fallback_template: str = ""
    """A name in templates.NAMED_FORMATS for a GGUF without a template of its
    own (the model catalog's); "" = the plain transcript format."""
    seed: int = -1
    repeat_penalty: float = 0.0
    """0 = the model family's (`family_sampling`); 1 = no penalty."""


@dataclass
class GenerationStats:
    prompt_tokens: int = 0
    evaluated_tokens: int = 0
    """Prompt tokens actually evaluated (the rest came from the KV cache)."""
    generated_tokens: int = 0
    first_token_ms: float = 0.0
    """From the call to the first text delta."""
    total_ms: float = 0.0
    decode_ms: float = 0.0
    """From the first generated token to the last."""
    finish: str = ""
    """eos | stop | length | cancelled"""
    ahead_tokens: int = 0
    """Tokens taken from a generation run ahead (`generate_ahead`), not made now."""
    token_times: list[float] = field(default_factory=list, repr=False)

    @property
    def tokens_per_s(self) -> float:
        if self.generated_tokens < 2 or self.decode_ms <= 0:
            return 0.0
        return (self.generated_tokens - 1) / (self.decode_ms / 1000)


_log_callback: Any = None


def _route_llama_logs() -> None:
    """llama.cpp prints some messages to stderr even with verbose=False, which
    would land in the middle of a chat. Send them to our log file instead."""
    global _log_callback
    if _log_callback is not None:
        return
    import ctypes

    import llama_cpp

    native = logging.getLogger("llama.cpp")

    @llama_cpp.llama_log_callback
    def callback(level: int, text: bytes, _user: ctypes.c_void_p) -> None:
        native.log(
            logging.INFO if level == 3 else logging.DEBUG,
            "%s",
            text.decode("utf-8", "replace").rstrip(),
        )

    _log_callback = callback  # keep a reference: ctypes must not free it
    llama_cpp.llama_log_set(callback, ctypes.c_void_p(0))
    _keep_stdio()


class _NoRedirect:
    """Stands in for llama-cpp-python's `suppress_stdout_stderr`."""

    def __init__(self, disable: bool = True) -> None:
        pass

    def __enter__(self) -> _NoRedirect:
        return self

    def __exit__(self, *exc: object) -> None:
        pass


def _keep_stdio() -> None:
    """With verbose=False, llama-cpp-python points the process's stdout and
    stderr (file descriptors 1 and 2, for every thread) at /dev/null while a
    model loads: a chat reply printed meanwhile, and the last flush of a quit
    during the load, were lost. Its native output already comes to our log
    callback, so the redirect is switched off."""
    for name in ("llama_cpp.llama", "llama_cpp._internals"):
        module = sys.modules.get(name)
        if module is not None and hasattr(module, "suppress_stdout_stderr"):
            module.suppress_stdout_stderr = _NoRedirect


def physical_cores() -> int:
    """Physical cores: llama.cpp slows down when threads exceed them."""
    try:
        import psutil

        n = psutil.cpu_count(logical=False)
    except Exception:  # psutil missing or unsupported platform
        n = None
    return max(1, n or os.cpu_count() or 1)


def check_gguf(path: Path) -> None:
    """Refuse files that are missing or not GGUF before llama.cpp sees them."""
    if not path.exists():
        raise LlmError(ErrorCode.MODEL_MISSING, f"Model file not found: {path}")
    if not path.is_file():
        raise LlmError(ErrorCode.MODEL_MISSING, f"Model path is not a file: {path}")
    try:
        with path.open("rb") as f:
            magic = f.read(4)
    except OSError as e:
        why = f"Cannot read model file {path}: {e.strerror}"
        raise LlmError(ErrorCode.MODEL_UNREADABLE, why) from e
    if magic != GGUF_MAGIC:
        raise LlmError(
            "model_corrupt",
            f"{path.name} is not a GGUF model file (it does not start with 'GGUF'). "
            "Choose a .gguf file, or run `parley models list` to get one.",
        )


class LlmEngine:
    """One loaded model. Generations are serialised by a lock; `generate` is
    called from the brain thread, `count_tokens` from anywhere."""

    def __init__(
        self,
        llama: object,
        path: Path,
        fmt: ChatFormat,
        why: str,
        warnings: Sequence[FormatWarning] = (),
        repeat_penalty: float = 0.0,
    ) -> None:
        self._llm = llama
        self.path = path
        self.format = fmt
        self.format_reason = why
        self.format_warnings = tuple(warnings)
        """The chat format does not fit the model (a wrong setting, a template
        that fails): each says what and the fix. The dialogue manager shows them."""
        self.sampling = family_sampling(fmt)
        if repeat_penalty > 0:
            self.sampling = Sampling(self.sampling.temperature, repeat_penalty)
        self._sampling = {**_SAMPLING, "repeat_penalty": self.sampling.repeat_penalty}
        self.n_ctx: int = llama.n_ctx()  # type: ignore[attr-defined]
        self._lock = threading.Lock()
        self._tok_cache: tuple[str, list[int]] = ("", [])
        self._eog = self._eog_checker()
        self._bos_text, _ = _special_text(llama)
        self._ahead: _Ahead | None = None
        self.guard_copies = True
        """Keep replies from copying the prompt's fixed start (llm/copy_guard.py);
        off only to measure what it does (`parley bench answers --no-copy-guard`)."""
        self._bans = TokenBans(self._word_tokens)
        self._enders: list[int] | None = None
        self._guards: dict[tuple[str, ...], CopyGuard] = {}

    # -- loading -----------------------------------------------------------------

    @classmethod
    def load(cls, path: Path, options: LlmOptions | None = None) -> LlmEngine:
        options = options or LlmOptions()
        path = Path(path).expanduser()
        check_gguf(path)
        try:
            from llama_cpp import Llama
        except ImportError as e:
            raise LlmError(
                "llm_unavailable", f"llama-cpp-python is not installed ({e}); reinstall Parley."
            ) from e
        _route_llama_logs()
        threads = options.n_threads or physical_cores()
        threads = min(threads, os.cpu_count() or threads)
        t0 = time.monotonic()
        try:
            llama = Llama(
                model_path=str(path),
                n_ctx=options.n_ctx,
                n_ubatch=CPU_UBATCH if options.n_gpu_layers == 0 else 512,
                n_threads=threads,
                n_threads_batch=threads,
                n_gpu_layers=options.n_gpu_layers,
                seed=options.seed if options.seed >= 0 else 0xFFFFFFFF,
                verbose=False,
            )
        except (ValueError, RuntimeError, OSError) as e:
            raise LlmError(
                "model_corrupt",
                f"Cannot load {path.name}: the file is damaged or not a model llama.cpp "
                f"supports ({e}). Download it again or choose another model.",
            ) from e
        meta = {str(k): str(v) for k, v in (llama.metadata or {}).items()}
        bos, eos = _special_text(llama)
        choice = select_format(
            meta,
            options.chat_template,
            bos=bos,
            eos=eos,
            fallback=options.fallback_template,
            filename=path.name,
        )
        why = choice.reason
        log.info(
            "loaded %s in %.0f ms: n_ctx=%d threads=%d gpu_layers=%d; %s",
            path.name,
            (time.monotonic() - t0) * 1000,
            options.n_ctx,
            threads,
            options.n_gpu_layers,
            why,
        )
        for warning in choice.warnings:
            log.warning("chat format: %s", warning)
        return cls(llama, path, choice.format, why, choice.warnings, options.repeat_penalty)

    def _eog_checker(self) -> Callable[[int], bool]:
        """End-of-generation test: EOS and the template's end-of-turn tokens
        (Gemma's <end_of_turn>), as llama-cpp-python's own completion loop does."""
        llm: Any = self._llm
        vocab = getattr(getattr(llm, "_model", None), "vocab", None)
        try:
            import llama_cpp

            if vocab is not None:
                return lambda t: bool(llama_cpp.llama_vocab_is_eog(vocab, t))
        except (ImportError, AttributeError):
            pass
        eos = llm.token_eos()
        return lambda t: t == eos

    def temperature_for(self, setting: float) -> float:
        """The temperature to sample at for the temperature setting: below 0
        (automatic) the one measured best for this model's family."""
        return self.sampling.temperature if setting < 0 else setting

    @property
    def busy(self) -> bool:
        """Whether a generation or prefill holds the model (llama.cpp code may
        be running): the exit path must not tear the interpreter down then."""
        return self._lock.locked()

    # -- tokens ------------------------------------------------------------------

    def tokenize(self, text: str) -> list[int]:
        """Tokens of a whole prompt (special tokens parsed). The last result is
        cached: context fitting and generation tokenize the same prompt."""
        cached_text, cached = self._tok_cache
        if text == cached_text and cached:
            return cached
        tokens = self._llm.tokenize(  # type: ignore[attr-defined]
            text.encode("utf-8"),
            add_bos=not (self._bos_text and text.startswith(self._bos_text)),
            special=True,
        )
        self._tok_cache = (text, tokens)
        return tokens

    def count_tokens(self, text: str) -> int:
        return len(self.tokenize(text))

    # -- generation --------------------------------------------------------------

    def render(self, messages: Sequence[Message], add_generation_prompt: bool = True) -> str:
        return self.format.render(messages, add_generation_prompt)

    def prefill(self, messages: Sequence[Message]) -> int:
        """Evaluate a prompt prefix now (the system prompt at load), so the
        first turn only evaluates its own tokens. Returns tokens evaluated."""
        return self.prefill_text(self.format.render(messages, add_generation_prompt=False))

    def prefill_text(
        self, text: str, should_stop: Callable[[], bool] | None = None, chunk: int = PREFILL_CHUNK
    ) -> int:
        """Evaluate `text` (the start of a future prompt) into the KV cache.
        With `should_stop`, the work goes in chunks of `chunk` tokens and ends
        early when it returns True (a turn is waiting: llama.cpp cannot stop a
        batch midway, and a rule answer must not wait behind a long prefill;
        what was evaluated stays a valid cached prefix). Returns tokens evaluated."""
        if len(text) > 4 * self.n_ctx:  # cheap guard before tokenizing
            return 0
        with self._lock:
            tokens = self.tokenize(text)
            if len(tokens) >= self.n_ctx:
                return 0
            reuse = self._cached_prefix(tokens)
            todo = tokens[reuse:]
            if not todo:
                return 0
            llm = self._llm
            llm.n_tokens = reuse  # type: ignore[attr-defined]
            step = chunk if should_stop is not None else len(todo)
            done = 0
            while done < len(todo):
                if should_stop is not None and should_stop():
                    break
                llm.eval(todo[done : done + step])  # type: ignore[attr-defined]
                done += min(step, len(todo) - done)
            return done

    def _cached_prefix(self, tokens: list[int]) -> int:
        """Length of the prefix of `tokens` that stays in the KV cache, as
        llama-cpp-python's generate() computes it: when the whole prompt is
        cached, its last token is evaluated again to refresh the logits."""
        llm: Any = self._llm
        n = 0
        for a, b in zip(llm._input_ids, tokens, strict=False):
            if a != b:
                break
            n += 1
        return n - 1 if n == len(tokens) and n > 0 else n

    def stream(
        self,
        messages: Sequence[Message],
        *,
        max_tokens: int,
        cancel: CancelToken | None = None,
        temperature: float = 0.7,
        stats: GenerationStats | None = None,
        extra_stop: Sequence[str] = (),
        ignore_eos: bool = False,
        paragraphs: bool = False,
        min_tokens: int = 0,
    ) -> Iterator[str]:
        """Yield reply text as it is generated. Stops at EOS, a stop sequence,
        `max_tokens`, or within one token of `cancel` being set.
        `ignore_eos` (benchmarks) generates exactly `max_tokens`, still paying
        for the EOS and stop checks. `paragraphs` (a long reply was asked
        for): a blank line does not end the reply. `min_tokens` (the same):
        no end of text or line before that many tokens. A negative
        `temperature` is the model family's (`temperature_for`)."""
        stats = stats if stats is not None else GenerationStats()
        t0 = time.monotonic()
        temperature = self.temperature_for(temperature)
        prompt = self.format.render(messages)
        stops = tuple(
            s
            for s in dict.fromkeys((*self.format.stop, *TEMPLATE_MARKERS, *extra_stop))
            if s and not (paragraphs and s == "\n\n")
        )
        with self._lock:
            tokens = self.tokenize(prompt)
            if len(tokens) + max_tokens > self.n_ctx:
                max_tokens = self.n_ctx - len(tokens)
                if max_tokens <= 0:
                    raise LlmError(
                        "context_full",
                        f"The prompt ({len(tokens)} tokens) fills the whole context "
                        f"({self.n_ctx}).",
                    )
            stats.prompt_tokens = len(tokens)
            replay = self._take_ahead(tokens, temperature, min_tokens)
            stats.ahead_tokens = len(replay)
            if replay:
                stats.evaluated_tokens = 1  # the last token run ahead, not yet evaluated
            else:
                stats.evaluated_tokens = len(tokens) - self._cached_prefix(tokens)
            processors = self._processors(messages, len(tokens), min_tokens)
            yield from self._decode(
                tokens, max_tokens, cancel, temperature, stops, stats, t0, ignore_eos, replay,
                processors,
            )  # fmt: skip

    def generate_ahead(
        self,
        messages: Sequence[Message],
        *,
        temperature: float = 0.7,
        budget: int = 16,
        should_stop: Callable[[], bool] | None = None,
        min_tokens: int = 0,
    ) -> int:
        """Start the reply to `messages` before it is asked for (the user paused
        and may have finished): generate up to `budget` tokens, or until
        `should_stop()` (checked after each token), and keep them. A `stream`
        of exactly this prompt and temperature then starts with these tokens at
        once and goes on from there; any other use of the model discards them.
        Returns the tokens generated."""
        temperature = self.temperature_for(temperature)
        prompt = self.format.render(messages)
        with self._lock:
            self._ahead = None
            tokens = self.tokenize(prompt)
            if len(tokens) + budget >= self.n_ctx:
                return 0
            made: list[int] = []
            gen = self._llm.generate(  # type: ignore[attr-defined]
                tokens, temp=temperature, reset=True, **self._sampling,
                logits_processor=self._processors(messages, len(tokens), min_tokens),
            )  # fmt: skip
            try:
                for token in gen:
                    made.append(token)
                    if self._eog(token) or len(made) >= budget:
                        break
                    if should_stop is not None and should_stop():
                        break
            finally:
                gen.close()
            self._ahead = _Ahead(tokens, made, temperature, min_tokens)
            return len(made)

    @contextlib.contextmanager
    def own_decoding(self, prompt: str) -> Iterator[OwnDecoding]:
        """The model for a decoding loop of the caller's own (the tool-call
        grammar samples by itself), with the lock held: the prompt is evaluated
        with prefix reuse, then the caller reads logits and evaluates tokens."""
        with self._lock:
            self._ahead = None
            tokens = self.tokenize(prompt)
            reuse = self._cached_prefix(tokens)
            yield OwnDecoding(self._llm, tokens, reuse, self._eog, self.n_ctx)

    def _processors(self, messages: Sequence[Message], n_prompt: int, min_tokens: int) -> Any:
        """The llama-cpp-python logits processors of a reply: the copy guard,
        no runs of one token, and `min_tokens` held open."""
        found = [p for p in (self._no_copies(messages, n_prompt, min_tokens),) if p is not None]
        found.append(no_token_runs(n_prompt))
        if min_tokens > 0:
            found.append(self._held_open(n_prompt, min_tokens))
        return found

    def _held_open(self, n_prompt: int, min_tokens: int) -> Callable[[Any, Any], Any]:
        """Bans the end of text and line breaks until the reply has
        `min_tokens`, or the model has asked to end more than LONG_END_DENIALS
        times: a base model's long story otherwise ends after one line ("tell
        me a long story about a dragon" -> "I can't sing.")."""
        if self._enders is None:
            llm: Any = self._llm
            # Every end-of-generation token (~0.1 s for Gemma's 262k, once).
            ids = {llm.token_eos()} | {t for t in range(llm.n_vocab()) if self._eog(t)}
            for k in range(1, 33):  # the tokens of line breaks alone ("\n", "\n\n", ...)
                found = self._word_tokens("\n" * k)
                if len(found) == 1:
                    ids.add(found[0])
            self._enders = sorted(ids)
        enders = self._enders
        denied = 0

        def process(input_ids: Any, scores: Any) -> Any:
            nonlocal denied
            if len(input_ids) - n_prompt >= min_tokens or denied > LONG_END_DENIALS:
                return scores
            if int(scores.argmax()) in enders:
                denied += 1
                if denied > LONG_END_DENIALS:
                    return scores  # it has said what it has: a story of its own, not filler
            scores[enders] = -float("inf")
            return scores

        return process

    def _no_copies(self, messages: Sequence[Message], n_prompt: int, min_tokens: int = 0) -> Any:
        """The llama-cpp-python logits processor that keeps the reply to
        `messages` from copying their fixed start (llm/copy_guard.py: the
        system text and the base-model examples) or itself; None when there is
        no fixed start. Before `min_tokens` the reply is held open (`banned`'s
        `held`)."""
        if not self.guard_copies:
            return None
        system = [m.content for m in messages[:1] if m.role == "system"]
        examples = [m.content for m in messages if m in BASE_MODEL_EXAMPLES]
        key = (*system, "\x00", *examples)
        guard = self._guards.get(key)
        if guard is None:
            if len(self._guards) >= 8:  # the fixed start changes with settings only
                self._guards.clear()
            guard = self._guards[key] = CopyGuard(examples, system)
        if not guard:
            return None
        said = next((m.content for m in reversed(messages) if m.role == "user"), "")
        llm, bans = self._llm, self._bans

        def process(input_ids: Any, scores: Any) -> Any:
            reply = input_ids[n_prompt:]
            if len(reply) == 0:
                return scores
            written = bytes(llm.detokenize(list(reply))).decode("utf-8", "replace")
            for text in guard.banned(written, said, held=len(reply) < min_tokens):
                scores[list(bans.tokens(text))] = -float("inf")
            return scores

        return process

    def _word_tokens(self, text: str) -> list[int]:
        """`text` as reply tokens (no BOS, no special tokens)."""
        return self._llm.tokenize(text.encode("utf-8"), add_bos=False, special=False)  # type: ignore[attr-defined]

    def _take_ahead(self, tokens: list[int], temperature: float, min_tokens: int) -> list[int]:
        """The tokens run ahead for this prompt, if the KV cache still holds
        exactly that state (the last one is sampled but not evaluated yet)."""
        ahead, self._ahead = self._ahead, None
        if ahead is None or (ahead.prompt, ahead.temperature, ahead.min_tokens) != (
            tokens, temperature, min_tokens
        ):
            return []
        expected = tokens + ahead.tokens[:-1]
        if list(self._llm._input_ids) != expected:  # type: ignore[attr-defined]
            return []  # something else used the model in between
        return ahead.tokens

    def _tokens(
        self, prompt: list[int], replay: Sequence[int], temperature: float, processors: Any = None
    ) -> Iterator[int]:
        """The reply's tokens: those run ahead first, then llama.cpp's, which
        continues after them (its prefix match evaluates only the last one)."""
        yield from replay
        gen = self._llm.generate(  # type: ignore[attr-defined]
            [*prompt, *replay], temp=temperature, reset=True, **self._sampling,
            logits_processor=processors,
        )  # fmt: skip
        try:
            yield from gen
        finally:
            gen.close()

    def _decode(
        self,
        tokens: list[int],
        max_tokens: int,
        cancel: CancelToken | None,
        temperature: float,
        stops: tuple[str, ...],
        stats: GenerationStats,
        t0: float,
        ignore_eos: bool = False,
        replay: Sequence[int] = (),
        processors: Any = None,
    ) -> Iterator[str]:
        llm = self._llm
        decoder = codecs.getincrementaldecoder("utf-8")(errors="replace")
        pending = ""  # text held back: it may be the start of a stop sequence
        sent = 0  # leading characters of `pending` already yielded (whitespace only)
        first_tok_t = 0.0
        stats.finish = "length"
        gen = self._tokens(tokens, replay, temperature, processors)
        try:
            for token in gen:
                if cancel is not None and cancel.cancelled:
                    stats.finish = "cancelled"
                    break
                now = time.monotonic()
                if stats.generated_tokens == 0:
                    first_tok_t = now
                stats.generated_tokens += 1
                stats.decode_ms = (now - first_tok_t) * 1000
                if self._eog(token) and not ignore_eos:
                    stats.finish = "eos"
                    break
                piece = llm.detokenize([token], special=True)  # type: ignore[attr-defined]
                pending += decoder.decode(piece)
                if stats.first_token_ms == 0.0:
                    # Base models often open with blank lines; they are not a
                    # reply, and must not trip the "\n\n" stop sequence.
                    pending = pending.lstrip()
                cut = _find_stop(pending, stops)
                if cut >= 0 and not ignore_eos:
                    pending = pending[sent:cut]
                    stats.finish = "stop"
                    break
                out, pending, sent = release(pending, sent, stops)
                if out:
                    if stats.first_token_ms == 0.0:
                        stats.first_token_ms = (time.monotonic() - t0) * 1000
                    yield out
                if stats.generated_tokens >= max_tokens:
                    break
        finally:
            gen.close()
            stats.total_ms = (time.monotonic() - t0) * 1000
        if stats.finish != "cancelled":
            if stats.finish != "stop":
                pending = pending[sent:]
            pending += decoder.decode(b"", final=True)
            if pending:
                if stats.first_token_ms == 0.0:
                    stats.first_token_ms = (time.monotonic() - t0) * 1000
                yield pending


class OwnDecoding:
    """What `LlmEngine.own_decoding` lends: the prompt's tokens, and the few
    llama.cpp operations a decoding loop needs."""

    def __init__(
        self, llama: Any, tokens: list[int], reuse: int, eog: Callable[[int], bool], n_ctx: int
    ) -> None:
        self._llm = llama
        self.tokens = tokens
        self.reused = reuse
        """Prompt tokens already in the KV cache (the rest is evaluated by `start`)."""
        self.is_end = eog
        self.n_ctx = n_ctx
        self.n_vocab: int = llama.n_vocab()
        self.vocab: Any = llama._model.vocab  # for llama_cpp's sampler constructors

    def start(self) -> None:
        """Evaluate the prompt after its cached prefix."""
        self._llm.n_tokens = self.reused
        self._llm.eval(self.tokens[self.reused :])

    def logits(self) -> Any:
        """The last position's logits (a numpy view into llama.cpp's buffer)."""
        import llama_cpp
        import numpy as np

        ptr = llama_cpp.llama_get_logits_ith(self._llm._ctx.ctx, -1)
        return np.ctypeslib.as_array(ptr, shape=(self.n_vocab,))

    def accept(self, token: int) -> None:
        """Evaluate a chosen token: the next `logits()` follow it."""
        self._llm.eval([token])

    def detokenize(self, tokens: list[int]) -> bytes:
        return bytes(self._llm.detokenize(tokens))


_SAMPLING: dict[str, float | int] = {"top_k": 40, "top_p": 0.95, "min_p": 0.05,
                                     "repeat_penalty": 1.1}  # fmt: skip


@dataclass(frozen=True)
class Sampling:
    temperature: float
    """The temperature that measured best for this family."""
    repeat_penalty: float
    """llama.cpp's repeat penalty: it acts on the tokens of the reply being
    written only (llama-cpp-python's sampler is never shown the prompt)."""


COMMON_SAMPLING = Sampling(temperature=0.7, repeat_penalty=1.1)
"""llama.cpp's common defaults: kept for instruct formats (no instruct weights
could be measured here)."""
FAMILY_SAMPLING: dict[str, Sampling] = {
    "plain": Sampling(temperature=0.0, repeat_penalty=1.1),
}
"""By chat format name, measured with `parley bench answers` (the table is in
docs/ARCHITECTURE.md, Answers): a base model in its plain transcript answers
best with its likeliest words (45 of 74 cases at 0, 43.8 at 0.2, 41.4 at 0.7);
a repeat penalty of 1.1 changes one case in 74 and is kept against loops (at
1.0 some replies said a run of words twice)."""


def family_sampling(fmt: ChatFormat) -> Sampling:
    return FAMILY_SAMPLING.get(fmt.name, COMMON_SAMPLING)


TOKEN_RUN = 4
"""The same token this many times in a row may not come again: a held-open
poem ran into a URL of 300 sixes ("...-4666666..."), which llama.cpp's repeat
penalty of 1.1 does not stop and speech would read out digit by digit."""


def no_token_runs(n_prompt: int) -> Callable[[Any, Any], Any]:
    """A logits processor banning the token the reply has just written
    TOKEN_RUN times in a row."""

    def process(input_ids: Any, scores: Any) -> Any:
        last = input_ids[-TOKEN_RUN:]
        if len(input_ids) - n_prompt >= TOKEN_RUN and (last == last[0]).all():
            scores[int(last[0])] = -float("inf")
        return scores

    return process


@dataclass
class _Ahead:
    """Tokens sampled for a prompt before it was asked for (`generate_ahead`)."""

    prompt: list[int]
    tokens: list[int]
    temperature: float
    min_tokens: int = 0


def release(pending: str, sent: int, stops: tuple[str, ...]) -> tuple[str, str, int]:
    """What of `pending` can be yielded now: everything but a tail that could
    begin a stop sequence, plus that tail's leading whitespace. The whitespace
    matters: "Hello." followed by a held "\n" (the start of "\n\nUser:") would
    otherwise keep the clause chunker from seeing the sentence end until the
    next token decides the stop, and a reply may only gain trailing blanks.
    Returns (text to yield, new pending, how much of it was already yielded)."""
    keep = _stop_prefix_len(pending, stops)
    held_at = len(pending) - keep
    end = held_at
    while end < len(pending) and pending[end].isspace():
        end += 1
    out = pending[sent:end] if end > sent else ""
    return out, pending[held_at:], max(sent, end) - held_at


def _find_stop(text: str, stops: tuple[str, ...]) -> int:
    hits = [i for i in (text.find(s) for s in stops) if i >= 0]
    return min(hits) if hits else -1


def _stop_prefix_len(text: str, stops: tuple[str, ...]) -> int:
    """Length of the longest tail of `text` that could begin a stop sequence:
    only that much is held back, so ordinary text streams without delay."""
    best = 0
    for s in stops:
        for n in range(min(len(s) - 1, len(text)), best, -1):
            if text.endswith(s[:n]):
                best = n
                break
    return best


def _special_text(llama: object) -> tuple[str, str]:
    """BOS and EOS as text, for templates that write them out."""

    def text(tok: int) -> str:
        if tok < 0:
            return ""
        try:
            return llama.detokenize([tok], special=True).decode("utf-8", "ignore")  # type: ignore[attr-defined]
        except Exception:
            return ""

    return text(llama.token_bos()), text(llama.token_eos())  # type: ignore[attr-defined]
