# SPDX-License-Identifier: MIT
# shellcheck shell=bash
#
# Shared by the systemd integration tests: each test boots its own throwaway systemd with
# sd-ns-boot, installs the units from units/ (ExecStart pointed at the build tree, bound
# read-only at /run/cp) plus test drop-ins that run the fake CLI, and counts checks TAP-style.
# A test exits 77 only when it cannot run at all (not root, no unshare/nsenter).

set -u

HERE=$(dirname "$(readlink -f "${BASH_SOURCE[0]}")")
SDNS=${SD_NS_BOOT:-$HERE/sd-ns-boot}
SOURCE_ROOT=${SOURCE_ROOT:-$(readlink -f "$HERE/../..")}
: "${BUILD_ROOT:?BUILD_ROOT must name the meson build directory}"
TEST_NAME=$(basename "$0" .sh)
WORK=$BUILD_ROOT/tests/systemd/work/$TEST_NAME
PORT=4523
URL=http://127.0.0.1:$PORT
# From the daemon's own header, so the tests cannot drift from it. Used by the test scripts.
message_id() {
        sed -n "s/^#define MESSAGE_ID_$1 *\"\([0-9a-f]*\)\"/\1/p" "$SOURCE_ROOT/src/util/message-ids.h"
}
# shellcheck disable=SC2034
MSGID_READY=$(message_id READY)
# shellcheck disable=SC2034
MSGID_REQUEST_DONE=$(message_id REQUEST_DONE)

PASS=0
FAIL=0
PID=""
BG_PIDS=()

skip() {
        echo "SKIP: $*"
        exit 77
}

require_env() {
        [ "$(id -u)" = 0 ] || skip "not root: booting systemd in namespaces needs root"
        command -v unshare >/dev/null || skip "unshare (util-linux) is missing"
        command -v nsenter >/dev/null || skip "nsenter (util-linux) is missing"
        [ -x "$BUILD_ROOT/src/claude-proxy" ] || { echo "Bail out! $BUILD_ROOT/src/claude-proxy not built"; exit 1; }
        rm -rf "$WORK"
        mkdir -p "$WORK"
}

ok() {
        PASS=$((PASS + 1))
        echo "ok $((PASS + FAIL)) - $*"
}

not_ok() {
        FAIL=$((FAIL + 1))
        echo "not ok $((PASS + FAIL)) - $*"
}

# check DESCRIPTION CMD...: one check; the command's output goes to the log.
check() {
        local desc=$1
        shift
        if "$@"; then ok "$desc"; else not_ok "$desc"; fi
}

# check_eq DESCRIPTION EXPECTED ACTUAL
check_eq() {
        if [ "$2" = "$3" ]; then
                ok "$1"
        else
                not_ok "$1: expected '$2', got '$3'"
        fi
}

X() {
        "$SDNS" exec "$PID" "$@"
}

# wait_until SECONDS CMD...: poll CMD every 100 ms; its status says whether it came true.
wait_until() {
        local secs=$1 deadline
        shift
        deadline=$(($(date +%s%N) + secs * 1000000000))
        until "$@" >/dev/null 2>&1; do
                [ "$(date +%s%N)" -ge "$deadline" ] && return 1
                sleep 0.1
        done
        return 0
}

# boot ARGS...: boot an instance with the build tree and the transcripts bound read-only.
boot() {
        PID=$("$SDNS" boot --timeout 30 \
                --bind "$BUILD_ROOT:/run/cp:ro" \
                --bind "$SOURCE_ROOT/tests/data/transcripts:/run/cp-transcripts:ro" \
                "$@") || {
                echo "Bail out! sd-ns-boot boot failed"
                PID=""
                exit 1
        }
        echo "# booted systemd $PID"
        X mkdir -p -m 1777 /run/fake-logs
}

finish() {
        local bg
        for bg in "${BG_PIDS[@]}"; do
                kill "$bg" 2>/dev/null
                wait "$bg" 2>/dev/null
        done
        if [ -n "$PID" ]; then
                if [ "$FAIL" -gt 0 ]; then
                        echo "# --- journal of the failed run (tail) ---"
                        X journalctl -b --no-pager -o short-monotonic 2>/dev/null | tail -n 120 | sed 's/^/# /'
                fi
                "$SDNS" stop "$PID" >/dev/null || echo "# sd-ns-boot stop reported an error"
                PID=""
        fi
        echo "1..$((PASS + FAIL))"
        echo "# $PASS passed, $FAIL failed"
        [ "$FAIL" -eq 0 ]
}

on_exit() {
        local rc=$?
        trap - EXIT
        if [ -n "$PID" ] || [ "${#BG_PIDS[@]}" -gt 0 ]; then
                finish
                rc=$?
        fi
        exit "$rc"
}
trap on_exit EXIT
trap 'exit 130' INT TERM

# configure_unit SRC.in DST: the units as installed, with ExecStart in the bound build tree.
configure_unit() {
        sed 's|@bindir@|/run/cp/src|g' "$1" >"$2"
}

