#!/bin/bash
# SPDX-License-Identifier: MIT
#
# The per-user deployment: a lingering user's manager listens on the user socket (TCP and
# AF_UNIX), the first request starts the user service, its CLI runs in a scope on the user bus,
# and the journal shows the access record under the user unit.

# shellcheck source=tests/systemd/lib.sh
. "$(dirname "$0")/lib.sh"
require_env

mkdir -p "$WORK/user-units/claude-proxy.service.d"
cp "$SOURCE_ROOT/units/user/claude-proxy.socket" "$SOURCE_ROOT/units/user/claudeproxy.slice" "$WORK/user-units/"
configure_unit "$SOURCE_ROOT/units/user/claude-proxy.service.in" "$WORK/user-units/claude-proxy.service"
fake_cli_dropin >"$WORK/user-units/claude-proxy.service.d/10-fake-cli.conf"
dropin "$WORK/user-units" 20-scope <<-'EOF2'
	[Service]
	Environment=SCOPE_MODE=scope
	EOF2
boot --add-user cpx --linger cpx --user-units "$WORK/user-units" --enable-user claude-proxy.socket

uid=$(X id -u cpx)
U() {
        X runuser -u cpx -- env XDG_RUNTIME_DIR="/run/user/$uid" \
                DBUS_SESSION_BUS_ADDRESS="unix:path=/run/user/$uid/bus" systemctl --user "$@"
}
uprop() {
        U show -p "$1" --value "${2:-claude-proxy.service}"
}
user_scopes() {
        U list-units --all --no-legend --plain --type=scope 'claude-proxy-*' | awk '{ print $1 }'
}
no_user_scope() {
        [ -z "$(user_scopes)" ]
}

check "the user manager is running" wait_until 10 sh -c "test \"\$('$SDNS' exec $PID systemctl is-active user@$uid.service)\" = active"
check "the user socket is active" wait_until 10 sh -c "'$SDNS' exec $PID runuser -u cpx -- env XDG_RUNTIME_DIR=/run/user/$uid systemctl --user is-active -q claude-proxy.socket"
check_eq "the user service is inactive before the first connection" inactive "$(U is-active claude-proxy.service)"
check_eq "a request over TCP starts it" 200 "$(post hello -o /dev/null -w '%{http_code}')"
check_eq "the user service is active" active "$(U is-active claude-proxy.service)"
check_eq "a request over the per-user AF_UNIX socket" 200 \
        "$(X curl -s -o /dev/null -w '%{http_code}' --unix-socket "/run/user/$uid/claude-proxy.sock" http://localhost/health)"
mainpid=$(uprop MainPID)
check_eq "the service runs as the user" cpx "$(X ps -o user= -p "$mainpid" | tr -d ' ')"

# The request is held open (the fake waits for the release file after 3 lines) while its scope
# is read, and shown still in flight afterwards: read after it ended, there is nothing to see.
X sh -c 'rm -f /run/fake-logs/*'
post_bg "$WORK/tree" "[[fake:text hang_after=3 release=/run/fake-logs/tree grandchild=setsid]]" \
        -H 'x-request-id: user-test-0001'
check "the CLI started its grandchildren" wait_until 10 fake_has_grandchildren 2
scope=$(user_scopes | head -n 1)
echo "# user scope: $scope"
check "a scope exists in the user manager" test -n "$scope"
cg=$(uprop ControlGroup "$scope")
echo "# scope cgroup: $cg"
check "the scope lives under user@$uid.service" grep -q "/user@$uid.service/" <<<"$cg"
mapfile -t tree < <(fake_tree_pids)
check "the scope holds the CLI and both grandchildren" pids_in_cgroup "/sys/fs/cgroup$cg" "${tree[@]}"
check_eq "the request was still held while its scope was read" replaying "$(fake_state)"
release tree
wait_bg
check_eq "the request completes" 200 "$(cat "$WORK/tree.code")"
check "the user scope vanishes after the request" wait_until 5 no_user_scope
check "no CLI process is left" wait_until 5 no_fake_cli

check "the access record is in the journal under the user unit" wait_until 5 sh -c \
        "'$SDNS' exec $PID journalctl -o json --no-pager _SYSTEMD_USER_UNIT=claude-proxy.service MESSAGE_ID=$MSGID_REQUEST_DONE CLAUDE_PROXY_REQUEST_ID=user-test-0001 | grep -q ."
rec=$(X journalctl -o json --no-pager _SYSTEMD_USER_UNIT=claude-proxy.service MESSAGE_ID=$MSGID_REQUEST_DONE \
        CLAUDE_PROXY_REQUEST_ID=user-test-0001 | tail -n 1)
check_eq "the record's _UID is the user" "$uid" "$(jq -r ._UID <<<"${rec:-{\}}")"

finish
