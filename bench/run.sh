#!/usr/bin/env bash
# Kept for old references: the benchmarks are bench/run (see its --help).
exec "$(dirname "$0")/run" "$@"
