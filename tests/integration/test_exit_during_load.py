"""Leaving while llama.cpp loads the model (`assistant.shutdown.finish`).

A process that returned from main while the loader thread was inside
llama.cpp's load died by signal 11 in the interpreter's teardown. `finish`
waits a bounded time, then leaves with os._exit after flushing the log and the
standard streams. Each run here quits at a different moment inside the real
native load of the embedded model.
"""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]

SCRIPT = textwrap.dedent(
    """
    import sys, threading, time
    from pathlib import Path

    if __name__ == "__main__":
        gguf, after, wait_s = Path(sys.argv[1]), float(sys.argv[2]), float(sys.argv[3])
        from assistant.cli import setup_logging
        setup_logging(verbose=False)  # llama.cpp's log goes through Python, as in the app
        import llama_cpp  # noqa: F401  (its import is not the moment under test)
        from assistant.config import Settings
        from assistant.dialogue.manager import system_messages
        from assistant.llm.engine import LlmOptions
        from assistant.llm.provider import LlmProvider
        from assistant.shutdown import finish

        resolved = threading.Event()

        def resolve():
            resolved.set()  # the next step is llama.cpp's load
            return gguf

        provider = LlmProvider(resolve, LlmOptions(), lambda e: system_messages(Settings(), e))
        provider.start()
        resolved.wait()
        time.sleep(after)
        provider.close()
        print("stdout still arrives", flush=False)  # buffered: finish must flush it
        sys.exit(finish(0, wait_s=wait_s))
    """
)


@pytest.fixture(scope="module")
def script(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("exit") / "exit_during_load.py"
    path.write_text(SCRIPT, encoding="utf-8")
    return path


# Inside the load: on a quiet machine with the file cached, the load and its
# prefill end ~0.5 s after the path resolves (CI once reached the prefill's end
# at 0.6 s), so the exits stay within the first 0.3 s.
@pytest.mark.parametrize("after", [0.0, 0.1, 0.2, 0.3])
def test_exit_inside_the_native_load_is_code_0(
    script: Path, gguf_path: Path, parley_home: Path, after: float
) -> None:
    r = subprocess.run(
        [sys.executable, str(script), str(gguf_path), str(after), "0"],
        cwd=ROOT, env={**os.environ, "PARLEY_HOME": str(parley_home)},
        capture_output=True, text=True, timeout=60,
    )  # fmt: skip
    assert r.returncode == 0, r.stderr[-2000:]  # -11 before: a segfault in the teardown
    assert r.stdout == "stdout still arrives\n"
    assert "Traceback" not in r.stderr
    log = (parley_home / "logs" / "parley.log").read_text(encoding="utf-8")
    # The load (or its prefill) was still running: the teardown was skipped, and
    # the log says so (it was flushed before leaving).
    assert "leaving without interpreter teardown" in log


def test_a_finished_load_exits_normally(
    script: Path, gguf_path: Path, parley_home: Path
) -> None:
    r = subprocess.run(
        [sys.executable, str(script), str(gguf_path), "0", "60"],
        cwd=ROOT, env={**os.environ, "PARLEY_HOME": str(parley_home)},
        capture_output=True, text=True, timeout=90,
    )  # fmt: skip
    assert r.returncode == 0, r.stderr[-2000:]
    assert r.stdout == "stdout still arrives\n"
    log = (parley_home / "logs" / "parley.log").read_text(encoding="utf-8")
    assert "leaving without interpreter teardown" not in log


PRINTER = textwrap.dedent(
    """
    import sys, threading, time
    from pathlib import Path

    if __name__ == "__main__":
        from assistant.llm.engine import LlmEngine
        done = threading.Event()
        threading.Thread(target=lambda: (LlmEngine.load(Path(sys.argv[1])), done.set())).start()
        n = 0
        while not done.is_set():  # another thread's output while the model loads
            print(n, flush=True)
            n += 1
            time.sleep(0.005)
        print("total", n, flush=True)
    """
)


def test_output_while_the_model_loads_reaches_stdout(
    gguf_path: Path, parley_home: Path, tmp_path: Path
) -> None:
    """llama-cpp-python pointed the process's stdout and stderr at /dev/null
    during a load: `parley chat` answers printed meanwhile vanished."""
    script = tmp_path / "printer.py"
    script.write_text(PRINTER, encoding="utf-8")
    r = subprocess.run(
        [sys.executable, str(script), str(gguf_path)],
        cwd=ROOT, env={**os.environ, "PARLEY_HOME": str(parley_home)},
        capture_output=True, text=True, timeout=60,
    )  # fmt: skip
    assert r.returncode == 0, r.stderr[-2000:]
    lines = r.stdout.splitlines()
    total = int(lines[-1].split()[1])
    assert total > 20  # the load lasted long enough to test anything
    assert lines[:-1] == [str(i) for i in range(total)]
