#!/usr/bin/env bash
# Builds mod_mapptrack and runs every test suite:
#   unit tests (CppUTest), integration tests (real apache2 + stub track
#   server, under the event, worker and prefork MPMs), then the same unit
#   and integration tests on an ASan/UBSan build. After the release
#   integration suite, the browser suite (test/browser: headless Chromium and
#   the real Smart Pixel through the relay, event MPM only).
# The pytest suites run in two passes: the tests not marked `serial` on
#   pytest-xdist workers (those marked `heavy`, which load the machine, one at
#   a time per group), then the `serial` ones (they assert on timing) alone.
#   The fuzz targets (time-boxed) run beside the release integration suite's
#   parallel pass. Last, the Debian package end to end (scripts/test-package.sh).
# Usage: scripts/test.sh [configure options, e.g. --enable-werror]
# Env:   MAPPTRACK_MPMS=event,worker,prefork   MAPPTRACK_SKIP_SANITIZERS=1
#        MAPPTRACK_FUZZ_SECONDS=15 (per fuzz target)   MAPPTRACK_SKIP_FUZZ=1
#        MAPPTRACK_SKIP_PACKAGE=1
#        MAPPTRACK_JOBS=N, MAPPTRACK_SANITIZER_JOBS=N (workers of the parallel passes,
#          release and ASan; default 6 and 4 per CPU, at most 16 and 12; 1: one pass)
#        PYTEST_ARGS="-k identity" (given to both passes of each pytest suite)
# Ends with the line "N passed, N failed, N skipped" summed over all suites.
set -uo pipefail
top=$(cd "$(dirname "$0")/.." && pwd)
cd "$top"
configure_options=("$@")
results=$(mktemp -d /tmp/mapptrack-results.XXXXXX)
status=0
# Workers of the parallel passes: the tests mostly wait (on the stub, on timeouts),
# so several per CPU; fewer under ASan, whose processes cost more CPU.
cpus=$(nproc)
jobs=${MAPPTRACK_JOBS:-$((cpus * 6 > 16 ? 16 : cpus * 6))}
sanitizer_jobs=${MAPPTRACK_SANITIZER_JOBS:-$((cpus * 4 > 12 ? 12 : cpus * 4))}

# The browser suite wants Debian's chromium, node and npm. Only what is
# missing is asked for: a nodejs from elsewhere that ships npm conflicts with
# Debian's npm package.
browser_packages=()
[[ -x /usr/bin/chromium ]] || browser_packages+=(chromium)
command -v node >/dev/null || browser_packages+=(nodejs)
command -v npm >/dev/null || browser_packages+=(npm)
# Debian's prometheus (and its promtool) scrapes the status page in test_prometheus.py.
# python3-pytest-xdist (in install-deps.sh's list) runs the parallel passes.
"$top/scripts/install-deps.sh" "${browser_packages[@]}" prometheus || exit 1

# suite NAME PASSED FAILED SKIPPED
record() {
  echo "$2 $3 $4 $1" >> "$results/counts"
  printf '== %-28s %s passed, %s failed, %s skipped\n' "$1" "$2" "$3" "$4"
}

run_unit() {  # NAME BUILD_DIR
  local name=$1 dir=$2 out="$results/$1.out"
  if ! make -C "$dir" -j"$(nproc)" test/unit/unit_tests >"$out" 2>&1; then
    cat "$out"; record "$name" 0 1 0; status=1; return
  fi
  "$dir/test/unit/unit_tests" >"$out" 2>&1
  local rc=$?
  tail -n 30 "$out"
  /usr/bin/python3 - "$out" "$rc" "$name" >>"$results/counts" <<'PY'
import re, sys
text = open(sys.argv[1], errors="replace").read()
rc, name = int(sys.argv[2]), sys.argv[3]
m = re.search(r"^OK \((\d+) tests, (\d+) ran, \d+ checks, (\d+) ignored", text, re.M)
if m:
    print(int(m[2]), 0, int(m[3]), name)
else:
    m = re.search(r"^Errors \((\d+) failures?, (\d+) tests, (\d+) ran, \d+ checks, (\d+) ignored", text, re.M)
    if m:
        print(int(m[3]) - int(m[1]), int(m[1]), int(m[4]), name)
    else:  # crashed before the summary
        print(0, 1, 0, name)
PY
  tail -n 1 "$results/counts" | { read -r p f s n; printf '== %-28s %s passed, %s failed, %s skipped\n' "$n" "$p" "$f" "$s"; [[ $f == 0 ]]; } || status=1
}

