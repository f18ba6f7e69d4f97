#!/bin/sh
# SPDX-License-Identifier: MIT
#
# Build the RPM from this checkout: packaging/build-rpm.sh [TOPDIR]
# Makes the source tarball from the tracked files, then `rpmbuild -bb` with TOPDIR (default
# build-rpm/) as %_topdir. On a host whose rpm database does not hold the build dependencies
# (Debian's rpm package) it passes --nodeps: install them with apt instead (see README.md).
set -eu

src=$(cd "$(dirname "$0")/.." && pwd)
top=${1:-$src/build-rpm}
mkdir -p "$top/SOURCES" "$top/SPECS"
top=$(cd "$top" && pwd)
spec=$src/packaging/rpm/claude-proxy.spec
version=$(sed -n 's/^Version: *//p' "$spec")

git -C "$src" archive --format=tar.gz --prefix="claude-proxy-$version/" -o "$top/SOURCES/claude-proxy-$version.tar.gz" HEAD
cp "$spec" "$top/SPECS/"
nodeps=""
rpm -q rpm >/dev/null 2>&1 || nodeps=--nodeps
rpmbuild -bb $nodeps --define "_topdir $top" "$top/SPECS/claude-proxy.spec"
find "$top/RPMS" -name '*.rpm'
