#!/bin/sh
# SPDX-License-Identifier: MIT
#
# The built man pages render without warnings: `mandoc -T lint -W warning` prints nothing.
# (Style notes, such as input lines over 80 bytes from rst2man, are below that level.)
#   lint-man.sh PAGE...
command -v mandoc >/dev/null 2>&1 || { echo "SKIP: mandoc is not installed"; exit 77; }
rc=0
for p in "$@"; do
        [ -f "$p" ] || { echo "not ok - $p was not built"; rc=1; continue; }
        out=$(mandoc -T lint -W warning "$p" 2>&1)
        if [ -n "$out" ]; then
                echo "$out"
                echo "not ok - $p"
                rc=1
        else
                echo "ok - $p"
        fi
done
exit $rc
