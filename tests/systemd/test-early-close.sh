#!/bin/bash
# SPDX-License-Identifier: MIT
#
# Usage: test-early-close.sh scope|cgroup
#
# A client that sends a whole request and closes at once ends its session while the CLI child
# still waits on the start gate for its scope or cgroup (a wide window in these modes). The
# group kill that follows once ran the proxy's own SIGTERM handler inside the child, and the
# proxy stopped itself (exit 0, so not even Restart=on-failure helped). Many early closes: the
# service keeps its main process, restarts nothing, and is left with no scope, sub-cgroup or
# CLI process.

# shellcheck source=tests/systemd/lib.sh
. "$(dirname "$0")/lib.sh"
MODE=${1:?usage: $0 scope|cgroup}
TEST_NAME=$TEST_NAME-$MODE
WORK=$WORK-$MODE
require_env

TRIES=60

system_units "$WORK/units" root
dropin "$WORK/units" 30-mode <<-EOF2
	[Service]
	Environment=SCOPE_MODE=$MODE
	Environment=MAX_QUEUE=$TRIES
	Environment=LOG_LEVEL=info
	EOF2
boot --units "$WORK/units" --enable claude-proxy.socket

check_eq "a first request is answered" 200 "$(post hello -o /dev/null -w '%{http_code}')"
pid1=$(svc_prop MainPID)
cg=/sys/fs/cgroup$(svc_prop ControlGroup)

body=$(message_body "hi [[fake:text delay=20]]")
# Send the whole request, then close (or half-close) at once, from inside the instance.
X bash -c '
        body=$1 tries=$2
        for i in $(seq 1 "$tries"); do
                exec 3<>/dev/tcp/127.0.0.1/4523 || continue
                printf "POST /v1/messages HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: %d\r\n\r\n%s" \
                        "${#body}" "$body" >&3
                exec 3>&-
                [ $((i % 4)) = 0 ] && sleep 0.0$((i % 7))
        done
        exit 0' early-close "$body" "$TRIES"

scopes_and_dirs_gone() {
        no_scope && [ -z "$(X sh -c "ls -d '$cg'/req-* 2>/dev/null")" ]
}
check "the service stays active" wait_until 2 svc_prop_is ActiveState active
check_eq "the same main process serves" "$pid1" "$(svc_prop MainPID)"
check_eq "no restart" 0 "$(svc_prop NRestarts)"
check "it did not begin to stop by itself" sh -c "! '$SDNS' exec $PID journalctl -b -u claude-proxy.service --no-pager | grep -q 'stopping:'"
check "no scope or sub-cgroup is left" wait_until 30 scopes_and_dirs_gone
for u in $(proxy_scopes); do
        echo "# left: $u"
        X systemctl status --no-pager "$u" 2>&1 | sed 's/^/#   /'
        X journalctl -b --no-pager -u "$u" 2>&1 | sed 's/^/#   /'
done
check "no CLI process is left" wait_until 30 no_fake_cli
check_eq "still answering afterwards" 200 "$(post hello -o /dev/null -w '%{http_code}')"

finish
