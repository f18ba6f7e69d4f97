// SPDX-License-Identifier: MIT
//
// SIGTERM: queued requests are answered 503 at once and never start a CLI; running ones get
// SHUTDOWN_GRACE_MS to finish, after which their CLI is killed and the client told why; the
// listening socket closes at once; the daemon exits 0 with nothing left behind.
// SHUTDOWN_GRACE_MS=0 gives no grace (it is not "no limit").

import assert from 'node:assert/strict';
import fs from 'node:fs';
import http from 'node:http';
import net from 'node:net';
import { describe, test } from 'node:test';

import {
  assertErrorEnvelope, assertSseGrammar, groupEmpty, messageBody, missing, requireOrSkip, openStream, parseSse, postJson,
  reap, sleep, startProxy, waitFor,
} from './lib/harness.mjs';

requireOrSkip(missing());

// Bytes `pid` has written (/proc/PID/io), or -1.
function written(pid) {
  try {
    return Number(/^wchar:\s+(\d+)/m.exec(fs.readFileSync(`/proc/${pid}/io`, 'utf8'))[1]);
  } catch {
    return -1;
  }
}

// utime + stime of `pid`, in clock ticks.
function cpuTicks(pid) {
  const f = fs.readFileSync(`/proc/${pid}/stat`, 'utf8').split(') ')[1].split(' ');
  return Number(f[11]) + Number(f[12]);
}

