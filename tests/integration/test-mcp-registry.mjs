// SPDX-License-Identifier: MIT
//
// The MCP server registry (PROXY_MCP_CONFIG) with the fake CLI: what a request that activates
// servers hands the CLI (cold: a --mcp-config file holding only those servers, each allowed by
// --allowedTools; a pooled process: mcp_set_servers and apply_flag_settings over the control
// channel, before any initialize; never a secret in argv or environment), that nothing changes
// without activation,
// the 400s in each surface's envelope, a bad file refusing the start, and reload (a bad file
// keeps the old registry, a good one replaces it). The servers really running under the real CLI:
// test-mcp-registry-real.mjs.

import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { after, before, describe, test } from 'node:test';

import {
  PROXY_BIN, assertErrorEnvelope, getJson, messageBody, missing, postJson, proxyEnv, requireOrSkip, startProxy,
  tmpdir, waitFor, withProxy,
} from './lib/harness.mjs';

requireOrSkip(missing());

const SECRET = 'reg-secret-3f9a1c';
const OTHER_SECRET = 'other-secret-77b2';

function registry(servers) {
  return JSON.stringify({ mcpServers: servers });
}

const SERVERS = {
  reg: { command: 'node', args: ['server.mjs', '--flag'], env: { REG_SECRET: SECRET } },
  other: { type: 'stdio', command: '/usr/bin/other', env: { OTHER_TOKEN: OTHER_SECRET } },
};

// The flags and the --mcp-config file the fake read (null when there was none).
function mcpOf(log) {
  const a = log.argv;
  const allowed = a.flatMap((x, i) => (x === '--allowedTools' ? [a[i + 1]] : []));
  const file = log.mcp_config_files[0];
  return {
    path: a.includes('--mcp-config') ? a[a.indexOf('--mcp-config') + 1] : null,
    allowed,
    config: file ? JSON.parse(file.text) : null,
    strict: a.includes('--strict-mcp-config'),
  };
}

function assertNoSecret(log, proxy) {
  for (const s of [SECRET, OTHER_SECRET]) {
    assert.ok(!log.argv.join(' ').includes(s), 'a secret in argv');
    assert.ok(!JSON.stringify(log.env).includes(s), 'a secret in the environment');
    assert.ok(!proxy.stderrText.includes(s), 'a secret in the proxy log');
  }
}

