#!/bin/bash
# SPDX-License-Identifier: MIT
#
# The Debian package, end to end: build it with packaging/build-deb.sh (dpkg-buildpackage -b),
# install it with dpkg inside the namespaced systemd, check that it made the user and the state
# directory but neither enabled nor started the socket, enable the socket, answer /health
# through it, then remove (units stopped, binary gone) and purge (state gone) cleanly. lintian
# (when installed) must report no errors and no warnings.
#
# /usr is read-only inside the instance: an overlay on /usr there (upper layer in the
# instance's /tmp) lets dpkg install into the real paths without touching the host.

# shellcheck source=tests/systemd/lib.sh
. "$(dirname "$0")/lib.sh"
require_env
for t in dpkg-buildpackage dh git; do
        command -v "$t" >/dev/null || skip "$t is missing (tests/bootstrap.sh installs the build dependencies)"
done

DEB=$WORK/deb
start=$(date +%s)
# The package is built as Debian builds it, whatever compiler this test suite was built with (CI
# runs the suites again with CC=clang and sanitizers, and dh_dwz cannot digest clang's DWARF).
env -u CC -u CFLAGS -u LDFLAGS DEB_BUILD_OPTIONS="parallel=$(nproc) noddebs" "$SOURCE_ROOT/packaging/build-deb.sh" "$DEB" >"$WORK/build.log" 2>&1 ||
        { tail -n 60 "$WORK/build.log"; echo "Bail out! the .deb did not build"; exit 1; }
echo "# built in $(($(date +%s) - start)) s: $(cd "$DEB" && ls ./*.deb | tr '\n' ' ')"
pkg=$(ls "$DEB"/claude-proxy_*.deb | head -n 1)

if command -v lintian >/dev/null; then
        # lintian refuses nothing as root but says so on stderr; tags go to stdout.
        out=$(lintian --fail-on error,warning "$DEB"/*.changes 2>/dev/null)
        rc=$?
        [ -n "$out" ] && echo "$out" | sed 's/^/# lintian: /'
        check "lintian: no errors, no warnings" test "$rc" = 0
elif under_ci; then
        not_ok "lintian is not installed under CI=true (tests/bootstrap.sh installs it)"
else
        echo "# lintian not installed: not checked"
fi

boot --bind "$DEB:/run/debs:ro"
X sh -c 'mkdir -p /tmp/usr-up /tmp/usr-work && mount -t overlay overlay -o lowerdir=/usr,upperdir=/tmp/usr-up,workdir=/tmp/usr-work /usr' ||
        { echo "Bail out! cannot put an overlay on /usr inside the instance"; exit 1; }
# A build container's policy-rc.d (exit 101: start nothing) would make deb-systemd-invoke skip
# the stop on removal; a normal system has none. Removed from the overlay only.
X rm -f /usr/sbin/policy-rc.d

check "no claude-proxy user before the install" sh -c "! '$SDNS' exec $PID getent passwd claude-proxy"
X dpkg -i "/run/debs/$(basename "$pkg")" >"$WORK/install.log" 2>&1
rc=$?
sed 's/^/# /' "$WORK/install.log" | tail -n 15
check_eq "dpkg -i succeeds" 0 "$rc"
check "the package made the claude-proxy user" X getent passwd claude-proxy
check_eq "the state directory exists, owned by it" "claude-proxy 700" "$(X stat -c '%U %a' /var/lib/claude-proxy)"
check_eq "the socket is not enabled on install" disabled "$(X systemctl is-enabled claude-proxy.socket)"
check_eq "the socket is not started on install" inactive "$(X systemctl is-active claude-proxy.socket)"
check "the man pages are installed" X test -f /usr/share/man/man5/claude-proxy.conf.5.gz
check "the example config is installed" X test -f /usr/share/doc/claude-proxy/examples/claude-proxy.conf
check "README.Debian is installed" X test -f /usr/share/doc/claude-proxy/README.Debian
check "the example config is valid" X /usr/bin/claude-proxy --check-config \
        --config /usr/share/doc/claude-proxy/examples/claude-proxy.conf --set REQUIRE_AUTH=false

X sh -c 'mkdir -p /etc/credstore && echo sk-test-key > /etc/credstore/claude-proxy.api-keys && chmod 600 /etc/credstore/claude-proxy.api-keys'
check "systemctl enable --now claude-proxy.socket" X systemctl enable --now claude-proxy.socket
health=""
get_health() { health=$(X curl -sf -m 10 "$URL/health") && [ -n "$health" ]; }
check "/health answers through the socket" wait_until 30 get_health
echo "# $health"
check_eq "the service runs /usr/bin/claude-proxy as claude-proxy" "claude-proxy" "$(svc_prop User)"
check_eq "the service is active" active "$(X systemctl is-active claude-proxy.service)"

X dpkg -r claude-proxy >"$WORK/remove.log" 2>&1
rc=$?
sed 's/^/# /' "$WORK/remove.log" | tail -n 5
check_eq "dpkg -r succeeds" 0 "$rc"
check "removal stopped the service" wait_until 15 sh -c "! '$SDNS' exec $PID pgrep -x claude-proxy"
check "nothing listens on $PORT any more" wait_until 15 sh -c "! '$SDNS' exec $PID curl -s -m 2 $URL/health"
check "the binary is gone" sh -c "! '$SDNS' exec $PID test -e /usr/bin/claude-proxy"
check "the state survives a remove" X test -d /var/lib/claude-proxy
X dpkg -P claude-proxy >"$WORK/purge.log" 2>&1
rc=$?
sed 's/^/# /' "$WORK/purge.log" | tail -n 5
check_eq "dpkg -P succeeds" 0 "$rc"
check "purge removed the state directory" sh -c "! '$SDNS' exec $PID test -e /var/lib/claude-proxy"
check "dpkg knows nothing of the package" sh -c "! '$SDNS' exec $PID dpkg -s claude-proxy >/dev/null 2>&1"
check "no enablement symlinks are left" sh -c "test -z \"\$('$SDNS' exec $PID find /etc/systemd -name 'claude-proxy*')\""

finish
