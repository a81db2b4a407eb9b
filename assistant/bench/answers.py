"""`parley bench answers`: how good the model's answers are, checked
automatically on a fixed set of prompts (`answers.toml` beside this file).

Every case is a fresh conversation said turn by turn through the real
`DialogueManager` (rules, tools, the claim gate, the LLM: the path a user's
turn takes), in a throw-away data folder. The last reply of a case is checked
by its category (facts, follow-ups, contamination, length, false claims,
grounding, leak probes); every reply the model wrote is checked for leaks.
"""

from __future__ import annotations

import re
import tempfile
import time
import tomllib
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass, field, replace
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

from assistant.config import Settings
from assistant.dialogue import claims
from assistant.events import Event, Source
from assistant.llm.templates import Message

CASES_FILE = Path(__file__).with_name("answers.toml")
CATEGORIES = (
    "facts", "followup", "contamination", "length", "false_claims", "grounding", "leaks",
)  # fmt: skip
MONTHS = (
    "January", "February", "March", "April", "May", "June", "July", "August",
    "September", "October", "November", "December",
)  # fmt: skip
WEEKDAYS = ("Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday", "Sunday")
TEMPLATE_TOKEN = re.compile(
    r"<\|[a-z_]+\|>|</?s>|<(?:start|end)_of_turn>|<bos>|<eos>|\[/?INST\]|\{\s*\"tool\"",
)
ROLE_LABEL = re.compile(r"(?:^|\n|\s)(?:User|Parley|Assistant|System|Model|Human|Facts?)\s*:")
CLOCK_TIME = re.compile(r"\b\d{1,2}[:.]\d{2}\b|\b\d{1,2}\s*[ap]\.?m\b", re.IGNORECASE)


@dataclass(frozen=True)
class Case:
    category: str
    turns: tuple[str, ...]
    accept: tuple[str, ...] = ()
    max_words: int = 0
    min_words: int = 0
    clock: tuple[str, ...] = ()


@dataclass
class CaseResult:
    category: str
    turns: list[str]
    replies: list[str]
    passed: bool
    why: str = ""
    leaks: list[str] = field(default_factory=list)
    claimed: bool = False
    """The model claimed an action no tool did (caught by the claim gate or not)."""
    heard: bool = False
    """... and the claim gate missed it: the user hears it."""
    repeats: list[str] = field(default_factory=list)
    """Runs of words a reply says twice (`repeated_run`), one per reply."""
    promised: bool = False
    """A reply to a request no tool can do promised or claimed the action with
    no refusal (`promises`), whether or not the claim gate knew the words: heard."""
    corrected: bool = False
    """The claim gate replaced a claim with its correction."""


@dataclass
class ModelReport:
    model: str
    format: str
    seconds: float
    scores: dict[str, dict[str, float]]
    """category -> {"passed", "total", "percent"}."""
    leaks: int
    """LLM replies (of all cases) with a template token, role label or few-shot content."""
    false_claims: int
    """Replies in which the model claimed an action no tool did (caught or not)."""
    false_claims_heard: int
    """Of those, claims the user would still hear (the claim gate missed them,
    or a reply to a request no tool can do promised the action: `promises`)."""
    contamination: int
    cases: list[CaseResult]
    repeats: int = 0
    """Cases with a reply that says a run of words twice (what a repeat penalty acts on)."""
    temperature: float = 0.0
    repeat_penalty: float = 0.0
    seed: int = 0
    copy_guard: bool = True
    """Whether replies were kept from copying the prompt's fixed start (llm/copy_guard.py)."""
    false_claims_corrected: int = 0
    """Cases in which the claim gate corrected a claim."""
    promises_heard: int = 0
    """Of `false_claims_heard`, cases with a promise or claim of an action no tool can do."""

    @property
    def facts_followups(self) -> float:
        """Facts and follow-ups together, in percent (the headline number)."""
        passed = sum(self.scores.get(c, {}).get("passed", 0) for c in ("facts", "followup"))
        total = sum(self.scores.get(c, {}).get("total", 0) for c in ("facts", "followup"))
        return round(100 * passed / total, 1) if total else 0.0

    def to_dict(self, verbose: bool = False) -> dict[str, Any]:
        d = asdict(self)
        d["facts_followups"] = self.facts_followups
        if not verbose:
            d["cases"] = [asdict(c) for c in self.cases if not c.passed or c.leaks]
        return d

    def table(self) -> str:
        lines = [
            f"model {self.model} ({self.format} format), temperature {self.temperature:g}, "
            f"repeat penalty {self.repeat_penalty:g}, seed {self.seed}, "
            f"copy guard {'on' if self.copy_guard else 'off'}, {self.seconds:.0f} s"
        ]
        for cat, s in self.scores.items():
            lines.append(
                f"  {cat:<14} {int(s['passed']):3d}/{int(s['total']):<3d} {s['percent']:5.1f} %"
            )
        lines += [
            f"  facts + follow-ups  {self.facts_followups:5.1f} %",
            f"  contamination       {self.contamination:3d}   (goal 0)",
            f"  leaks               {self.leaks:3d}   (goal 0)",
            f"  false claims        {self.false_claims:3d}   (goal 0; "
            f"{self.false_claims_corrected} corrected by the claim gate, "
            f"{self.false_claims_heard} heard, of which {self.promises_heard} promises)",
            f"  repeats             {self.repeats:3d}   (goal 0: replies saying "
            f"{REPEAT_RUN} words twice)",
        ]
        return "\n".join(lines)


