#!/bin/sh
# SPDX-License-Identifier: MIT
#
# Build the Debian package from this checkout: packaging/build-deb.sh [OUTDIR]
# Copies the tracked files and packaging/debian/ into a clean temporary tree (so no build
# directory of yours leaks in), runs `dpkg-buildpackage -us -uc -b` there and puts the .deb,
# .buildinfo and .changes into OUTDIR (default: build-deb/). Build dependencies:
# `sudo apt-get build-dep ./packaging` does not apply to a nested debian/; install them with
#   sudo apt-get install debhelper meson ninja-build pkgconf libevent-dev libjansson-dev \
#        libsystemd-dev python3-docutils
# DEB_BUILD_OPTIONS is passed through (for example parallel=2).
set -eu

src=$(cd "$(dirname "$0")/.." && pwd)
out=${1:-$src/build-deb}
mkdir -p "$out"
out=$(cd "$out" && pwd)
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT INT TERM

tree=$tmp/claude-proxy
mkdir "$tree"
if git -C "$src" rev-parse --git-dir >/dev/null 2>&1; then
	(cd "$src" && git ls-files -z --cached | xargs -0 cp -a --parents -t "$tree")
else
	tar -C "$src" --exclude='./build*' --exclude=./tests/node/node_modules -cf - . | tar -C "$tree" -xf -
fi
rm -rf "$tree/debian"
cp -a "$src/packaging/debian" "$tree/debian"
: "${DEB_BUILD_OPTIONS:=parallel=$(nproc)}"
export DEB_BUILD_OPTIONS
(cd "$tree" && dpkg-buildpackage -us -uc -b)
mv "$tmp"/*.deb "$tmp"/*.buildinfo "$tmp"/*.changes "$out/"
ls "$out"/*.deb
