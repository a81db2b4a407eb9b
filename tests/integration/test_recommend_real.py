"""The model recommender on the real embedded GGUF: a short timed decode on this
computer, kept in the data folder, and a recommendation that makes sense."""

from __future__ import annotations

import json
import os
import stat
import subprocess
import sys
import time
from pathlib import Path

import pytest

from assistant.models import load_catalog
from assistant.models import recommend as rec


def test_the_embedded_model_is_timed_and_the_pick_is_sane(
    gguf_path: Path, parley_home: Path
) -> None:
    # The embedded model where Parley keeps it (a link: no copy of 250 MB).
    target = parley_home / "models" / "gemma-3-270m-q4_k_m.gguf"
    target.parent.mkdir(parents=True)
    target.symlink_to(gguf_path)
    assert rec.reference_model() == target

    check = rec.speed_check()
    assert check is not None
    assert check.model == target.name and check.model_bytes == gguf_path.stat().st_size
    assert 0.5 < check.tokens_per_s < 10_000, check
    assert 0 < check.seconds < 120
    kept = rec.cache_path()
    assert rec.load_check() == check
    if os.name == "posix":
        assert stat.S_IMODE(kept.stat().st_mode) == 0o600
    assert rec.speed_check() == check  # kept: not measured again

    pick = rec.recommend("llm", "en")  # from the kept check, at once
    assert pick is not None and pick.measured
    llms = {e.id: e for e in load_catalog() if e.kind == "llm"}
    assert pick.id in llms
    if pick.builtin:  # nothing to download is both fast enough and small enough
        assert not any(e.fast_enough and e.fits for e in pick.estimates)
    else:
        assert pick.tokens_per_s >= rec.FLOOR_TOKENS_PER_S
        assert all(not (e.fast_enough and e.fits) for e in pick.estimates if e.size > pick.size)
    assert pick.name in pick.sentence and "on this computer" in pick.sentence
    # The scaling: a model k times the file size is expected k times slower.
    for e in pick.estimates:
        assert e.tokens_per_s * e.size == pytest.approx(check.tokens_per_s * check.model_bytes)
    print(f"\n{check.tokens_per_s:.1f} tokens/s measured (busy {check.busy:.0%}); "
          f"{pick.sentence}")


def test_cli_prints_the_pick_and_why(parley_home: Path) -> None:
    here = rec.this_machine()
    rec.save_check(rec.SpeedCheck(  # a kept check: the command measures nothing
        tokens_per_s=43.0, model="gemma-3-270m-q4_k_m.gguf", model_bytes=253_113_024,
        threads=0, gpu_layers=0, cores=here.cores, logical=here.logical,
        llama_cpp=rec._llama_version(), measured_at=time.time()))
    env = {**os.environ, "PARLEY_HOME": str(parley_home)}
    env.pop("PARLEY_CATALOG", None)
    run = [sys.executable, "-m", "assistant.cli", "models", "recommend"]
    out = subprocess.run(run, capture_output=True, text=True, timeout=120, env=env)
    assert out.returncode == 0, out.stderr
    assert "Timing" not in out.stderr
    assert out.stdout.startswith("Recommended: ")
    assert "\nWhy: Measured on this computer" in out.stdout
    assert "tokens/s" in out.stdout  # the table of every candidate
    data = json.loads(subprocess.run([*run, "--json"], capture_output=True, text=True,
                                     timeout=120, env=env).stdout)
    assert data["measured"] and data["sentence"].startswith(data["name"])
    assert data["installed"] is (data["size"] == 0) and {"why", "estimates"} <= set(data)
