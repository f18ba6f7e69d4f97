# SPDX-License-Identifier: MIT
# shellcheck shell=bash
#
# Shared by the systemd integration tests: each test boots its own throwaway systemd with
# sd-ns-boot, installs the units from units/ (ExecStart pointed at the build tree, bound
# read-only at /run/cp) plus test drop-ins that run the fake CLI, and counts checks TAP-style.
# A test exits 77 only when it cannot run at all (not root, no unshare/nsenter); under CI=true,
# where .ci/run installs everything and runs as root, that is a failure instead (skip).

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

under_ci() {
        case ${CI:-} in 1 | true | TRUE | True | yes) return 0 ;; esac
        return 1
}

# skip REASON: this machine lacks something CI has; SKIP here, a failure under CI.
skip() {
        if under_ci; then
                echo "Bail out! cannot run under CI=true: $*"
                exit 1
        fi
        echo "SKIP: $*"
        exit 77
}

# skip_expected REASON: what is checked cannot exist on this kind of machine at all (shown by
# the caller, not assumed); SKIP even under CI, where .ci/run allow-lists the test by name.
skip_expected() {
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
# tested by tests/integration/test-warm-pool.mjs and, under systemd, by test-pool.sh.
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

# MODEL: the request's model (the warm pool serves only DEFAULT_MODEL, "sonnet").
message_body() {
        jq -nc --arg t "$1" --argjson s "${2:-false}" --arg m "${MODEL:-claude-sonnet-4-5}" \
                '{model: $m, max_tokens: 64, stream: $s, messages: [{role: "user", content: $t}]}'
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
        X curl -s -N -m 30 -o /dev/stdout -w '%{stderr}%{http_code}' -H 'content-type: application/json' \
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

# The newest fake CLI was exec'd holding fds 0-2 (3 with a system prompt file) and no blocked or
# ignored signal (cli/spawn.c resets them; SigBlk and SigIgn survive execve()).
fake_inherited_clean() {
        local log
        log=$(fake_log)
        jqc '.inherited.SigBlk == "0000000000000000" and .inherited.SigIgn == "0000000000000000"
             and (.inherited.fds | sort) == (if (.argv | index("/dev/fd/3")) then [0,1,2,3] else [0,1,2] end)' \
            "$log" || { echo "# inherited: $(jq -c .inherited <<<"$log")"; return 1; }
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

# has_controller CGROUP_DIR NAME: is the controller available there?
has_controller() {
        X grep -qw "$2" "$1/cgroup.controllers"
}

# require_cgroup2_controllers NAME...: before booting, can the cgroup2 hierarchy the instances
# live in offer these controllers at all? A controller is bound to one hierarchy at a time: on
# a host in hybrid mode whose cgroup v1 hierarchy for it is mounted and in use, the cgroup2 root
# does not list it and no cgroup below can enable it. That is shown here, not assumed, and is an
# expected SKIP even under CI (.ci/run allow-lists these tests by name). Listed at the root but
# not reaching the instance is a failure, which the checks then report.
require_cgroup2_controllers() {
        local base c v1
        if [ -f /sys/fs/cgroup/unified/cgroup.procs ]; then
                base=/sys/fs/cgroup/unified
        else
                base=/sys/fs/cgroup
        fi
        for c; do
                grep -qw "$c" "$base/cgroup.controllers" 2>/dev/null && continue
                v1=$(awk -F: -v c="$c" '{ n = split($2, a, ","); for (i = 1; i <= n; i++) if (a[i] == c) print $1 ":" $2 ":" $3 }' /proc/self/cgroup)
                if [ -n "$v1" ]; then
                        skip_expected "the $c controller is bound to a cgroup v1 hierarchy here ($v1 in /proc/self/cgroup), so the cgroup2 root $base cannot offer it (it lists: $(cat "$base/cgroup.controllers"))"
                fi
                skip "the $c controller is missing from the cgroup2 root $base, and not bound to cgroup v1 either"
        done
}

# set_idle_timeout MS: the service's IDLE_TIMEOUT_MS, through /etc/claude-proxy/claude-proxy.conf
# (the test's ExecStart names it with --config; the units set no IDLE_TIMEOUT_MS, so the file's
# value holds) and, when the service runs, a reload that is waited for. A
# request held open while a test reads what it owns must outlive slow reads on a loaded machine;
# the silent-CLI check wants the timeout short.
reloads_done() {
        X journalctl -u claude-proxy.service -o cat --no-pager | grep -c 'configuration reloaded'
}
set_idle_timeout() {
        local n
        X sh -c "mkdir -p /etc/claude-proxy && echo IDLE_TIMEOUT_MS=$1 >/etc/claude-proxy/claude-proxy.conf"
        [ "$(svc_prop ActiveState)" = active ] || return 0
        n=$(reloads_done)
        X systemctl reload claude-proxy.service &&
                wait_until 10 sh -c "test \"\$('$SDNS' exec $PID journalctl -u claude-proxy.service -o cat --no-pager | grep -c 'configuration reloaded')\" -gt $n"
}

# release NAME: let a request held with [[fake:... hang_after=N release=/run/fake-logs/NAME]] go on.
release() {
        X touch "/run/fake-logs/$1"
}

# fake_state [MARKER]: the state of the fake CLI's newest run, or of the run whose log holds
# MARKER (e.g. its release file name); "replaying" while it is held. A killed fake cannot write
# its end into the log, which still says "replaying": that is told apart by its pid.
fake_state() {
        local log state pid
        if [ $# -eq 0 ]; then
                log=$(fake_log)
        else
                log=$(X sh -c 'f=$(grep -l -F -- "$1" /run/fake-logs/*.json 2>/dev/null | head -n 1); [ -n "$f" ] && cat "$f"' \
                        sh "$1")
        fi
        state=$(jq -r .state <<<"$log")
        pid=$(jq -r .pid <<<"$log")
        if [ "$state" = replaying ] && ! X kill -0 "$pid" 2>/dev/null; then
                echo "gone while replaying (pid $pid)"
                return
        fi
        echo "$state"
}
