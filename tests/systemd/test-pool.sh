#!/bin/bash
# SPDX-License-Identifier: MIT
#
# The warm pool (WARM_POOL=1) under systemd, in SCOPE_MODE=scope (root, transient scopes) or
# SCOPE_MODE=cgroup (the non-root service as shipped, delegated sub-cgroups): the idle pooled
# CLI already sits in its own scope/cgroup, named by its run id; a request adopts it with that
# container and the pool refills into a new one; the adopted container goes with its request; a
# reload replaces the idle process; clients that close right after sending leave nothing behind;
# a stop, a SIGKILLed proxy or an exit on idle (EXIT_IDLE_SEC, not held up by the pool) leaves no
# container and no CLI.

# shellcheck source=tests/systemd/lib.sh
. "$(dirname "$0")/lib.sh"
MODE=${1:?scope or cgroup}
TEST_NAME=$TEST_NAME-$MODE
WORK=$WORK-$MODE
require_env
# The pool holds processes for DEFAULT_MODEL only; a request for another model spawns cold.
MODEL=sonnet

if [ "$MODE" = scope ]; then
        system_units "$WORK/units" root
        boot_args=()
        key=()
else
        system_units "$WORK/units" as-shipped
        boot_args=(--add-user claude-proxy)
        key=(-H 'x-api-key: key-p1')
fi
dropin "$WORK/units" 30-pool <<-'EOF2'
	[Service]
	Environment=WARM_POOL=1
	ExecStart=
	ExecStart=/run/cp/src/claude-proxy --config=/etc/claude-proxy/claude-proxy.conf
	EOF2
boot --units "$WORK/units" --enable claude-proxy.socket "${boot_args[@]}"
set_idle_timeout 60000
[ "$MODE" = cgroup ] &&
        X sh -c 'mkdir -p -m 0700 /etc/credstore && echo key-p1 >/etc/credstore/claude-proxy.api-keys && chmod 600 /etc/credstore/claude-proxy.api-keys'

# The proxy's containers now, one name per line: transient scopes, or req-* sub-cgroups of the
# service's delegated cgroup.
containers() {
        if [ "$MODE" = scope ]; then
                proxy_scopes
        else
                X sh -c "ls -d /sys/fs/cgroup$SVC_CG/req-* 2>/dev/null" | xargs -rn1 basename
        fi
}
n_containers() {
        [ "$(containers | wc -l)" = "$1" ]
}
# The cgroup directory of container NAME, inside the instance.
container_dir() {
        if [ "$MODE" = scope ]; then
                echo "/sys/fs/cgroup$(svc_prop ControlGroup "$1")"
        else
                echo "/sys/fs/cgroup$SVC_CG/$1"
        fi
}
fake_pids() {
        X pgrep -x fake-claude | sort
}
n_fake() {
        [ "$(fake_pids | wc -l)" = "$1" ]
}

# The fake CLI's log of the run that waits for release file NAME.
held_log() {
        X sh -c 'f=$(grep -l -F -- "$1" /run/fake-logs/*.json 2>/dev/null | head -n 1); [ -n "$f" ] && cat "$f"' sh "$1"
}
gone() {
        ! containers | grep -qxF "$1"
}
fake_state_is() {
        [ "$(fake_state "$1")" = "$2" ]
}
# One idle CLI, not the one of before ($1).
idle_replaced() {
        local now
        now=$(fake_pids)
        [ "$(wc -l <<<"$now")" = 1 ] && [ -n "$now" ] && [ "$now" != "$1" ]
}

check_eq "the first request is answered (cold or pooled)" 200 "$(post hello -o /dev/null -w '%{http_code}' "${key[@]}")"
# The service's cgroup, kept: it stays the same across restarts, and a stopped service has none.
SVC_CG=$(svc_prop ControlGroup)
echo "# service cgroup: $SVC_CG"
check "then one idle pooled CLI in one container" wait_until 20 n_containers 1
check "...and one fake CLI process" wait_until 20 n_fake 1
idle=$(containers)
idle_pid=$(fake_pids)
echo "# idle container: $idle, pid $idle_pid"
check "the container is named by the run id, not a request id" grep -q 'run_' <<<"$idle"
check "the idle CLI is inside it" pids_in_cgroup "$(container_dir "$idle")" "$idle_pid"

