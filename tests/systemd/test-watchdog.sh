#!/bin/bash
# SPDX-License-Identifier: MIT
#
# Watchdog: a hung proxy (SIGSTOP) is killed after WatchdogSec and restarted, and a request
# that arrived meanwhile waits in the socket's backlog and is answered by the new instance.

# shellcheck source=tests/systemd/lib.sh
. "$(dirname "$0")/lib.sh"
require_env

system_units "$WORK/units" root
dropin "$WORK/units" 30-watchdog <<-'EOF2'
	[Service]
	WatchdogSec=3s
	EOF2
boot --units "$WORK/units" --enable claude-proxy.socket

check_eq "the first request is answered" 200 "$(post hello -o /dev/null -w '%{http_code}')"
check_eq "WatchdogUSec from the drop-in" 3s "$(svc_prop WatchdogUSec)"
pid1=$(svc_prop MainPID)
# Pings for a while: an idle but healthy loop must not be killed.
sleep 4
check_eq "a healthy idle proxy is not restarted" 0 "$(svc_prop NRestarts)"
X systemctl kill -s SIGSTOP claude-proxy.service
post_bg "$WORK/queued" hello -m 25
check "the hung service is restarted by the watchdog" wait_until 12 svc_prop_is NRestarts 1
check "the journal names the watchdog timeout" \
        sh -c "'$SDNS' exec $PID journalctl -u claude-proxy.service --no-pager | grep -q 'Watchdog timeout'"
wait_bg
check_eq "the request queued during the hang is answered" 200 "$(cat "$WORK/queued.code")"
check "it was answered by a new process" test "$(svc_prop MainPID)" != "$pid1"
check_eq "the service is active again" active "$(X systemctl is-active claude-proxy.service)"

finish
