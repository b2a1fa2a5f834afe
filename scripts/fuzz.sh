#!/usr/bin/env bash
# Builds the libFuzzer targets of test/fuzz (clang, ASan + UBSan) into
# build/fuzz/ and runs each for a set time, one after the other.
# Usage: scripts/fuzz.sh [seconds-per-target] [target…]
#   seconds 0: only run the seed and work corpora once (a quick regression run)
# Each target runs with its seed corpus test/fuzz/corpus/<target> and a work
# corpus build/fuzz/corpus/<target> (seeded from it; new inputs go there).
# A crash or a broken property fails the target: its input is saved as
# build/fuzz/artifacts/<target>-crash-…, shown as a hex dump, and can be
# replayed with `build/fuzz/<target> build/fuzz/artifacts/<file>`.
# Env: MAPPTRACK_FUZZ_CXX (default clang++-14 or clang++)
# Ends with the line "N passed, N failed" (targets); exit status 1 on any failure.
set -uo pipefail
top=$(cd "$(dirname "$0")/.." && pwd)
cd "$top"

seconds=${1:-60}
shift || true
if ! [[ $seconds =~ ^[0-9]+$ ]]; then
  echo "usage: scripts/fuzz.sh [seconds-per-target] [target…]" >&2
  exit 2
fi
all_targets=(cookies identity query_encode hit spool relay track_domain inspect)
if (($# > 0)); then targets=("$@"); else targets=("${all_targets[@]}"); fi

# Longest input each target is given (libFuzzer's -max_len): long enough to
# reach the size limits the code enforces (7 KB hit lines, 16 KB foreign lines).
declare -A max_len=([hit]=12000 [inspect]=12000 [relay]=17000 [spool]=4096 [track_domain]=512
                    [cookies]=4096 [identity]=4096 [query_encode]=4096)

# --- what the build needs (only the missing packages, as root) --------------
needed=(clang libclang-rt-14-dev libapr1-dev libaprutil1-dev libcurl4-openssl-dev pkg-config)
missing=()
for p in "${needed[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if ((${#missing[@]} > 0)); then
  if [[ $(id -u) -ne 0 ]]; then
    echo "fuzz: missing Debian packages: ${missing[*]} (run as root to install them)" >&2
    echo "0 passed, ${#targets[@]} failed"
    exit 1
  fi
  echo "fuzz: installing ${missing[*]}"
  export DEBIAN_FRONTEND=noninteractive
  if ! { apt-get update -qq && apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null; }; then
    echo "fuzz: could not install ${missing[*]}" >&2
    echo "0 passed, ${#targets[@]} failed"
    exit 1
  fi
fi

cxx=${MAPPTRACK_FUZZ_CXX:-}
if [[ -z $cxx ]]; then
  if command -v clang++-14 >/dev/null; then cxx=clang++-14; else cxx=clang++; fi
fi
if [[ -z ${ASAN_SYMBOLIZER_PATH:-} ]]; then
  for s in llvm-symbolizer-14 llvm-symbolizer; do
    if command -v "$s" >/dev/null; then export ASAN_SYMBOLIZER_PATH=$(command -v "$s"); break; fi
  done
fi

out=$top/build/fuzz
mkdir -p "$out/obj" "$out/logs" "$out/corpus" "$out/artifacts"
read -r -a deps_flags < <(pkg-config --cflags apr-1 apr-util-1 libcurl)
read -r -a deps_libs < <(pkg-config --libs apr-1 apr-util-1 libcurl)
sanitize=(-fsanitize=address,undefined -fno-sanitize-recover=undefined)
cxxflags=(-std=c++17 -g -O1 -fno-omit-frame-pointer -pthread -I"$top/include" "${deps_flags[@]}")

# --- build: the core once (a static library, so a target only pulls in what
# it uses), then each target ----------------------------------------------------
flags_stamp="$cxx ${cxxflags[*]} ${sanitize[*]} fuzzer-no-link"
if [[ ! -f $out/obj/flags || $(cat "$out/obj/flags") != "$flags_stamp" ]]; then
  rm -f "$out"/obj/*.o "$out/libcore.a"
  printf '%s' "$flags_stamp" > "$out/obj/flags"
fi
newest_header=$(ls -t "$top"/include/mapptrack/*.h | head -n 1)

echo "== fuzz: building (${cxx}) into build/fuzz/"
build_failed=0
jobs_running=0
for src in "$top"/mod_mapptrack/core/*.cpp; do
  obj="$out/obj/$(basename "${src%.cpp}").o"
  if [[ -f $obj && $obj -nt $src && $obj -nt $newest_header ]]; then continue; fi
  ( "$cxx" "${cxxflags[@]}" "${sanitize[@]}" -fsanitize=fuzzer-no-link -c "$src" -o "$obj.tmp" \
      >"$obj.log" 2>&1 && mv "$obj.tmp" "$obj" ) &
  jobs_running=$((jobs_running + 1))
  if ((jobs_running >= $(nproc))); then wait -n; jobs_running=$((jobs_running - 1)); fi
done
wait
core_objs=()
for src in "$top"/mod_mapptrack/core/*.cpp; do
  obj="$out/obj/$(basename "${src%.cpp}").o"
  if [[ -f $obj && $obj -nt $src ]]; then
    core_objs+=("$obj")
  else
    echo "fuzz: core file $(basename "$src") does not compile:" >&2
    head -n 30 "$obj.log" >&2
    build_failed=1
  fi
done
stale=0
[[ -f $out/libcore.a ]] || stale=1
for obj in "${core_objs[@]}"; do [[ $obj -nt $out/libcore.a ]] && stale=1; done
[[ $(ar t "$out/libcore.a" 2>/dev/null | wc -l) == "${#core_objs[@]}" ]] || stale=1
if ((stale)); then
  rm -f "$out/libcore.a"
  ar rcs "$out/libcore.a" "${core_objs[@]}"
fi

declare -A built=()
for t in "${targets[@]}"; do
  src="$top/test/fuzz/fuzz_$t.cpp"
  if [[ ! -f $src ]]; then
    echo "fuzz: no target '$t' (there are: ${all_targets[*]})" >&2
    continue
  fi
  bin="$out/$t"
  if [[ -x $bin && $bin -nt $src && $bin -nt $out/libcore.a && $bin -nt $top/test/fuzz/fuzz_common.h &&
        $bin -nt $out/obj/flags && $bin -nt $newest_header ]]; then
    built[$t]=1
    continue
  fi
  if "$cxx" "${cxxflags[@]}" "${sanitize[@]}" -fsanitize=fuzzer "$src" "$out/libcore.a" "${deps_libs[@]}" \
       -o "$bin.tmp" >"$out/logs/$t.build.log" 2>&1; then
    mv "$bin.tmp" "$bin"
    built[$t]=1
  else
    echo "fuzz: target $t does not build:" >&2
    grep -E 'error|undefined reference' "$out/logs/$t.build.log" | head -n 20 >&2
  fi
done

# --- run, one target at a time ----------------------------------------------
hexdump_of() {
  if command -v xxd >/dev/null; then xxd "$1" | head -n 64; else od -A x -t x1z -v "$1" | head -n 64; fi
  local size
  size=$(stat -c %s "$1")
  ((size <= 1024)) || echo "… ($size bytes in all)"
}

passed=0
failed=0
export UBSAN_OPTIONS=${UBSAN_OPTIONS:-print_stacktrace=1:halt_on_error=1}
for t in "${targets[@]}"; do
  if [[ -z ${built[$t]:-} ]]; then
    echo "== fuzz $t: FAILED (does not build; see build/fuzz/logs/$t.build.log)"
    failed=$((failed + 1))
    continue
  fi
  seeds="$top/test/fuzz/corpus/$t"
  work="$out/corpus/$t"
  mkdir -p "$work" "$seeds"
  cp -n "$seeds"/* "$work"/ 2>/dev/null || true
  args=(-print_final_stats=1 -artifact_prefix="$out/artifacts/$t-" -timeout=30 -rss_limit_mb=2048
        -max_len="${max_len[$t]:-4096}")
  [[ -f $top/test/fuzz/$t.dict ]] && args+=(-dict="$top/test/fuzz/$t.dict")
  if ((seconds == 0)); then args+=(-runs=0); else args+=(-max_total_time="$seconds"); fi
  log="$out/logs/$t.log"
  "$out/$t" "${args[@]}" "$work" "$seeds" >"$log" 2>&1
  rc=$?
  execs=$(sed -n 's/^stat::number_of_executed_units: *//p' "$log" | tail -n 1)
  cov=$(grep -Eo 'cov: [0-9]+ ft: [0-9]+ corp: [0-9]+' "$log" | tail -n 1)
  if ((rc == 0)); then
    if ((seconds == 0)); then how="corpora replayed"; else how="${seconds}s"; fi
    echo "== fuzz $t: ok (${how}), ${execs:-?} runs, ${cov:-no coverage line}"
    passed=$((passed + 1))
    continue
  fi
  failed=$((failed + 1))
  artifact=$(sed -n 's/.*Test unit written to \(.*\)$/\1/p' "$log" | tail -n 1)
  echo "== fuzz $t: FAILED (exit $rc) after ${execs:-?} runs"
  # What broke: our property message, or the sanitizer's report.
  if grep -q 'PROPERTY BROKEN' "$log"; then
    grep -E -m 1 -A 1 'PROPERTY BROKEN' "$log"
  else
    grep -E -m 1 -A 15 '^==[0-9]+==ERROR|runtime error:|ERROR: libFuzzer' "$log"
  fi
  grep -E -m 1 '^SUMMARY:' "$log"
  if [[ -n $artifact && -f $artifact ]]; then
    echo "   input saved: ${artifact#"$top"/}  (replay: build/fuzz/$t ${artifact#"$top"/})"
    hexdump_of "$artifact"
  else
    echo "   no input saved; the full log is build/fuzz/logs/$t.log"
  fi
done

((build_failed == 0)) || echo "fuzz: some core files did not compile (see above)" >&2
echo "${passed} passed, ${failed} failed"
((failed == 0))