run_pytest() {  # NAME BUILD_DIR TEST_DIR JOBS [env…]
  # Two passes, counted together: the tests not marked `serial` on JOBS
  # pytest-xdist workers, then the `serial` ones alone (1 JOBS: all in one pass).
  local name=$1 dir=$2 tests=$3 workers=$4; shift 4
  local -a pytest=(env MAPPTRACK_MODULE="$top/$dir/mod_mapptrack/.libs/mod_mapptrack.so"
    MAPPTRACK_PATHS="$top/$dir/test/integration/paths.ini" "$@"
    /usr/bin/python3 -m pytest -q -p no:cacheprovider)
  local -a passes=() rcs=()
  local t0=$SECONDS times=""
  if ((workers > 1)); then
    "${pytest[@]}" --junitxml="$results/$name.parallel.xml" -n "$workers" --dist loadgroup \
      -m "not serial" ${PYTEST_ARGS:-} "$tests"
    rcs+=($?) passes+=("$results/$name.parallel.xml") times+="parallel pass $((SECONDS - t0)) s, "
    [[ -z ${before_serial_pass:-} ]] || $before_serial_pass  # what ran beside the parallel pass ends
    t0=$SECONDS
    "${pytest[@]}" --junitxml="$results/$name.serial.xml" -m serial ${PYTEST_ARGS:-} "$tests"
    rcs+=($?) passes+=("$results/$name.serial.xml") times+="serial pass $((SECONDS - t0)) s"
    printf '== %-28s %s\n' "$name:" "$times"
  else
    "${pytest[@]}" --junitxml="$results/$name.xml" ${PYTEST_ARGS:-} "$tests"
    rcs+=($?) passes+=("$results/$name.xml")
  fi
  /usr/bin/python3 - "$name" "${rcs[*]}" "${passes[@]}" >>"$results/counts" <<'PY'
import sys, xml.etree.ElementTree as ET
name, rcs, paths = sys.argv[1], [int(x) for x in sys.argv[2].split()], sys.argv[3:]
p = f = sk = 0
for path, rc in zip(paths, rcs):
    try:
        root = ET.parse(path).getroot()
        suites = [root] if root.tag == "testsuite" else list(root)
        t = sum(int(s.get("tests", 0)) for s in suites)
        ff = sum(int(s.get("failures", 0)) + int(s.get("errors", 0)) for s in suites)
        ss = sum(int(s.get("skipped", 0)) for s in suites)
    except Exception:  # no report: pytest itself failed
        t, ff, ss = 1, 1, 0
    if rc not in (0, 1, 5) and ff == 0:
        t, ff = t + 1, 1  # pytest itself failed (usage or internal error)
    p, f, sk = p + t - ff - ss, f + ff, sk + ss
print(p, f, sk, name)
PY
  tail -n 1 "$results/counts" | { read -r p f s n; printf '== %-28s %s passed, %s failed, %s skipped\n' "$n" "$p" "$f" "$s"; [[ $f == 0 ]]; } || status=1
}

run_fuzz() {  # the targets' counts, from the closing "N passed, N failed"
  local out="$results/fuzz.out"
  "$top/scripts/fuzz.sh" "${MAPPTRACK_FUZZ_SECONDS:-15}" 2>&1 | tee "$out"
  local rc=${PIPESTATUS[0]} line
  line=$(tail -n 1 "$out")
  if [[ $line =~ ^([0-9]+)\ passed,\ ([0-9]+)\ failed$ ]] && { ((rc == 0)) || ((BASH_REMATCH[2] > 0)); }; then
    record fuzz "${BASH_REMATCH[1]}" "${BASH_REMATCH[2]}" 0
    ((BASH_REMATCH[2] == 0)) || status=1
  else  # the script itself broke
    record fuzz 0 1 0
    status=1
  fi
}

