"""`parley models`: list, pull, verify, remove, import, choose and recommend models.

`list` reads only local files (works offline). `pull` is the one command that
uses the network, and only for the model named. Progress goes to stderr, so
`--json` output on stdout stays machine-readable.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from typing import Any, TextIO

from assistant.models import (
    ModelError,
    ModelInfo,
    Progress,
    get_model,
    import_model,
    list_models,
    load_catalog,
    pull,
    remove,
    use,
    verify,
)


def add_parser(subparsers: Any) -> None:
    parser = subparsers.add_parser(
        "models",
        help="list, download, check and choose speech and language models",
        description="Models Parley knows (its catalog) and the ones installed. Nothing is "
        "downloaded unless you run `parley models pull`.",
    )
    parser.set_defaults(func=run)
    sub = parser.add_subparsers(dest="models_command", metavar="COMMAND", required=True)

    p = sub.add_parser("list", help="installed and available models (works offline)")
    p.add_argument("--kind", choices=("stt", "llm", "wake"), help="only this kind")
    p.add_argument("--installed", action="store_true", help="only installed models")
    p.add_argument("--json", action="store_true", help="one JSON object per model")

    p = sub.add_parser("pull", help="download, check and install a model from the catalog")
    p.add_argument("id", metavar="ID")
    p.add_argument("--allow-unverified", action="store_true",
                   help="install even when the catalog has no sha256 for it")
    p.add_argument("--json", action="store_true", help="print the installed model as JSON")

    p = sub.add_parser("verify", help="re-check installed models against their hashes")
    p.add_argument("id", metavar="ID", nargs="?", help="one model; default: all installed")
    p.add_argument("--json", action="store_true", help="one JSON object per model")

    p = sub.add_parser("remove", help="delete an installed model")
    p.add_argument("id", metavar="ID")
    p.add_argument("--force", action="store_true", help="even if it is the model in use")

    p = sub.add_parser("import", help="install your own GGUF file or Vosk model folder")
    p.add_argument("path", metavar="PATH")
    p.add_argument("--id", dest="model_id", help="name it (default: from the file name)")
    p.add_argument("--language", help="language it is for (e.g. de, en-us)")
    p.add_argument("--json", action="store_true", help="print the installed model as JSON")

    p = sub.add_parser("use", help="choose an installed model in the settings")
    p.add_argument("id", metavar="ID")

    p = sub.add_parser(
        "recommend",
        help="the best language model this computer runs at conversational speed",
        description="Times the built-in model for a few seconds (once; the result is kept) "
        "and picks the largest catalog model that answers at conversational speed and fits "
        "in memory. Downloads nothing.",
    )
    p.add_argument("--measure", action="store_true",
                   help="time the model again, even when a recent check is kept")
    p.add_argument("--language", help="language you speak (default: the settings')")
    p.add_argument("--json", action="store_true", help="print the recommendation as JSON")


def run(args: argparse.Namespace) -> int:
    try:
        return _COMMANDS[args.models_command](args)
    except ModelError as e:
        print(f"parley models: {e}", file=sys.stderr)
        return 1
    except OSError as e:  # an unwritable models folder (PathError says what to do)
        print(f"parley models: {e}", file=sys.stderr)
        return 1


def _list(args: argparse.Namespace) -> int:
    catalog = load_catalog()
    for problem in catalog.problems:
        print(f"warning: {problem}", file=sys.stderr)
    infos = [i for i in list_models(args.kind, catalog) if i.installed or not args.installed]
    if args.json:
        for info in infos:
            print(json.dumps(info.to_dict(), ensure_ascii=False))
        return 0
    if not infos:
        print("No models." if not args.installed else "No models installed.")
        return 0
    # The chosen language model while the language model is turned off is
    # not in use: it is marked apart, so the list never says what is untrue.
    from assistant.config import load_settings

    llm_off = not load_settings().settings.use_llm
    rows = [("", "ID", "KIND", "LANG", "SIZE", "STATUS", "WHERE")]
    for i in infos:
        mark = ("-" if llm_off and i.kind == "llm" else "*") if i.in_use else ""
        rows.append((mark, i.id, i.kind, i.language,
                     human_size(i.disk_size or i.size), _status(i), str(i.path or "")))
    widths = [max(len(r[c]) for r in rows) for c in range(len(rows[0]) - 1)]
    for row in rows:
        print("  ".join(cell.ljust(w) for cell, w in zip(row, widths, strict=False))
              + "  " + row[-1])
    print("\n* = in use. Get one with `parley models pull ID`, choose it with "
          "`parley models use ID`.")
    if llm_off and any(r[0] == "-" for r in rows):
        print("- = chosen, but the language model is turned off (use_llm = false).")
    return 0


def _status(i: ModelInfo) -> str:
    if i.builtin:
        return "built in" if i.installed else "built in (package missing)"
    if i.installed:
        return {"unverified": "installed (unverified)", "loaded": "imported"}.get(
            i.verified, "installed")
    if i.partial:
        pct = f" {100 * i.partial // i.size}%" if i.size else ""
        return f"partial{pct} (pull resumes)"
    return "available"


def _pull(args: argparse.Namespace) -> int:
    bar = ProgressBar(sys.stderr)
    try:
        info = pull(args.id, progress=bar, allow_unverified=args.allow_unverified)
    except KeyboardInterrupt:
        bar.finish()
        print("Stopped. What was fetched is kept: run the same command to resume.",
              file=sys.stderr)
        return 130
    except ModelError:
        bar.finish()
        raise
    bar.finish()
    if args.json:
        print(json.dumps(info.to_dict(), ensure_ascii=False))
    elif info.builtin:
        print(f"{info.id} is built into Parley: nothing to download.")
    else:
        note = " (no published sha256: unverified)" if info.verified == "unverified" else ""
        print(f"{info.id} is installed in {info.path}{note}.")
        if not info.in_use:
            print(f"Use it with: parley models use {info.id}")
    return 0


def _verify(args: argparse.Namespace) -> int:
    results = verify(args.id)
    for r in results:
        if args.json:
            print(json.dumps({"id": r.id, "ok": r.ok, "detail": r.detail}))
        else:
            print(f"[{'ok  ' if r.ok else 'FAIL'}] {r.id}: {r.detail}")
    if not results and not args.json:
        print("No models installed.")
    return 0 if all(r.ok for r in results) else 1


def _remove(args: argparse.Namespace) -> int:
    remove(args.id, force=args.force)
    print(f"Removed {args.id}.")
    return 0


def _import(args: argparse.Namespace) -> int:
    print(f"Checking {args.path} by loading it…", file=sys.stderr)
    info = import_model(args.path, model_id=args.model_id, language=args.language)
    if args.json:
        print(json.dumps(info.to_dict(), ensure_ascii=False))
        return 0
    print(f"Imported {info.id} ({info.kind}, {human_size(info.disk_size)}) into {info.path}.")
    if info.kind == "stt" and not info.language:
        print("Its language is unknown: import it again with --language to have Parley "
              "pick it automatically.")
    print(f"Use it with: parley models use {info.id}")
    return 0


def _use(args: argparse.Namespace) -> int:
    changes = use(args.id)
    info = get_model(args.id)
    for key, value in changes.items():
        shown = value if value != "" else '"" (the built-in default)'
        print(f"{key} = {shown}")
    print(f"Parley now uses {info.name} ({info.kind}). Restart a running Parley to apply it.")
    return 0


def _recommend(args: argparse.Namespace) -> int:
    from assistant.config import load_settings
    from assistant.models import recommend as rec

    language = args.language or load_settings().settings.language
    if args.measure or rec.cached_check() is None:
        print("Timing a language model on this computer (a few seconds)…", file=sys.stderr)
    pick = rec.recommend("llm", language, measure=True, remeasure=args.measure, prepare=True)
    if pick is None:
        raise ModelError("The catalog has no language model to recommend.")
    info = get_model(pick.id)
    if args.json:
        print(json.dumps({**pick.to_dict(), "installed": info.installed,
                          "in_use": info.in_use}, ensure_ascii=False))
        return 0
    print(f"Recommended: {pick.sentence}")
    print(f"\nWhy: {pick.why}\n")
    rows = [("MODEL", "SIZE", "SPEED", "MEMORY", "")]
    for e in pick.estimates:
        verdict = ("too slow" if not e.fast_enough else
                   "too big" if not e.fits else "ok")
        rows.append((e.name, human_size(e.size), f"{e.tokens_per_s:.1f} tokens/s",
                     human_size(e.memory_needed), verdict))
    widths = [max(len(r[c]) for r in rows) for c in range(len(rows[0]))]
    for row in rows:
        print("  " + "  ".join(c.ljust(w) for c, w in zip(row, widths, strict=True)).rstrip())
    print()
    if info.in_use:
        print("Parley already uses it.")
    elif info.installed:
        print(f"It is installed. Choose it with: parley models use {pick.id}")
    else:
        print(f"Get it with: parley models pull {pick.id} && parley models use {pick.id}")
    return 0


_COMMANDS = {
    "list": _list, "pull": _pull, "verify": _verify, "remove": _remove,
    "import": _import, "use": _use, "recommend": _recommend,
}


# --------------------------------------------------------------------------- output


def human_size(n: int | float | None) -> str:
    if not n:
        return "-"
    for unit in ("B", "KB", "MB", "GB"):
        if n < 1000 or unit == "GB":
            return f"{n:.0f} {unit}" if unit == "B" else f"{n:.1f} {unit}"
        n /= 1000
    return f"{n:.1f} GB"


def format_eta(seconds: float | None) -> str:
    if seconds is None:
        return "--:--"
    s = int(seconds + 0.5)
    if s >= 3600:
        return f"{s // 3600}:{s // 60 % 60:02d}:{s % 60:02d}"
    return f"{s // 60}:{s % 60:02d}"


def render(p: Progress, width: int = 24) -> str:
    """One progress line: bar, percent, size, speed and ETA."""
    if p.phase != "download":
        label = {"verify": "checking sha256", "unpack": "unpacking", "done": "installed"}
        pct = f" {100 * p.done // p.total}%" if p.total else ""
        return f"{p.model_id}: {label.get(p.phase, p.phase)}{pct}"
    if p.total:
        filled = int(width * min(1.0, p.done / p.total))
        bar = "#" * filled + "-" * (width - filled)
        size = f"{human_size(p.done) if p.done else '0 B'} / {human_size(p.total)}"
        pct = f"{100 * p.done // p.total:3d}%"
    else:
        bar, size, pct = "?" * width, human_size(p.done), "  ?%"
    speed = f"{human_size(p.speed)}/s" if p.speed else "-- B/s"
    return f"{p.model_id} [{bar}] {pct}  {size}  {speed}  ETA {format_eta(p.eta_s)}"


class ProgressBar:
    """Draws `render` on a terminal in place; on a pipe, one line every few seconds."""

    LOG_INTERVAL_S = 5.0

    def __init__(self, stream: TextIO) -> None:
        self.stream = stream
        self.tty = stream.isatty()
        self.last_len = 0
        self.last_log = 0.0
        self.last_phase = ""
        self.pending = ""
        """The latest line not yet written (pipe mode)."""
        self.drawn = False

    def __call__(self, p: Progress) -> None:
        line = render(p)
        if self.tty:
            pad = " " * max(0, self.last_len - len(line))
            self.stream.write("\r" + line + pad)
            self.last_len = len(line)
            self.drawn = True
        else:
            now = time.monotonic()
            if p.phase != self.last_phase and self.pending:
                self.stream.write(self.pending + "\n")  # how the last phase ended
            if p.phase != self.last_phase or now - self.last_log >= self.LOG_INTERVAL_S:
                self.stream.write(line + "\n")
                self.last_log = now
                self.pending = ""
            else:
                self.pending = line
        self.last_phase = p.phase
        self.stream.flush()

    def finish(self) -> None:
        if self.pending:
            self.stream.write(self.pending + "\n")
            self.pending = ""
        if self.tty and self.drawn:
            self.stream.write("\n")
            self.stream.flush()
            self.drawn = False