# A request held open adopts the idle process, in its container; the pool refills meanwhile.
post_bg "$WORK/held" "[[fake:text hang_after=3 release=/run/fake-logs/pool-held]]" "${key[@]}"
check "the held request is replaying" wait_until 20 fake_state_is pool-held replaying
held_pid=$(held_log pool-held | jq -r .pid)
check_eq "the request runs on the process that was idle" "$idle_pid" "$held_pid"
check "its CLI is still in the container it idled in" pids_in_cgroup "$(container_dir "$idle")" "$held_pid"
check "the pool refills into a second container" wait_until 20 n_containers 2
refill=$(containers | grep -vxF "$idle" | head -n 1)
echo "# refill container: $refill"
check "the refill has a container of its own" test -n "$refill"
check_eq "the request was still held while its container was read" replaying "$(fake_state pool-held)"
release pool-held
wait_bg
check_eq "the held request completes" 200 "$(cat "$WORK/held.code")"
check "the adopted container goes with its request" wait_until 10 gone "$idle"
check "the refilled container stays, idle" wait_until 10 n_containers 1
check_eq "it is the refill" "$refill" "$(containers)"
check "one CLI is left: the idle one" wait_until 10 n_fake 1

# A reload replaces the idle process (the configuration may have changed): new run, new container.
before_pid=$(fake_pids)
check "IDLE_TIMEOUT_MS=60001 by a reload" set_idle_timeout 60001
check "the idle container of before the reload goes" wait_until 20 gone "$refill"
check "a new idle container replaces it" wait_until 20 n_containers 1
check "a new idle CLI replaces the old one" wait_until 20 idle_replaced "$before_pid"

# Clients that send a whole request and close at once, each adopting the idle process or
# spawning cold while the pool refills: the service keeps running and is left with its one idle
# container and CLI.
pid1=$(svc_prop MainPID)
body=$(message_body "hi [[fake:text delay=20]]")
X bash -c '
        body=$1
        for i in $(seq 1 20); do
                exec 3<>/dev/tcp/127.0.0.1/4523 || continue
                printf "POST /v1/messages HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n%sContent-Length: %d\r\n\r\n%s" \
                        "$2" "${#body}" "$body" >&3
                exec 3>&-
                [ $((i % 4)) = 0 ] && sleep 0.0$((i % 7))
        done
        exit 0' early-close "$body" "$([ "$MODE" = cgroup ] && printf 'x-api-key: key-p1\r\n')"
check "early closes: the service stays active" wait_until 2 svc_prop_is ActiveState active
check_eq "early closes: the same main process serves" "$pid1" "$(svc_prop MainPID)"
check "early closes: only the idle container is left" wait_until 30 n_containers 1
check "early closes: only the idle CLI is left" wait_until 30 n_fake 1
check_eq "early closes: still answering" 200 "$(post hello -o /dev/null -w '%{http_code}' "${key[@]}")"

# A stop takes the idle process and its container along.
X systemctl stop claude-proxy.service
check "stop: no container is left" wait_until 20 n_containers 0
check "stop: no CLI is left" wait_until 20 no_fake_cli

# A SIGKILLed proxy's idle process does not survive either.
check_eq "started again by the next request" 200 "$(post hello -o /dev/null -w '%{http_code}' "${key[@]}")"
check "the pool is back" wait_until 20 n_containers 1
last=$(containers)
X systemctl kill --kill-who=main -s SIGKILL claude-proxy.service
check "SIGKILL: the idle container does not survive the proxy" wait_until 20 gone "$last"
check "SIGKILL: no CLI is left" wait_until 20 no_fake_cli

# EXIT_IDLE_SEC is not held up by the idle pooled CLI, which goes with the proxy.
X sh -c 'printf "IDLE_TIMEOUT_MS=60000\nEXIT_IDLE_SEC=2\n" >/etc/claude-proxy/claude-proxy.conf'
X systemctl restart claude-proxy.service
check_eq "with EXIT_IDLE_SEC=2, a request is answered" 200 "$(post hello -o /dev/null -w '%{http_code}' "${key[@]}")"
check "the pool is there" wait_until 20 n_containers 1
check "the service exits on idle with its pool idle" wait_until 20 svc_prop_is ActiveState inactive
check_eq "it exited cleanly" success "$(svc_prop Result)"
check "idle exit: no container is left" wait_until 20 n_containers 0
check "idle exit: no CLI is left" wait_until 20 no_fake_cli

finish
