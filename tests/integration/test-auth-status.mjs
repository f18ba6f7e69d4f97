// SPDX-License-Identifier: MIT
//
// The CLI's login state, from `claude auth status` run in the background (cli/README §17):
// /health says "degraded" with the reason and the command to run when the CLI is installed but
// not logged in, and notices a login or logout at start, on reload and after an authentication
// failure. The fake answers `auth status` from FAKE_CLAUDE_AUTH ("@FILE": the word in FILE, read
// at each call, so the test logs it in and out while the proxy runs). Non-retryable 503s carry
// x-should-retry: false.

import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { describe, test } from 'node:test';

import {
  assertErrorEnvelope, getJson, messageBody, missing, requireOrSkip, postJson, tmpdir, waitFor, withProxy,
} from './lib/harness.mjs';

requireOrSkip(missing());

function authEnv(word) {
  const file = path.join(tmpdir('cp-auth-'), 'state');
  fs.writeFileSync(file, word);
  return {
    file,
    env: { FAKE_CLAUDE_AUTH: `@${file}`, CHILD_ENV: 'FAKE_CLAUDE_DIR FAKE_CLAUDE_LOG_DIR FAKE_CLAUDE_AUTH' },
  };
}

async function healthWhen(proxy, pred, what) {
  let last;
  await waitFor(async () => {
    last = (await getJson(`${proxy.url}/health`)).json;
    return pred(last);
  }, 20000, `${what}; last /health: ${JSON.stringify(last)}`);
  return last;
}

describe('CLI login state in /health', () => {
  test('logged in: ok, with the method', async () => {
    const { env } = authEnv('logged-in');
    await withProxy({ env }, async (proxy) => {
      const h = await healthWhen(proxy, (j) => j.cli.auth.state === 'logged_in', 'logged_in');
      assert.equal(h.status, 'ok');
      assert.equal(h.cli.auth.method, 'oauth_token');
      assert.equal(h.cli.auth.fix ?? null, null);
    });
  });

  test('not logged in: degraded with the reason and `claude auth login`; a reload notices the login', async () => {
    const { env, file } = authEnv('logged-out');
    await withProxy({ env }, async (proxy) => {
      const h = await healthWhen(proxy, (j) => j.cli.auth.state === 'logged_out', 'logged_out');
      assert.equal(h.status, 'degraded');
      assert.equal(h.cli.available, true);
      assert.equal(h.cli.auth.fix, 'claude auth login');
      assert.match(h.cli.problem, /not logged in/);
      assert.match(h.cli.problem, /`claude auth login`/);
      assert.match(h.cli.problem, /`claude setup-token`/);
      assert.doesNotMatch(JSON.stringify(h), /claude login/);

      fs.writeFileSync(file, 'logged-in');
      proxy.child.kill('SIGHUP');
      const ok = await healthWhen(proxy, (j) => j.cli.auth.state === 'logged_in', 'logged_in after reload');
      assert.equal(ok.status, 'ok');
      assert.equal(ok.cli.problem ?? null, null);
    });
  });

  test('an authentication failure re-checks the login at once', async () => {
    const { env, file } = authEnv('logged-in');
    await withProxy({ env }, async (proxy) => {
      await healthWhen(proxy, (j) => j.cli.auth.state === 'logged_in', 'logged_in');
      fs.writeFileSync(file, 'logged-out');
      // Well before the periodic check (5 min): only the failure can trigger this one.
      const r = await postJson(`${proxy.url}/v1/messages`, messageBody('Hello [[fake:err_not_logged_in]]'));
      assert.equal(r.status, 503, r.text);
      assertErrorEnvelope(r.json, 'api_error');
      assert.equal(r.headers.get('x-should-retry'), 'false');
      assert.match(r.json.error.message, /`claude auth login`/);
      const h = await healthWhen(proxy, (j) => j.cli.auth.state === 'logged_out', 'logged_out after the failure');
      assert.equal(h.status, 'degraded');
    });
  });

  test('a hanging `claude auth status` blocks nothing', async () => {
    const { env } = authEnv('hang');
    await withProxy({ env }, async (proxy) => {
      for (let i = 0; i < 3; i++) {
        const t0 = Date.now();
        const h = (await getJson(`${proxy.url}/health`)).json;
        assert.ok(Date.now() - t0 < 5000, '/health answered while the check hangs');
        assert.equal(h.cli.auth.state, 'unknown');
        assert.equal(h.status, 'ok');
      }
      const r = await postJson(`${proxy.url}/v1/messages`, messageBody('Hello'));
      assert.equal(r.status, 200, r.text);
    });
  });

  test('output that is not the JSON: check_failed, not degraded', async () => {
    const { env } = authEnv('garbage');
    await withProxy({ env }, async (proxy) => {
      const h = await healthWhen(proxy, (j) => j.cli.auth.state === 'check_failed', 'check_failed');
      assert.equal(h.status, 'ok');
    });
  });

  test('a missing CLI: 503 with x-should-retry: false and the real commands', async () => {
    await withProxy({ env: { CLAUDE_PATH: '/nonexistent/claude' } }, async (proxy) => {
      const h = (await getJson(`${proxy.url}/health`)).json;
      assert.equal(h.status, 'degraded');
      assert.match(h.cli.problem, /`claude auth login`/);
      const r = await postJson(`${proxy.url}/v1/messages`, messageBody('Hello'));
      assert.equal(r.status, 503, r.text);
      assert.equal(r.headers.get('x-should-retry'), 'false');
    });
  });
});
