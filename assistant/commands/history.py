"""`parley history`: list, show, export and review past conversations."""

from __future__ import annotations

import argparse
import json
import sys
from typing import Any

from assistant import paths
from assistant.dialogue.history import (
    EXPORT_FORMATS,
    SPEAKERS,
    History,
    HistoryError,
    Turn,
    local_time,
)


def add_parser(subparsers: Any) -> None:
    """Register `history` on the top-level `parley` subparsers."""
    parser = subparsers.add_parser(
        "history",
        help="list, show and export past conversations",
        description="Past conversations, from the history database in Parley's data directory.",
    )
    parser.set_defaults(func=run)
    sub = parser.add_subparsers(dest="history_command", metavar="COMMAND", required=True)

    p = sub.add_parser("list", help="conversations, newest first")
    p.add_argument("--json", action="store_true", help="one JSON object per line")

    details = "also each turn's source, intent, confidence, tool calls and flags"
    p = sub.add_parser("show", help="a conversation, as it was said")
    p.add_argument("id", type=int, metavar="ID", help="conversation id (see `history list`)")
    p.add_argument("--details", action="store_true", help=details)

    p = sub.add_parser("export", help="print a conversation as Markdown or JSON")
    p.add_argument("id", type=int, metavar="ID", help="conversation id (see `history list`)")
    p.add_argument(
        "--format", choices=EXPORT_FORMATS, default="md",
        help="default: md; json holds every detail",
    )
    p.add_argument("--details", action="store_true", help=f"with md: {details}")

    p = sub.add_parser("flagged", help="the hard cases: turns flagged for review, newest first")
    p.add_argument("--json", action="store_true", help="one JSON object per line")


def run(args: argparse.Namespace) -> int:
    """Run a `history` subcommand; returns the exit code."""
    try:
        with History(paths.history_db()) as history:
            if history.damage:  # set aside and replaced by an empty one
                print(f"parley history: {history.damage}", file=sys.stderr)
            return _COMMANDS[args.history_command](history, args)
    except HistoryError as exc:
        print(f"parley history: {exc}", file=sys.stderr)
        return 1


def _list(history: History, args: argparse.Namespace) -> int:
    for c in history.conversations():
        if args.json:
            print(
                json.dumps(
                    {
                        "id": c.id,
                        "title": c.title,
                        "created_at": c.created_at,
                        "updated_at": c.updated_at,
                        "turn_count": c.turn_count,
                    },
                    ensure_ascii=False,
                )
            )
        else:
            n = len(_said(history.turns(c.id)))  # tool rows are not messages
            said = f"{n} message" + ("" if n == 1 else "s")
            print(f"{c.id:>5}  {local_time(c.updated_at)}  {said:>12}  {c.title or '(untitled)'}")
    return 0


def _said(turns: list[Turn]) -> list[tuple[Turn, str]]:
    """The conversation as it was said: (turn, speaker). A tool's request,
    decision and result are audit rows whose outcome Parley's reply tells; a
    timer going off has no reply, so its row is Parley's words."""
    out = []
    for t in turns:
        if t.role == "tool":
            if t.intent == "timer":
                out.append((t, "Parley"))
        else:
            out.append((t, SPEAKERS[t.role]))
    return out


def _status(turn: Turn) -> str:
    if turn.status == "interrupted":
        return " (interrupted)"
    if turn.status == "streaming":
        return " (still being written)"
    return ""


def _describe(turn: Turn) -> str:
    details = [d for d in (turn.source, turn.intent) if d]
    if turn.confidence is not None:
        details.append(f"confidence {turn.confidence:.2f}")
    if turn.status != "done":
        details.append(turn.status.upper())
    return f"{SPEAKERS[turn.role]}" + (f" ({', '.join(details)})" if details else "")


def _show(history: History, args: argparse.Namespace) -> int:
    c = history.conversation(args.id)
    print(f"Conversation {c.id}: {c.title or '(untitled)'}")
    turns = history.turns(c.id)
    if not args.details:
        said = _said(turns)
        print(f"started {local_time(c.created_at)}, {len(said)} message{'s' * (len(said) != 1)}")
        for t, who in said:
            print()
            print(f"[{local_time(t.created_at)[11:]}] {who}: {t.text}{_status(t)}")
        return 0
    print(f"started {local_time(c.created_at)}, {c.turn_count} turns")
    for t in turns:
        print()
        print(f"[{local_time(t.created_at)[11:]}] {_describe(t)}: {t.text}")
        if t.data:  # a tool row: the request, decision or result in full
            print(f"    {json.dumps(t.data, ensure_ascii=False, sort_keys=True)}")
        if t.flagged:
            print(f"    FLAGGED: {t.flagged}")
    return 0


def _export(history: History, args: argparse.Namespace) -> int:
    if args.format == "md" and not args.details:
        text = _markdown(history, args.id)
    else:
        text = history.export(args.id, args.format)
    sys.stdout.write(text if text.endswith("\n") else text + "\n")
    return 0


def _markdown(history: History, conversation_id: int) -> str:
    """The conversation as people read it: who said what, and when."""
    c = history.conversation(conversation_id)
    lines = [
        f"# {c.title or 'Untitled conversation'}",
        "",
        f"Conversation {c.id}, started {local_time(c.created_at)}.",
        "",
    ]
    for t, who in _said(history.turns(c.id)):
        status = _status(t).strip()
        tail = f" *{status}*" if status else ""
        lines.append(f"**{who}**, {local_time(t.created_at)[11:]}: {t.text}{tail}")
        lines.append("")
    return "\n".join(lines).rstrip() + "\n"


def _flagged(history: History, args: argparse.Namespace) -> int:
    for t in history.flagged():
        if args.json:
            print(
                json.dumps(
                    {
                        "turn_id": t.id,
                        "conversation_id": t.conversation_id,
                        "role": t.role,
                        "text": t.text,
                        "reason": t.flagged,
                        "created_at": t.created_at,
                    },
                    ensure_ascii=False,
                )
            )
        else:
            print(
                f"{local_time(t.created_at)}  conversation {t.conversation_id}  "
                f"{SPEAKERS[t.role]}: {t.text!r}  flagged: {t.flagged}"
            )
    return 0


_COMMANDS = {"list": _list, "show": _show, "export": _export, "flagged": _flagged}
