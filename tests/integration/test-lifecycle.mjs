// SPDX-License-Identifier: MIT
//
// Child lifecycle: a client that goes away takes the CLI's whole process group with it,
// SIGKILL follows SIGTERM after KILL_GRACE_MS, and MAX_CONCURRENT/MAX_QUEUE turn excess load
// into an immediate 529.

import assert from 'node:assert/strict';
import { describe, test } from 'node:test';

import {
  assertErrorEnvelope, getJson, groupEmpty, groupMembers, messageBody, missing, openRequest, openStream,
  pidAlive, postJson, reap, requireOrSkip, waitFor, withProxy,
} from './lib/harness.mjs';

requireOrSkip(missing());
// "Gone" is polled for up to this long: CI is a loaded 2-core machine, and how fast is bench/'s
// business, not a pass/fail bound here.
const GONE_MS = 2000;

// The fake's log once it is replaying (grandchildren spawned), and the pids to clean up.
async function running(proxy) {
  const log = await proxy.waitFakeLog((l) => l.state === 'replaying' || l.state === 'replayed', 5000);
  const pids = [log.pid, ...log.grandchildren.map((g) => g.pid)];
  return { log, pids };
}

describe('lifecycle', () => {
  test('client disconnect mid-stream: the process group is gone', async () => {
    await withProxy({ env: { KILL_GRACE_MS: '2000' } }, async (proxy) => {
      const st = await openStream(`${proxy.url}/v1/messages`,
        messageBody('hi [[fake:text delay=200 grandchild=1]]', { stream: true }));
      assert.equal(st.res.statusCode, 200);
      const { log, pids } = await running(proxy);
      try {
        await waitFor(() => st.text.includes('message_start'), 3000, 'message_start');
        assert.equal(log.grandchildren.length, 1);
        assert.ok(pidAlive(log.grandchildren[0].pid), 'the grandchild runs');
        assert.deepEqual(groupMembers(log.pgid).sort(), pids.slice().sort());
        st.req.destroy();
        await waitFor(() => groupEmpty(log.pgid), GONE_MS, 'the process group to be empty');
      } finally {
        reap(pids);
      }
      // The proxy is still healthy and has forgotten the session.
      const h = await getJson(`${proxy.url}/health`);
      assert.equal(h.status, 200);
      await proxy.waitHealth((h) => h.requests_in_flight === 0, 5000, 'requests_in_flight 0');
    });
  });

  test('client disconnect while waiting for a non-streaming answer: the process group is gone', async () => {
    await withProxy({ env: { KILL_GRACE_MS: '2000' } }, async (proxy) => {
      const req = openRequest(`${proxy.url}/v1/messages`, messageBody('hi [[fake:text delay=300 grandchild=1]]'));
      const { log, pids } = await running(proxy);
      try {
        assert.ok(pidAlive(log.pid));
        assert.deepEqual(groupMembers(log.pgid).sort(), pids.slice().sort());
        req.destroy();
        await waitFor(() => groupEmpty(log.pgid), GONE_MS, 'the process group to be empty');
      } finally {
        reap(pids);
      }
    });
  });

  test('a CLI ignoring SIGTERM is SIGKILLed after KILL_GRACE_MS', async () => {
    const GRACE = 500;
    await withProxy({ env: { KILL_GRACE_MS: String(GRACE) } }, async (proxy) => {
      const st = await openStream(`${proxy.url}/v1/messages`,
        messageBody('hi [[fake:text delay=200 ignore_sigterm=1]]', { stream: true }));
      const { log, pids } = await running(proxy);
      try {
        await waitFor(() => st.text.includes('message_start'), 3000, 'message_start');
        st.req.destroy();
        const took = await waitFor(() => !pidAlive(log.pid), GRACE + 2000, 'the child to be gone');
        assert.ok(took >= GRACE * 0.6, `killed after ${took} ms: SIGTERM was not given its grace`);
        // The bound only proves SIGKILL comes at all; its timing is not the point.
        assert.ok(took <= GRACE + GONE_MS, `killed after ${took} ms, grace is ${GRACE}`);
      } finally {
        reap(pids);
      }
    });
  });

  test('MAX_CONCURRENT=1 MAX_QUEUE=1: the third request gets 529 at once, the queued one completes',
    async () => {
      await withProxy({ env: { MAX_CONCURRENT: '1', MAX_QUEUE: '1' } }, async (proxy) => {
        const url = `${proxy.url}/v1/messages`;
        const a = postJson(url, messageBody('one [[fake:text delay=60]]'));
        await proxy.waitFakeLog((l) => l.state === 'replaying');
        const b = postJson(url, messageBody('two [[fake:text delay=10]]'));
        await proxy.waitHealth((h) => h.queued === 1, 2000, 'queued 1');

        const t0 = Date.now();
        const c = await postJson(url, messageBody('three'));
        const took = Date.now() - t0;
        assert.equal(c.status, 529, c.text);
        assertErrorEnvelope(c.json, 'overloaded_error');
        // "At once": well before the running request (a few hundred ms) would free the slot.
        assert.ok(took < 2000, `529 took ${took} ms`);
        // Pooled processes count against MAX_CONCURRENT too: no other CLI at all, idle or not.
        assert.equal(proxy.fakeLogs().length, 1, 'only one CLI runs at a time');

        const [ra, rb] = await Promise.all([a, b]);
        assert.equal(ra.status, 200, ra.text);
        assert.equal(rb.status, 200, rb.text);
        const logs = proxy.servedLogs();
        assert.equal(logs.length, 2);
        assert.match(JSON.stringify(logs[1].stdin), /two/);
      });
    });

  test('a queued request whose client leaves never starts a CLI', async () => {
    await withProxy({ env: { MAX_CONCURRENT: '1', MAX_QUEUE: '4' } }, async (proxy) => {
      const url = `${proxy.url}/v1/messages`;
      const a = postJson(url, messageBody('one [[fake:text delay=60]]'));
      await proxy.waitFakeLog((l) => l.state === 'replaying');
      const req = openRequest(url, messageBody('queued-and-gone'));
      await proxy.waitHealth((h) => h.queued === 1, 2000, 'queued 1');
      req.destroy();
      assert.equal((await a).status, 200);
      // The queue is first in, first out: once a request sent after the departed one has been
      // served, the departed one's turn has come and gone.
      const c = await postJson(url, messageBody('queued-after'));
      assert.equal(c.status, 200, c.text);
      await proxy.waitFakeLogFor('queued-after', (l) => l.state === 'exited');
      assert.ok(!proxy.fakeLogs().some((l) => JSON.stringify(l.stdin).includes('queued-and-gone')),
        'a CLI was started for a client that had left');
    });
  });

  test('SIGTERM with a request running: the request finishes, then exit 0', async () => {
    await withProxy({}, async (proxy) => {
      const a = postJson(`${proxy.url}/v1/messages`, messageBody('hi [[fake:text delay=30]]'));
      await proxy.waitFakeLog((l) => l.state === 'replaying');
      proxy.child.kill('SIGTERM');
      const r = await a;
      assert.equal(r.status, 200, r.text);
      const exit = await proxy.exitPromise;
      assert.deepEqual(exit, { code: 0, signal: null }, proxy.stderrText.slice(-2000));
    });
  });
});
