# Sourced by install.sh and test.sh: how llama-cpp-python is compiled here.
# pip builds it from source when no wheel fits the machine (and caches the wheel).

export CMAKE_BUILD_PARALLEL_LEVEL=${CMAKE_BUILD_PARALLEL_LEVEL:-$(nproc 2>/dev/null || echo 2)}

_cpu_has() { grep -m1 '^flags' /proc/cpuinfo 2>/dev/null | grep -qw -- "$1"; }

llama_cmake_args() {
  case "$(uname -s)-$(uname -m)" in
    Darwin-arm64) echo "-DGGML_METAL=on" ;;
    Linux-x86_64)
      # ggml's default native build switches AMX on where the CPU has it, and
      # its worker threads then die of SIGILL ("tilezero"): they never asked
      # the kernel for the tile state (llama.cpp PR #26954). So: a portable
      # AVX2 build, plus AVX-512 where this CPU has it; no AMX.
      local args="-DGGML_NATIVE=OFF"
      if ! _cpu_has avx2; then
        args+=" -DGGML_AVX2=OFF -DGGML_FMA=OFF -DGGML_BMI2=OFF"
        _cpu_has f16c || args+=" -DGGML_F16C=OFF"
        _cpu_has avx || args+=" -DGGML_AVX=OFF"
      fi
      if _cpu_has avx512f && _cpu_has avx512bw && _cpu_has avx512vl && _cpu_has avx512dq; then
        args+=" -DGGML_AVX512=ON"
        _cpu_has avx512vbmi && args+=" -DGGML_AVX512_VBMI=ON"
        _cpu_has avx512_vnni && args+=" -DGGML_AVX512_VNNI=ON"
        _cpu_has avx512_bf16 && args+=" -DGGML_AVX512_BF16=ON"
      fi
      echo "$args" ;;
  esac
}
export CMAKE_ARGS=${CMAKE_ARGS:-$(llama_cmake_args)}

# A wheel built natively before this rule (or cached by pip) may carry the AMX
# kernels: on a CPU with AMX, replace it once with a build from the rules above.
llama_repair() {
  local py=$1 lib
  _cpu_has amx_tile || return 0
  lib=$("$py" -c 'import importlib.util, pathlib
spec = importlib.util.find_spec("llama_cpp")
print(pathlib.Path(spec.origin).parent / "lib")' 2>/dev/null) || return 0
  if cat "$lib"/libggml-cpu.so* 2>/dev/null | grep -qa ggml_backend_amx_mul_mat; then
    local version
    version=$("$py" -c 'from importlib.metadata import version; print(version("llama-cpp-python"))')
    echo "Rebuilding llama-cpp-python $version without AMX (it crashes on this CPU)" >&2
    "$py" -m pip cache remove 'llama_cpp_python*' >/dev/null 2>&1 || true
    "$py" -m pip install -q --force-reinstall --no-deps "llama-cpp-python==$version"
  fi
}
