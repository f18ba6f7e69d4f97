#!/bin/sh
# SPDX-License-Identifier: MIT
#
# rst2man, then two fixes so `mandoc -T lint -W warning` is clean: rst2man puts a paragraph
# break (.sp) right after every section heading, and sets literal blocks in font "C", which
# groff and mandoc do not know (CR is the constant-width roman they both do).
#   render.sh RST2MAN INPUT OUTPUT
set -eu
"$1" --strict "$2" | sed -e '/^\.SH /{n;/^\.sp$/d;}' -e 's/^\.ft C$/.ft CR/' >"$3.tmp"
mv "$3.tmp" "$3"
