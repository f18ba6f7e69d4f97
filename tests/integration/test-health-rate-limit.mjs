// SPDX-License-Identifier: MIT
//
// /health, /metrics and the agent-check port report the subscription's rate limit to a load
// balancer: 503 with Retry-After while a window is rejected, 200 again by itself once its reset
// time passes (no request needed), and the headroom as a weight.
//
// The CLI's lines are the recorded ones (err_429_oauth_rejected, rate_limit_warning), with only
// resetsAt moved from the recording's date to a few seconds from now: a reset in the past would
// (rightly) limit nothing.

import assert from 'node:assert/strict';
import fs from 'node:fs';
import net from 'node:net';
import path from 'node:path';
import { after, before, describe, test } from 'node:test';

import {
  freePort, getJson, messageBody, missing, postJson, requireOrSkip, sleep, startProxy, tmpdir, TRANSCRIPTS, waitFor,
} from './lib/harness.mjs';
import { transcriptsWith } from './lib/rate-limit.mjs';

requireOrSkip(missing());

// Long enough for a loaded machine to see the limited state, short enough to wait out.
const RESET_IN_SEC = 8;

function sample(text, name) {
  const line = text.split('\n').find((l) => l.startsWith(`${name} `));
  return line === undefined ? undefined : Number(line.slice(name.length + 1));
}

// The proxy's sockets on the agent port other than the listener (/proc/net/tcp{,6}).
function agentConnections(pid, port) {
  const inodes = new Set();
  for (const fd of fs.readdirSync(`/proc/${pid}/fd`)) {
    try {
      const m = /^socket:\[(\d+)\]$/.exec(fs.readlinkSync(`/proc/${pid}/fd/${fd}`));
      if (m) inodes.add(m[1]);
    } catch { /* closed meanwhile */ }
  }
  let n = 0;
  for (const f of ['/proc/net/tcp', '/proc/net/tcp6']) {
    for (const line of fs.readFileSync(f, 'utf8').split('\n').slice(1)) {
      const c = line.trim().split(/\s+/);
      if (c.length < 10) continue;
      const local = parseInt(c[1].split(':')[1], 16), state = c[3], inode = c[9];
      if (local === port && state !== '0A' && inodes.has(inode)) n++;
    }
  }
  return n;
}

// waitFor, but gentler on the proxy: /health is asked every 100 ms, not every 5.
async function poll(cond, timeoutMs, what) {
  return waitFor(async () => (await cond()) || (await sleep(100), false), timeoutMs, what);
}

async function metrics(proxy) {
  return (await fetch(`${proxy.url}/metrics`)).text();
}

// One agent-check exchange as HAProxy does it: connect, maybe send, read a line, close.
function agentCheck(port, send = '') {
  return new Promise((resolve, reject) => {
    const s = net.connect(port, '127.0.0.1');
    let data = '';
    s.setEncoding('utf8');
    s.on('connect', () => { if (send) s.write(send); });
    s.on('data', (d) => {
      data += d;
      if (data.includes('\n')) { s.end(); resolve(data); }
    });
    s.on('error', reject);
    s.on('end', () => resolve(data));
    s.setTimeout(10000, () => { s.destroy(); reject(new Error('agent-check timed out')); });
  });
}

