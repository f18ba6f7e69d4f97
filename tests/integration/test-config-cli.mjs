// SPDX-License-Identifier: MIT
//
// The binary's configuration surface: --check-config masks secrets; the command line
// (--port/--host/--set) beats the environment, which beats the file, which beats the defaults;
// auth on with no keys refuses to start; SIGHUP reloads the file, keeps the old configuration
// when the new one is invalid, and applies the command line's settings again on top.

import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { describe, test } from 'node:test';

import {
  PROXY_BIN, assertSseGrammar, cliSettings, messageBody, missing, requireOrSkip, openStream, parseSse, postJson, proxyEnv, tmpdir, waitFor,
  withProxy,
} from './lib/harness.mjs';

requireOrSkip(missing());

// Run the binary to completion with the test environment plus `env` (null removes a key).
function runProxy(args, env = {}) {
  const dir = tmpdir('cp-cfg-');
  try {
    const r = spawnSync(PROXY_BIN, args, {
      env: proxyEnv(env, { logDir: dir, workDir: dir }), encoding: 'utf8', timeout: 10000,
    });
    return { status: r.status, signal: r.signal, stdout: r.stdout, stderr: r.stderr };
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
  }
}

function parseConfig(text) {
  const out = {};
  for (const l of text.split('\n')) {
    const i = l.indexOf('=');
    if (i > 0) out[l.slice(0, i)] = l.slice(i + 1);
  }
  return out;
}

function writeConfig(dir, lines) {
  const p = path.join(dir, 'claude-proxy.conf');
  fs.writeFileSync(`${p}.tmp`, lines.join('\n') + '\n');
  fs.renameSync(`${p}.tmp`, p);
  return p;
}

describe('--check-config', () => {
  test('prints every key with the API keys masked, from the environment, the file and the credential', () => {
    const dir = tmpdir('cp-cfg-');
    try {
      const conf = writeConfig(dir, ['PROXY_API_KEYS=sk-file-secret-1']);
      fs.writeFileSync(path.join(dir, 'api-keys'), 'sk-cred-secret-2\n# a comment\n');
      const r = runProxy(['--check-config', '--config', conf],
        { PROXY_API_KEYS: 'sk-env-secret-3,sk-env-secret-4', REQUIRE_AUTH: null, CREDENTIALS_DIRECTORY: dir });
      assert.equal(r.status, 0, r.stderr);
      assert.doesNotMatch(r.stdout + r.stderr, /secret/, 'an API key was printed');
      const c = parseConfig(r.stdout);
      // The environment replaces the file's list; the credential file adds to it.
      assert.equal(c.PROXY_API_KEYS, '<3 keys>', r.stdout);
      assert.equal(c.REQUIRE_AUTH, 'true');
      for (const k of ['HOST', 'PORT', 'CLAUDE_PATH', 'DEFAULT_MODEL', 'SHUTDOWN_GRACE_MS', 'METRICS_AUTH'])
        assert.ok(k in c, `${k} missing from --check-config:\n${r.stdout}`);

      // Keys given on the command line are masked too (set last, they replace every earlier list).
      const a = runProxy(['--check-config', '--config', conf, '--set', 'PROXY_API_KEYS=sk-argv-secret-5'],
        { PROXY_API_KEYS: 'sk-env-secret-3', REQUIRE_AUTH: null, CREDENTIALS_DIRECTORY: dir });
      assert.equal(a.status, 0, a.stderr);
      assert.doesNotMatch(a.stdout + a.stderr, /secret/, 'an API key was printed');
      assert.equal(parseConfig(a.stdout).PROXY_API_KEYS, '<1 keys>', a.stdout);
    } finally {
      fs.rmSync(dir, { recursive: true, force: true });
    }
  });

  test('defaults < file < environment < --port/--host/--set', () => {
    const dir = tmpdir('cp-cfg-');
    try {
      const conf = writeConfig(dir, [
        '# comment', 'PORT=1111', 'HOST=192.0.2.1', 'DEFAULT_MODEL=file-model', 'DEFAULT_EFFORT=medium',
        'MAX_QUEUE=7', 'LOG_LEVEL=error',
      ]);
      const r = runProxy(['--check-config', '--config', conf, '--port', '3333', '--host', '::1',
        '--set', 'DEFAULT_MODEL=argv-model', '--log-level', 'notice'],
      { PORT: '2222', HOST: '198.51.100.1', DEFAULT_MODEL: 'env-model', DEFAULT_EFFORT: 'low', LOG_LEVEL: 'warning' });
      assert.equal(r.status, 0, r.stderr);
      const c = parseConfig(r.stdout);
      assert.equal(c.PORT, '3333', 'the command line beats the environment');
      assert.equal(c.HOST, '::1');
      assert.equal(c.DEFAULT_MODEL, 'argv-model');
      assert.equal(c.LOG_LEVEL, 'notice');
      assert.equal(c.DEFAULT_EFFORT, 'low', 'the environment beats the file');
      assert.equal(c.MAX_QUEUE, '7', 'the file beats the default');
      assert.equal(c.MAX_CONCURRENT, '16', 'the default');
    } finally {
      fs.rmSync(dir, { recursive: true, force: true });
    }
  });

  test('an unknown --set key and a bad value are refused', () => {
    let r = runProxy(['--check-config', '--set', 'NO_SUCH_KEY=1']);
    assert.notEqual(r.status, 0);
    assert.match(r.stderr, /NO_SUCH_KEY/);
    r = runProxy(['--check-config', '--port', '70000']);
    assert.notEqual(r.status, 0);
    assert.match(r.stderr, /PORT/);
    assert.match(r.stderr, /70000/, 'the bad value is not named');
    r = runProxy(['--check-config'], { DEFAULT_EFFORT: 'ludicrous' });
    assert.notEqual(r.status, 0);
    assert.match(r.stderr, /DEFAULT_EFFORT.*ludicrous|ludicrous.*DEFAULT_EFFORT/);
  });
});

