#!/bin/bash
# SPDX-License-Identifier: MIT
#
# SIGHUP (systemctl reload): the configuration and keys are read again while a stream is in
# flight; the stream completes, the process stays, and the new keys apply to new requests.

# shellcheck source=tests/systemd/lib.sh
. "$(dirname "$0")/lib.sh"
require_env

system_units "$WORK/units" root
dropin "$WORK/units" 30-reload <<-'EOF2'
	[Service]
	Environment=REQUIRE_AUTH=true
	ExecStart=
	ExecStart=/run/cp/src/claude-proxy --config=/etc/claude-proxy/test.conf
	EOF2
boot --units "$WORK/units" --enable claude-proxy.socket
X sh -c 'mkdir -p /etc/claude-proxy && echo PROXY_API_KEYS=key-one >/etc/claude-proxy/test.conf'

code() {
        post hello -o /dev/null -w '%{http_code}' "$@"
}
check_eq "key-one is accepted" 200 "$(code -H 'x-api-key: key-one')"
check_eq "key-two is not (yet)" 401 "$(code -H 'x-api-key: key-two')"
pid1=$(svc_prop MainPID)
# A stream held open across the reload (the fake waits for the release file after 4 lines),
# proven in flight before it and after it.
stream_started() {
        grep -q '^event: message_start' "$WORK/stream"
}
X sh -c 'rm -f /run/fake-logs/*'
STREAM=true post_bg "$WORK/stream" "[[fake:text hang_after=4 release=/run/fake-logs/stream]]" -H 'x-api-key: key-one'
check "the stream is in flight before the reload" wait_until 10 stream_started
X sh -c 'echo PROXY_API_KEYS=key-two >/etc/claude-proxy/test.conf'
check "systemctl reload succeeds" X systemctl reload claude-proxy.service
check "the new key is accepted after the reload" wait_until 5 sh -c "test \"\$('$SDNS' exec $PID curl -s -o /dev/null -w '%{http_code}' -H 'content-type: application/json' -H 'x-api-key: key-two' -d '$(message_body hello)' $URL/v1/messages)\" = 200"
check_eq "the old key is refused after the reload" 401 "$(code -H 'x-api-key: key-one')"
check_eq "the stream was still in flight after the reload" replaying "$(fake_state release=/run/fake-logs/stream)"
check "its client had not been answered yet" sh -c "! grep -q '^event: message_stop' '$WORK/stream'"
check "its client's connection was still open" kill -0 "${BG_PIDS[0]}"
release stream
wait_bg
check_eq "the stream in flight completes" 200 "$(cat "$WORK/stream.code")"
check "it ends with message_stop" grep -q '^event: message_stop' "$WORK/stream"
check_eq "the process survived the reload" "$pid1" "$(svc_prop MainPID)"
check_eq "the service is active" active "$(X systemctl is-active claude-proxy.service)"
check_eq "no restart" 0 "$(svc_prop NRestarts)"

finish
