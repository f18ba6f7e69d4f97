#!/usr/bin/env python3
# SPDX-License-Identifier: MIT
#
# The documentation follows the real key table (src/config.c keys[]) and the real --help:
#   - claude-proxy.conf(5) documents every key, no other, with the table's default;
#   - the example config has every key, commented, with the table's default, and parses;
#   - README.md's configuration table names every key;
#   - claude-proxy(8) documents every long option --help lists, and no other;
#   - --help points at claude-proxy.conf(5).
# A key added to the table (WARM_POOL, ...) fails this until it is documented.
#   check-docs.py SOURCE_ROOT CLAUDE_PROXY_BINARY

import os
import re
import subprocess
import sys

root, binary = sys.argv[1], sys.argv[2]
failures = []


def fail(msg):
    failures.append(msg)


def read(rel):
    with open(os.path.join(root, rel), encoding='utf-8') as f:
        return f.read()


def key_table():
    src = read('src/config.c')
    start = src.index('static const KeyInfo keys[] = {')
    table = src[start:src.index('\n};', start)]
    entries = re.findall(r'\{\s*"([A-Z0-9_]+)",\s*KEY_\w+,\s*FIELD\(\w+\),\s*[^,]+,\s*[^,]+,\s*(NULL|"[^"]*")',
                         table)
    # Every entry line must have been understood: a new layout must not hide keys from this test.
    names = re.findall(r'\{\s*"([A-Z0-9_]+)",', table)
    if len(names) != len(entries):
        fail(f'cannot parse every entry of keys[] in src/config.c ({len(entries)} of {len(names)})')
    return {k: (None if d == 'NULL' else d.strip('"')) for k, d in entries}


keys = key_table()
if len(keys) < 20:
    fail(f'only {len(keys)} keys found in src/config.c: the parser is broken')

# --- claude-proxy.conf(5) ------------------------------------------------------------------------
conf5 = read('man/claude-proxy.conf.5.rst')
section = conf5[conf5.index('\nKEYS\n'):conf5.index('\nEXAMPLE\n')]
documented = {}
for m in re.finditer(r'^``([A-Z0-9_]+)``\n((?:   .*\n)+)', section, re.M):
    documented[m.group(1)] = ' '.join(m.group(2).split())
for k in keys:
    if k not in documented:
        fail(f'claude-proxy.conf(5) does not document {k}')
for k, text in documented.items():
    if k not in keys:
        fail(f'claude-proxy.conf(5) documents {k}, which src/config.c does not have')
        continue
    want = keys[k]
    if want is None:
        if 'default unset' not in text:
            fail(f'claude-proxy.conf(5): {k} should say "default unset"')
    elif f'default ``{want}``' not in text:
        fail(f'claude-proxy.conf(5): {k} should say "default ``{want}``"')
    if not re.search(r'(\breload\b|\*restart\*)', text):
        fail(f'claude-proxy.conf(5): {k} does not say whether a reload applies it')

# --- the example file ----------------------------------------------------------------------------
example = read('man/claude-proxy.conf.example')
seen = {}
for line in example.splitlines():
    m = re.match(r'^#?([A-Z0-9_]+)=(.*)$', line)
    if m:
        if m.group(1) in seen:
            fail(f'example config: {m.group(1)} twice')
        seen[m.group(1)] = m.group(2)
for k, d in keys.items():
    if k not in seen:
        fail(f'example config lacks {k}')
    elif seen[k] != (d or ''):
        fail(f'example config: {k}={seen[k]}, the default is {d or "(unset)"}')
for k in seen:
    if k not in keys:
        fail(f'example config has {k}, which src/config.c does not have')
r = subprocess.run([binary, '--check-config', '--config', os.path.join(root, 'man/claude-proxy.conf.example'),
                    '--set', 'REQUIRE_AUTH=false'], capture_output=True, text=True, env={'PATH': '/usr/bin:/bin'})
if r.returncode != 0:
    fail(f'the example config does not pass --check-config: {r.stderr.strip()}')

# --- README ----------------------------------------------------------------------------------------
readme = read('README.md')
for k in keys:
    if f'`{k}`' not in readme:
        fail(f'README.md does not name `{k}`')

# --- --help and claude-proxy(8) ------------------------------------------------------------------
r = subprocess.run([binary, '--help'], capture_output=True, text=True)
help_text = r.stdout
if r.returncode != 0 or not help_text:
    fail('--help failed')
help_opts = set(re.findall(r'(?<![\w-])--([a-z][a-z-]+)', help_text))
man8 = read('man/claude-proxy.8.rst')
options = man8[man8.index('\nOPTIONS\n'):man8.index('\nCONFIGURATION\n')]
man_opts = set(re.findall(r'``--([a-z][a-z-]+)', options))
for o in sorted(help_opts - man_opts):
    fail(f'claude-proxy(8) OPTIONS does not document --{o} (in --help)')
for o in sorted(man_opts - help_opts):
    fail(f'claude-proxy(8) documents --{o}, which --help does not list')
if 'claude-proxy.conf(5)' not in help_text:
    fail('--help does not point at claude-proxy.conf(5)')
if 'claude-proxy.conf' not in man8 or '(5)' not in man8:
    fail('claude-proxy(8) does not point at claude-proxy.conf(5)')

for f in failures:
    print(f'not ok - {f}')
print(f'# {len(keys)} keys, {len(help_opts)} options checked; {len(failures)} problems')
sys.exit(1 if failures else 0)
