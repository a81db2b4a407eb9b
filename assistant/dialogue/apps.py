"""Installed applications, from the system's own list, and how to launch one.

- Linux and other XDG desktops: `.desktop` files in $XDG_DATA_HOME/applications
  and each $XDG_DATA_DIRS/applications (the freedesktop.org Desktop Entry
  spec). A file earlier in that order hides one with the same file name later.
  Launched by running its Exec line with the field codes (%f, %u, ...) removed.
- Windows: the Start menu shortcuts (.lnk) of the user and of all users,
  launched with `os.startfile`.
- macOS: the .app bundles in /Applications, /System/Applications and
  ~/Applications, launched with `open -a`.

Names are matched without case; a name that matches nothing gets the closest
names as suggestions.
"""

from __future__ import annotations

import configparser
import difflib
import os
import shlex
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

from assistant.dialogue.tools import ToolError

_FIELD_CODES = ("%f", "%F", "%u", "%U", "%d", "%D", "%n", "%N", "%i", "%c", "%k", "%v", "%m")


@dataclass(frozen=True)
class App:
    name: str
    """The name people see (Name= of a .desktop file, the shortcut or bundle name)."""
    path: Path
    """The .desktop file, .lnk shortcut or .app bundle."""
    command: tuple[str, ...] = ()
    """XDG only: the Exec line, split, field codes removed."""


def xdg_application_dirs() -> list[Path]:
    home = os.environ.get("XDG_DATA_HOME") or str(Path.home() / ".local" / "share")
    dirs = os.environ.get("XDG_DATA_DIRS") or "/usr/local/share:/usr/share"
    return [Path(d) / "applications" for d in [home, *dirs.split(os.pathsep)] if d]


def read_desktop_file(path: Path) -> App | None:
    """The application a .desktop file describes, or None for hidden entries,
    links, directories and files that do not parse."""
    parser = configparser.ConfigParser(interpolation=None, strict=False)
    parser.optionxform = str  # type: ignore[assignment,method-assign]  # keys are case-sensitive
    try:
        parser.read(path, encoding="utf-8")
    except (configparser.Error, OSError, UnicodeDecodeError):
        return None
    if not parser.has_section("Desktop Entry"):
        return None
    entry = parser["Desktop Entry"]
    if entry.get("Type", "Application") != "Application":
        return None
    if (
        entry.get("NoDisplay", "false").lower() == "true"
        or entry.get("Hidden", "false").lower() == "true"
    ):
        return None
    name, exec_line = entry.get("Name", "").strip(), entry.get("Exec", "").strip()
    if not name or not exec_line:
        return None
    try:
        argv = [a for a in shlex.split(exec_line) if a not in _FIELD_CODES]
    except ValueError:
        return None
    argv = [a.replace("%%", "%") for a in argv]
    return App(name, path, tuple(argv)) if argv else None


def installed_apps() -> list[App]:
    """Every launchable application on this system, sorted by name."""
    if sys.platform == "win32":
        apps = _windows_apps()
    elif sys.platform == "darwin":
        apps = _mac_apps()
    else:
        apps = _xdg_apps()
    return sorted(apps, key=lambda a: a.name.lower())


def _xdg_apps() -> list[App]:
    seen: set[str] = set()
    apps: list[App] = []
    for folder in xdg_application_dirs():
        if not folder.is_dir():
            continue
        for path in sorted(folder.rglob("*.desktop")):
            desktop_id = str(path.relative_to(folder)).replace(os.sep, "-")
            if desktop_id in seen:
                continue  # an earlier directory overrides this one
            seen.add(desktop_id)
            app = read_desktop_file(path)
            if app is not None:
                apps.append(app)
    return apps


def _windows_apps() -> list[App]:
    roots = [
        Path(os.environ.get("APPDATA", "")) / "Microsoft/Windows/Start Menu/Programs",
        Path(os.environ.get("PROGRAMDATA", "")) / "Microsoft/Windows/Start Menu/Programs",
    ]
    return [App(p.stem, p) for root in roots if root.is_dir() for p in root.rglob("*.lnk")]


def _mac_apps() -> list[App]:
    roots = [Path("/Applications"), Path("/System/Applications"), Path.home() / "Applications"]
    return [App(p.stem, p) for root in roots if root.is_dir() for p in root.glob("*.app")]


def find_app(name: str, apps: list[App] | None = None) -> App:
    """The installed application called `name`; ToolError with suggestions when
    none is, or when the name fits several equally."""
    apps = installed_apps() if apps is None else apps
    wanted = " ".join(name.lower().split())
    if not wanted:
        raise ToolError("Which application should I open?")
    for test in (
        lambda a: a.name.lower() == wanted,
        lambda a: a.path.stem.lower() == wanted,
        lambda a: a.name.lower().startswith(wanted),
        lambda a: wanted in a.name.lower(),
    ):
        hits = [a for a in apps if test(a)]
        if len(hits) == 1:
            return hits[0]
        if len(hits) > 1:
            names = _names(hits)
            if len(set(names)) == 1:
                return hits[0]
            raise ToolError(f"Several applications match {name!r}: {', '.join(names[:5])}.")
    close = difflib.get_close_matches(wanted, [a.name.lower() for a in apps], n=3, cutoff=0.6)
    if close:
        names = [a.name for a in apps if a.name.lower() in close]
        return_hint = " or ".join(dict.fromkeys(names))
        raise ToolError(f"There is no application called {name!r}. Did you mean {return_hint}?")
    raise ToolError(f"There is no application called {name!r} on this computer.")


def _names(apps: list[App]) -> list[str]:
    return list(dict.fromkeys(a.name for a in apps))


def launch(app: App) -> None:
    """Start `app` detached from Parley, the platform's way."""
    try:
        if sys.platform == "win32":
            os.startfile(app.path)  # type: ignore[attr-defined]
        elif sys.platform == "darwin":
            subprocess.Popen(["open", "-a", str(app.path)], start_new_session=True)
        else:
            subprocess.Popen(
                list(app.command),
                start_new_session=True,
                stdin=subprocess.DEVNULL,
                stdout=subprocess.DEVNULL,
                stderr=subprocess.DEVNULL,
            )
    except OSError as e:
        raise ToolError(f"{app.name} could not be started: {e.strerror or e}.") from e