def load_cases(path: Path = CASES_FILE) -> list[Case]:
    """The cases of `path`; ValueError with the reason for a malformed file."""
    try:
        data = tomllib.loads(path.read_text(encoding="utf-8"))
    except (OSError, tomllib.TOMLDecodeError) as e:
        raise ValueError(f"cannot read the bench cases {path}: {e}") from e
    cases = []
    for i, raw in enumerate(data.get("case", []), 1):
        category = raw.get("category", "")
        turns = raw.get("turns", [])
        if category not in CATEGORIES or not turns or not all(isinstance(t, str) for t in turns):
            raise ValueError(f"{path.name}: case {i} needs a known category and its turns")
        cases.append(
            Case(
                category,
                tuple(turns),
                tuple(raw.get("accept", ())),
                int(raw.get("max_words", 0)),
                int(raw.get("min_words", 0)),
                tuple(raw.get("clock", ())),
            )
        )
    return cases


# -- checks ------------------------------------------------------------------------


def _words(text: str) -> list[str]:
    return re.findall(r"[\w'’]+", text)


def contains(text: str, phrase: str) -> bool:
    """`phrase` in `text` as whole words, ignoring case."""
    return re.search(rf"(?<!\w){re.escape(phrase)}", text, re.IGNORECASE) is not None


def few_shot_marks(header: Sequence[Message], *, refusals: bool = True) -> set[str]:
    """What of the prompt's fixed start a reply must not copy: the proper
    nouns of the example answers (words capitalised mid-sentence) and every
    run of five words of the example answers and of the system text.
    `refusals` False leaves out the example answers that say what Parley can
    and cannot do ("I can't ..."): the right words for a request no tool can
    do (the false-claims cases), a copied example anywhere else."""
    marks: set[str] = set()
    for m in header:
        words = _words(m.content)
        if m.role != "system":  # example turns of both sides
            sentences = re.split(r"(?<=[.!?])\s+", m.content)
            marks.update(
                w for s in sentences for w in _words(s)[1:]
                if w[:1].isupper() and w not in ("I", "Parley")
            )  # fmt: skip
        if not refusals and m.role == "assistant" and m.content.startswith("I can"):
            continue
        for i in range(len(words) - 4):
            marks.add(" ".join(words[i : i + 5]))
    return marks


def find_leaks(reply: str, said: str, marks: set[str]) -> list[str]:
    """Template tokens, role labels and prompt content in `reply` that the
    user's own words (`said`) do not explain."""
    found = [m.group(0).strip() for m in TEMPLATE_TOKEN.finditer(reply)]
    found += [m.group(0).strip() for m in ROLE_LABEL.finditer(reply)]
    plain = " ".join(_words(reply))
    for mark in marks:
        if " " in mark:
            if mark.lower() in plain.lower() and mark.lower() not in said.lower():
                found.append(mark)
        elif re.search(rf"\b{re.escape(mark)}\b", reply) and not contains(said, mark):
            found.append(mark)
    return found


REPEAT_RUN = 4


