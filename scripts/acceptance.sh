#!/usr/bin/env bash
# Acceptance of lockscan on published crates: run their own test suites without and with
# lockscan, compare the test-phase times, and print every report lockscan made.
#
#   scripts/acceptance.sh [SCRATCH_DIR]
#
# What it does, in SCRATCH_DIR (default: a new directory under /tmp; nothing is written in this
# repository):
#   1. Fetches, with cargo, the sources of the crates as published on crates.io:
#        prometheus 0.14.0, quick_cache 0.6.24, r2d2 0.8.10   (they use parking_lot 0.12)
#        threadpool 1.8.1                                      (it uses std::sync's locks)
#      and copies each twice, to base/ and lockscan/ (each copy gets an empty `[workspace]` table
#      so it builds on its own).
#   2. Shows whether the `[patch.crates-io]` applies with the Cargo.lock the crate shipped and the
#      README's `cargo update -p parking_lot` (it does not, see docs/acceptance.md); then, in both
#      copies, drops the shipped Cargo.lock and resolves afresh (`cargo generate-lockfile`), so
#      that the two copies differ only by the patch.
#   3. parking_lot crates: appends the patch to lockscan/NAME/Cargo.toml and checks with
#      `cargo tree -i parking_lot@0.12.5` that it is the stand-in in shims/ (fails otherwise).
#      threadpool: switches `use std::sync::{Arc, Condvar, Mutex}` to `lockscan::std_sync` (and,
#      the crate being edition 2015, adds `extern crate lockscan;`), adds lockscan as a path
#      dependency, and prints the diff.
#   4. Builds every copy (`cargo test --no-run`, debug, the profile of `cargo test`), then runs
#      `cargo test --no-fail-fast` in each: base without lockscan, lockscan/ with
#      LOCKSCAN_ON_FINDING=warn (so that whole suites run and reports go to stderr). The timed runs
#      are the second, already-built invocation, so the times are the test phase only.
#   5. A canary crate (a unit test and a doc-test that take two parking_lot mutexes in both
#      orders, with the patch) checks that a report does show up the way step 4 collects them.
#   6. With ACCEPTANCE_TRACE=1: builds the lockscan CLI (release), reruns each lockscan/ suite
#      recording traces (LOCKSCAN_TRACE), and runs `lockscan analyze` and `lockscan graph` on
#      them, which also covers doc-tests (their processes' stderr is not shown by rustdoc).
#   Prints a summary table, every lockscan report, and writes it all to SCRATCH_DIR/summary.txt;
#   logs are in SCRATCH_DIR/logs/.
#
# Environment knobs:
#   ACCEPTANCE_REPEAT=N        timed runs per copy, base and lockscan alternating (default 1);
#                              the table shows the fastest of the N
#   ACCEPTANCE_TRACE=1         step 6 (adds about 5 minutes and up to 5 GB of traces, deleted
#                              after analysis unless ACCEPTANCE_KEEP_TRACES=1)
#   ACCEPTANCE_BACKTRACE=1     LOCKSCAN_BACKTRACE=1 in the lockscan runs (stacks in reports)
#
# How long: about 12 minutes on a quiet 2-core machine (about 4 of building, 5 of test suites;
# threadpool's suite alone sleeps about 60 s per run), 5 more per extra ACCEPTANCE_REPEAT round,
# about 6 more with ACCEPTANCE_TRACE=1 (31 minutes for REPEAT=2 and TRACE=1 on a busy machine).
# The timings mean little when the machine is busy: the load average is printed with each run.
#
# Needs: bash, the Rust toolchain (cargo, rustc 1.88 or later), access to crates.io, about
# 3 GB of disk in SCRATCH_DIR (8 GB with ACCEPTANCE_TRACE=1). It is run by hand only: no test
# and no CI step calls it.
set -euo pipefail

REPO=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
SHIM="$REPO/shims/parking_lot-0.12"
DETECTOR="$REPO/detector"
WORK=${1:-$(mktemp -d /tmp/lockscan-acceptance.XXXXXX)}
mkdir -p "$WORK"
WORK=$(cd "$WORK" && pwd)
REPEAT=${ACCEPTANCE_REPEAT:-1}
TRACE=${ACCEPTANCE_TRACE:-0}

