"""What tests run inside real worker processes (`speech.worker_process`): a
spawned child imports its target by module and name, which a test module
imported with --import-mode=importlib cannot offer, so they live here (on the
path through pytest's `pythonpath`)."""

from __future__ import annotations

import os
import subprocess
import threading
import wave
from dataclasses import dataclass
from multiprocessing.connection import Connection
from pathlib import Path

import numpy as np

from assistant.speech.tts import Voice


@dataclass(frozen=True)
class Hello:
    """The echo worker's ready message."""

    pid: int
    helper: int = 0
    """The pid of the process it started, if any."""


def echo(conn: Connection) -> None:
    """Says Hello, then sends back every message, until "quit" (it returns),
    "die" (it exits at once with code 3) or "hang" (it stops reading)."""
    conn.send(Hello(os.getpid()))
    _echo(conn)


def _echo(conn: Connection) -> None:
    while True:
        try:
            message = conn.recv()
        except EOFError:
            return
        if message == "quit":
            return
        if message == "die":
            os._exit(3)
        if message == "hang":
            threading.Event().wait()
        conn.send(message)


def refuse(conn: Connection, why: str) -> None:
    """Says why it cannot serve instead of Hello, and returns."""
    conn.send(why)


def die_at_once(conn: Connection) -> None:
    os._exit(1)


def silent(conn: Connection) -> None:
    """Never says anything."""
    threading.Event().wait()


def with_helper(conn: Connection, witness: Connection) -> None:
    """Starts a helper process that holds `witness` open (so the pipe's other
    end sees EOF once the helper and this worker are both gone), then echoes."""
    helper = subprocess.Popen(["sleep", "600"], pass_fds=[witness.fileno()])
    witness.close()
    conn.send(Hello(os.getpid(), helper.pid))
    _echo(conn)


class ScriptedEngine:
    """A TTS engine for `Synthesizer(engine=partial(ScriptedEngine, log, script))`.
    Each synthesis request appends its text to the file `log` and does the
    script's next step: "write" a 0.1 s clip, write "nothing", "die" (the worker
    exits) or "hang". The log counts the steps across worker processes, so a
    restarted worker goes on with the script; past its end every step is "write"."""

    name = "scripted"
    default_voice = "scripted"

    def __init__(self, log: str, script: tuple[str, ...], _driver: str) -> None:
        self.log = Path(log)
        self.script = script
        self.voices = [Voice("scripted", "Scripted", ["en"])]

    def configure(self, voice: str, rate: int, volume: float) -> None:
        pass

    def synthesize(self, text: str, path: str) -> None:
        with self.log.open("a", encoding="utf-8") as f:
            f.write(text + "\n")
        asked = len(self.log.read_text(encoding="utf-8").splitlines())
        step = self.script[asked - 1] if asked <= len(self.script) else "write"
        if step == "write":
            with wave.open(path, "wb") as w:
                w.setnchannels(1)
                w.setsampwidth(2)
                w.setframerate(22050)
                w.writeframes((np.ones(2205, np.int16) * 1000).tobytes())
        elif step == "die":
            os._exit(1)
        elif step == "hang":
            threading.Event().wait()

    def say(self, text: str) -> None:
        pass
