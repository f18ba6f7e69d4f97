// SPDX-License-Identifier: MIT
//
// The shipped packaging/examples/haproxy.cfg with Debian's real haproxy in front of two
// instances (only the addresses changed): HAProxy applies the weight each agent port reports,
// takes a rate-limited instance out of the farm so every request lands on the other, and puts
// it back once the rejected window's reset time has passed.
//
// The CLI's lines are the recorded ones (rate_limit_warning, err_429_oauth_rejected) with only
// resetsAt moved from the recording's date to the near future.

import assert from 'node:assert/strict';
import { spawn, spawnSync } from 'node:child_process';
import fs from 'node:fs';
import net from 'node:net';
import path from 'node:path';
import { after, before, describe, test } from 'node:test';

import {
  freePort, getJson, messageBody, missing, postJson, requireOrSkip, sleep, SOURCE_ROOT, startProxy, tmpdir,
  TRANSCRIPTS, waitFor, which,
} from './lib/harness.mjs';
import { transcriptsWith } from './lib/rate-limit.mjs';

const HAPROXY = which('haproxy') ?? (fs.existsSync('/usr/sbin/haproxy') ? '/usr/sbin/haproxy' : null);
requireOrSkip(missing() || (!HAPROXY && 'haproxy is not installed (apt-get install haproxy)'));

const EXAMPLE = path.join(SOURCE_ROOT, 'packaging', 'examples', 'haproxy.cfg');
// Long enough for HAProxy to notice (fall 2 x inter 2s) on a loaded machine and for the
// requests below; then the test waits it out.
const RESET_IN_SEC = 25;

// One command on HAProxy's stats socket.
function haproxyCommand(sock, cmd) {
  return new Promise((resolve, reject) => {
    const s = net.connect(sock);
    let out = '';
    s.setEncoding('utf8');
    s.on('connect', () => s.write(`${cmd}\n`));
    s.on('data', (d) => { out += d; });
    s.on('end', () => resolve(out));
    s.on('error', reject);
    s.setTimeout(10000, () => { s.destroy(); reject(new Error(`${cmd}: timed out`)); });
  });
}

