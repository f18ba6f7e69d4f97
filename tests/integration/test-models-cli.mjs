// SPDX-License-Identifier: MIT
//
// GET /v1/models from the CLI's own list: the models its `initialize` answer carries (the fake
// CLI answers with the recorded list of CLI 2.1.197), asked once and kept, through both SDKs;
// concurrent first listings share one query; the cold path (WARM_POOL=0) asks a spawned CLI;
// a CLI that cannot answer gives the static catalog, not cached, and the header says which.

import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { createRequire } from 'node:module';
import { describe, test } from 'node:test';

import { getJson, missing, NODE_DIR, requireOrSkip, sdkClient, tmpdir, waitFor, withProxy } from './lib/harness.mjs';

requireOrSkip(missing({ sdk: true }));

const nodeRequire = createRequire(path.join(NODE_DIR, 'package.json'));
// The recorded list (tests/data/transcripts/warm_initialize_empty) by resolved id, then the
// proxy's aliases of the families it offers.
const CLI_IDS = ['claude-opus-4-8[1m]', 'claude-sonnet-5', 'claude-sonnet-5[1m]', 'claude-haiku-4-5-20251001'];
const STATIC_IDS = ['claude-opus-4-6', 'claude-sonnet-4-6', 'claude-haiku-4-5'];

// How many initialize requests the fake CLIs were sent, over every process.
function initializeCount(proxy) {
  return proxy.fakeLogs().flatMap((l) => l.stdin)
    .filter((x) => x && x.type === 'control_request' && x.request?.subtype === 'initialize').length;
}

async function list(proxy, suffix = '') {
  const r = await getJson(`${proxy.url}/v1/models${suffix}`);
  return { ...r, source: r.headers.get('x-proxy-models') };
}

for (const pool of ['1', '0']) {
  describe(`WARM_POOL=${pool}`, () => {
    test('the list is the CLI\'s, asked once, then served from the cache', async () => {
      await withProxy({ env: { WARM_POOL: pool } }, async (proxy) => {
        const first = await list(proxy);
        assert.equal(first.status, 200, first.text);
        assert.equal(first.source, 'cli');
        const ids = first.json.data.map((m) => m.id);
        assert.deepEqual(ids.slice(0, CLI_IDS.length), CLI_IDS);
        for (const alias of ['sonnet', 'opus', 'haiku', 'claude-sonnet-4-6']) assert.ok(ids.includes(alias), alias);
        assert.equal(first.json.first_id, ids[0]);
        assert.equal(first.json.last_id, ids.at(-1));
        await waitFor(() => initializeCount(proxy) === 1, 10000, 'one initialize in the fake logs');

        const again = await list(proxy);
        assert.equal(again.source, 'cli');
        assert.deepEqual(again.json, first.json);
        const one = await list(proxy, '/claude-sonnet-5');
        assert.equal(one.status, 200);
        assert.equal(one.json.display_name, 'Sonnet');
        const none = await list(proxy, '/claude-nonexistent-9');
        assert.equal(none.status, 404);
        assert.equal(initializeCount(proxy), 1, 'the cached list was asked for again');
        // The query's process is gone: only the idle pool is left.
        await waitFor(() => proxy.onlyPoolLeft(), 15000, 'the query\'s CLI to be reaped');
      });
    });
  });
}

test('concurrent first listings share one query', async () => {
  await withProxy({}, async (proxy) => {
    const all = await Promise.all(Array.from({ length: 6 }, () => list(proxy)));
    for (const r of all) {
      assert.equal(r.status, 200);
      assert.equal(r.source, 'cli');
      assert.deepEqual(r.json, all[0].json);
    }
    assert.equal(initializeCount(proxy), 1);
  });
});

test('SIGHUP forgets the list: the next listing asks the CLI again', async () => {
  await withProxy({}, async (proxy) => {
    assert.equal((await list(proxy)).source, 'cli');
    await waitFor(() => initializeCount(proxy) === 1, 10000, 'one initialize');
    proxy.child.kill('SIGHUP');
    await waitFor(() => /configuration reloaded/.test(proxy.stderrText), 10000, 'the reload');
    assert.equal((await list(proxy)).source, 'cli');
    await waitFor(() => initializeCount(proxy) === 2, 10000, 'a second initialize after the reload');
  });
});

test('both SDKs list and retrieve the CLI\'s models', async () => {
  await withProxy({}, async (proxy) => {
    const { client } = await sdkClient(proxy);
    const page = await client.models.list();
    assert.deepEqual(page.data.slice(0, CLI_IDS.length).map((m) => m.id), CLI_IDS);
    assert.equal((await client.models.retrieve('claude-sonnet-5')).display_name, 'Sonnet');

    const mod = await import(nodeRequire.resolve('openai'));
    const OpenAI = mod.default ?? mod.OpenAI;
    const oa = new OpenAI({ baseURL: `${proxy.url}/v1`, apiKey: 'sk-proxy-test', maxRetries: 0 });
    const ids = [];
    for await (const m of oa.models.list()) {
      assert.equal(m.object, 'model');
      assert.equal(typeof m.created, 'number');
      ids.push(m.id);
    }
    assert.ok(ids.includes('claude-sonnet-5'));
    assert.equal((await oa.models.retrieve('claude-haiku-4-5-20251001')).owned_by, 'anthropic');
  });
});

test('a CLI that cannot answer: the static catalog, not cached', async () => {
  // No transcripts: the fake cannot answer initialize and ends (the pool's probe needs none).
  const empty = tmpdir('cp-notranscripts-');
  try {
    await withProxy({ env: { FAKE_CLAUDE_DIR: empty } }, async (proxy) => {
      for (let i = 0; i < 2; i++) {
        const r = await list(proxy);
        assert.equal(r.status, 200, r.text);
        assert.equal(r.source, 'static');
        assert.deepEqual(r.json.data.map((m) => m.id), STATIC_IDS);
      }
      // Not cached: each listing asked a CLI.
      await waitFor(() => initializeCount(proxy) === 2, 10000, 'two initialize requests');
      assert.match(proxy.stderrText, /could not be asked for its models/);
    });
  } finally {
    fs.rmSync(empty, { recursive: true, force: true });
  }
});