describe('rate limit for a load balancer', () => {
  let proxy, dir, agentPort, resetsAt;
  before(async () => {
    dir = tmpdir('cp-rl-transcripts-');
    for (const f of fs.readdirSync(TRANSCRIPTS)) fs.symlinkSync(path.join(TRANSCRIPTS, f), path.join(dir, f));
    resetsAt = Math.floor(Date.now() / 1000) + RESET_IN_SEC;
    transcriptsWith(dir, 'rl_rejected_soon', 'err_429_oauth_rejected', resetsAt);
    transcriptsWith(dir, 'rl_warning_hour', 'rate_limit_warning', resetsAt + 3600);
    agentPort = await freePort();
    proxy = await startProxy({ env: { FAKE_CLAUDE_DIR: dir, METRICS_AUTH: 'false', AGENT_PORT: agentPort } });
  });
  after(async () => {
    await proxy?.stop();
    if (dir) fs.rmSync(dir, { recursive: true, force: true });
  });

  test('healthy before any rate_limit_event: 200, weight 100', async () => {
    const h = await getJson(`${proxy.url}/health`);
    assert.equal(h.status, 200, h.text);
    assert.equal(h.json.status, 'ok');
    assert.equal(h.json.weight, 100);
    assert.deepEqual(h.json.rate_limit, { limited: false, windows: [] });
    assert.equal(h.headers.get('retry-after'), null);
    const m = await metrics(proxy);
    assert.equal(sample(m, 'claude_proxy_rate_limited'), 0);
    assert.equal(sample(m, 'claude_proxy_rate_limited_until_seconds'), 0);
    assert.equal(sample(m, 'claude_proxy_lb_weight'), 100);
    assert.equal(await agentCheck(agentPort, 'backend/a\n'), 'up ready 100%\n');
  });

  test('a rejected window: 503 with Retry-After until its reset, then 200 by itself', async () => {
    const r = await postJson(`${proxy.url}/v1/messages`, messageBody('[[fake:rl_rejected_soon]]'));
    assert.equal(r.status, 429, r.text);

    // The state is taken when the request's session ends, a moment after the reply.
    let h;
    await poll(async () => (h = await getJson(`${proxy.url}/health`)).status === 503, 10000, '/health 503');
    assert.equal(h.json.status, 'rate_limited', h.text);
    assert.equal(h.json.weight, 0);
    assert.equal(h.json.rate_limit.limited, true);
    assert.equal(h.json.rate_limit.until, resetsAt);
    assert.equal(h.json.rate_limit.window, 'five_hour');
    assert.match(h.json.rate_limit.reason, /^The subscription's five_hour rate limit is reached until \d{4}-\d\d-\d\dT/);
    assert.deepEqual(h.json.rate_limit.windows,
      [{ window: 'five_hour', status: 'rejected', resets_at: resetsAt, expired: false }]);
    // Counts down to the reset (a constant, the whole window or the epoch fails): ±2 s, at least 1.
    const retryAfter = Number(h.headers.get('retry-after'));
    const left = Math.max(1, resetsAt - Date.now() / 1000);
    assert.ok(Number.isInteger(retryAfter) && Math.abs(retryAfter - left) <= 2,
      `Retry-After ${h.headers.get('retry-after')}, the reset is ${left.toFixed(1)} s away`);
    assert.equal(h.json.rate_limit.retry_after, retryAfter);

    const m = await metrics(proxy);
    assert.equal(sample(m, 'claude_proxy_rate_limited'), 1);
    assert.equal(sample(m, 'claude_proxy_rate_limited_until_seconds'), resetsAt);
    assert.equal(sample(m, 'claude_proxy_lb_weight'), 0);
    assert.equal(await agentCheck(agentPort), 'drain 0%\n');

    // No request from here on: the reset time passing is what turns it back.
    await poll(async () => (h = await getJson(`${proxy.url}/health`)).status === 200,
      (RESET_IN_SEC + 20) * 1000, '/health 200 after the reset');
    assert.ok(Date.now() / 1000 >= resetsAt, 'not healthy before the reset time');
    assert.equal(h.json.status, 'ok');
    assert.equal(h.json.weight, 100);
    assert.equal(h.json.rate_limit.limited, false);
    assert.equal(h.json.rate_limit.windows[0].expired, true);
    assert.equal(sample(await metrics(proxy), 'claude_proxy_rate_limited'), 0);
    assert.equal(await agentCheck(agentPort), 'up ready 100%\n');
  });

  test('allowed_warning at 95% utilization: still 200, weight 5', async () => {
    const r = await postJson(`${proxy.url}/v1/messages`, messageBody('[[fake:rl_warning_hour]]'));
    assert.equal(r.status, 200, r.text);
    let h;
    await poll(async () => (h = await getJson(`${proxy.url}/health`)).json?.weight === 5, 10000, 'weight 5');
    assert.equal(h.status, 200);
    assert.equal(h.json.status, 'ok');
    assert.equal(sample(await metrics(proxy), 'claude_proxy_lb_weight'), 5);
    assert.equal(await agentCheck(agentPort), 'up ready 5%\n');
  });

  test('the agent port answers many checks and holds nothing open', async () => {
    const replies = await Promise.all(Array.from({ length: 20 }, () => agentCheck(agentPort, 'backend/a\n')));
    for (const r of replies) assert.equal(r, 'up ready 5%\n');
    // Every agent connection is closed once HAProxy (here: us) has closed its end.
    await poll(() => agentConnections(proxy.pid, agentPort) === 0, 10000, 'agent connections closed');
  });
});