// The backend's servers as HAProxy sees them: {alice: {status, weight}, bob: {...}}.
async function servers(sock) {
  const csv = (await haproxyCommand(sock, 'show stat')).trim().split('\n');
  const cols = csv[0].replace(/^# /, '').split(',');
  const out = {};
  for (const line of csv.slice(1)) {
    const row = Object.fromEntries(line.split(',').map((v, i) => [cols[i], v]));
    if (row.pxname === 'claude_accounts' && !['FRONTEND', 'BACKEND'].includes(row.svname))
      out[row.svname] = { status: row.status, weight: Number(row.weight) };
  }
  return out;
}

async function served(proxy) {
  const text = await (await fetch(`${proxy.url}/metrics`)).text();
  const line = text.split('\n').find((l) => l.startsWith('claude_proxy_requests_total{api="anthropic",status="200"} '));
  return line ? Number(line.split(' ')[1]) : 0;
}

async function poll(cond, timeoutMs, what) {
  return waitFor(async () => (await cond()) || (await sleep(200), false), timeoutMs, what);
}

describe('HAProxy in front of two instances (packaging/examples/haproxy.cfg)', () => {
  let dir, alice, bob, haproxy, haproxyLog = '', sock, front, resetsAt;

  before(async () => {
    dir = tmpdir('cp-haproxy-');
    const ts = path.join(dir, 'transcripts');
    fs.mkdirSync(ts);
    for (const f of fs.readdirSync(TRANSCRIPTS)) fs.symlinkSync(path.join(TRANSCRIPTS, f), path.join(ts, f));
    resetsAt = Math.floor(Date.now() / 1000) + RESET_IN_SEC + 60;
    transcriptsWith(ts, 'rl_warning_hour', 'rate_limit_warning', resetsAt + 3600);

    const [agentA, agentB] = [await freePort(), await freePort()];
    const env = { FAKE_CLAUDE_DIR: ts, METRICS_AUTH: 'false' };
    alice = await startProxy({ env: { ...env, AGENT_PORT: agentA } });
    bob = await startProxy({ env: { ...env, AGENT_PORT: agentB } });
    front = await freePort();
    sock = path.join(dir, 'haproxy.sock');

    // The example, with this test's addresses and a stats socket to watch HAProxy's view.
    let cfg = fs.readFileSync(EXAMPLE, 'utf8');
    const subst = [
      ['bind 127.0.0.1:4500', `bind 127.0.0.1:${front}`],
      ['server alice 127.0.0.1:4523 agent-port 4623', `server alice 127.0.0.1:${alice.port} agent-port ${agentA}`],
      ['server bob   127.0.0.1:4524 agent-port 4624', `server bob   127.0.0.1:${bob.port} agent-port ${agentB}`],
      ['global\n', `global\n    stats socket ${sock} level admin\n`],
    ];
    for (const [from, to] of subst) {
      assert.ok(cfg.includes(from), `the example has '${from.trim()}'`);
      cfg = cfg.replace(from, to);
    }
    const cfgPath = path.join(dir, 'haproxy.cfg');
    fs.writeFileSync(cfgPath, cfg);
    const check = spawnSync(HAPROXY, ['-c', '-f', cfgPath], { encoding: 'utf8' });
    assert.equal(check.status, 0, check.stdout + check.stderr);
    assert.doesNotMatch(check.stdout + check.stderr, /WARNING|ALERT/, 'the example is valid without warnings');

    haproxy = spawn(HAPROXY, ['-db', '-f', cfgPath], { stdio: ['ignore', 'pipe', 'pipe'] });
    haproxy.stdout.on('data', (d) => { haproxyLog += d; });
    haproxy.stderr.on('data', (d) => { haproxyLog += d; });
    await poll(() => fs.existsSync(sock), 20000, 'the haproxy stats socket');
    await poll(async () => {
      const s = await servers(sock);
      return s.alice?.status === 'UP' && s.bob?.status === 'UP';
    }, 30000, 'both instances UP in haproxy');
  });

  after(async () => {
    if (haproxy && haproxy.exitCode === null) {
      const gone = new Promise((r) => haproxy.once('exit', r));
      haproxy.kill('SIGTERM');
      await gone;
    }
    await alice?.stop();
    await bob?.stop();
    if (dir) fs.rmSync(dir, { recursive: true, force: true });
  });

  // Send n requests through HAProxy; how many each instance served. A request is counted when
  // its session ends, a moment after the reply: wait for all n to be counted.
  async function through(n, headers = {}) {
    const [a0, b0] = [await served(alice), await served(bob)];
    for (let i = 0; i < n; i++) {
      const r = await postJson(`http://127.0.0.1:${front}/v1/messages`, messageBody('hi'), headers);
      assert.equal(r.status, 200, `${r.status} ${r.text}\n--- haproxy ---\n${haproxyLog.slice(-2000)}`);
    }
    let da, db;
    await poll(async () => {
      [da, db] = [await served(alice) - a0, await served(bob) - b0];
      return da + db === n;
    }, 10000, `${n} requests counted`);
    return [da, db];
  }

  test('both serve at first', async () => {
    const [da, db] = await through(6);
    assert.ok(da > 0 && db > 0, `alice ${da}, bob ${db}: both serve`);
  });

  test('one conversation (X-Claude-Code-Session-Id) stays on one instance', async () => {
    for (const id of ['7d0f3c1e-conversation-one', '1b9e2a44-conversation-two']) {
      const [da, db] = await through(6, { 'X-Claude-Code-Session-Id': id });
      assert.ok((da === 6 && db === 0) || (da === 0 && db === 6), `${id}: alice ${da}, bob ${db}`);
    }
  });

  test('the agent weight: an instance at 95% of its window gets 5% of the configured weight', async () => {
    const r = await postJson(`${alice.url}/v1/messages`, messageBody('[[fake:rl_warning_hour]]'));
    assert.equal(r.status, 200, r.text);
    await poll(async () => (await servers(sock)).alice?.weight === 5, 30000, 'haproxy to apply weight 5 to alice');
    const s = await servers(sock);
    assert.equal(s.bob.weight, 100);
    assert.equal(s.alice.status, 'UP');

    // Weighted round robin, 5 : 100: of 21 requests, alice gets at most 2.
    const [da, db] = await through(21);
    assert.ok(da <= 2 && db >= 19, `alice ${da}, bob ${db}`);
  });

  test('a rate-limited instance gets nothing until its reset, then serves again', async () => {
    // A fresh transcript: its reset RESET_IN_SEC from now.
    const reset = Math.floor(Date.now() / 1000) + RESET_IN_SEC;
    transcriptsWith(path.join(dir, 'transcripts'), 'rl_rejected_soon', 'err_429_oauth_rejected', reset);
    const r = await postJson(`${alice.url}/v1/messages`, messageBody('[[fake:rl_rejected_soon]]'));
    assert.equal(r.status, 429, r.text);
    // Taken when the request's session ends, a moment after the reply.
    await poll(async () => (await getJson(`${alice.url}/health`)).status === 503, 10000, 'alice /health 503');

    // HAProxy notices through the agent (drain) and the health check (503 -> DOWN).
    await poll(async () => /^(DOWN|DRAIN|NOLB)/.test((await servers(sock)).alice?.status ?? ''), 30000,
      'haproxy to take alice out');
    const [da, db] = await through(8);
    assert.deepEqual({ alice: da, bob: db }, { alice: 0, bob: 8 }, 'nothing for the rate-limited instance');
    assert.ok(Date.now() / 1000 < reset, `the machine is too slow for RESET_IN_SEC=${RESET_IN_SEC}`);

    // No request to alice: its reset passing alone brings it back, at full weight.
    await poll(async () => {
      const s = await servers(sock);
      return s.alice?.status === 'UP' && s.alice.weight === 100;
    }, (RESET_IN_SEC + 60) * 1000, 'alice UP at weight 100 after the reset');
    assert.ok(Date.now() / 1000 >= reset, 'alice came back before its reset time');
    const [da2, db2] = await through(10);
    assert.ok(da2 > 0 && db2 > 0, `alice ${da2}, bob ${db2}: both serve again`);
  });
});
