#!/bin/bash
# SPDX-License-Identifier: MIT
#
# SCOPE_MODE=scope (root system service): every CLI runs in its own transient scope holding its
# whole process tree, setsid grandchild included; the scope has the configured limits and never
# outlives its request (done, client disconnect, CLI crash, timeout, proxy SIGKILLed), and leftovers of a crashed
# instance are removed when the next one starts.
#
# With the argument "limits" (a meson test of its own): only that memory.max and pids.max reach
# the scope's cgroup, which needs the memory and pids controllers in the cgroup2 tree; where the
# host cannot have them there, it says SKIP instead of passing without checking.

# shellcheck source=tests/systemd/lib.sh
. "$(dirname "$0")/lib.sh"
MODE=${1:-main}
[ "$MODE" = limits ] && TEST_NAME=$TEST_NAME-limits && WORK=$WORK-limits
require_env
[ "$MODE" = limits ] && require_cgroup2_controllers memory pids

system_units "$WORK/units" root
dropin "$WORK/units" 30-limits <<-'EOF2'
	[Service]
	Environment=SCOPE_SLICE=claudeproxy.slice
	Environment=SCOPE_MEMORY_MAX=268435456
	Environment=SCOPE_TASKS_MAX=64
	Environment=SCOPE_CPU_QUOTA=50
	ExecStart=
	ExecStart=/run/cp/src/claude-proxy --config=/etc/claude-proxy/claude-proxy.conf
	EOF2
boot --units "$WORK/units" --enable claude-proxy.socket
# IDLE_TIMEOUT_MS from that file: long while requests are held open and read, short for the
# silent-CLI check below (a reload each time).
set_idle_timeout 60000

# A request's tree, held open (the fake waits for the release file after 3 lines) while the
# test reads its scope: read after the request ended, the properties would be systemd's defaults.
hold_tree() {
        X sh -c 'rm -f /run/fake-logs/*'
        post_bg "$WORK/tree" "[[fake:text hang_after=3 release=/run/fake-logs/$1 grandchild=setsid]]" "${@:2}"
        check "the CLI started its grandchildren" wait_until 10 fake_has_grandchildren 2
        scope=$(proxy_scopes | head -n 1)
        echo "# scope: $scope"
        check "a scope exists while the request runs" test -n "$scope"
        cg=$(svc_prop ControlGroup "$scope")
        echo "# scope cgroup: $cg"
}

# ...and still in flight after the reads, so they saw the scope of a running request.
release_tree() {
        check_eq "the request was still held while its scope was read" replaying "$(fake_state)"
        check "its scope was still active" svc_prop_is ActiveState active "$scope"
        release "$1"
        wait_bg
        check_eq "the request completes" 200 "$(cat "$WORK/tree.code")"
}

if [ "$MODE" = limits ]; then
        hold_tree tree-limits
        check "the memory controller reaches the scope" has_controller "/sys/fs/cgroup$cg" memory
        check "the pids controller reaches the scope" has_controller "/sys/fs/cgroup$cg" pids
        check_eq "memory.max enforced" 268435456 "$(X cat "/sys/fs/cgroup$cg/memory.max")"
        check_eq "pids.max enforced" 64 "$(X cat "/sys/fs/cgroup$cg/pids.max")"
        release_tree tree-limits
        finish
        exit
fi

# Scopes left behind by a crashed instance of this unit, and by another instance (a template
# sibling) sharing the manager, which must be left alone. The Description carries the owner.
X sh -c "systemd-run -q --scope --unit=claude-proxy-stale-0001 \
        --description='claude-proxy request stale-0001 (anthropic, x) [claude-proxy.service]' \
        sleep 612 </dev/null >/dev/null 2>&1 &"
X sh -c "systemd-run -q --scope --unit=claude-proxy-stale-0002 \
        --description='claude-proxy request stale-0002 (anthropic, x) [claude-proxy@other.service]' \
        sleep 613 </dev/null >/dev/null 2>&1 &"
check "a stale claude-proxy-*.scope exists before start" \
        wait_until 5 svc_prop_is ActiveState active claude-proxy-stale-0001.scope
check "another instance's scope exists before start" \
        wait_until 5 svc_prop_is ActiveState active claude-proxy-stale-0002.scope
check_eq "the first request is answered" 200 "$(post hello -o /dev/null -w '%{http_code}')"
check "the stale scope is removed when the service starts" wait_until 5 unit_gone claude-proxy-stale-0001.scope
check "the stale scope's process is gone" wait_until 5 sh -c "! '$SDNS' exec $PID pgrep -f 'sleep 612'"
check_eq "another instance's scope is left alone" active "$(svc_prop ActiveState claude-proxy-stale-0002.scope)"

