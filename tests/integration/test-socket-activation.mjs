// SPDX-License-Identifier: MIT
//
// Start through systemd-socket-activate: the proxy must serve on the inherited socket (PORT is
// ignored), answer a request end to end, and stop cleanly on SIGTERM.

import assert from 'node:assert/strict';
import { describe, test } from 'node:test';

import { getJson, messageBody, missing, postJson, requireOrSkip, withProxy } from './lib/harness.mjs';

requireOrSkip(missing({ tools: ['systemd-socket-activate'] }));

describe('socket activation', () => {
  test('serves on the inherited socket and ignores PORT', async () => {
    // PORT points at something else on purpose: the inherited fd must win.
    await withProxy({ socketActivate: true, env: { PORT: '1' } }, async (proxy) => {
      // What the proxy itself reports (from getsockname() of what it listens on), against the
      // port only systemd-socket-activate was told: one socket, the inherited one, not PORT.
      assert.deepEqual(proxy.listening, [`127.0.0.1:${proxy.activationPort}`],
        `the proxy listens on ${JSON.stringify(proxy.listening)}, systemd passed 127.0.0.1:${proxy.activationPort}`);
      assert.match(proxy.stderrText, /inherited fd 3\b/, 'the proxy did not take fd 3 from systemd');
      const h = await getJson(`${proxy.url}/health`);
      assert.equal(h.status, 200, h.text);
      const r = await postJson(`${proxy.url}/v1/messages`, messageBody('hi'));
      assert.equal(r.status, 200, r.text);
      assert.equal(r.json.content[0].type, 'text');
      assert.equal(proxy.servedLogs().length, 1);
      // Pooled processes (idle ones included) get the same environment.
      for (const log of proxy.fakeLogs())
        for (const k of ['LISTEN_FDS', 'LISTEN_PID', 'LISTEN_FDNAMES'])
          assert.equal(log.env[k], undefined, `${k} reached the CLI`);
    });
  });
});