describe('the running daemon takes the command line over the environment', () => {
  test('--host/--port win over an unbindable HOST and PORT from the environment', async () => {
    // 192.0.2.1 (TEST-NET-1) is on no interface: listening there fails, so serving at all
    // proves the command line won.
    await withProxy({ env: { HOST: '192.0.2.1', PORT: '1' }, args: ['--host', '127.0.0.1', '--port', '0'] },
      async (proxy) => {
        assert.equal(proxy.host, '127.0.0.1');
        assert.notEqual(proxy.port, 1);
        const r = await postJson(`${proxy.url}/v1/messages`, messageBody('hi'));
        assert.equal(r.status, 200, r.text);
      });
  });

  test('--set wins over the environment for what the CLI is given', async () => {
    await withProxy({ env: { DEFAULT_EFFORT: 'low' }, args: ['--set', 'DEFAULT_EFFORT=max'] }, async (proxy) => {
      const r = await postJson(`${proxy.url}/v1/messages`, messageBody('effort-check'));
      assert.equal(r.status, 200, r.text);
      const log = await proxy.waitFakeLogFor('effort-check');
      // By argv for a cold CLI, over the control channel for an adopted pooled one.
      assert.equal(cliSettings(log).effort, 'max', JSON.stringify({ argv: log.argv, stdin: log.stdin }));
    });
  });
});

describe('auth on and no keys', () => {
  for (const [what, env] of [
    ['REQUIRE_AUTH unset', { REQUIRE_AUTH: null }],
    ['REQUIRE_AUTH=true', { REQUIRE_AUTH: 'true' }],
    ['REQUIRE_AUTH=False (only the literal "false" turns it off)', { REQUIRE_AUTH: 'False' }],
    ['an empty PROXY_API_KEYS', { REQUIRE_AUTH: null, PROXY_API_KEYS: ' , ' }],
  ]) {
    test(`${what}: the daemon refuses to start and says why`, () => {
      const r = runProxy([], env);
      assert.equal(r.signal, null, `killed by ${r.signal}: it did not exit on its own`);
      assert.notEqual(r.status, 0, `started anyway:\n${r.stderr}`);
      assert.match(r.stderr, /REQUIRE_AUTH is on but no API keys/);
      assert.doesNotMatch(r.stderr, /listening on/);
    });
  }
});

