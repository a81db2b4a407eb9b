"""A PulseAudio server with virtual devices, for tests and benchmarks on headless machines.

The layout (docs/ARCHITECTURE.md, "Virtual audio"):

- ``spk``: a null sink, the default output. ``parec -d spk.monitor`` records
  what Parley plays.
- ``micfeed``: a null sink; whatever is played into it (``paplay
  --device=micfeed``) comes out of ``mic``.
- ``mic``: ``module-remap-source`` over ``micfeed.monitor``, the default input.

A null sink renders in 2 s chunks while no client asks for low latency, so its
monitor delivers audio in bursts and a fresh recording can wait up to 2 s for
its first block. A real microphone streams steadily, and the capture watchdog
relies on that: so a silent source (``module-null-source``) is looped into each
sink with a short latency, and both sinks are suspended and resumed once after
loading so the first 2 s chunk is dropped.

Without a running server, `PulseServer` starts its own daemon (a child process,
not daemonized, so it is ours to kill and reap) in a private runtime directory.
When a server is already reachable it loads the missing devices into it and
unloads them again on `stop()`; the user's default devices are left alone, and
`env()` points child processes at the virtual ones with ``PULSE_SINK`` /
``PULSE_SOURCE``.

In-process sounddevice reaches the server through the ALSA ``pulse`` plugin
(Debian: ``libasound2-plugins``), which reads these variables each time a stream
opens; PortAudio lists devices once at initialisation, so call
`assistant.audio.devices.refresh()` after changing them.
"""

from __future__ import annotations

import atexit
import contextlib
import logging
import os
import shutil
import signal
import socket
import subprocess
import tempfile
import time
import wave
from dataclasses import dataclass, field
from pathlib import Path
from types import TracebackType
from typing import IO

import numpy as np

log = logging.getLogger(__name__)

SPEAKER = "spk"
FEED = "micfeed"
MIC = "mic"
BOTH = "both"
"""The combine sink of the turn-gap layout (`PulseServer.setup_turn_gap`)."""

# Without these, PulseAudio moves a loopback to a newly set default source: after
# `setup_turn_gap` reloads `mic`, the quiet feed would become mic -> micfeed -> mic.
_PINNED = "source_dont_move=true sink_dont_move=true"

_TOOLS = ("pulseaudio", "pactl", "paplay", "parec")


class PulseError(RuntimeError):
    """The virtual audio server could not be started or driven."""


def missing_tools() -> list[str]:
    """The PulseAudio programs this module needs that are not on PATH
    (Debian: pulseaudio, pulseaudio-utils)."""
    return [t for t in _TOOLS if shutil.which(t) is None]


def _pactl(env: dict[str, str], *args: str, timeout: float = 5.0) -> str:
    res = subprocess.run(
        ["pactl", *args], env=env, capture_output=True, text=True, timeout=timeout
    )
    if res.returncode != 0:
        raise PulseError(f"pactl {' '.join(args)}: {res.stderr.strip() or res.stdout.strip()}")
    return res.stdout


def server_reachable(env: dict[str, str] | None = None) -> bool:
    """True when `pactl info` reaches a server with this environment."""
    try:
        _pactl(dict(os.environ if env is None else env), "info", timeout=3.0)
    except (PulseError, subprocess.TimeoutExpired, FileNotFoundError):
        return False
    return True


def _pid_alive(pid: int) -> bool:
    try:
        # A zombie still answers kill(0); PID 1 in containers may never reap it.
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
        return state not in ("Z", "X")
    except (FileNotFoundError, IndexError):
        return False


