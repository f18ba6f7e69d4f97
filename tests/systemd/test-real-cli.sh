#!/bin/bash
# SPDX-License-Identifier: MIT
#
# The shipped, hardened, non-root system service running the REAL Claude Code CLI (npm, a Bun
# binary) against the project's scripted Anthropic-API mock, inside the namespaced systemd: the
# unit's sandbox (SystemCallFilter=, ProtectSystem=, RestrictNamespaces=, ...) must let the CLI
# start, write its state under the service's HOME and answer, streaming and not, inside a
# per-request cgroup.

# shellcheck source=tests/systemd/lib.sh
. "$(dirname "$0")/lib.sh"
require_env

cli="$SOURCE_ROOT/tests/node/node_modules/@anthropic-ai/claude-code/bin/claude.exe"
[ -x "$cli" ] || skip "the real CLI is not installed (run tests/bootstrap.sh)"
MOCK_PORT=18080

system_units "$WORK/units" as-shipped
dropin "$WORK/units" 40-real-cli <<-EOF2
	[Service]
	Environment=CLAUDE_PATH=/run/cp-node/node_modules/@anthropic-ai/claude-code/bin/claude.exe
	Environment="CHILD_ENV=ANTHROPIC_BASE_URL ANTHROPIC_API_KEY ASAN_OPTIONS"
	Environment=ANTHROPIC_BASE_URL=http://127.0.0.1:$MOCK_PORT
	Environment=ANTHROPIC_API_KEY=sk-test
	Environment=REQUIRE_AUTH=false
	Environment=WARM_POOL=0
	EOF2
boot --units "$WORK/units" --enable claude-proxy.socket --add-user claude-proxy \
        --bind "$SOURCE_ROOT/tests/node:/run/cp-node:ro" \
        --bind "$SOURCE_ROOT/tests/mock:/run/cp-mock:ro"

X sh -c "setsid node /run/cp-mock/anthropic-mock.mjs --port $MOCK_PORT </dev/null >/run/mock.out 2>&1 &"
check "the mock is listening" wait_until 10 sh -c "'$SDNS' exec $PID grep -q MOCK_PORT= /run/mock.out"

body=$(post "Say hello")
echo "# response: $body"
check "a non-streaming request through the real CLI is answered" \
        jqc '.type == "message" and .content[0].text == "Hello from the mock."' "$body"
check_eq "the service runs as claude-proxy" claude-proxy "$(X ps -o user= -p "$(svc_prop MainPID)" | tr -d ' ')"
# PrivateUsers=yes: its own user namespace, which maps root and its own user only.
uid_map=$(X cat "/proc/$(svc_prop MainPID)/uid_map" | tr -s ' ' | sed 's/^ //')
echo "# uid_map: $(tr '\n' ';' <<<"$uid_map")"
check "the service runs in its own user namespace (PrivateUsers=yes)" test "$uid_map" != "0 0 4294967295"
check "its seccomp filter is on" X grep -qx 'Seccomp:[[:space:]]*2' "/proc/$(svc_prop MainPID)/status"
check_eq "the CLI's version was read at start" 1 \
        "$(X journalctl -u claude-proxy.service --no-pager -o cat | grep -c 'using Claude CLI .*(2\.1\.197 (Claude Code))')"
check "the CLI wrote its state under the service's HOME" X test -e /var/lib/claude-proxy/.claude.json

stream=$(X curl -s -N -m 30 -H 'content-type: application/json' \
        -d "$(message_body 'Say hello' true)" "$URL/v1/messages")
check "a streaming request ends with message_stop" grep -q '^event: message_stop' <<<"$stream"
check_eq "the streamed text is the mock's" "Hello from the mock." \
        "$(sed -n 's/^data: //p' <<<"$stream" | jq -rj 'select(.type == "content_block_delta") | .delta.text')"
check "no system call was refused (no SIGSYS, no audit of seccomp)" \
        sh -c "! '$SDNS' exec $PID journalctl --no-pager -o cat | grep -qiE 'SIGSYS|code=killed, status=31'"
check_eq "the service is still active" active "$(X systemctl is-active claude-proxy.service)"
check "no CLI process is left" wait_until 5 sh -c "! '$SDNS' exec $PID pgrep -f claude.exe"

finish