describe('SIGHUP reload', () => {
  test('re-reads the file, keeps the old configuration when the new one is invalid, re-applies --set',
    async () => {
      const dir = tmpdir('cp-cfg-');
      try {
        const conf = writeConfig(dir, ['PROXY_API_KEYS=key-one', 'DEFAULT_MODEL=haiku', 'DEFAULT_EFFORT=high']);
        await withProxy({ env: { REQUIRE_AUTH: null }, args: ['--config', conf, '--set', 'DEFAULT_MODEL=opus'] },
          async (proxy) => {
            const url = `${proxy.url}/v1/messages`;
            const ask = async (key, marker) => {
              const r = await postJson(url, messageBody(marker, { model: 'not-a-claude-model' }), { 'x-api-key': key });
              if (r.status !== 200) return { status: r.status };
              const cfg = cliSettings(await proxy.waitFakeLogFor(marker));
              return { status: 200, model: cfg.model, effort: cfg.effort };
            };
            const reloads = () => proxy.stderrText.split('configuration reloaded').length - 1;
            const kept = () => proxy.stderrText.split('keeping the old one').length - 1;

            assert.deepEqual(await ask('key-one', 'before'), { status: 200, model: 'opus', effort: 'high' });

            // A stream running across the reload is not dropped.
            const running = openStream(url, messageBody('across [[fake:text delay=100]]', { stream: true }),
              { 'x-api-key': 'key-one' });
            await proxy.waitFakeLogFor('across', (l) => l.state === 'replaying');
            writeConfig(dir, ['PROXY_API_KEYS=key-two', 'DEFAULT_MODEL=haiku', 'DEFAULT_EFFORT=low']);
            proxy.child.kill('SIGHUP');
            await waitFor(() => reloads() === 1, 5000, 'the reload');
            const s = await running;
            await waitFor(() => s.ended, 10000, 'the stream running across the reload to end');
            assert.equal(assertSseGrammar(parseSse(s.text)).at(-1).event, 'message_stop');
            assert.equal((await ask('key-one', 'old-key')).status, 401, 'the old key still works');
            // The file's new effort applies; --set DEFAULT_MODEL still beats the file's.
            assert.deepEqual(await ask('key-two', 'after'), { status: 200, model: 'opus', effort: 'low' });

            for (const bad of [['PROXY_API_KEYS=key-three', 'DEFAULT_EFFORT=ludicrous'],
              ['PROXY_API_KEYS=key-three', 'NOT_A_KEY=1'], ['REQUIRE_AUTH=true', 'PROXY_API_KEYS=']]) {
              writeConfig(dir, bad);
              const before = kept();
              proxy.child.kill('SIGHUP');
              await waitFor(() => kept() === before + 1, 5000, `the refusal of ${bad}`);
              // The status alone: an applied half-read file may not even name the fake CLI.
              const r3 = await postJson(url, messageBody(`bad-${before}`), { 'x-api-key': 'key-three' });
              assert.equal(r3.status, 401, `${bad} was applied: ${r3.text.slice(0, 300)}`);
              assert.deepEqual(await ask('key-two', `kept-${before}`), { status: 200, model: 'opus', effort: 'low' },
                `after ${bad}`);
            }
            fs.rmSync(conf);
            const before = kept();
            proxy.child.kill('SIGHUP');
            await waitFor(() => kept() === before + 1, 5000, 'the refusal of a missing --config file');
            assert.equal((await ask('key-two', 'missing-file')).status, 200);
            assert.equal(reloads(), 1);
          });
      } finally {
        fs.rmSync(dir, { recursive: true, force: true });
      }
    });
});
