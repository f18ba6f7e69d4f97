#!/bin/bash
# SPDX-License-Identifier: MIT
#
# Socket activation, readiness and the journal: the socket is listening before anything runs,
# the first request starts the service, StatusText is set, and the access record reaches the
# journal with every field (and the catalog explains it under journalctl -x).

# shellcheck source=tests/systemd/lib.sh
. "$(dirname "$0")/lib.sh"
require_env

system_units "$WORK/units" root
# The catalog database as `journalctl --update-catalog` builds it on an installed system.
mkdir -p "$WORK/catalog-root/usr/lib/systemd/catalog"
cp "$SOURCE_ROOT/src/catalog/claude-proxy.catalog" "$WORK/catalog-root/usr/lib/systemd/catalog/"
journalctl --root="$WORK/catalog-root" --update-catalog

boot --units "$WORK/units" --enable claude-proxy.socket \
        --bind "$WORK/catalog-root/var/lib/systemd/catalog:/var/lib/systemd/catalog:ro"

check_eq "socket active before the first connection" active "$(X systemctl is-active claude-proxy.socket)"
check_eq "service inactive before the first connection" inactive "$(X systemctl is-active claude-proxy.service)"
check "systemd (pid 1) holds 127.0.0.1:$PORT" \
        sh -c "'$SDNS' exec $PID ss -Hltnp 'sport = :$PORT' | grep -q 'pid=1,'"
check_eq "the socket passes its fd as 'http'" http "$(X systemctl show -p FileDescriptorName --value claude-proxy.socket)"

hdr=$WORK/headers
post "hello" -H "x-request-id: act-test-0001" -i >"$hdr"
check "the first request is answered (activation)" grep -q '^HTTP/1.1 200' "$hdr"
sed 's/^/# response: /' "$hdr" | head -n 20
check "the answer is a Messages response" jqc '.type == "message" and .content[0].type == "text"' "$(sed '1,/^\r$/d' "$hdr")"
check "the incoming x-request-id is returned as request-id" grep -qi '^request-id: act-test-0001' "$hdr"
check_eq "service active after the first request" active "$(X systemctl is-active claude-proxy.service)"
mainpid=$(svc_prop MainPID)
check "MainPID is set" test "${mainpid:-0}" -gt 0
check_eq "NRestarts is 0" 0 "$(svc_prop NRestarts)"
check_eq "WatchdogUSec from the unit" 30s "$(svc_prop WatchdogUSec)"
status=$(svc_prop StatusText)
echo "# StatusText: $status"
check "StatusText is set (STATUS=)" test -n "$status"

# The journal: poll, journald may take a moment.
jq_access() {
        X journalctl -o json --no-pager MESSAGE_ID=$MSGID_REQUEST_DONE CLAUDE_PROXY_REQUEST_ID=act-test-0001
}
check "the access record reaches the journal" wait_until 5 sh -c "'$SDNS' exec $PID journalctl -o json --no-pager MESSAGE_ID=$MSGID_REQUEST_DONE CLAUDE_PROXY_REQUEST_ID=act-test-0001 | grep -q ."
rec=$(jq_access | tail -n 1)
echo "# access record: $rec"
for f in CLAUDE_PROXY_API CLAUDE_PROXY_MODEL CLAUDE_PROXY_STREAM CLAUDE_PROXY_HTTP_STATUS \
        CLAUDE_PROXY_DURATION_USEC CLAUDE_PROXY_TTFB_USEC CLAUDE_PROXY_CHILD_PID \
        CLAUDE_PROXY_INPUT_TOKENS CLAUDE_PROXY_OUTPUT_TOKENS CLAUDE_PROXY_UNIT; do
        check "access record has $f" jqc "has(\"$f\") and .$f != \"\"" "$rec"
done
check_eq "CLAUDE_PROXY_HTTP_STATUS" 200 "$(jq -r .CLAUDE_PROXY_HTTP_STATUS <<<"$rec")"
check_eq "CLAUDE_PROXY_STREAM" 0 "$(jq -r .CLAUDE_PROXY_STREAM <<<"$rec")"
check_eq "CLAUDE_PROXY_MODEL" claude-sonnet-4-5 "$(jq -r .CLAUDE_PROXY_MODEL <<<"$rec")"
check_eq "the record comes from the service" claude-proxy.service "$(jq -r ._SYSTEMD_UNIT <<<"$rec")"
check "CLAUDE_PROXY_UNIT names the request's scope" \
        jqc '.CLAUDE_PROXY_UNIT | test("^claude-proxy-.*\\.scope$")' "$rec"
check "CLAUDE_PROXY_DURATION_USEC >= CLAUDE_PROXY_TTFB_USEC" \
        jqc '(.CLAUDE_PROXY_DURATION_USEC | tonumber) >= (.CLAUDE_PROXY_TTFB_USEC | tonumber)' "$rec"
check "the prompt is not logged above debug" \
        sh -c "! '$SDNS' exec $PID journalctl -u claude-proxy.service --no-pager -o cat -p info | grep -q hello"
check "a ready record (MESSAGE_ID) was logged" \
        sh -c "'$SDNS' exec $PID journalctl -o json --no-pager MESSAGE_ID=$MSGID_READY | grep -q ."
check "journalctl -x explains the access record (catalog)" \
        sh -c "'$SDNS' exec $PID journalctl -x --no-pager MESSAGE_ID=$MSGID_REQUEST_DONE | grep -q 'This is the access record'"

finish
