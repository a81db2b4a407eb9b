"""The codes that cross module boundaries are StrEnum members (assistant/events.py):
every code the core or the UI writes or compares as a literal is one of them, so
a typo or a new code nobody listed fails here, not silently in the UI. Members
equal their text, so `--json`, the history database and old comparisons see
exactly the strings they saw before."""

from __future__ import annotations

import ast
import json
import sqlite3
from collections.abc import Iterator
from pathlib import Path

import pytest

from assistant.events import Error, ErrorCode, Flagged, FlagReason, Notice, NoticeCode

REPO = Path(__file__).resolve().parents[2]

# Constructor -> (position of the code argument, its keyword, the enum it belongs to).
PRODUCERS: dict[str, tuple[int, str, type]] = {
    "Error": (0, "code", ErrorCode),
    "Notice": (1, "code", NoticeCode),
    "Flagged": (1, "reason", FlagReason),
    "LlmError": (0, "code", ErrorCode),  # becomes Error.code
    "SttError": (1, "code", ErrorCode),
    "_flag": (1, "reason", FlagReason),  # DialogueManager's: history and Flagged
    "_clarify": (2, "reason", FlagReason),
}
KEYWORDS = {"flagged": FlagReason}
"""Keyword arguments that carry a code to any call (the history's flagged column)."""
COMPARED = {"code": (ErrorCode, NoticeCode), "reason": (FlagReason,)}


def _sources() -> Iterator[tuple[Path, ast.AST]]:
    for folder in ("assistant", "ui"):
        for path in sorted((REPO / folder).rglob("*.py")):
            yield path, ast.parse(path.read_text(encoding="utf-8"), str(path))


def _name(node: ast.expr) -> str:
    """`f` of `f(...)`, `x.f(...)`, `f == ...` or `x.f == ...`."""
    if isinstance(node, ast.Name):
        return node.id
    return node.attr if isinstance(node, ast.Attribute) else ""


def _strings(node: ast.expr) -> Iterator[str]:
    if isinstance(node, ast.Constant) and isinstance(node.value, str):
        yield node.value
    elif isinstance(node, (ast.Tuple, ast.List, ast.Set)):
        for elt in node.elts:
            yield from _strings(elt)


def _written_codes() -> Iterator[tuple[str, str, type]]:
    for path, tree in _sources():
        for node in ast.walk(tree):
            if not isinstance(node, ast.Call):
                continue
            for kw in node.keywords:
                if kw.arg in KEYWORDS:
                    for text in _strings(kw.value):
                        if text:  # "" clears a flag
                            yield f"{path.relative_to(REPO)}:{node.lineno}", text, KEYWORDS[kw.arg]
            if _name(node.func) not in PRODUCERS:
                continue
            pos, keyword, enum = PRODUCERS[_name(node.func)]
            args = [kw.value for kw in node.keywords if kw.arg == keyword]
            if len(node.args) > pos:
                args.append(node.args[pos])
            for arg in args:
                for text in _strings(arg):
                    yield f"{path.relative_to(REPO)}:{node.lineno}", text, enum


def _compared_codes() -> Iterator[tuple[str, str, tuple[type, ...]]]:
    for path, tree in _sources():
        for node in ast.walk(tree):
            if not isinstance(node, ast.Compare):
                continue
            enums = COMPARED.get(_name(node.left))
            if enums is None:
                continue
            for comparator in node.comparators:
                for text in _strings(comparator):
                    yield f"{path.relative_to(REPO)}:{node.lineno}", text, enums


def test_the_guard_finds_the_producers() -> None:
    found = {enum for _where, _text, enum in _written_codes()}
    assert found == {ErrorCode, NoticeCode, FlagReason}


def test_every_code_written_as_text_is_a_member() -> None:
    unknown = [f"{where}: {text!r}" for where, text, enum in _written_codes()
               if text not in set(enum)]  # fmt: skip
    assert unknown == []


def test_every_code_compared_as_text_is_a_member() -> None:
    unknown = [
        f"{where}: {text!r}"
        for where, text, enums in _compared_codes()
        if not any(text in set(enum) for enum in enums)
    ]
    assert unknown == []


def test_members_are_their_text_in_json_and_in_sqlite() -> None:
    e = Error(ErrorCode.MODEL_MISSING, "No model.")
    assert e.code == "model_missing" and str(e.code) == "model_missing"
    assert json.loads(e.to_json())["code"] == "model_missing"
    assert Notice("Loaded.").to_dict()["code"] == ""
    db = sqlite3.connect(":memory:")
    db.execute("CREATE TABLE t (flagged TEXT)")
    db.execute("INSERT INTO t VALUES (?)", (Flagged(1, FlagReason.LOW_CONFIDENCE).reason,))
    row = db.execute("SELECT flagged, typeof(flagged) FROM t").fetchone()
    assert row == ("low_confidence", "text")
    assert FlagReason(row[0]) is FlagReason.LOW_CONFIDENCE


@pytest.mark.parametrize("enum", [ErrorCode, NoticeCode, FlagReason])
def test_values_are_unique_snake_case(enum: type) -> None:
    values = [m.value for m in enum]
    assert len(values) == len(set(values))
    assert all(v == "" or v.replace("_", "").isalpha() and v.islower() for v in values)


def test_history_stores_role_status_and_flag_as_the_same_text(tmp_path: Path) -> None:
    from assistant.dialogue.history import History, TurnRole, TurnStatus

    h = History(tmp_path / "history.sqlite3")
    try:
        c = h.new_conversation()
        user = h.add_turn(c, TurnRole.USER, "hello", flagged=FlagReason.LOW_CONFIDENCE)
        h.add_turn(c, "assistant", "hi", status="streaming")  # plain text still works
        h.update_turn(user, status=TurnStatus.INTERRUPTED)
        turns = h.turns(c)
    finally:
        h.close()
    assert [(t.role, t.status) for t in turns] == [
        (TurnRole.USER, TurnStatus.INTERRUPTED), (TurnRole.ASSISTANT, TurnStatus.STREAMING)
    ]
    assert all(type(t.role) is TurnRole and type(t.status) is TurnStatus for t in turns)
    db = sqlite3.connect(tmp_path / "history.sqlite3")
    query = "SELECT role, status, flagged, typeof(role) FROM turns ORDER BY id"
    rows = db.execute(query).fetchall()
    db.close()
    assert rows == [("user", "interrupted", "low_confidence", "text"),
                    ("assistant", "streaming", None, "text")]  # fmt: skip


def test_timers_store_kind_and_state_as_the_same_text(tmp_path: Path) -> None:
    from assistant.dialogue.timers import TimerKind, TimerState, TimerStore

    store = TimerStore(tmp_path / "timers.sqlite3")
    try:
        alarm = store.add(2e9, kind="alarm", label="tea")
        timer = store.add(2e9, kind=TimerKind.TIMER, duration_s=60)
        assert store.finish(timer.id, TimerState.CANCELLED)
        again = store.get(timer.id)
    finally:
        store.close()
    assert (alarm.kind, alarm.state) == (TimerKind.ALARM, TimerState.PENDING)
    assert again is not None and type(again.state) is TimerState
    assert (again.kind, again.state) == ("timer", "cancelled")
    db = sqlite3.connect(tmp_path / "timers.sqlite3")
    rows = db.execute("SELECT kind, state, typeof(state) FROM timers ORDER BY id").fetchall()
    db.close()
    assert rows == [("alarm", "pending", "text"), ("timer", "cancelled", "text")]
