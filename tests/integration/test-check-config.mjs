// SPDX-License-Identifier: MIT
//
// --check-config names the file it read first: with a --prefix other than /usr the default path
// moves, and an operator editing the wrong file must see that instead of guessing.

import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { test } from 'node:test';

import { PROXY_BIN, missing, requireOrSkip, tmpdir } from './lib/harness.mjs';

requireOrSkip(missing({ fake: false }));

const run = (args) => execFileSync(PROXY_BIN, ['--check-config', '--set', 'REQUIRE_AUTH=false', ...args],
  { encoding: 'utf8', env: { PATH: process.env.PATH } });

test('--check-config says which file it read', () => {
  const file = path.join(tmpdir('cp-conf-'), 'claude-proxy.conf');
  fs.writeFileSync(file, 'PORT=4999\n');
  const out = run(['--config', file]);
  assert.equal(out.split('\n')[0], `# configuration file: ${file}`);
  assert.match(out, /^PORT=4999$/m);
});

test('--check-config says when the default file is absent', () => {
  const first = run([]).split('\n')[0];
  assert.match(first, /^# configuration file: \/.*claude-proxy\.conf/);
  if (!fs.existsSync(first.replace(/^# configuration file: (\S+).*$/, '$1')))
    assert.match(first, /not present/);
});