describe('MCP registry with a file', () => {
  let proxy, dir;
  before(async () => {
    dir = tmpdir('cp-mcp-');
    fs.writeFileSync(path.join(dir, 'mcp.json'), registry(SERVERS));
    // append: the system prompt takes fd 3, so the MCP config must land on the next one.
    // Cold spawns: the argv and fd path (the pool's path has its own describe below).
    proxy = await startProxy({ env: { PROXY_MCP_CONFIG: path.join(dir, 'mcp.json'), SYSTEM_PROMPT_MODE: 'append',
      WARM_POOL: '0' } });
  });
  after(async () => {
    await proxy?.stop();
    fs.rmSync(dir, { recursive: true, force: true });
  });

  test('no activation: no --mcp-config, nothing of the registry', async () => {
    const r = await postJson(`${proxy.url}/v1/messages`, messageBody('none-activated'));
    assert.equal(r.status, 200, r.text);
    const m = mcpOf(await proxy.waitFakeLogFor('none-activated'));
    assert.equal(m.path, null);
    assert.deepEqual(m.allowed, ['mcp__cp']);    // the client tools' server only
    assert.equal(m.config, null);
    assert.ok(m.strict, '--strict-mcp-config');
  });

  test('metadata.mcp_servers: only that server, by file, allowed; no secret in argv, env or log', async () => {
    const r = await postJson(`${proxy.url}/v1/messages`,
      messageBody('meta-activated', { metadata: { user_id: 'u1', mcp_servers: ['reg'] } }));
    assert.equal(r.status, 200, r.text);
    const log = await proxy.waitFakeLogFor('meta-activated');
    const m = mcpOf(log);
    assert.equal(m.path, '/dev/fd/3');
    assert.deepEqual(m.allowed, ['mcp__cp', 'mcp__reg']);
    assert.deepEqual(m.config, { mcpServers: { reg: SERVERS.reg } });
    assert.ok(m.strict);
    assertNoSecret(log, proxy);
  });

  test('with an appended system prompt the config is the next fd', async () => {
    const r = await postJson(`${proxy.url}/v1/messages`,
      messageBody('with-prompt', { system: 'SYS-with-prompt', metadata: { mcp_servers: ['other'] } }));
    assert.equal(r.status, 200, r.text);
    const log = await proxy.waitFakeLogFor('with-prompt');
    const m = mcpOf(log);
    assert.equal(m.path, '/dev/fd/4');
    assert.deepEqual(m.config, { mcpServers: { other: SERVERS.other } });
    assert.equal(log.system_prompt_files[0].text, 'SYS-with-prompt');
    assert.deepEqual(m.allowed, ['mcp__cp', 'mcp__other']);
    assertNoSecret(log, proxy);
  });

  test('x-mcp-servers on every route; body and header add up, each once', async () => {
    const chat = await postJson(`${proxy.url}/v1/chat/completions`,
      { model: 'claude-sonnet-4-5', messages: [{ role: 'user', content: 'chat-activated' }] },
      { 'x-mcp-servers': ' other , reg,reg ' });
    assert.equal(chat.status, 200, chat.text);
    let m = mcpOf(await proxy.waitFakeLogFor('chat-activated'));
    assert.deepEqual(m.allowed, ['mcp__cp', 'mcp__other', 'mcp__reg']);
    assert.deepEqual(Object.keys(m.config.mcpServers), ['other', 'reg']);

    const resp = await postJson(`${proxy.url}/v1/responses`,
      { model: 'claude-sonnet-4-5', input: 'responses-activated' }, { 'x-mcp-servers': 'reg' });
    assert.equal(resp.status, 200, resp.text);
    m = mcpOf(await proxy.waitFakeLogFor('responses-activated'));
    assert.deepEqual(m.allowed, ['mcp__cp', 'mcp__reg']);

    const both = await postJson(`${proxy.url}/v1/messages`,
      messageBody('both-activated', { metadata: { mcp_servers: ['reg'] } }), { 'x-mcp-servers': 'other,reg' });
    assert.equal(both.status, 200, both.text);
    m = mcpOf(await proxy.waitFakeLogFor('both-activated'));
    assert.deepEqual(m.allowed, ['mcp__cp', 'mcp__reg', 'mcp__other']);
  });

  test('an unknown name is a 400 in each surface\'s envelope, naming the field', async () => {
    let r = await postJson(`${proxy.url}/v1/messages`, messageBody('x', { metadata: { mcp_servers: ['reg', 'nope'] } }));
    assert.equal(r.status, 400, r.text);
    assertErrorEnvelope(r.json, 'invalid_request_error');
    assert.match(r.json.error.message, /^Unknown MCP server: "nope"\. Available: /);
    assert.match(r.json.error.message, /reg/);
    assert.ok(!r.text.includes(SECRET));

    r = await postJson(`${proxy.url}/v1/messages`, messageBody('x', { metadata: { mcp_servers: ['reg'] } }),
      { 'x-mcp-servers': 'nope' });
    assert.equal(r.status, 400, r.text);
    assert.match(r.json.error.message, /"nope"/);

    r = await postJson(`${proxy.url}/v1/chat/completions`,
      { model: 'claude-sonnet-4-5', messages: [{ role: 'user', content: 'x' }] }, { 'x-mcp-servers': 'nope' });
    assert.equal(r.status, 400, r.text);
    assert.equal(r.json.error.type, 'invalid_request_error');
    assert.equal(r.json.error.param, 'x-mcp-servers');
    assert.match(r.json.error.message, /Unknown MCP server: "nope"/);

    r = await postJson(`${proxy.url}/v1/responses`, { model: 'claude-sonnet-4-5', input: 'x' }, { 'x-mcp-servers': 'nope' });
    assert.equal(r.status, 400, r.text);
    assert.equal(r.json.error.param, 'x-mcp-servers');

    // Streaming asks get the same status, before any event.
    r = await postJson(`${proxy.url}/v1/messages`,
      messageBody('x', { stream: true, metadata: { mcp_servers: ['nope'] } }));
    assert.equal(r.status, 400, r.text);

    for (const bad of ['reg', { reg: true }, [1], ['']]) {
      r = await postJson(`${proxy.url}/v1/messages`, messageBody('x', { metadata: { mcp_servers: bad } }));
      assert.equal(r.status, 400, `${JSON.stringify(bad)}: ${r.text}`);
      assert.match(r.json.error.message, /metadata\.mcp_servers/);
    }
  });
});