PL_CRATES=(prometheus@0.14.0 quick_cache@0.6.24 r2d2@0.8.10)
STD_CRATE=threadpool@1.8.1
ALL_CRATES=("${PL_CRATES[@]}" "$STD_CRATE")

# Nothing from the caller's environment changes what is measured.
for v in $(env | sed -n 's/^\(LOCKSCAN_[A-Z_]*\)=.*/\1/p'); do unset "$v"; done
unset CARGO_TARGET_DIR
export RUST_BACKTRACE=0 CARGO_TERM_COLOR=never

LOGS="$WORK/logs"
SUMMARY="$WORK/summary.txt"
mkdir -p "$LOGS"
: >"$SUMMARY"

say() { printf '%s\n' "$*" | tee -a "$SUMMARY"; }
step() { printf '\n==> %s\n' "$*" | tee -a "$SUMMARY"; }
die() {
    printf 'acceptance: error: %s\n' "$*" >&2
    exit 1
}
dir_of() { echo "${1%@*}-${1#*@}"; } # prometheus@0.14.0 -> prometheus-0.14.0
loadavg() { cut -d' ' -f1-3 /proc/loadavg 2>/dev/null || echo '?'; }

command -v cargo >/dev/null || die "cargo is not on PATH"
[ -f "$SHIM/Cargo.toml" ] || die "no parking_lot stand-in at $SHIM"

step "Setup"
say "date:      $(date -u +%Y-%m-%dT%H:%M:%SZ)"
say "machine:   $(nproc) cores, $(uname -sm)"
say "toolchain: $(rustc --version), $(cargo --version)"
say "lockscan:  $REPO at $(git -C "$REPO" rev-parse --short HEAD 2>/dev/null || echo '(not a git checkout)')"
dirty=$(git -C "$REPO" status --short -- detector shims 2>/dev/null || true)
if [ -n "$dirty" ]; then
    say "           uncommitted changes under detector/ or shims/ are part of this run:"
    printf '%s\n' "$dirty" | sed 's/^/             /' | tee -a "$SUMMARY"
fi
say "scratch:   $WORK"
say "load:      $(loadavg)"

