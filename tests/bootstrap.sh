#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
#
# Install what a Debian 12 machine needs to build claude-proxy (`bootstrap.sh build`) or to build
# it and run every test suite (`bootstrap.sh`, the default): the build dependencies, the test
# tools, and the npm packages the integration tests use (the official SDKs and the real Claude
# Code CLI, into tests/node/node_modules). Uses sudo when not root. Safe to run again.
set -euo pipefail

cd "$(dirname "$0")/.."

mode=${1:-test}
apt_pkgs=(meson ninja-build pkg-config gcc libevent-dev libjansson-dev libsystemd-dev)
if [ "$mode" = test ]; then
        apt_pkgs+=(clang libclang-rt-14-dev libcmocka-dev curl systemd util-linux valgrind python3 python3-docutils jq iproute2 procps dbus mandoc debhelper lintian rpm rpmlint haproxy)
        command -v node >/dev/null 2>&1 || apt_pkgs+=(nodejs)
        command -v npm >/dev/null 2>&1 || apt_pkgs+=(npm)
elif [ "$mode" != build ]; then
        echo "usage: $0 [build|test]" >&2
        exit 2
fi

missing=()
for p in "${apt_pkgs[@]}"; do
        dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if [ ${#missing[@]} -gt 0 ]; then
        sudo_cmd=()
        [ "$(id -u)" -eq 0 ] || sudo_cmd=(sudo)
        "${sudo_cmd[@]}" apt-get update -qq
        DEBIAN_FRONTEND=noninteractive "${sudo_cmd[@]}" apt-get install -y -qq --no-install-recommends "${missing[@]}"
fi

[ "$mode" = test ] || exit 0

# The Claude Code CLI's postinstall links its native binary into place; it must run.
npm ci --prefix tests/node --no-audit --no-fund --loglevel=error
tests/node/node_modules/.bin/claude --version
# The Codex CLI (a real OpenAI Responses client in the suite) ships a native binary per platform
# as an optional dependency: check that it landed.
tests/node/node_modules/.bin/codex --version