# One request's tree, held open while its scope is read.
hold_tree tree-main -H 'x-request-id: scope-test-0001'
check "it is named claude-proxy-<request id>.scope" grep -q '^claude-proxy-.*scope-test-0001.*\.scope$' <<<"$scope"
check "the scope is in claudeproxy.slice" grep -q '^/claudeproxy.slice/' <<<"$cg"
mapfile -t tree < <(fake_tree_pids)
check "the scope holds the CLI and both grandchildren (setsid too)" pids_in_cgroup "/sys/fs/cgroup$cg" "${tree[@]}"
check "the proxy itself is not in the scope" sh -c "! '$SDNS' exec $PID grep -qx '$(svc_prop MainPID)' '/sys/fs/cgroup$cg/cgroup.procs'"
# One systemctl call for every property, while the request is held.
props=$(X systemctl show -p MemoryMax -p TasksMax -p CPUQuotaPerSecUSec -p CollectMode -p BindsTo \
        -p Description "$scope")
prop() {
        sed -n "s/^$1=//p" <<<"$props"
}
check_eq "MemoryMax set on the scope" 268435456 "$(prop MemoryMax)"
check_eq "TasksMax set on the scope" 64 "$(prop TasksMax)"
check_eq "CPUQuota set on the scope" 500ms "$(prop CPUQuotaPerSecUSec)"
check_eq "CollectMode of the scope" inactive-or-failed "$(prop CollectMode)"
check "the scope is bound to the service" grep -qw claude-proxy.service <<<"$(prop BindsTo)"
check "the scope's Description names the request" grep -q scope-test-0001 <<<"$(prop Description)"
# STATUS= reads "<n> in flight, <n> queued, <n> children, <n> served".
status_matches() {
        grep -q "$1" <<<"$(svc_prop StatusText)"
}
check "StatusText shows the request in flight" wait_until 3 status_matches '^1 in flight'
echo "# StatusText in flight: $(svc_prop StatusText)"
release_tree tree-main
check "the scope vanishes after the request" wait_until 5 no_scope
check "no CLI process is left (setsid grandchild included)" wait_until 5 no_fake_cli
check "StatusText is kept current (0 in flight once the request is done)" \
        wait_until 5 status_matches '^0 in flight, 0 queued, 0 children'
echo "# StatusText idle: $(svc_prop StatusText)"

# Client disconnect.
post_bg "$WORK/disc" "[[fake:text hang_after=2 grandchild=setsid]]" -m 5
check "a scope exists for the hanging request" wait_until 5 have_scope
wait_bg
check "disconnect: the scope is gone" wait_until 5 no_scope
check "disconnect: no CLI process is left" wait_until 5 no_fake_cli

# The CLI crashes (SIGKILLs itself) with a setsid grandchild still running in its scope.
check_eq "a crashing CLI is answered 500" 500 \
        "$(post '[[fake:text crash_after=3 grandchild=setsid]]' -o /dev/null -w '%{http_code}' -m 15)"
check "crash: the scope is gone" wait_until 5 no_scope
check "crash: no CLI process is left" wait_until 5 no_fake_cli

# The CLI goes silent: IDLE_TIMEOUT_MS ends the request and its scope.
check "IDLE_TIMEOUT_MS=4000 by a reload" set_idle_timeout 4000
check_eq "a silent CLI is answered 504" 504 \
        "$(post '[[fake:text hang_after=2 grandchild=setsid]]' -o /dev/null -w '%{http_code}' -m 15)"
check "timeout: the scope is gone" wait_until 5 no_scope
check "timeout: no CLI process is left" wait_until 5 no_fake_cli

# The proxy is SIGKILLed with a request in flight.
check "IDLE_TIMEOUT_MS=60000 by a reload" set_idle_timeout 60000
post_bg "$WORK/kill" "[[fake:text hang_after=2 grandchild=setsid]]" -m 20
check "a scope exists before the kill" wait_until 5 have_scope
old=$(proxy_scopes | head -n 1)
oldpid=$(svc_prop MainPID)
X systemctl kill --kill-who=main -s SIGKILL claude-proxy.service
check "the killed proxy's scope does not survive" wait_until 10 unit_gone "$old"
check "the killed proxy's CLI tree is gone" wait_until 10 no_fake_cli
check_eq "the next request is answered by a new instance" 200 "$(post hello -o /dev/null -w '%{http_code}')"
check "it is a new process" test "$(svc_prop MainPID)" != "$oldpid"
wait_bg
# The start-up probe waits for its scope job: no failed unit in the journal for it.
check_eq "the start-up probe leaves no failed scope" 0 \
        "$(X journalctl -b --no-pager -o cat | grep -c 'Failed to start claude-proxy-probe' || true)"

finish