describe('shutdown', () => {
  test('a request outliving SHUTDOWN_GRACE_MS is ended: its CLI killed, the stream closed with an error, exit 0',
    async () => {
      const proxy = await startProxy({ env: { SHUTDOWN_GRACE_MS: '400', KILL_GRACE_MS: '300' } });
      let pgid = null;
      try {
        const url = `${proxy.url}/v1/messages`;
        const streaming = await openStream(url, messageBody('outlive-stream [[fake:text hang_after=6]]', { stream: true }));
        const plain = postJson(url, messageBody('outlive-plain [[fake:text hang_after=4]]'));
        const logS = await proxy.waitFakeLogFor('outlive-stream', (l) => l.state === 'replaying');
        await proxy.waitFakeLogFor('outlive-plain', (l) => l.state === 'replaying');
        pgid = logS.pgid;
        // The stream has begun before the signal, so the end must come as an SSE error event.
        await waitFor(() => streaming.text.includes('content_block_delta'), 5000, 'the first delta');

        const t0 = Date.now();
        proxy.child.kill('SIGTERM');
        const exit = await proxy.exitPromise;
        const elapsed = Date.now() - t0;

        assert.deepEqual(exit, { code: 0, signal: null }, proxy.stderrText.slice(-3000));
        // The grace is honoured (the CLIs hang forever otherwise), and not stretched without bound.
        assert.ok(elapsed >= 350, `exited after ${elapsed} ms, before SHUTDOWN_GRACE_MS`);
        assert.ok(elapsed < 10000, `exit took ${elapsed} ms`);
        assert.match(proxy.stderrText, /shutdown grace over/);

        const r = await plain;
        assert.equal(r.status, 503, r.text);
        assertErrorEnvelope(r.json, 'api_error');
        assert.match(r.json.error.message, /shutting down/);

        await waitFor(() => streaming.ended, 5000, 'the stream to end');
        const events = assertSseGrammar(parseSse(streaming.text), { allowError: true });
        assert.equal(events.at(-1).event, 'error', 'the stream did not end with an error event');
        assert.match(events.at(-1).data.error.message, /shutting down/);

        for (const l of proxy.fakeLogs())
          await waitFor(() => groupEmpty(l.pgid), 3000, `process group ${l.pgid} to be gone`);
      } finally {
        if (pgid && !groupEmpty(pgid)) reap([-pgid]);
        await proxy.stop({ check: false });
      }
    });

  // 0 is no grace at all, not "no limit": a CLI that would never finish does not hold the exit.
  test('SHUTDOWN_GRACE_MS=0: running requests are ended at once, exit 0', async () => {
    const proxy = await startProxy({ env: { SHUTDOWN_GRACE_MS: '0', KILL_GRACE_MS: '300' } });
    try {
      const plain = postJson(`${proxy.url}/v1/messages`, messageBody('no-grace [[fake:text hang_after=4]]'));
      const log = await proxy.waitFakeLogFor('no-grace', (l) => l.state === 'replaying');
      proxy.child.kill('SIGTERM');
      const exit = await proxy.waitExit(15000, 'SHUTDOWN_GRACE_MS=0 waited for a hung CLI');
      assert.deepEqual(exit, { code: 0, signal: null }, proxy.stderrText.slice(-3000));
      assert.match(proxy.stderrText, /shutdown grace over/);
      const r = await plain;
      assert.equal(r.status, 503, r.text);
      assert.match(r.json.error.message, /shutting down/);
      await waitFor(() => groupEmpty(log.pgid), 3000, 'the CLI group to be gone');
    } finally {
      await proxy.stop({ check: false });
    }
  });

  test('a client that stopped reading does not hold the exit: the proxy leaves after a bounded drain', async () => {
    const proxy = await startProxy({ env: { SHUTDOWN_GRACE_MS: '300', KILL_GRACE_MS: '200', LOG_LEVEL: 'info' } });
    let res = null;
    try {
      // A flood the client never reads: the proxy's output stays queued behind full sockets.
      const body = JSON.stringify(messageBody('stalled [[fake:text repeat_deltas=40000 hang_after=8]]', { stream: true }));
      res = await new Promise((resolve, reject) => {
        const req = http.request({ host: proxy.host, port: proxy.port, path: '/v1/messages', method: 'POST',
          headers: { 'content-type': 'application/json', 'content-length': Buffer.byteLength(body) } });
        req.on('error', reject);
        req.on('response', (r) => { r.pause(); resolve(r); });
        req.end(body);
      });
      const log = await proxy.waitFakeLogFor('stalled', (l) => l.state === 'replaying');
      // Until the CLI stands still: the proxy stopped reading it, so its own buffers are full too.
      // (A CLI merely faster than a busy proxy stands still too, but then the proxy is busy.)
      let last = -1, since = Date.now(), cpu = 0;
      await waitFor(() => {
        const w = written(log.pid);
        if (w !== last || cpuTicks(proxy.pid) - cpu > 5) [last, since, cpu] = [w, Date.now(), cpuTicks(proxy.pid)];
        return Date.now() - since > 1000;
      }, 60000, 'the CLI to be held back');
      proxy.child.kill('SIGTERM');
      const exit = await proxy.waitExit(15000, 'the proxy did not exit with a stalled client');
      assert.deepEqual(exit, { code: 0, signal: null }, proxy.stderrText.slice(-3000));
      assert.match(proxy.stderrText, /replies still unsent/, proxy.stderrText.slice(-3000));
    } finally {
      res?.destroy();
      await proxy.stop({ check: false });
    }
  });

  test('queued requests get 503 at once and never start a CLI; the running one finishes; exit 0', async () => {
    const proxy = await startProxy({ env: { MAX_CONCURRENT: '1', MAX_QUEUE: '4', SHUTDOWN_GRACE_MS: '30000' } });
    try {
      const url = `${proxy.url}/v1/messages`;
      const running = postJson(url, messageBody('running [[fake:text delay=300]]'));
      await proxy.waitFakeLogFor('running', (l) => l.state === 'replaying');
      const queued = [postJson(url, messageBody('queued-1')), postJson(url, messageBody('queued-2', { stream: true }))];
      await proxy.waitHealth((h) => h.queued === 2, 5000, '2 queued');

      proxy.child.kill('SIGTERM');
      // Both answered while the running request is still going (it needs ~4 s more).
      for (const q of queued) {
        const r = await Promise.race([q, sleep(10000, null, { ref: false }).then(() => assert.fail('a queued request was not answered'))]);
        assert.equal(r.status, 503, r.text);
        assertErrorEnvelope(r.json, 'api_error');
        assert.ok(r.headers.get('request-id'));
      }
      assert.equal(proxy.exited, null, 'the proxy exited before the running request finished');
      assert.ok(!proxy.fakeLogs().some((l) => l.state === 'exited'), 'the running request already finished');

      // New connections are refused once stopping (fetch would reuse a kept-alive one).
      await assert.rejects(new Promise((resolve, reject) => {
        const c = net.connect(proxy.port, proxy.host, () => { c.destroy(); resolve(); });
        c.on('error', reject);
      }), { code: 'ECONNREFUSED' });

      const r = await running;
      assert.equal(r.status, 200, r.text);
      assert.equal(r.json.content[0].type, 'text');
      const exit = await proxy.exitPromise;
      assert.deepEqual(exit, { code: 0, signal: null }, proxy.stderrText.slice(-3000));
      assert.ok(!proxy.fakeLogs().some((l) => /queued-/.test(JSON.stringify(l.stdin))), 'a queued request started a CLI');
      assert.equal(proxy.fakeLogs().length, 1);
    } finally {
      await proxy.stop({ check: false });
    }
  });
});