run_package() {  # scripts/test-package.sh: its closing "N passed, N failed"
  local out="$results/package.out"
  "$top/scripts/test-package.sh" 2>&1 | tee "$out"
  local rc=${PIPESTATUS[0]} line
  line=$(tail -n 1 "$out")
  if [[ $line =~ ^([0-9]+)\ passed,\ ([0-9]+)\ failed$ ]] && { ((rc == 0)) || ((BASH_REMATCH[2] > 0)); }; then
    record package "${BASH_REMATCH[1]}" "${BASH_REMATCH[2]}" 0
    ((BASH_REMATCH[2] == 0)) || status=1
  else
    record package 0 1 0
    status=1
  fi
}

run_checks() {  # the script checks of make check: message IDs, the docs against the code
  local passed=0 failed=0 t
  for t in scripts/check-messages.py scripts/check-docs.sh scripts/check-version.sh; do
    if "$top/$t"; then passed=$((passed + 1)); else failed=$((failed + 1)); status=1; fi
  done
  record checks "$passed" "$failed" 0
}

# run_bg NAME COMMAND…: `timed NAME COMMAND…` in the background, its output held
# back; join_bg NAME waits for it, then shows that output.
declare -A bg_pids=()
run_bg() {
  local name=$1
  shift
  ( timed "$name" "$@"; echo "$status" >"$results/$name.status" ) >"$results/$name.bg" 2>&1 &
  bg_pids[$name]=$!
}
join_bg() {
  local name=$1
  [[ -n ${bg_pids[$name]:-} ]] || return 0
  wait "${bg_pids[$name]}"
  unset "bg_pids[$name]"
  cat "$results/$name.bg"
  [[ $(cat "$results/$name.status" 2>/dev/null) == 0 ]] || status=1
}

timed() {  # NAME COMMAND…: runs one suite (or build) and says how long it took
  local name=$1 t0=$SECONDS
  shift
  "$@"
  local rc=$?
  printf '== %-28s %d s\n' "$name: time" $((SECONDS - t0))
  return $rc
}

echo "== building (release) ${configure_options[*]}"
if ! timed build "$top/scripts/build.sh" build/release "${configure_options[@]}"; then
  echo "0 passed, 1 failed"
  exit 1
fi
timed unit run_unit unit build/release
timed checks run_checks
# libFuzzer targets (test/fuzz), a short run each; MAPPTRACK_SKIP_FUZZ=1 skips them. They
# are time-boxed, so they run beside the integration suite's parallel pass (whose
# tests wait more than they compute), and end before its serial pass.
if [[ -z ${MAPPTRACK_SKIP_FUZZ:-} ]]; then
  run_bg fuzz run_fuzz
fi
before_serial_pass="join_bg fuzz" timed integration run_pytest integration build/release test/integration "$jobs"
join_bg fuzz
# npm packages into test/browser/node_modules (outside git); the suite fails if this did
bash "$top/test/browser/setup.sh" || echo "browser setup failed: the browser suite will fail" >&2
# (8 tests, Chromium each: one pass)
timed browser run_pytest browser build/release test/browser 1 MAPPTRACK_MPMS=event

if [[ -z ${MAPPTRACK_SKIP_SANITIZERS:-} ]]; then
  echo "== building (ASan + UBSan)"
  if timed build-sanitizers "$top/scripts/build.sh" build/sanitizers --enable-sanitizers "${configure_options[@]}"; then
    timed unit-sanitizers run_unit unit-sanitizers build/sanitizers
    timed integration-sanitizers run_pytest integration-sanitizers build/sanitizers test/integration \
      "$sanitizer_jobs" MAPPTRACK_SANITIZE=1 MAPPTRACK_MPMS="${MAPPTRACK_SANITIZER_MPMS:-event}"
  else
    record build-sanitizers 0 1 0
    status=1
  fi
fi

# The Debian package, built, installed into this machine's apache2 and purged
# again (the machine's state is put back); MAPPTRACK_SKIP_PACKAGE=1 skips it.
if [[ -z ${MAPPTRACK_SKIP_PACKAGE:-} ]]; then
  timed package run_package
fi

read -r passed failed skipped < <(awk '{p+=$1; f+=$2; s+=$3} END {print p+0, f+0, s+0}' "$results/counts")
[[ $failed -eq 0 ]] || status=1
rm -rf "$results"
printf '== %-28s %d s\n' "all: time" "$SECONDS"
echo "${passed} passed, ${failed} failed, ${skipped} skipped"
exit $status