def repeated_run(reply: str, n: int = REPEAT_RUN) -> str:
    """The first run of `n` words that `reply` says twice (ignoring case), or
    "": a small model's loop ("I can help you. I can help you ...")."""
    words = [w.lower() for w in _words(reply)]
    first: dict[tuple[str, ...], int] = {}
    for i in range(len(words) - n + 1):
        run = tuple(words[i : i + n])
        if run in first and i - first[run] >= n:
            return " ".join(run)
        first.setdefault(run, i)
    return ""


def rule_facts(replies: Sequence[str]) -> set[str]:
    """What earlier rule replies told: numbers of two or more digits, clock
    times, month and weekday names."""
    facts: set[str] = set()
    for reply in replies:
        facts.update(re.findall(r"\b\d{2,}\b", reply))
        facts.update(m.group(0) for m in CLOCK_TIME.finditer(reply))
        facts.update(w for w in (*MONTHS, *WEEKDAYS) if contains(reply, w))
    return facts


def clock_answers(now: datetime) -> dict[str, list[str]]:
    """What a grounded answer may say, by name; the first item of "weekpart"
    is right, the other wrong."""
    tomorrow = now + timedelta(days=1)
    weekend = now.weekday() >= 5
    hour12 = now.hour % 12 or 12
    return {
        "weekday": [WEEKDAYS[now.weekday()]],
        "tomorrow": [WEEKDAYS[tomorrow.weekday()]],
        "date": [f"{MONTHS[now.month - 1]} {now.day}", f"{now.day} {MONTHS[now.month - 1]}",
                 f"{now.day}th of {MONTHS[now.month - 1]}", f"{now.day}st of",
                 f"{now.day}nd of", f"{now.day}rd of", now.strftime("%Y-%m-%d")],
        "year": [str(now.year)],
        "hour": [f"{hour12}:", f"{now.hour:02d}:", f"{hour12} o'clock"],
        "zone": [now.astimezone().tzname() or "UTC", _zone_name()],
        "weekpart": ["weekend", "weekday"] if weekend else ["weekday", "weekend"],
    }  # fmt: skip


def _zone_name() -> str:
    """The IANA name of the local zone when the system says it (else the abbreviation)."""
    try:
        link = Path("/etc/localtime").resolve()
        if "zoneinfo" in link.parts:
            return "/".join(link.parts[link.parts.index("zoneinfo") + 1 :])
    except OSError:
        pass
    return time.tzname[0]


def check(case: Case, replies: list[str], rule_replies: list[str], now: datetime,
          claimed: bool, heard: bool) -> tuple[bool, str]:  # fmt: skip
    """Whether the last reply passes its case's check, and why not."""
    last = replies[-1] if replies else ""
    said = " ".join(case.turns)
    if case.category in ("facts", "followup"):
        ok = any(contains(last, a) for a in case.accept)
        return ok, "" if ok else "no accepted answer"
    if case.category == "contamination":
        copied = sorted(f for f in rule_facts(rule_replies) if contains(last, f)
                        and not contains(case.turns[-1], f))  # fmt: skip
        copied += [m.group(0) for m in CLOCK_TIME.finditer(last)]
        return not copied, f"repeats {', '.join(sorted(set(copied)))}" if copied else ""
    if case.category == "length":
        n = len(_words(last))
        if case.max_words and n > case.max_words:
            return False, f"{n} words (at most {case.max_words})"
        if case.min_words and n < case.min_words:
            return False, f"{n} words (at least {case.min_words})"
        return True, ""
    if case.category == "false_claims":
        return not claimed, "claimed an action no tool did" if claimed else ""
    if case.category == "grounding":
        answers = clock_answers(now)
        if "weekpart" in case.clock:
            right, wrong = answers["weekpart"]
            ok = contains(last, right) and not contains(last, wrong)
            return ok, "" if ok else f"says not {right!r}"
        wanted = [a for name in case.clock for a in answers[name]]
        if not any(contains(last, a) for a in wanted):
            return False, "not the clock's answer"
        allowed = {a for a in wanted if a in (*MONTHS, *WEEKDAYS)}
        allowed |= {MONTHS[now.month - 1]} if "date" in case.clock else set()
        invented = [w for w in (*MONTHS, *WEEKDAYS) if contains(last, w) and w not in allowed
                    and not contains(said, w)]  # fmt: skip
        return not invented, f"invents {', '.join(invented)}" if invented else ""
    return True, ""  # leaks: every case is checked for leaks below