# ---------------------------------------------------------------------------------------------
step "1. Fetching the published sources"
mkdir -p "$WORK/fetch/src"
{
    printf '[package]\nname = "acceptance-fetch"\nversion = "0.0.0"\nedition = "2021"\npublish = false\n\n[dependencies]\n'
    for c in "${ALL_CRATES[@]}"; do printf '%s = "=%s"\n' "${c%@*}" "${c#*@}"; done
    printf '\n[workspace]\n'
} >"$WORK/fetch/Cargo.toml"
: >"$WORK/fetch/src/lib.rs"
(cd "$WORK/fetch" && cargo fetch --quiet)
CARGO_HOME_DIR=${CARGO_HOME:-$HOME/.cargo}
src_of() {
    local d
    for d in "$CARGO_HOME_DIR"/registry/src/*/"$(dir_of "$1")"; do
        if [ -f "$d/Cargo.toml" ]; then
            echo "$d"
            return
        fi
    done
    die "cargo fetch did not unpack $1 under $CARGO_HOME_DIR/registry/src"
}
for c in "${ALL_CRATES[@]}"; do
    src=$(src_of "$c")
    for side in base lockscan; do
        rm -rf "${WORK:?}/$side/$(dir_of "$c")"
        mkdir -p "$WORK/$side"
        cp -R "$src" "$WORK/$side/$(dir_of "$c")"
        chmod -R u+w "$WORK/$side/$(dir_of "$c")"
        printf '\n[workspace]\n' >>"$WORK/$side/$(dir_of "$c")/Cargo.toml"
    done
    say "$c: $src"
done

PATCH_TABLE=$(printf '\n[patch.crates-io]\nparking_lot = { path = "%s" }\n' "$SHIM")

# The stand-in is in use exactly when the README's check names its path: `cargo tree -i
# parking_lot@0.12.5 --all-features` (the features, for a crate whose parking_lot is optional).
shim_in_use() {
    local tree
    tree=$(cd "$1" && cargo tree -q -i parking_lot@0.12.5 --all-features 2>/dev/null) || return 1
    [[ "${tree%%$'\n'*}" == *"($SHIM)"* ]]
}

# ---------------------------------------------------------------------------------------------
step "2. The patch with the Cargo.lock as shipped (README: cargo update -p parking_lot)"
for c in "${PL_CRATES[@]}"; do
    d="$WORK/lockfile-check/$(dir_of "$c")"
    if [ ! -f "$WORK/base/$(dir_of "$c")/Cargo.lock" ]; then
        say "$c: ships no Cargo.lock"
        continue
    fi
    rm -rf "$d"
    mkdir -p "$WORK/lockfile-check"
    cp -R "$WORK/base/$(dir_of "$c")" "$d"
    before=$(cargo tree -q --manifest-path "$d/Cargo.toml" -i 'parking_lot@0.12' 2>/dev/null | head -1) || true
    printf '%s\n' "$PATCH_TABLE" >>"$d/Cargo.toml"
    (cd "$d" && cargo update -p parking_lot@0.12 >"$LOGS/lockfile-$c.log" 2>&1) || true
    if shim_in_use "$d"; then
        say "$c: with the shipped Cargo.lock, cargo update -p parking_lot applies the patch"
    else
        locked=$(cargo tree -q --manifest-path "$d/Cargo.toml" -i 'parking_lot@0.12' 2>/dev/null | head -1) || true
        say "$c: shipped Cargo.lock has ${before:-?}; after the patch and cargo update -p parking_lot: ${locked:-?}; the patch is NOT used"
        why=$(cargo update --manifest-path "$d/Cargo.toml" -p parking_lot@0.12 --precise 0.12.5 2>&1 |
            grep -m2 -E "failed to select|previously selected") || true
        if [ -n "$why" ]; then
            printf '%s\n' "$why" | sed 's/^/    cargo update --precise 0.12.5: /' | tee -a "$SUMMARY"
        fi
    fi
done
for c in "${ALL_CRATES[@]}"; do
    for side in base lockscan; do
        d="$WORK/$side/$(dir_of "$c")"
        if [ "$side" = lockscan ] && [ "$c" != "$STD_CRATE" ]; then
            printf '%s\n' "$PATCH_TABLE" >>"$d/Cargo.toml"
        fi
        rm -f "$d/Cargo.lock"
    done
done

# ---------------------------------------------------------------------------------------------
step "3. Wiring lockscan in"
for c in "${PL_CRATES[@]}"; do
    d="$WORK/lockscan/$(dir_of "$c")"
    (cd "$d" && cargo generate-lockfile --quiet 2>"$LOGS/lock-$c.log") ||
        die "cargo generate-lockfile failed in $d (see $LOGS/lock-$c.log)"
    shim_in_use "$d" || die "$c: the patch is not used: $(cd "$d" && cargo tree -q -i 'parking_lot@0.12' 2>&1 | head -3)"
    say "$c: cargo tree -i parking_lot@0.12.5:"
    (cd "$d" && cargo tree -q -i parking_lot@0.12.5) | sed 's/^/    /' | tee -a "$SUMMARY"
done

# threadpool: the lock types from lockscan::std_sync. Each edit must match exactly once.
tp="$WORK/lockscan/$(dir_of "$STD_CRATE")"
edit() { # FILE FROM TO: replace the one line FROM by TO
    local n
    n=$(grep -cxF "$2" "$1" || true)
    [ "$n" = 1 ] || die "expected one line '$2' in $1, found $n"
    FROM="$2" TO="$3" awk '$0 == ENVIRON["FROM"] { print ENVIRON["TO"]; next } { print }' "$1" >"$1.new"
    mv "$1.new" "$1"
}
edit "$tp/src/lib.rs" 'use std::sync::{Arc, Condvar, Mutex};' 'use lockscan::std_sync::{Arc, Condvar, Mutex};'
edit "$tp/src/lib.rs" 'extern crate num_cpus;' "extern crate lockscan;
extern crate num_cpus;"
printf '\n[dependencies.lockscan]\npath = "%s"\n' "$DETECTOR" >>"$tp/Cargo.toml"
say "$STD_CRATE: the edits (diff -ru base lockscan):"
(
    cd "$WORK" || exit 1
    diff -ru -x target -x Cargo.lock "base/$(dir_of "$STD_CRATE")" "lockscan/$(dir_of "$STD_CRATE")" || true
) | sed 's/^/    /' | tee -a "$SUMMARY"

# ---------------------------------------------------------------------------------------------
step "4a. Building (cargo test --no-run)"
TIMEFORMAT='%R %U %S'
for c in "${ALL_CRATES[@]}"; do
    for side in base lockscan; do
        d="$WORK/$side/$(dir_of "$c")"
        [ -f "$d/Cargo.lock" ] || (cd "$d" && cargo generate-lockfile --quiet)
        t=$({ time (cd "$d" && cargo test --no-run >"$LOGS/build-$side-$c.log" 2>&1); } 2>&1) ||
            die "build of $side/$c failed: see $LOGS/build-$side-$c.log"
        say "$(printf '%-20s %-9s built in %6.1f s' "$c" "$side" "${t%% *}")"
    done
done

# One timed run: prints "wall user sys rc rebuilt" and leaves the output in LOG.
timed_run() { # SIDE CRATE LOG
    local d t rc=0
    d="$WORK/$1/$(dir_of "$2")"
    local -a envs=()
    if [ "$1" = lockscan ]; then
        envs=(LOCKSCAN_ON_FINDING=warn)
        [ "${ACCEPTANCE_BACKTRACE:-0}" = 1 ] && envs+=(LOCKSCAN_BACKTRACE=1)
    fi
    t=$({ time (cd "$d" && env "${envs[@]}" cargo test --no-fail-fast >"$3" 2>&1); } 2>&1) || rc=$?
    # `time` prints its line last; a failing suite makes the subshell's status non-zero.
    t=$(printf '%s\n' "$t" | tail -1)
    local rebuilt=no
    grep -qE '^ *Compiling ' "$3" && rebuilt=yes
    echo "$t $rc $rebuilt"
}

# Sums libtest's result lines of one log: "passed failed ignored unit_s doc_s".
tally() {
    awk '
        /^ *Running /   { sec = "unit" }
        /^ *Doc-tests / { sec = "doc" }
        /^test result:/ {
            for (i = 1; i <= NF; i++) {
                if ($(i+1) ~ /^passed/)  p += $i
                if ($(i+1) ~ /^failed/)  f += $i
                if ($(i+1) ~ /^ignored/) g += $i
                if ($i == "in") { s = $(i+1); sub(/s$/, "", s); t[sec] += s }
            }
        }
        END { printf "%d %d %d %.2f %.2f\n", p, f, g, t["unit"], t["doc"] }
    ' "$1"
}

# ---------------------------------------------------------------------------------------------
step "4b. Test suites: base (no lockscan) and lockscan (LOCKSCAN_ON_FINDING=warn), $REPEAT time(s)"
declare -A BEST_WALL BEST_UNIT RESULT REBUILT
for r in $(seq 1 "$REPEAT"); do
    for c in "${ALL_CRATES[@]}"; do
        for side in base lockscan; do
            log="$LOGS/test-$side-$c-run$r.log"
            load=$(loadavg)
            read -r wall user sys rc rebuilt < <(timed_run "$side" "$c" "$log")
            read -r passed failed ignored unit doc < <(tally "$log")
            say "$(printf '%-20s %-9s run %d: %3d passed %2d failed %2d ignored; unit tests %7.2f s, doc-tests %6.2f s; cargo test %7.2f s wall, %7.2f s cpu; exit %s; load %s%s' \
                "$c" "$side" "$r" "$passed" "$failed" "$ignored" "$unit" "$doc" "$wall" \
                "$(awk -v u="$user" -v s="$sys" 'BEGIN { print u + s }')" "$rc" "$load" \
                "$([ "$rebuilt" = yes ] && echo '; REBUILT during the timed run')")"
            grep -E '^test .* FAILED$' "$log" | sed 's/^/    /' | tee -a "$SUMMARY" || true
            k="$side/$c"
            if [ -z "${BEST_WALL[$k]:-}" ] || awk -v a="$wall" -v b="${BEST_WALL[$k]}" 'BEGIN { exit !(a < b) }'; then
                BEST_WALL[$k]=$wall
                BEST_UNIT[$k]=$unit
                RESULT[$k]="$passed/$failed/$ignored"
            fi
            if [ "$rebuilt" = yes ]; then REBUILT[$k]=yes; fi
        done
    done
done

# ---------------------------------------------------------------------------------------------
step "5. Canary: does a report show up in these logs at all?"
cn="$WORK/canary"
mkdir -p "$cn/src"
cat >"$cn/Cargo.toml" <<EOF
[package]
name = "lockscan-canary"
version = "0.0.0"
edition = "2021"
publish = false

[dependencies]
parking_lot = "0.12"

[workspace]
$PATCH_TABLE
EOF
cat >"$cn/src/lib.rs" <<'EOF'
//! Takes two parking_lot mutexes in both orders: lockscan must report a lock-order inversion.

/// ```
/// lockscan_canary::both_orders();
/// ```
pub fn both_orders() {
    let a = parking_lot::Mutex::new(0);
    let b = parking_lot::Mutex::new(0);
    drop((a.lock(), b.lock()));
    let _b = b.lock();
    let _a = a.lock();
}

#[test]
fn inversion() {
    both_orders();
}
EOF
(cd "$cn" && cargo generate-lockfile --quiet && cargo test --no-run >"$LOGS/build-canary.log" 2>&1) ||
    die "the canary does not build: see $LOGS/build-canary.log"
shim_in_use "$cn" || die "the canary does not use the stand-in"
(cd "$cn" && LOCKSCAN_ON_FINDING=warn cargo test --lib >"$LOGS/canary-unit.log" 2>&1) || true
(cd "$cn" && LOCKSCAN_ON_FINDING=warn cargo test --doc >"$LOGS/canary-doc.log" 2>&1) || true
(cd "$cn" && cargo test --doc >"$LOGS/canary-doc-panic.log" 2>&1) || true
grep -q '^error\[lock-order-inversion\]' "$LOGS/canary-unit.log" ||
    die "the canary's unit test made no visible report under warn: the runs above prove nothing (see $LOGS/canary-unit.log)"
say "unit test, warn policy:   report shown (as the suites' reports would be)"
if grep -q '^error\[lock-order-inversion\]' "$LOGS/canary-doc.log"; then
    say "doc-test, warn policy:    report shown"
else
    say "doc-test, warn policy:    report NOT shown (rustdoc keeps a passing doc-test's stderr): doc-tests are covered only by the panic policy or by traces (ACCEPTANCE_TRACE=1)"
fi
if grep -q 'lock-order-inversion' "$LOGS/canary-doc-panic.log"; then
    say "doc-test, default policy: the doc-test fails with the report"
else
    say "doc-test, default policy: no report (unexpected; see $LOGS/canary-doc-panic.log)"
fi

# ---------------------------------------------------------------------------------------------
if [ "$TRACE" = 1 ]; then
    step "6. Traces: every lockscan suite recorded, then lockscan analyze and lockscan graph"
    (cd "$REPO" && CARGO_TARGET_DIR="$WORK/cli-target" cargo build --release -q -p lockscan-cli) ||
        die "could not build the lockscan CLI"
    LOCKSCAN_CLI="$WORK/cli-target/release/lockscan"
    for c in "${ALL_CRATES[@]}"; do
        tdir="$WORK/traces/$(dir_of "$c")"
        rm -rf "$tdir"
        mkdir -p "$tdir"
        log="$LOGS/trace-$c.log"
        read -r wall _ _ rc _ < <(export LOCKSCAN_TRACE="$tdir/" && timed_run lockscan "$c" "$log")
        read -r passed failed ignored _ _ < <(tally "$log")
        say "$(printf '%-20s traced run: %d passed, %d failed, %d ignored, %.1f s, %s traces, %s' \
            "$c" "$passed" "$failed" "$ignored" "$wall" "$(find "$tdir" -type f | wc -l)" "$(du -sh "$tdir" | cut -f1)")"
        grep -E '^test .* FAILED$' "$log" | sed 's/^/    /' | tee -a "$SUMMARY" || true
        "$LOCKSCAN_CLI" analyze --color never "$tdir" >"$LOGS/analyze-$c.txt" 2>&1 || true
        sed 's/^/    analyze: /' "$LOGS/analyze-$c.txt" | tail -30 | tee -a "$SUMMARY"
        "$LOCKSCAN_CLI" graph --format dot "$tdir" 2>/dev/null >"$LOGS/graph-$c.dot" || true
        say "    graph:   $(head -1 "$LOGS/graph-$c.dot" | sed 's|^// lockscan lock-order graph: ||')"
        [ "${ACCEPTANCE_KEEP_TRACES:-0}" = 1 ] || rm -rf "$tdir"
    done
fi

# ---------------------------------------------------------------------------------------------
step "Every lockscan report in the lockscan runs (LOCKSCAN_ON_FINDING=warn)"
nreports=0
for c in "${ALL_CRATES[@]}"; do
    for log in "$LOGS"/test-lockscan-"$c"-run*.log; do
        # A live report starts a line with "SEVERITY[kind]: " and goes on over its indented
        # lines to lockscan's own last line ("lockscan: found live ...").
        reports=$(awk '
            /^(error|warning|note)\[[a-z-]+\]: / { on = 1; print; next }
            on && /^ +(=|\||-->|:::)|^ *[0-9]+ \||^lockscan: found live/ { print; next }
            { on = 0 }
        ' "$log")
        panics=$(grep -E "panicked at .*lockscan|lockscan.*panicked" "$log" || true)
        if [ -n "$reports$panics" ]; then
            say "--- $c ($(basename "$log")):"
            if [ -n "$reports" ]; then printf '%s\n' "$reports" | tee -a "$SUMMARY"; fi
            if [ -n "$panics" ]; then printf '%s\n' "$panics" | tee -a "$SUMMARY"; fi
            nreports=$((nreports + $(printf '%s\n' "$reports" | grep -cE '^(error|warning|note)\[' || true)))
        fi
    done
done
say "$nreports report line(s) in all."

step "Summary (fastest of $REPEAT run(s); results are passed/failed/ignored)"
{
    printf '%-20s %-13s %-13s %10s %10s %8s %10s %10s %8s\n' crate "base result" "lockscan res." \
        "base unit" "ls unit" slowdown "base wall" "ls wall" slowdown
    for c in "${ALL_CRATES[@]}"; do
        b="base/$c" l="lockscan/$c"
        printf '%-20s %-13s %-13s %9.2fs %9.2fs %7sx %9.2fs %9.2fs %7sx%s\n' "$c" \
            "${RESULT[$b]}" "${RESULT[$l]}" "${BEST_UNIT[$b]}" "${BEST_UNIT[$l]}" \
            "$(awk -v a="${BEST_UNIT[$l]}" -v b="${BEST_UNIT[$b]}" 'BEGIN { printf (b > 0 ? "%.2f" : "-"), a / (b > 0 ? b : 1) }')" \
            "${BEST_WALL[$b]}" "${BEST_WALL[$l]}" \
            "$(awk -v a="${BEST_WALL[$l]}" -v b="${BEST_WALL[$b]}" 'BEGIN { printf "%.2f", a / b }')" \
            "$( [ -n "${REBUILT[$b]:-}${REBUILT[$l]:-}" ] && echo '  (a timed run rebuilt something)')"
    done
    echo "unit = libtest's own time of the unit-test binaries; wall = the whole already-built"
    echo "cargo test, doc-tests (compiled at run time) included."
} | tee -a "$SUMMARY"
say ""
say "Logs: $LOGS   Summary: $SUMMARY"
