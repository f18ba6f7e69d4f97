// SPDX-License-Identifier: MIT
//
// SCOPE_MODE=pgroup (no systemd): a grandchild that setsid()s out of the CLI's process group
// escapes the group kill — the documented limit of this mode — but the proxy is its subreaper,
// so once it dies it is reaped and does not linger as a zombie.

import assert from 'node:assert/strict';
import fs from 'node:fs';
import { after, before, describe, test } from 'node:test';

import { messageBody, missing, postJson, requireOrSkip, startProxy, waitFor } from './lib/harness.mjs';

requireOrSkip(missing());

describe('orphaned CLI descendants', () => {
  let proxy;
  before(async () => {
    proxy = await startProxy({ env: { REQUIRE_AUTH: 'false', SCOPE_MODE: 'pgroup' } });
  });
  after(async () => { await proxy?.stop(); });

  test('a setsid grandchild is re-parented to the proxy and reaped when it dies', async () => {
    proxy.clearFakeLogs();
    const r = await postJson(`${proxy.url}/v1/messages`, messageBody('[[fake:text grandchild=setsid]] orphan-check'));
    assert.equal(r.status, 200, r.text);
    const log = await proxy.waitFakeLogFor('orphan-check');
    const escaped = log.grandchildren.find((g) => g.setsid);
    assert.ok(escaped, 'the fake logged its setsid grandchild');
    const ppidOf = (pid) => {
      try {
        const s = fs.readFileSync(`/proc/${pid}/stat`, 'utf8');
        return Number(s.slice(s.lastIndexOf(')') + 2).split(' ')[1]);
      } catch { return null; }
    };
    await waitFor(() => ppidOf(escaped.pid) === proxy.pid, 3000, 'the orphan to be re-parented to the proxy');
    process.kill(escaped.pid, 'SIGKILL');
    // Not merely dead: gone from /proc, i.e. waited for by the proxy.
    await waitFor(() => !fs.existsSync(`/proc/${escaped.pid}`), 3000, 'the orphan to be reaped');
  });
});