describe('MCP registry on a pooled process', () => {
  test('the servers go over the control channel before initialize; the process is adopted', async () => {
    const dir = tmpdir('cp-mcp-warm-');
    fs.writeFileSync(path.join(dir, 'mcp.json'), registry(SERVERS));
    try {
      await withProxy({ env: { PROXY_MCP_CONFIG: path.join(dir, 'mcp.json'), SYSTEM_PROMPT_MODE: 'append',
        WARM_POOL: '1' } }, async (proxy) => {
        const pool = async () => (await getJson(`${proxy.url}/health`)).json.pool;
        await waitFor(async () => (await pool()).ready === 1, 15000, 'a pooled CLI ready');
        const h0 = await pool();
        const r = await postJson(`${proxy.url}/v1/messages`,
          messageBody('warm-activated', { system: 'SYS-warm', metadata: { mcp_servers: ['reg'] } }),
          { 'x-mcp-servers': 'other' });
        assert.equal(r.status, 200, r.text);
        assert.equal((await pool()).hits, h0.hits + 1, 'the request adopted the pooled process');
        const log = await proxy.waitFakeLogFor('warm-activated');
        assert.ok(!log.argv.includes('--mcp-config'), log.argv.join(' '));
        const subtypes = log.stdin.filter((l) => l?.type === 'control_request').map((l) => l.request.subtype);
        assert.ok(subtypes.indexOf('mcp_set_servers') >= 0, subtypes.join(' '));
        assert.ok(subtypes.indexOf('mcp_set_servers') < subtypes.indexOf('initialize'),
          `mcp_set_servers must come before initialize: ${subtypes.join(' ')}`);
        const req = (t) => log.stdin.find((l) => l?.request?.subtype === t).request;
        assert.deepEqual(req('mcp_set_servers').servers, {
          reg: { ...SERVERS.reg, type: 'stdio' }, other: SERVERS.other,
        });
        assert.deepEqual(req('apply_flag_settings').settings, { permissions: { allow: ['mcp__reg', 'mcp__other'] } });
        assert.equal(req('initialize').appendSystemPrompt, 'SYS-warm');
        assertNoSecret(log, proxy);
      });
    } finally {
      fs.rmSync(dir, { recursive: true, force: true });
    }
  });
});

describe('MCP registry without a file', () => {
  test('any name is a 400 that says how to switch it on; none changes nothing', async () => {
    await withProxy({}, async (proxy) => {
      let r = await postJson(`${proxy.url}/v1/messages`, messageBody('x'), { 'x-mcp-servers': 'reg' });
      assert.equal(r.status, 400, r.text);
      assertErrorEnvelope(r.json, 'invalid_request_error');
      assert.equal(r.json.error.message,
        'MCP server registry is not configured. Set PROXY_MCP_CONFIG to enable it.');
      r = await postJson(`${proxy.url}/v1/chat/completions`,
        { model: 'claude-sonnet-4-5', messages: [{ role: 'user', content: 'x' }], metadata: { mcp_servers: 'reg' } },
        { 'x-mcp-servers': 'reg' });
      assert.equal(r.status, 400, r.text);
      assert.equal(r.json.error.param, 'x-mcp-servers');
      // An empty header or list activates nothing.
      r = await postJson(`${proxy.url}/v1/messages`, messageBody('empty-list', { metadata: { mcp_servers: [] } }),
        { 'x-mcp-servers': ' , ' });
      assert.equal(r.status, 200, r.text);
      assert.equal(mcpOf(await proxy.waitFakeLogFor('empty-list')).path, null);
    });
  });
});

