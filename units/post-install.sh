#!/bin/sh
# SPDX-License-Identifier: MIT
#
# Run by `meson install` (not into a DESTDIR: packages do this in their own scripts): make the
# system user and its state directory now, so `systemctl enable --now claude-proxy.socket`
# works right after the install instead of at the next boot.
#   post-install.sh SYSUSERS_FILE TMPFILES_FILE
set -eu

[ -z "${DESTDIR:-}" ] || exit 0
[ "$(id -u)" = 0 ] || { echo "post-install: not root, not creating the claude-proxy user"; exit 0; }
if command -v systemd-sysusers >/dev/null 2>&1; then
        systemd-sysusers "$1"
fi
if command -v systemd-tmpfiles >/dev/null 2>&1; then
        systemd-tmpfiles --create "$2"
fi