# -- running -----------------------------------------------------------------------


REFUSAL = re.compile(
    r"\b(?:no|not|never|can't|cannot|can ?not|won't|isn't|aren't|haven't|didn't|don't|unable"
    r"|sorry|only)\b|n't\b",
    re.IGNORECASE,
)
FIRST_PERSON_ACT = re.compile(
    r"\bI(?:'ll| will| shall|'m going to| am going to|'ve| have|'m \w+ing| am \w+ing)\b"
    r"|^\W*(?:done|booked|ordered|sure thing|on it)\b|\b(?:on (?:its|the) way|now playing)\b",
    re.IGNORECASE,
)
SPEECH = re.compile(
    r"\bI(?:'ll| will|'m going to| am going to) (?:tell|explain|say|describe|answer|think)\b",
    re.IGNORECASE,
)


def promises(reply: str) -> bool:
    """Whether a reply to a request no tool can do promises or claims the
    action, judged without the claim gate: it says no refusal or negation at
    all and speaks of its own action ("I'll get that sorted", "Done!", "Your
    order is on its way"), not only of what it will say."""
    text = reply.replace("\u2019", "'")
    acts = [m for m in FIRST_PERSON_ACT.finditer(text) if not SPEECH.match(text, m.start())]
    return bool(acts) and REFUSAL.search(text) is None


def _caught(reply: str) -> bool:
    return any(f.correction in reply for f in claims.FAMILIES.values())


def run_model(
    model: Path,
    settings: Settings,
    cases: Sequence[Case],
    *,
    seed: int = 1234,
    fallback_template: str = "",
    repeat_penalty: float = 0.0,
    progress: Callable[[str], None] | None = None,
    copy_guard: bool = True,
) -> ModelReport:
    """Load `model` once and run every case through a real DialogueManager.
    `repeat_penalty` 0: the model family's (`engine.family_sampling`).
    `copy_guard` False measures replies without the copy guard."""
    from assistant.dialogue.history import History
    from assistant.dialogue.manager import DialogueManager, system_messages
    from assistant.dialogue.notes import NoteStore
    from assistant.llm.engine import LlmOptions
    from assistant.llm.provider import LlmProvider

    settings = replace(settings, llm_model=str(model), use_llm=True)
    options = LlmOptions(
        n_ctx=settings.n_ctx,
        n_threads=settings.n_threads,
        n_gpu_layers=settings.n_gpu_layers,
        chat_template=settings.chat_template,
        fallback_template=fallback_template,
        seed=seed,
        repeat_penalty=repeat_penalty,
    )
    provider = LlmProvider(lambda: model, options, lambda e: system_messages(settings, e))
    provider.start()
    engine = provider.get()
    if engine is None:
        raise provider.error or RuntimeError("the model did not load")
    engine.guard_copies = copy_guard
    t0 = time.monotonic()
    results: list[CaseResult] = []
    with tempfile.TemporaryDirectory(prefix="parley-bench-") as folder:
        history = History(Path(folder) / "history.sqlite3")
        notes = NoteStore(history)
        events: list[Event] = []
        manager = DialogueManager(
            settings, sink=events.append, history=history, llm=provider, notes=notes
        )
        header = system_messages(settings, engine, list(manager.tools))
        marks = few_shot_marks(header)
        refusing = few_shot_marks(header, refusals=False)
        try:
            for n, case in enumerate(cases, 1):
                manager.open_conversation(new=True)
                replies: list[str] = []
                rule_replies: list[str] = []
                leaks: list[str] = []
                claimed = heard = promised = corrected = False
                for turn in case.turns:
                    result = manager.handle(turn)
                    replies.append(result.reply)
                    if result.source is Source.LLM or _caught(result.reply):
                        said = " ".join(case.turns)
                        case_marks = refusing if case.category == "false_claims" else marks
                        leaks += find_leaks(result.reply, said, case_marks)
                    else:
                        rule_replies.append(result.reply)
                    unbacked = claims.unbacked_claim(result.reply, result.actions) is not None
                    if case.category == "false_claims" and not any(
                        o.ok for _n, o in result.actions
                    ):
                        promised = promised or promises(result.reply)
                    caught = _caught(result.reply)
                    heard = heard or unbacked or promised
                    claimed = claimed or heard or caught
                    corrected = corrected or caught
                ok, why = check(case, replies, rule_replies, manager.now(), claimed, heard)
                repeats = [r for r in map(repeated_run, replies) if r]
                results.append(CaseResult(case.category, list(case.turns), replies, ok, why,
                                          sorted(set(leaks)), claimed, heard, repeats,
                                          promised, corrected))  # fmt: skip
                if progress is not None:
                    mark = "ok " if ok and not leaks else "BAD"
                    progress(f"[{n}/{len(cases)}] {mark} {case.category}: {replies[-1][:70]!r}")
        finally:
            manager.close()
            history.close()
    report = _report(model.name, engine.format.name, time.monotonic() - t0, results)
    report.temperature = engine.temperature_for(settings.temperature)
    report.repeat_penalty = engine.sampling.repeat_penalty
    report.seed = seed
    report.copy_guard = copy_guard
    return report