describe('a bad registry file', () => {
  for (const [what, text, message] of [
    ['not JSON', '{"mcpServers":', /not valid JSON/],
    ['a server without command', registry({ reg: { args: [] } }), /mcpServers\.reg\.command/],
    ['an http server', registry({ reg: { type: 'http', url: 'http://x' } }), /unknown key 'url'/],
  ]) {
    test(`${what}: the proxy refuses to start, and --check-config says why`, async () => {
      const dir = tmpdir('cp-mcp-bad-');
      const file = path.join(dir, 'mcp.json');
      fs.writeFileSync(file, text);
      try {
        await assert.rejects(startProxy({ env: { PROXY_MCP_CONFIG: file } }), (e) => {
          assert.match(e.message, /exited before listening/);
          assert.match(e.message, /PROXY_MCP_CONFIG/);
          assert.match(e.message, message);
          return true;
        });
        const c = spawnSync(PROXY_BIN, ['--check-config'], { env: proxyEnv({ PROXY_MCP_CONFIG: file }), encoding: 'utf8' });
        assert.notEqual(c.status, 0);
        assert.match(c.stderr, message);
      } finally {
        fs.rmSync(dir, { recursive: true, force: true });
      }
    });
  }

  test('a file every user may read: the start goes on, with a warning', async () => {
    const dir = tmpdir('cp-mcp-mode-');
    const file = path.join(dir, 'mcp.json');
    fs.writeFileSync(file, registry({ reg: SERVERS.reg }));
    try {
      fs.chmodSync(file, 0o644);
      await withProxy({ env: { PROXY_MCP_CONFIG: file } }, async (proxy) => {
        assert.match(proxy.stderrText, /PROXY_MCP_CONFIG .* is readable by every user/);
      });
      fs.chmodSync(file, 0o600);
      await withProxy({ env: { PROXY_MCP_CONFIG: file } }, async (proxy) => {
        assert.doesNotMatch(proxy.stderrText, /readable by every user/);
      });
    } finally {
      fs.rmSync(dir, { recursive: true, force: true });
    }
  });

  test('a missing file refuses the start', async () => {
    await assert.rejects(startProxy({ env: { PROXY_MCP_CONFIG: '/nonexistent/mcp.json' } }),
      /PROXY_MCP_CONFIG: cannot read \/nonexistent\/mcp\.json/);
  });
});

describe('reload', () => {
  test('a bad file keeps the old registry (and says so); a good one replaces it', async () => {
    const dir = tmpdir('cp-mcp-reload-');
    const file = path.join(dir, 'mcp.json');
    fs.writeFileSync(file, registry({ reg: SERVERS.reg }));
    try {
      await withProxy({ env: { PROXY_MCP_CONFIG: file, WARM_POOL: '0' } }, async (proxy) => {
        const ask = (name, marker) => postJson(`${proxy.url}/v1/messages`, messageBody(marker), { 'x-mcp-servers': name });
        const count = (s) => proxy.stderrText.split(s).length - 1;
        assert.equal((await ask('reg', 'r0')).status, 200);

        fs.writeFileSync(file, registry({ fresh: { command: 'x', env: { K: 'v' } }, bad: { command: 7 } }));
        proxy.child.kill('SIGHUP');
        await waitFor(() => count('keeping the old one') === 1, 5000, 'the refusal of the bad file');
        assert.match(proxy.stderrText, /PROXY_MCP_CONFIG: .*mcpServers\.bad\.command/);
        assert.match(proxy.stderrText, /<3>.*keeping the old one/, 'logged as an error');
        assert.equal((await ask('reg', 'r1')).status, 200, 'the old registry is in force');
        assert.equal((await ask('fresh', 'r2')).status, 400);

        fs.writeFileSync(file, registry({ fresh: { command: 'x', env: { K: 'v' } } }));
        proxy.child.kill('SIGHUP');
        await waitFor(() => count('configuration reloaded') === 1, 5000, 'the reload');
        const r = await ask('fresh', 'r3');
        assert.equal(r.status, 200, r.text);
        assert.deepEqual(mcpOf(await proxy.waitFakeLogFor('r3')).allowed, ['mcp__cp', 'mcp__fresh']);
        const gone = await ask('reg', 'r4');
        assert.equal(gone.status, 400);
        assert.match(gone.json.error.message, /Unknown MCP server: "reg"\. Available: fresh$/);

        // Unset (an empty value): the registry is off again.
        fs.rmSync(file);
        proxy.child.kill('SIGHUP');
        await waitFor(() => count('keeping the old one') === 2, 5000, 'the refusal of a missing file');
        assert.equal((await ask('fresh', 'r5')).status, 200);
      });
    } finally {
      fs.rmSync(dir, { recursive: true, force: true });
    }
  });
});
