// SPDX-License-Identifier: MIT
//
// REQUEST_TIMEOUT_MS=0 and IDLE_TIMEOUT_MS=0 mean "no limit", not "at once": a slow CLI and a
// silent one both run on, well past what a small timeout would have allowed. EXIT_IDLE_SEC=0
// means "never": an idle proxy stays up while one with EXIT_IDLE_SEC=1, idle for less time,
// has already left. (KILL_GRACE_MS and PING_INTERVAL_MS refuse 0: tests/unit/test-config.c.)

import assert from 'node:assert/strict';
import { describe, test } from 'node:test';

import {
  assertSseGrammar, getJson, groupEmpty, messageBody, missing, requireOrSkip, openRequest, parseSse, pidAlive, postJson,
  sseText, startProxy, waitFor, withProxy,
} from './lib/harness.mjs';

requireOrSkip(missing());

describe('timeouts of 0', () => {
  for (const [what, env] of [
    ['REQUEST_TIMEOUT_MS=0', { REQUEST_TIMEOUT_MS: '0', IDLE_TIMEOUT_MS: '60000' }],
    ['IDLE_TIMEOUT_MS=0', { REQUEST_TIMEOUT_MS: '60000', IDLE_TIMEOUT_MS: '0' }],
    ['both 0', { REQUEST_TIMEOUT_MS: '0', IDLE_TIMEOUT_MS: '0' }],
  ]) {
    test(`${what}: a slow CLI (~2 s, 150 ms between lines) completes, streaming and not`, async () => {
      await withProxy({ env: { ...env, PING_INTERVAL_MS: '100' } }, async (proxy) => {
        const url = `${proxy.url}/v1/messages`;
        const [plain, streamed] = await Promise.all([
          postJson(url, messageBody('slow-plain [[fake:text delay=150]]')),
          postJson(url, messageBody('slow-stream [[fake:text delay=150]]', { stream: true })),
        ]);
        assert.equal(plain.status, 200, plain.text);
        assert.equal(plain.json.stop_reason, 'end_turn');
        assert.equal(streamed.status, 200);
        const events = assertSseGrammar(parseSse(streamed.text));
        assert.equal(events.at(-1).event, 'message_stop');
        assert.equal(sseText(parseSse(streamed.text)), plain.json.content[0].text);
      });
    });
  }

  // Absence of an end is the point, so no fixed sleep: proxies with a 500 ms IDLE_TIMEOUT_MS and
  // a 500 ms REQUEST_TIMEOUT_MS get the same silent CLI after ours is in flight; once both have
  // answered 504, ours has been silent longer than either limit and must still be running.
  test('both 0: a silent CLI is left alone past where 500 ms limits ended theirs; the client leaving still ends it', async () => {
    await withProxy({ env: { REQUEST_TIMEOUT_MS: '0', IDLE_TIMEOUT_MS: '0', KILL_GRACE_MS: '200' } }, async (proxy) => {
      const req = openRequest(`${proxy.url}/v1/messages`, messageBody('silent [[fake:text hang_after=4]]'));
      let settled = false;
      req.on('response', () => { settled = true; });
      try {
        const log = await proxy.waitFakeLogFor('silent', (l) => l.state === 'replaying');
        for (const [what, env] of [['IDLE_TIMEOUT_MS=500', { REQUEST_TIMEOUT_MS: '0', IDLE_TIMEOUT_MS: '500' }],
          ['REQUEST_TIMEOUT_MS=500', { REQUEST_TIMEOUT_MS: '500', IDLE_TIMEOUT_MS: '0' }]]) {
          await withProxy({ env: { ...env, KILL_GRACE_MS: '200' } }, async (control) => {
            const r = await postJson(`${control.url}/v1/messages`, messageBody('silent too [[fake:text hang_after=4]]'));
            assert.equal(r.status, 504, `${what}: ${r.text}`);
          });
        }
        assert.equal(settled, false, 'the request was answered');
        assert.ok(pidAlive(log.pid), 'the silent CLI was killed');
        assert.ok(!/timeout/.test(proxy.stderrText), proxy.stderrText.slice(-2000));
        req.destroy();
        await waitFor(() => groupEmpty(log.pgid), 3000, 'the CLI group to be gone after the client left');
      } finally {
        req.destroy();
      }
    });
  });

  test('EXIT_IDLE_SEC=0: an idle proxy stays up while one with EXIT_IDLE_SEC=1 (idle for less time) exits', async () => {
    const never = await startProxy({ env: { EXIT_IDLE_SEC: '0' } });
    let control = null;
    try {
      await never.waitSettled();
      // Started after `never` settled: whatever idle check `control` has made, `never` has made
      // it too, for longer, so `control` leaving is the condition to wait for instead of a sleep.
      control = await startProxy({ env: { EXIT_IDLE_SEC: '1' } });
      const exit = await control.waitExit(30000, 'EXIT_IDLE_SEC=1 did not exit');
      assert.deepEqual(exit, { code: 0, signal: null }, control.stderrText.slice(-2000));
      assert.match(control.stderrText, /idle for 1 s/);
      assert.equal(never.exited, null, `EXIT_IDLE_SEC=0 exited:\n${never.stderrText.slice(-2000)}`);
      assert.doesNotMatch(never.stderrText, /idle for/);
      assert.equal((await getJson(`${never.url}/health`)).status, 200);
    } finally {
      await control?.stop({ check: false });
      await never.stop();
    }
  });

  // The side queries (count_tokens by the CLI) have their own deadline from REQUEST_TIMEOUT_MS.
  test('REQUEST_TIMEOUT_MS=0: a token count the CLI never answers is left running while one with 500 ms has timed out',
    async () => {
      const hang = (marker) => ({ model: 'claude-sonnet-4-5',
        messages: [{ role: 'user', content: `count me [[fake-usage:hang]] ${marker}` }] });
      const zero = await startProxy({ env: { REQUEST_TIMEOUT_MS: '0', IDLE_TIMEOUT_MS: '0', KILL_GRACE_MS: '200' } });
      let control = null, req = null;
      try {
        let answered = false;
        req = openRequest(`${zero.url}/v1/messages/count_tokens`, hang('ct-zero'));
        req.on('response', () => { answered = true; });
        // In flight: a CLI holds the history and is alive.
        await waitFor(() => {
          assert.equal(answered, false, 'REQUEST_TIMEOUT_MS=0 answered the count before it reached a CLI');
          return zero.fakeLogs().some((l) => JSON.stringify(l.stdin).includes('ct-zero') && pidAlive(l.pid));
        }, 15000, 'the count to reach a CLI');
        const log = zero.fakeLogs().find((l) => JSON.stringify(l.stdin).includes('ct-zero'));
        control = await startProxy({ env: { REQUEST_TIMEOUT_MS: '500', IDLE_TIMEOUT_MS: '0', KILL_GRACE_MS: '200' } });
        const t0 = Date.now();
        const r = await postJson(`${control.url}/v1/messages/count_tokens`, hang('ct-control'));
        assert.equal(r.status, 504, r.text);
        assert.ok(Date.now() - t0 >= 450, `the 500 ms count ended after ${Date.now() - t0} ms`);
        // The zero proxy's count began earlier, so it has run longer than the control's.
        assert.equal(answered, false, 'REQUEST_TIMEOUT_MS=0 answered the count');
        assert.ok(pidAlive(log.pid), 'REQUEST_TIMEOUT_MS=0 ended the counting CLI');
        req.destroy();
        await waitFor(() => groupEmpty(log.pgid), 5000, 'the counting CLI to go with its client');
      } finally {
        req?.destroy();
        await control?.stop({ check: false });
        await zero.stop({ check: false });
      }
    });
});
