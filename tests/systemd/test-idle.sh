#!/bin/bash
# SPDX-License-Identifier: MIT
#
# EXIT_IDLE_SEC: the service exits cleanly once idle (never while a request runs), systemd keeps
# the socket, and the next connection starts a new instance.

# shellcheck source=tests/systemd/lib.sh
. "$(dirname "$0")/lib.sh"
require_env

system_units "$WORK/units" root
dropin "$WORK/units" 30-idle <<-'EOF2'
	[Service]
	Environment=EXIT_IDLE_SEC=2
	EOF2
boot --units "$WORK/units" --enable claude-proxy.socket

check_eq "the first request is answered" 200 "$(post hello -o /dev/null -w '%{http_code}')"
pid1=$(svc_prop MainPID)
# A request held open longer than EXIT_IDLE_SEC (proven in flight before and after the wait,
# whose length is the point here): the proxy must stay.
X sh -c 'rm -f /run/fake-logs/*'
post_bg "$WORK/long" "[[fake:text hang_after=3 release=/run/fake-logs/long]]"
long_held() {
        [ "$(fake_state)" = replaying ]
}
check "the long request is in flight" wait_until 10 long_held
sleep 3
check_eq "no idle exit while a request runs" "$pid1" "$(svc_prop MainPID)"
check_eq "the request was in flight all along" replaying "$(fake_state)"
release long
wait_bg
check_eq "the long request completes" 200 "$(cat "$WORK/long.code")"
check "the idle service exits" wait_until 8 svc_prop_is ActiveState inactive
check_eq "it exited cleanly" success "$(svc_prop Result)"
check_eq "it was not a restart" 0 "$(svc_prop NRestarts)"
check_eq "the socket stays active" active "$(X systemctl is-active claude-proxy.socket)"
check_eq "the next request reactivates it" 200 "$(post hello -o /dev/null -w '%{http_code}')"
check "a new instance serves it" test "$(svc_prop MainPID)" != "$pid1"

finish
