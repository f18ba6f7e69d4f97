#!/bin/bash
# SPDX-License-Identifier: MIT
#
# The system service as shipped: a dedicated non-root User=, Delegate=yes and SCOPE_MODE=cgroup.
# Keys come in as a credential (the optional OAuth token is absent and must not matter), every
# request's CLI tree goes into a sub-cgroup of the delegated cgroup, and it never outlives the
# request.
#
# With the argument "limits" (a meson test of its own): only that memory.max and pids.max reach
# the request's sub-cgroup, which needs the memory and pids controllers in the cgroup2 tree;
# where the host cannot have them there, it says SKIP instead of passing without checking.

# shellcheck source=tests/systemd/lib.sh
. "$(dirname "$0")/lib.sh"
MODE=${1:-main}
[ "$MODE" = limits ] && TEST_NAME=$TEST_NAME-limits && WORK=$WORK-limits
require_env
[ "$MODE" = limits ] && require_cgroup2_controllers memory pids

system_units "$WORK/units" as-shipped
dropin "$WORK/units" 30-limits <<-'EOF2'
	[Service]
	Environment=SCOPE_MEMORY_MAX=268435456
	Environment=SCOPE_TASKS_MAX=64
	ExecStart=
	ExecStart=/run/cp/src/claude-proxy --config=/etc/claude-proxy/claude-proxy.conf
	EOF2
boot --units "$WORK/units" --enable claude-proxy.socket --add-user claude-proxy
# IDLE_TIMEOUT_MS from that file: long while requests are held open and read, short for the
# silent-CLI check below (a reload).
set_idle_timeout 60000
X sh -c 'mkdir -p -m 0700 /etc/credstore && echo key-d1 >/etc/credstore/claude-proxy.api-keys && chmod 600 /etc/credstore/claude-proxy.api-keys'

key=(-H 'x-api-key: key-d1')
check_eq "no key: refused" 401 "$(post hello -o /dev/null -w '%{http_code}')"
check_eq "the key from the credential is accepted" 200 "$(post hello -o /dev/null -w '%{http_code}' "${key[@]}")"
check_eq "the service is active without the optional OAuth credential" active "$(X systemctl is-active claude-proxy.service)"
check "the api-keys credential is passed" X test -s /run/credentials/claude-proxy.service/api-keys
check "the absent OAuth token gives no credential" X test ! -e /run/credentials/claude-proxy.service/claude-code-oauth-token
mainpid=$(svc_prop MainPID)
check_eq "the service runs as claude-proxy" claude-proxy "$(X ps -o user= -p "$mainpid" | tr -d ' ')"
check_eq "Delegate=yes" yes "$(svc_prop Delegate)"
cg=/sys/fs/cgroup$(svc_prop ControlGroup)
echo "# service cgroup: $cg"
check_eq "the delegated cgroup is owned by the service user" claude-proxy "$(X stat -c %U "$cg/cgroup.procs")"
check_eq "the state directory is the CLI's home" claude-proxy "$(X stat -c %U /var/lib/claude-proxy)"

req_dirs() {
        X sh -c "ls -d '$cg'/req-* 2>/dev/null"
}
no_req_dir() {
        [ -z "$(req_dirs)" ]
}

# A request held open (the fake waits for the release file after 3 lines) while its cgroup is
# read, then checked to be still in flight: read after it ended, there would be nothing to see.
X sh -c 'rm -f /run/fake-logs/*'
post_bg "$WORK/tree" "[[fake:text hang_after=3 release=/run/fake-logs/tree grandchild=setsid]]" "${key[@]}"
check "the CLI started its grandchildren" wait_until 10 fake_has_grandchildren 2
req=$(req_dirs | head -n 1)
echo "# request cgroup: $req"
check "a req-* sub-cgroup exists while the request runs" test -n "$req"
if [ "$MODE" = limits ]; then
        check "the memory controller reaches the request's cgroup" has_controller "$req" memory
        check "the pids controller reaches the request's cgroup" has_controller "$req" pids
        check_eq "memory.max set" 268435456 "$(X cat "$req/memory.max")"
        check_eq "pids.max set" 64 "$(X cat "$req/pids.max")"
else
        mapfile -t tree < <(fake_tree_pids)
        check "it holds the CLI and both grandchildren" pids_in_cgroup "$req" "${tree[@]}"
        check "the proxy is not in it" sh -c "! '$SDNS' exec $PID grep -qx '$mainpid' '$req/cgroup.procs'"
fi
check_eq "the request was still held while its cgroup was read" replaying "$(fake_state)"
release tree
wait_bg
check_eq "the request completes" 200 "$(cat "$WORK/tree.code")"
[ "$MODE" = limits ] && { finish; exit; }
check "the sub-cgroup is removed after the request" wait_until 5 no_req_dir
check "no CLI process is left (setsid grandchild included)" wait_until 5 no_fake_cli

post_bg "$WORK/disc" "[[fake:text hang_after=2 grandchild=setsid]]" -m 5 "${key[@]}"
check "a sub-cgroup exists for the hanging request" wait_until 5 sh -c "test -n \"\$('$SDNS' exec $PID sh -c \"ls -d '$cg'/req-* 2>/dev/null\")\""
wait_bg
check "disconnect: the sub-cgroup is removed" wait_until 5 no_req_dir
check "disconnect: no CLI process is left" wait_until 5 no_fake_cli

check_eq "a crashing CLI is answered 500" 500 \
        "$(post '[[fake:text crash_after=3 grandchild=setsid]]' -o /dev/null -w '%{http_code}' -m 15 "${key[@]}")"
check "crash: the sub-cgroup is removed" wait_until 5 no_req_dir
check "crash: no CLI process is left" wait_until 5 no_fake_cli

check "IDLE_TIMEOUT_MS=4000 by a reload" set_idle_timeout 4000
check_eq "a silent CLI is answered 504" 504 \
        "$(post '[[fake:text hang_after=2 grandchild=setsid]]' -o /dev/null -w '%{http_code}' -m 15 "${key[@]}")"
check "timeout: the sub-cgroup is removed" wait_until 5 no_req_dir
check "timeout: no CLI process is left" wait_until 5 no_fake_cli

finish
