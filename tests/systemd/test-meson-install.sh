#!/bin/bash
# SPDX-License-Identifier: MIT
#
# A plain `meson install`, as the README's systemd section does it, gives a system service that
# starts: meson installs the sysusers.d and tmpfiles.d entries and applies them (units/
# post-install.sh), so `systemctl enable --now claude-proxy.socket` answers /health with no user
# made by anyone else. sd-ns-boot masks systemd-sysusers.service, so the user can only come from
# the install. It is the README's build (--prefix=/usr, every directory at its default); /usr is
# read-only inside the instance, so an overlay on it there (upper layer in the instance's /tmp)
# takes the install without touching the host.

# shellcheck source=tests/systemd/lib.sh
. "$(dirname "$0")/lib.sh"
require_env
command -v meson >/dev/null || skip "meson is missing"

B=$WORK/build
meson setup "$B" "$SOURCE_ROOT" --prefix=/usr -Dtests=disabled -Dman=disabled -Dbuildtype=plain \
        >"$WORK/setup.log" 2>&1 || { cat "$WORK/setup.log"; echo "Bail out! meson setup failed"; exit 1; }
meson compile -C "$B" claude-proxy >"$WORK/compile.log" 2>&1 ||
        { tail -n 40 "$WORK/compile.log"; echo "Bail out! meson compile failed"; exit 1; }

# The build tree at its own path, writable: meson install writes its log there.
boot --bind "$B:$B"
X sh -c 'mkdir -p /tmp/usr-up /tmp/usr-work && mount -t overlay overlay -o lowerdir=/usr,upperdir=/tmp/usr-up,workdir=/tmp/usr-work /usr' ||
        { echo "Bail out! cannot put an overlay on /usr inside the instance"; exit 1; }

check "no claude-proxy user before the install" sh -c "! '$SDNS' exec $PID getent passwd claude-proxy"
X meson install -C "$B" --no-rebuild >"$WORK/install.log" 2>&1
rc=$?
sed 's/^/# /' "$WORK/install.log" | tail -n 20
check_eq "meson install succeeds" 0 "$rc"
check "the sysusers.d entry is installed" X test -f /usr/lib/sysusers.d/claude-proxy.conf
check "the tmpfiles.d entry is installed" X test -f /usr/lib/tmpfiles.d/claude-proxy.conf
check_eq "the proxy reads /etc/claude-proxy/claude-proxy.conf" \
        "# configuration file: /etc/claude-proxy/claude-proxy.conf (not present: defaults, environment and command line only)" \
        "$(X /usr/bin/claude-proxy --check-config --set REQUIRE_AUTH=false | head -n 1)"
check "meson install made the claude-proxy user" X getent passwd claude-proxy
check_eq "its home is the state directory" /var/lib/claude-proxy "$(X getent passwd claude-proxy | cut -d: -f6)"
check_eq "the state directory exists before the first start, owned by it" "claude-proxy 700" \
        "$(X stat -c '%U %a' /var/lib/claude-proxy)"

# What an operator does next: a client key (REQUIRE_AUTH is on), then the socket.
X sh -c 'mkdir -p /etc/credstore && echo sk-test-key > /etc/credstore/claude-proxy.api-keys && chmod 600 /etc/credstore/claude-proxy.api-keys'
X systemctl daemon-reload
check "systemctl enable --now claude-proxy.socket" X systemctl enable --now claude-proxy.socket
health=""
get_health() { health=$(X curl -sf -m 10 "$URL/health") && [ -n "$health" ]; }
check "/health answers through the socket" wait_until 30 get_health
echo "# $health"
check_eq "the service runs as claude-proxy" claude-proxy "$(svc_prop User)"
check_eq "the service is active" active "$(X systemctl is-active claude-proxy.service)"
# No CLI is installed here: degraded, and it says how to fix it.
check_eq "/health reports the missing CLI" degraded "$(jq -r .status <<<"$health")"
check "the fix names \`claude auth login\`" grep -q 'claude auth login' <<<"$health"
check "an API request without a key is refused" \
        test "$(X curl -s -o /dev/null -w '%{http_code}' -m 10 "$URL/v1/models")" = 401

finish