@dataclass
class Recording:
    """A running ``parec``; `stop()` ends it and writes a WAV file."""

    path: Path
    rate: int
    channels: int
    process: subprocess.Popen[bytes]
    raw_path: Path
    started: float = field(default_factory=time.monotonic)
    """time.monotonic() when parec was launched (its stream starts a little later)."""
    _raw: IO[bytes] | None = None

    def stop(self) -> Path:
        """Stop recording and write `path` (16-bit PCM). Safe to call twice."""
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGINT)
            try:
                self.process.wait(timeout=3)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()
        if self._raw is not None:
            self._raw.close()
            self._raw = None
            data = self.raw_path.read_bytes()
            frame = 2 * self.channels
            with wave.open(str(self.path), "wb") as w:
                w.setnchannels(self.channels)
                w.setsampwidth(2)
                w.setframerate(self.rate)
                w.writeframes(data[: len(data) // frame * frame])
            self.raw_path.unlink(missing_ok=True)
        return self.path

    def samples(self) -> np.ndarray:
        """The recording as int16, shape (frames,) for mono or (frames, channels)."""
        self.stop()
        with wave.open(str(self.path), "rb") as w:
            data = np.frombuffer(w.readframes(w.getnframes()), dtype="<i2").astype(np.int16)
        return data if self.channels == 1 else data.reshape(-1, self.channels)

    def so_far(self) -> np.ndarray:
        """What has been recorded until now, shaped as `samples()`, without
        stopping: parec writes its raw stream straight to `raw_path`."""
        if self._raw is None:
            return self.samples()
        data = self.raw_path.read_bytes()
        frame = 2 * self.channels
        pcm = np.frombuffer(data[: len(data) // frame * frame], dtype="<i2").astype(np.int16)
        return pcm if self.channels == 1 else pcm.reshape(-1, self.channels)

    def wait_started(self, timeout: float = 10.0) -> None:
        """Return once audio arrives: what plays from then on is recorded (parec
        connects its stream a little after `record_speaker` returns, later on a
        loaded machine)."""
        deadline = time.monotonic() + timeout
        while self._raw is not None and self.raw_path.stat().st_size < 2 * self.channels:
            if self.process.poll() is not None:
                raise PulseError(f"parec ended (exit {self.process.returncode}) before recording")
            if time.monotonic() > deadline:
                raise PulseError(f"parec recorded nothing in {timeout:.0f} s")
            time.sleep(0.01)


class PulseServer:
    """A PulseAudio server with ``spk``, ``micfeed`` and ``mic``; a context manager.

    `runtime_dir`: where our own daemon keeps its socket (kept across stop/start
    so a restarted server has the same address); a temporary directory, removed
    on `stop()`, when None. `reuse`: use a server that is already reachable
    instead of starting one. `feed_latency_ms`: latency of the silent streams
    that keep the null sinks ticking (the sinks render in blocks of about a
    third of it).
    """

    def __init__(
        self,
        runtime_dir: Path | None = None,
        *,
        reuse: bool = True,
        feed_latency_ms: int = 30,
    ) -> None:
        self._given_dir = runtime_dir
        self._reuse = reuse
        self._feed_latency_ms = feed_latency_ms
        self.runtime_dir: Path | None = None
        self.daemon: subprocess.Popen[bytes] | None = None
        """Our own pulseaudio process, None when an existing server is reused."""
        self._server = ""  # PULSE_SERVER for clients
        self._modules: list[int] = []  # modules we loaded into a reused server
        self._children: list[subprocess.Popen[bytes]] = []
        self._recordings: list[Recording] = []
        self._remap_module: int | None = None
        self._remap_args: tuple[str, ...] = (f"source_name={MIC}", f"master={FEED}.monitor")
        self._turn_gap = False

    # ------------------------------------------------------------------ lifecycle

    def __enter__(self) -> PulseServer:
        return self.start()

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()

    @property
    def running(self) -> bool:
        return bool(self._server)

    @property
    def owned(self) -> bool:
        """True when this object started the daemon (and will kill it)."""
        return self.daemon is not None

    def start(self) -> PulseServer:
        """Reach or start the server and make sure the virtual devices exist."""
        if self.running:
            return self
        missing = missing_tools()
        if missing:
            raise PulseError(f"needs {', '.join(missing)} (Debian: pulseaudio, pulseaudio-utils)")
        atexit.register(self.stop)
        try:
            if self._reuse and server_reachable():
                self._attach_existing()
            else:
                self._start_daemon()
            self._kick_sinks()
        except BaseException:
            self.stop()
            raise
        return self

    def _start_daemon(self) -> None:
        if self._given_dir is not None:
            self.runtime_dir = self._given_dir
            self.runtime_dir.mkdir(parents=True, exist_ok=True)
        else:
            self.runtime_dir = Path(tempfile.mkdtemp(prefix="parley-pulse-"))
        self.runtime_dir.chmod(0o700)
        sock = self.runtime_dir / "pulse" / "native"
        sock.unlink(missing_ok=True)  # left by a killed predecessor
        script = self.runtime_dir / "parley.pa"
        script.write_text(self._script())
        config = self.runtime_dir / "config"
        config.mkdir(exist_ok=True)
        env = {
            **os.environ,
            "XDG_RUNTIME_DIR": str(self.runtime_dir),
            # Keep the daemon's cookie and state out of the real home directory.
            "HOME": str(self.runtime_dir),
            "XDG_CONFIG_HOME": str(config),
        }
        env.pop("PULSE_SERVER", None)
        log = self.runtime_dir / "pulse.log"
        cmd = [
            "pulseaudio", "--daemonize=no", "--exit-idle-time=-1", "--disallow-exit",
            "--use-pid-file=no", "-n", "-F", str(script), f"--log-target=file:{log}",
        ]  # fmt: skip
        if shutil.which("setpriv"):
            # If this process dies without stop() (killed by a CI timeout), the
            # kernel sends the daemon SIGTERM. It fires when the *thread* that
            # started it exits: start servers from a long-lived thread.
            cmd = ["setpriv", "--pdeathsig", "TERM", *cmd]
        self.daemon = subprocess.Popen(
            cmd, env=env, stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL, start_new_session=True,
        )  # fmt: skip
        self._server = f"unix:{sock}"
        deadline = time.monotonic() + 10.0
        while not server_reachable(self.child_env()):
            if self.daemon.poll() is not None or time.monotonic() > deadline:
                tail = log.read_text(errors="replace")[-800:] if log.exists() else ""
                raise PulseError(f"pulseaudio did not start: {tail.strip()}")
            time.sleep(0.05)
        self._remap_module = self._module_index("module-remap-source")

    def _script(self) -> str:
        feed = f"load-module module-loopback source=parley_quiet {_PINNED}"
        lat = f"latency_msec={self._feed_latency_ms}"
        return "\n".join([
            # Anonymous auth: the socket lives in a private 0700 directory.
            "load-module module-native-protocol-unix auth-anonymous=1",
            "load-module module-cli-protocol-unix",  # pacmd, for unplug_mic
            f"load-module module-null-sink sink_name={SPEAKER}",
            f"load-module module-null-sink sink_name={FEED}",
            f"load-module module-remap-source source_name={MIC} master={FEED}.monitor",
            "load-module module-null-source source_name=parley_quiet",
            f"{feed} sink={FEED} {lat}",
            f"{feed} sink={SPEAKER} {lat}",
            f"set-default-sink {SPEAKER}",
            f"set-default-source {MIC}",
            "",
        ])  # fmt: skip

    def _attach_existing(self) -> None:
        env = dict(os.environ)
        for line in _pactl(env, "info").splitlines():
            if line.startswith("Server String:"):
                where = line.split(":", 1)[1].strip()
                self._server = where if ":" in where else f"unix:{where}"
        if not self._server:
            raise PulseError("pactl info gave no server address")
        sinks, sources = self._names("sinks"), self._names("sources")
        for sink in (SPEAKER, FEED):
            if sink not in sinks:
                self._load("module-null-sink", f"sink_name={sink}")
        if "parley_quiet" not in sources:
            try:  # best effort: a PipeWire server may lack one of these modules
                self._load("module-null-source", "source_name=parley_quiet")
                for sink in (SPEAKER, FEED):
                    self._load(
                        "module-loopback", "source=parley_quiet", f"sink={sink}",
                        *_PINNED.split(), f"latency_msec={self._feed_latency_ms}",
                    )  # fmt: skip
            except PulseError as e:
                log.warning("no steady silence on the virtual devices: %s", e)
        if MIC not in sources:
            self._remap_module = self._load("module-remap-source", *self._remap_args)

    def _kick_sinks(self) -> None:
        # Drop the 2 s block a fresh null sink started with (see the module doc).
        for sink in (SPEAKER, FEED):
            self.pactl("suspend-sink", sink, "1")
            self.pactl("suspend-sink", sink, "0")

    def stop(self) -> None:
        """Stop every process this object started and unload what it loaded.
        Never raises; safe to call twice."""
        for rec in self._recordings:
            with contextlib.suppress(Exception):
                rec.stop()
        self._recordings.clear()
        for child in self._children:
            with contextlib.suppress(Exception):
                if child.poll() is None:
                    child.kill()
                child.wait(timeout=3)
        self._children.clear()
        if self.daemon is not None:
            with contextlib.suppress(Exception):
                self.daemon.terminate()
                try:
                    self.daemon.wait(timeout=3)
                except subprocess.TimeoutExpired:
                    self.daemon.kill()
                    self.daemon.wait(timeout=3)
            self.daemon = None
            if self._given_dir is None and self.runtime_dir is not None:
                shutil.rmtree(self.runtime_dir, ignore_errors=True)
        elif self._server:
            for index in reversed(self._modules):
                with contextlib.suppress(Exception):
                    self.pactl("unload-module", str(index))
        self._modules.clear()
        self._server = ""
        self._remap_module = None
        self._turn_gap = False
        atexit.unregister(self.stop)

    # ------------------------------------------------------------------ clients

    def env(self) -> dict[str, str]:
        """Variables a client process needs (merge them into its environment)."""
        if not self._server:
            raise PulseError("the server is not running")
        out = {"PULSE_SERVER": self._server, "PULSE_SINK": SPEAKER, "PULSE_SOURCE": MIC}
        if self.runtime_dir is not None:
            out["XDG_RUNTIME_DIR"] = str(self.runtime_dir)
        return out

    def child_env(self) -> dict[str, str]:
        """os.environ with `env()` applied: for subprocess calls."""
        return {**os.environ, **self.env()}

    def pactl(self, *args: str) -> str:
        """Run pactl against this server and return its output."""
        return _pactl(self.child_env(), *args)

    def _names(self, kind: str) -> set[str]:
        out = self.pactl("list", "short", kind)
        return {line.split("\t")[1] for line in out.splitlines() if "\t" in line}

    def _module_index(self, module: str) -> int | None:
        for line in self.pactl("list", "short", "modules").splitlines():
            parts = line.split("\t")
            if len(parts) > 1 and parts[1] == module:
                return int(parts[0])
        return None

    def _load(self, module: str, *args: str) -> int:
        index = int(self.pactl("load-module", module, *args).strip())
        if not self.owned:
            self._modules.append(index)
        return index

    def _spawn(self, cmd: list[str], **kw: object) -> subprocess.Popen[bytes]:
        proc = subprocess.Popen(cmd, env=self.child_env(), **kw)  # type: ignore[call-overload]
        self._children = [c for c in self._children if c.poll() is None]
        self._children.append(proc)
        return proc

    def play_into_mic(
        self, wav_path: Path, *, wait: bool = True, device: str = FEED, channel_map: str = ""
    ) -> subprocess.Popen[bytes]:
        """Play a WAV file into the virtual microphone (``paplay --device=micfeed``).
        With `wait`, returns once paplay has finished. `channel_map` (e.g.
        ``front-left`` for a mono file) overrides the file's channel map."""
        # paplay's default buffer (no --latency-msec) holds a short file whole, so
        # a busy machine cannot starve it into gaps mid-clip.
        cmd = ["paplay", f"--device={device}"]
        if channel_map:
            cmd.append(f"--channel-map={channel_map}")
        proc = self._spawn([*cmd, str(wav_path)], stderr=subprocess.PIPE)
        if wait:
            _, err = proc.communicate(timeout=120)
            if proc.returncode != 0:
                raise PulseError(f"paplay failed: {err.decode(errors='replace').strip()}")
        return proc

    def record_speaker(
        self, path: Path, *, rate: int = 16_000, channels: int = 1, device: str = ""
    ) -> Recording:
        """Start recording what is played on ``spk`` (its monitor) into `path` (WAV).
        Call `stop()` on the result. Audio starts flowing a few tens of ms after
        this returns: `Recording.wait_started` waits for it."""
        raw_path = path.with_name(path.name + ".raw")
        raw = raw_path.open("wb")
        cmd = [
            "parec", "-d", device or f"{SPEAKER}.monitor", "--raw", "--format=s16le",
            f"--rate={rate}", f"--channels={channels}", "--latency-msec=20",
        ]  # fmt: skip
        proc = subprocess.Popen(cmd, env=self.child_env(), stdout=raw, stderr=subprocess.DEVNULL)
        rec = Recording(path=path, rate=rate, channels=channels, process=proc,
                        raw_path=raw_path, _raw=raw)  # fmt: skip
        self._recordings.append(rec)
        return rec

    # ------------------------------------------------------------------ turn gaps

    def setup_turn_gap(self) -> None:
        """Put the question and the reply on one clock (docs/ARCHITECTURE.md,
        "Virtual audio"): a combine sink ``both`` (slaves ``micfeed`` and
        ``spk``), and ``mic`` remapped to the
        left channel only. Play the question with `play_question` (left channel
        into ``both``) and record ``spk.monitor`` in stereo: left holds the
        question and the reply, right only the reply."""
        if self._turn_gap:
            return
        self._load("module-combine-sink", f"sink_name={BOTH}", f"slaves={FEED},{SPEAKER}")
        if self._remap_module is not None:
            self.pactl("unload-module", str(self._remap_module))
            if self._remap_module in self._modules:
                self._modules.remove(self._remap_module)
        self._remap_args = (
            f"source_name={MIC}", f"master={FEED}.monitor",
            "channels=1", "master_channel_map=front-left", "channel_map=mono",
        )  # fmt: skip
        self._remap_module = self._load("module-remap-source", *self._remap_args)
        if self.owned:
            self.pactl("set-default-source", MIC)
        self._turn_gap = True

    def unplug_mic(self) -> None:
        """Remove the virtual microphone, as when a USB microphone is pulled out:
        its recording streams end (the server would otherwise move them to
        another source) and opening it fails until `plug_mic`."""
        if self._remap_module is None:
            raise PulseError("no virtual microphone to unplug")
        streams = [
            line.split("\t")[0]
            for line in self.pactl("list", "short", "source-outputs").splitlines()
            if line.split("\t")[1:2] == [self._source_index(MIC)]
        ]
        self.pactl("unload-module", str(self._remap_module))
        if self._remap_module in self._modules:
            self._modules.remove(self._remap_module)
        self._remap_module = None
        for index in streams:  # pactl cannot end a stream; the CLI protocol can
            self._cli(f"kill-source-output {index}")

    def _cli(self, command: str) -> str:
        """One command through module-cli-protocol-unix (what pacmd speaks; pacmd
        itself refuses a daemon started without a pid file)."""
        if self.runtime_dir is None:
            raise PulseError("the CLI protocol is only loaded into our own server")
        with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as sock:
            sock.settimeout(5)
            sock.connect(str(self.runtime_dir / "pulse" / "cli"))
            sock.sendall(command.encode() + b"\n")
            sock.shutdown(socket.SHUT_WR)  # the server hangs up after our last command
            reply = b""
            with contextlib.suppress(TimeoutError):
                while chunk := sock.recv(4096):
                    reply += chunk
        text = reply.decode(errors="replace")
        if "No such" in text or "failed" in text.lower():
            raise PulseError(f"{command}: {text.strip()}")
        return text

    def _source_index(self, name: str) -> str:
        for line in self.pactl("list", "short", "sources").splitlines():
            parts = line.split("\t")
            if len(parts) > 1 and parts[1] == name:
                return parts[0]
        return ""

    def plug_mic(self) -> None:
        """Bring the virtual microphone back after `unplug_mic`."""
        self._remap_module = self._load("module-remap-source", *self._remap_args)
        if self.owned:
            self.pactl("set-default-source", MIC)

    def play_question(self, wav_path: Path, *, wait: bool = True) -> subprocess.Popen[bytes]:
        """Play a mono WAV on the left channel into ``both`` (needs `setup_turn_gap`)."""
        if not self._turn_gap:
            raise PulseError("call setup_turn_gap() first")
        return self.play_into_mic(wav_path, wait=wait, device=BOTH, channel_map="front-left")