# The drop-in every test service gets: the fake CLI and where it logs. In a sanitizer build,
# LeakSanitizer's stop-the-world needs ptrace, which the unit's SystemCallFilter= forbids: it
# would turn every clean exit (the proxy's and the fake CLI's) into status 1. Leaks are checked
# by the unit and integration suites, outside the sandbox; here only ASan/UBSan proper stay on.
# WARM_POOL=0: these suites count scopes, sub-cgroups and fake CLI processes per request, and an
# idle pooled process (its own claude-proxy-run_*.scope) would be one more. The pool itself is
# tested by tests/integration/test-warm-pool.mjs; pool-aware systemd checks are still to come.
fake_cli_dropin() {
        cat <<-'EOF'
	[Service]
	Environment=WARM_POOL=0
	Environment=ASAN_OPTIONS=detect_leaks=0
	Environment=CLAUDE_PATH=/run/cp/tests/fake-claude/fake-claude
	Environment="CHILD_ENV=FAKE_CLAUDE_DIR FAKE_CLAUDE_LOG_DIR ASAN_OPTIONS"
	Environment=FAKE_CLAUDE_DIR=/run/cp-transcripts
	Environment=FAKE_CLAUDE_LOG_DIR=/run/fake-logs
	Environment=LOG_LEVEL=debug
	ReadWritePaths=-/run/fake-logs
	EOF
}

# system_units DIR [root]: the system units into DIR. With "root" the service runs as root
# with per-request transient scopes (the non-root cgroup mode has a test of its own).
system_units() {
        local dir=$1 variant=${2:-root}
        mkdir -p "$dir/claude-proxy.service.d"
        cp "$SOURCE_ROOT/units/claude-proxy.socket" "$SOURCE_ROOT/units/claudeproxy.slice" "$dir/"
        configure_unit "$SOURCE_ROOT/units/claude-proxy.service.in" "$dir/claude-proxy.service"
        fake_cli_dropin >"$dir/claude-proxy.service.d/10-fake-cli.conf"
        if [ "$variant" = root ]; then
                cat >"$dir/claude-proxy.service.d/20-root.conf" <<-'EOF'
		[Service]
		User=
		Group=
		CapabilityBoundingSet=~
		Environment=SCOPE_MODE=scope
		Environment=REQUIRE_AUTH=false
		EOF
        fi
}

# dropin DIR NAME: stdin becomes claude-proxy.service.d/NAME.conf.
dropin() {
        mkdir -p "$1/claude-proxy.service.d"
        cat >"$1/claude-proxy.service.d/$2.conf"
}

message_body() {
        jq -nc --arg t "$1" --argjson s "${2:-false}" \
                '{model: "claude-sonnet-4-5", max_tokens: 64, stream: $s, messages: [{role: "user", content: $t}]}'
}

# post TEXT [CURL ARGS...]: one Messages request from inside; prints the body.
post() {
        local text=$1
        shift
        X curl -s -m 30 -H 'content-type: application/json' -d "$(message_body "$text")" "$@" "$URL/v1/messages"
}

# post_bg OUTFILE TEXT [CURL ARGS...]: the same in the background; status code in OUTFILE.code.
post_bg() {
        local out=$1 text=$2
        shift 2
        X curl -s -m 30 -o /dev/stdout -w '%{stderr}%{http_code}' -H 'content-type: application/json' \
                -d "$(message_body "$text" "${STREAM:-false}")" "$@" "$URL/v1/messages" >"$out" 2>"$out.code" &
        BG_PIDS+=($!)
}

svc_prop() {
        X systemctl show -p "$1" --value "${2:-claude-proxy.service}"
}

# The transient scopes claude-proxy has now, one name per line (not the planted stale ones).
proxy_scopes() {
        X systemctl list-units --all --no-legend --plain --type=scope 'claude-proxy-*' |
                awk '$1 !~ /^claude-proxy-stale-/ { print $1 }'
}

have_scope() {
        [ -n "$(proxy_scopes)" ]
}

no_scope() {
        [ -z "$(proxy_scopes)" ]
}

no_fake_cli() {
        ! X pgrep -x fake-claude >/dev/null
}

# The fake CLI's log of its one (newest) run, as JSON.
fake_log() {
        X sh -c 'f=$(ls -t /run/fake-logs/*.json 2>/dev/null | head -n 1); [ -n "$f" ] && cat "$f"'
}

fake_has_grandchildren() {
        [ "$(fake_log | jq '.grandchildren | length')" = "${1:-2}" ]
}

# pids_in_cgroup DIR PID...: every PID is a member of cgroup DIR (path inside the instance).
pids_in_cgroup() {
        local dir=$1 procs p
        shift
        procs=$(X cat "$dir/cgroup.procs") || return 1
        for p in "$@"; do
                grep -qx "$p" <<<"$procs" || { echo "# pid $p not in $dir: $(echo $procs)"; return 1; }
        done
}

# All pids of the fake CLI's tree: the CLI and its grandchildren.
fake_tree_pids() {
        fake_log | jq -r '.pid, .grandchildren[].pid'
}

# jqc [JQ ARGS...] FILTER JSON: jq -e on a non-empty document only (jq -e on no input passes).
jqc() {
        local json=${!#}
        [ -n "$json" ] && jq -e "${@:1:$#-1}" <<<"$json" >/dev/null
}

# wait_bg: wait for every background request; their status codes are in the .code files.
wait_bg() {
        local bg
        for bg in "${BG_PIDS[@]}"; do
                wait "$bg" 2>/dev/null
        done
        BG_PIDS=()
}

unit_gone() {
        local s
        s=$(X systemctl show -p ActiveState --value "$1")
        [ "$s" = inactive ] || [ "$s" = failed ] || [ -z "$s" ]
}

svc_prop_is() {
        [ "$(svc_prop "$1" "${3:-claude-proxy.service}")" = "$2" ]
}

# has_controller CGROUP_DIR NAME: is the controller available there (never on the CI VMs)?
has_controller() {
        X grep -qw "$2" "$1/cgroup.controllers"
}