def _report(model: str, fmt: str, seconds: float, results: list[CaseResult]) -> ModelReport:
    scores: dict[str, dict[str, float]] = {}
    for cat in CATEGORIES:
        mine = [r for r in results if r.category == cat]
        if not mine:
            continue
        passed = sum(r.passed and (cat != "leaks" or not r.leaks) for r in mine)
        scores[cat] = {
            "passed": passed,
            "total": len(mine),
            "percent": round(100 * passed / len(mine), 1),
        }
    return ModelReport(
        model=model,
        format=fmt,
        seconds=round(seconds, 1),
        scores=scores,
        leaks=sum(bool(r.leaks) for r in results),
        false_claims=sum(r.claimed for r in results),
        false_claims_heard=sum(r.heard for r in results),
        contamination=sum(not r.passed for r in results if r.category == "contamination"),
        cases=results,
        repeats=sum(bool(r.repeats) for r in results),
        false_claims_corrected=sum(r.corrected for r in results),
        promises_heard=sum(r.promised for r in results),
    )


def parse_overrides(pairs: Sequence[str]) -> dict[str, Any]:
    """`KEY=VALUE` settings (VALUE as in config.toml; bare words are text).
    ValueError naming the bad one."""
    from assistant.config import validate_value

    out: dict[str, Any] = {}
    for pair in pairs:
        key, sep, raw = pair.partition("=")
        key = key.strip()
        if not sep or not key:
            raise ValueError(f"--set {pair!r}: write it as KEY=VALUE")
        try:
            value: Any = tomllib.loads(f"v = {raw.strip()}")["v"]
        except tomllib.TOMLDecodeError:
            value = raw.strip()
        reason = validate_value(key, value)
        if reason:
            raise ValueError(f"--set {key}: {reason}")
        out[key] = float(value) if isinstance(getattr(Settings(), key), float) else value
    return out


def bench_answers(
    models: Sequence[str],
    overrides: Sequence[str],
    *,
    only: str | None = None,
    seed: int = 1234,
    repeat_penalty: float = 0.0,
    copy_guard: bool = True,
    verbose: bool = False,
    as_json: bool = False,
    err: Any = None,
) -> int:
    """`parley bench answers`: every model in turn; the scores as a table or JSON."""
    import json
    import sys

    from assistant.config import load_settings
    from assistant.llm.engine import LlmError
    from assistant.session import catalog_template, resolve_model

    err = err or sys.stderr
    if only is not None and only not in CATEGORIES:
        print(f"parley: no category {only!r} (known: {', '.join(CATEGORIES)})", file=err)
        return 1
    try:
        settings = replace(load_settings().settings, **parse_overrides(overrides))
        cases = [c for c in load_cases() if only is None or c.category == only]
    except ValueError as e:
        print(f"parley: {e}", file=err)
        return 1
    reports = []
    for name in models or [settings.llm_model]:
        try:
            path = resolve_model(replace(settings, llm_model=name))
            progress = (lambda line: print(line, file=err, flush=True)) if verbose else None
            report = run_model(
                path, settings, cases, seed=seed, fallback_template=catalog_template(name),
                repeat_penalty=repeat_penalty, progress=progress, copy_guard=copy_guard,
            )
        except LlmError as e:
            print(f"parley: {name or 'the embedded model'}: {e.message}", file=err)
            return 1
        reports.append(report)
        if not as_json:
            print(report.table(), flush=True)
    if as_json:
        print(json.dumps([r.to_dict(verbose) for r in reports]))
    return 0
