#!/bin/sh
# SPDX-License-Identifier: MIT
#
# The RPM spec builds with `rpmbuild -bb` (packaging/build-rpm.sh, Debian's rpm package here),
# ships the files meson installs, and rpmlint (when installed) reports no errors on the spec and
# the package, with the filters in packaging/rpm/claude-proxy.rpmlintrc.
#   test-rpm.sh SOURCE_ROOT WORKDIR
set -u
src=$1
work=$2
command -v rpmbuild >/dev/null 2>&1 || { echo "SKIP: rpmbuild is missing (apt-get install rpm)"; exit 77; }
command -v git >/dev/null 2>&1 && git -C "$src" rev-parse --git-dir >/dev/null 2>&1 ||
        { echo "SKIP: not a git checkout (build-rpm.sh archives HEAD)"; exit 77; }
rm -rf "$work"
mkdir -p "$work"
fail=0
if ! "$src/packaging/build-rpm.sh" "$work" >"$work/build.log" 2>&1; then
        tail -n 40 "$work/build.log"
        echo "not ok - rpmbuild -bb"
        exit 1
fi
echo "ok - rpmbuild -bb"
rpm=$(find "$work/RPMS" -name 'claude-proxy-[0-9]*.rpm' | head -n 1)
files=$(rpm -qlp "$rpm")
for f in /usr/bin/claude-proxy /usr/lib/sysusers.d/claude-proxy.conf /usr/lib/tmpfiles.d/claude-proxy.conf \
        /usr/lib/systemd/system/claude-proxy.socket /usr/share/man/man5/claude-proxy.conf.5; do
        if echo "$files" | grep -q "^$f"; then echo "ok - ships $f"; else echo "not ok - ships $f"; fail=1; fi
done
if command -v rpmlint >/dev/null 2>&1; then
        out=$(rpmlint -r "$src/packaging/rpm/claude-proxy.rpmlintrc" "$src/packaging/rpm/claude-proxy.spec" "$rpm" 2>&1)
        echo "$out" | sed 's/^/# /'
        if echo "$out" | grep -q ' 0 errors'; then echo "ok - rpmlint: no errors"; else echo "not ok - rpmlint"; fail=1; fi
else
        echo "# rpmlint not installed: not checked"
fi
exit $fail
