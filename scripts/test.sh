#!/usr/bin/env bash
# Builds mod_mapptrack and runs every test suite:
#   unit tests (CppUTest), integration tests (real apache2 + stub track
#   server, under the event, worker and prefork MPMs), then the same unit
#   and integration tests on an ASan/UBSan build. After the release
#   integration suite, the browser suite (test/browser: headless Chromium and
#   the real Smart Pixel through the relay, event MPM only).
# Usage: scripts/test.sh [configure options, e.g. --enable-werror]
# Env:   MAPPTRACK_MPMS=event,worker,prefork   MAPPTRACK_SKIP_SANITIZERS=1
#        MAPPTRACK_FUZZ_SECONDS=15 (per fuzz target)   MAPPTRACK_SKIP_FUZZ=1
#        PYTEST_ARGS="-k identity"
# Ends with the line "N passed, N failed, N skipped" summed over all suites.
set -uo pipefail
top=$(cd "$(dirname "$0")/.." && pwd)
cd "$top"
configure_options=("$@")
results=$(mktemp -d /tmp/mapptrack-results.XXXXXX)
status=0

# The browser suite wants Debian's chromium, node and npm. Only what is
# missing is asked for: a nodejs from elsewhere that ships npm conflicts with
# Debian's npm package.
browser_packages=()
[[ -x /usr/bin/chromium ]] || browser_packages+=(chromium)
command -v node >/dev/null || browser_packages+=(nodejs)
command -v npm >/dev/null || browser_packages+=(npm)
# Debian's prometheus (and its promtool) scrapes the status page in test_prometheus.py.
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

run_pytest() {  # NAME BUILD_DIR TEST_DIR [env…]
  local name=$1 dir=$2 tests=$3; shift 3
  local xml="$results/$name.xml"
  env MAPPTRACK_MODULE="$top/$dir/mod_mapptrack/.libs/mod_mapptrack.so" \
    MAPPTRACK_PATHS="$top/$dir/test/integration/paths.ini" "$@" \
    /usr/bin/python3 -m pytest -q -p no:cacheprovider --junitxml="$xml" ${PYTEST_ARGS:-} "$tests"
  local rc=$?
  /usr/bin/python3 - "$xml" "$name" "$rc" >>"$results/counts" <<'PY'
import sys, xml.etree.ElementTree as ET
path, name, rc = sys.argv[1], sys.argv[2], int(sys.argv[3])
try:
    root = ET.parse(path).getroot()
    suites = [root] if root.tag == "testsuite" else list(root)
    t = sum(int(s.get("tests", 0)) for s in suites)
    f = sum(int(s.get("failures", 0)) + int(s.get("errors", 0)) for s in suites)
    sk = sum(int(s.get("skipped", 0)) for s in suites)
    if rc not in (0, 1, 5) and f == 0:
        f = 1  # pytest itself failed (usage or internal error)
    print(t - f - sk, f, sk, name)
except Exception:
    print(0, 1, 0, name)
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

run_checks() {  # the script checks of make check: message IDs, the docs against the code
  local passed=0 failed=0 t
  for t in scripts/check-messages.py scripts/check-docs.sh; do
    if "$top/$t"; then passed=$((passed + 1)); else failed=$((failed + 1)); status=1; fi
  done
  record checks "$passed" "$failed" 0
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
# libFuzzer targets (test/fuzz), a short run each; MAPPTRACK_SKIP_FUZZ=1 skips them.
if [[ -z ${MAPPTRACK_SKIP_FUZZ:-} ]]; then
  timed fuzz run_fuzz
fi
timed integration run_pytest integration build/release test/integration
# npm packages into test/browser/node_modules (outside git); the suite fails if this did
bash "$top/test/browser/setup.sh" || echo "browser setup failed: the browser suite will fail" >&2
timed browser run_pytest browser build/release test/browser MAPPTRACK_MPMS=event

if [[ -z ${MAPPTRACK_SKIP_SANITIZERS:-} ]]; then
  echo "== building (ASan + UBSan)"
  if "$top/scripts/build.sh" build/sanitizers --enable-sanitizers "${configure_options[@]}"; then
    timed unit-sanitizers run_unit unit-sanitizers build/sanitizers
    timed integration-sanitizers run_pytest integration-sanitizers build/sanitizers test/integration \
      MAPPTRACK_SANITIZE=1 MAPPTRACK_MPMS="${MAPPTRACK_SANITIZER_MPMS:-event}"
  else
    record build-sanitizers 0 1 0
    status=1
  fi
fi

read -r passed failed skipped < <(awk '{p+=$1; f+=$2; s+=$3} END {print p+0, f+0, s+0}' "$results/counts")
[[ $failed -eq 0 ]] || status=1
rm -rf "$results"
printf '== %-28s %d s\n' "all: time" "$SECONDS"
echo "${passed} passed, ${failed} failed, ${skipped} skipped"
exit $status
