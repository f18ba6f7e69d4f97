// SPDX-License-Identifier: MIT
//
// The features in combination over the fake CLI (the real CLI's side: test-real-cli-combined.mjs):
//   - one request with client tools, a structured-output schema and a registry MCP server: one
//     initialize per process carrying both the tools' sdk server and the schema, the registry
//     server beside it (cold: --mcp-config; pooled: mcp_set_servers before that initialize);
//     the client gets the tool_use (not a 502 for the missing structured value);
//   - parked runs (TOOL_PARK_MS) counted in /health (`parked`) and /metrics
//     (claude_proxy_parked_runs), the count dropping when the follow-up adopts the run or the
//     park's deadline passes;
//   - count_tokens and /v1/models side queries beside parked runs with MAX_CONCURRENT=2: a count
//     with a slot free answers and leaves the parked run alone; with every slot held by parked
//     runs it is a 529 (parked runs are not given up for a side query) and the model list is the
//     static catalog; nothing deadlocks, the follow-ups still continue their parked processes,
//     and no CLI is left afterwards.

import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { describe, test } from 'node:test';

import {
  assertErrorEnvelope, childrenOf, getJson, missing, postJson, requireOrSkip, sdkClient, tmpdir, waitFor, withProxy,
} from './lib/harness.mjs';

requireOrSkip(missing({ sdk: true }));

const TOOLS = [{ name: 'lookup', description: 'Look up a value by key.',
  input_schema: { type: 'object', properties: { key: { type: 'string' } }, required: ['key'] } }];
const SCHEMA = { type: 'object', properties: { value: { type: 'string' } }, required: ['value'] };
// The recorded runs the fake follows: a client tool call ended by interrupt, and one whose
// tools/call was answered after a wait (parking).
const INTERRUPTED = '[[fake:s2b_park_then_interrupt]]';
const PARKED = '[[fake:s2a_park_tools_call_15s]]';

function body(text, extra = {}) {
  return { model: 'claude-sonnet-4-5', max_tokens: 256, tools: TOOLS, messages: [{ role: 'user', content: text }],
    ...extra };
}

function followUp(first, content) {
  return [
    { role: 'user', content: first },
    { role: 'assistant', content },
    { role: 'user', content: [{ type: 'tool_result', tool_use_id: 'toolu_mock_lookup_1', content: 'value-of-alpha' }] },
  ];
}

const controls = (log, subtype) => log.stdin.filter((x) => x?.type === 'control_request' && x.request?.subtype === subtype);

async function parked(proxy) {
  const h = (await getJson(`${proxy.url}/health`)).json;
  const m = await (await fetch(`${proxy.url}/metrics`)).text();
  const g = m.match(/^claude_proxy_parked_runs (\d+)$/m);
  assert.ok(g, 'the gauge is exported');
  assert.equal(Number(g[1]), h.parked, 'the same count in /health and /metrics');
  return h.parked;
}

describe('client tools, structured output and a registry server in one request', { concurrency: false }, () => {
  for (const pool of ['0', '1']) {
    test(`WARM_POOL=${pool}: one initialize with the sdk server and the schema; the tool_use reaches the client`,
      async () => {
        const dir = tmpdir('cp-combined-');
        const file = path.join(dir, 'mcp.json');
        fs.writeFileSync(file, JSON.stringify({ mcpServers: { reg: { command: '/bin/true', args: [] } } }));
        try {
          await withProxy({ env: { WARM_POOL: pool, PROXY_MCP_CONFIG: file } }, async (proxy) => {
            if (pool === '1')
              await proxy.waitHealth((h) => h.pool.ready >= 1, 20000, 'pool');
            const { client } = await sdkClient(proxy);
            const m = await client.messages.create(body(`${INTERRUPTED} Look up alpha. cmb-${pool}`, {
              metadata: { mcp_servers: ['reg'] },
              output_config: { format: { type: 'json_schema', schema: SCHEMA } } }));
            assert.equal(m.stop_reason, 'tool_use');
            assert.equal(m.content.at(-1).name, 'lookup');
            const log = await proxy.waitFakeLogFor(`cmb-${pool}`, (l) => l.state === 'exited', 20000);
            assert.equal(log.initialize_count, 1, 'one initialize per process');
            const init = controls(log, 'initialize')[0].request;
            assert.deepEqual(init.sdkMcpServers, ['cp']);
            assert.deepEqual(init.jsonSchema, SCHEMA);
            const allowed = log.argv.flatMap((x, i) => (x === '--allowedTools' ? [log.argv[i + 1]] : []));
            if (pool === '0') {
              assert.ok(log.argv.includes('--mcp-config'), log.argv.join(' '));
              assert.deepEqual(Object.keys(JSON.parse(log.mcp_config_files[0].text).mcpServers), ['reg']);
              assert.ok(allowed.includes('mcp__reg') && allowed.includes('mcp__cp'), allowed.join(' '));
            } else {
              const order = log.stdin.filter((x) => x?.type === 'control_request').map((x) => x.request.subtype);
              assert.ok(order.indexOf('mcp_set_servers') >= 0, order.join(' '));
              assert.ok(order.indexOf('mcp_set_servers') < order.indexOf('initialize'),
                `mcp_set_servers before the one initialize (after it would drop the sdk server): ${order.join(' ')}`);
              assert.deepEqual(Object.keys(controls(log, 'mcp_set_servers')[0].request.servers), ['reg']);
            }
            assert.equal(log.interrupted, true);
          });
        } finally {
          fs.rmSync(dir, { recursive: true, force: true });
        }
      });
  }
});

describe('parked runs in /health and /metrics', { concurrency: false }, () => {
  test('counted while parked, not after the follow-up, nor after the park\'s deadline', async () => {
    await withProxy({ env: { WARM_POOL: '1', TOOL_PARK_MS: '60000' } }, async (proxy) => {
      assert.equal(await parked(proxy), 0);
      const { client } = await sdkClient(proxy);
      const first = `${PARKED} Look up alpha. pk-health`;
      const m = await client.messages.create(body(first));
      assert.equal(m.stop_reason, 'tool_use');
      await proxy.waitFakeLogFor('pk-health', (l) => l.state === 'parked', 20000);
      assert.equal(await parked(proxy), 1);
      const f = await client.messages.create(body('', { messages: followUp(first, m.content) }));
      assert.equal(f.content[0].text, 'The value is value-of-alpha.');
      assert.equal(await parked(proxy), 0);
    });
    await withProxy({ env: { WARM_POOL: '0', TOOL_PARK_MS: '5000' } }, async (proxy) => {
      const { client } = await sdkClient(proxy);
      await client.messages.create(body(`${PARKED} Look up alpha. pk-late`));
      await proxy.waitFakeLogFor('pk-late', (l) => l.state === 'parked', 20000);
      assert.equal(await parked(proxy), 1);
      // /health alone: the deadline may pass between two scrapes.
      await proxy.waitHealth((h) => h.parked === 0, 20000,
        'the deadline to end the parked run');
      assert.equal(await parked(proxy), 0);
      await waitFor(() => childrenOf(proxy.pid).length === 0, 20000, 'its CLI to go');
    });
  });
});

// A parked process keeps the schema and registry servers it started with: a follow-up asking for
// other ones must not continue it (it ends, the follow-up runs cold with its own).
test('parking: a follow-up with another schema or other registry servers runs cold', async () => {
  const dir = tmpdir('cp-combined-park-');
  const file = path.join(dir, 'mcp.json');
  fs.writeFileSync(file, JSON.stringify({ mcpServers: { reg: { command: '/bin/true', args: [] } } }));
  try {
    await withProxy({ env: { WARM_POOL: '0', TOOL_PARK_MS: '60000', PROXY_MCP_CONFIG: file } }, async (proxy) => {
      const { client } = await sdkClient(proxy);
      const so = { output_config: { format: { type: 'json_schema', schema: SCHEMA } } };
      const reg = { metadata: { mcp_servers: ['reg'] } };
      for (const [tag, firstExtra, followExtra] of [['so', so, {}], ['reg', {}, reg]]) {
        const first = `${PARKED} Look up alpha. pk-diff-${tag}`;
        const m = await client.messages.create(body(first, firstExtra));
        assert.equal(m.stop_reason, 'tool_use');
        const held = await proxy.waitFakeLogFor(`pk-diff-${tag}`, (l) => l.state === 'parked', 20000);
        const r = await postJson(`${proxy.url}/v1/messages`, body('', { messages: followUp(first, m.content),
          ...followExtra }));
        assert.equal(r.status, 200, r.text);
        await waitFor(() => proxy.fakeLogs().filter((l) => JSON.stringify(l.stdin).includes(`pk-diff-${tag}`)).length === 2,
          20000, 'a second, cold process for the follow-up');
        await proxy.waitFakeLogFor(`pk-diff-${tag}`, (l) => l.pid === held.pid && l.interrupted === true, 20000);
        await waitFor(() => !childrenOf(proxy.pid).includes(held.pid), 30000, 'the unmatched parked run to go');
      }
    });
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
  }
});

test('count_tokens with tools and a schema: counted without them, and the header says so', async () => {
  await withProxy({ env: { WARM_POOL: '0' } }, async (proxy) => {
    const count = (extra) => postJson(`${proxy.url}/v1/messages/count_tokens`,
      { model: 'claude-sonnet-4-5', messages: [{ role: 'user', content: 'count me ct-uncounted' }], ...extra });
    const plain = await count({});
    assert.equal(plain.status, 200, plain.text);
    assert.equal(plain.headers.get('x-proxy-unsupported'), null);
    const r = await count({ tools: TOOLS, output_config: { format: { type: 'json_schema', schema: SCHEMA } } });
    assert.equal(r.status, 200, r.text);
    assert.equal(r.headers.get('x-proxy-token-count'), 'derived');
    assert.equal(r.headers.get('x-proxy-unsupported'), 'tools,output_config');
  });
});

describe('side queries beside parked runs (MAX_CONCURRENT=2)', { concurrency: false }, () => {
  for (const pool of ['0', '1']) {
    test(`WARM_POOL=${pool}: counts and listings answer or 529, nothing deadlocks or leaks`, async () => {
      await withProxy({ env: { WARM_POOL: pool, MAX_CONCURRENT: '2', TOOL_PARK_MS: '60000' } }, async (proxy) => {
        const { client } = await sdkClient(proxy);
        const count = (t) => postJson(`${proxy.url}/v1/messages/count_tokens`,
          { model: 'claude-sonnet-4-5', messages: [{ role: 'user', content: t }] });
        const health = async () => (await getJson(`${proxy.url}/health`)).json;

        // One parked run, one slot left: a count answers and the parked run is untouched.
        const firstA = `${PARKED} Look up alpha. sq-a-${pool}`;
        const a = await client.messages.create(body(firstA));
        const parkedA = await proxy.waitFakeLogFor(`sq-a-${pool}`, (l) => l.state === 'parked', 20000);
        const c1 = await count(`count beside one parked run sq-c1-${pool}`);
        assert.equal(c1.status, 200, c1.text);
        assert.equal(await parked(proxy), 1, 'the count left the parked run alone');

        // Both slots parked: the count is a 529 (the parked runs stay), the listing the static catalog.
        const firstB = `${PARKED} Look up alpha. sq-b-${pool}`;
        const b = await client.messages.create(body(firstB));
        const parkedB = await proxy.waitFakeLogFor(`sq-b-${pool}`, (l) => l.state === 'parked', 20000);
        assert.equal(await parked(proxy), 2);
        // A parked run holds its slot (README, TOOL_PARK_MS): both slots are busy.
        const h = await health();
        assert.equal(h.requests_in_flight, 2, JSON.stringify(h));
        const c2 = await count(`count with every slot parked sq-c2-${pool}`);
        assert.equal(c2.status, 529, c2.text);
        assertErrorEnvelope(c2.json, 'overloaded_error');
        assert.equal(c2.headers.get('x-proxy-token-count'), 'unavailable');
        const models = await getJson(`${proxy.url}/v1/models`);
        assert.equal(models.status, 200, models.text);
        assert.ok(['static', 'cli'].includes(models.headers.get('x-proxy-models')));
        assert.equal(await parked(proxy), 2, 'neither side query gave up a parked run');

        // Both follow-ups continue their own parked processes.
        const fa = await client.messages.create(body('', { messages: followUp(firstA, a.content) }));
        const fb = await client.messages.create(body('', { messages: followUp(firstB, b.content) }));
        assert.equal(fa.content[0].text, 'The value is value-of-alpha.');
        assert.equal(fb.content[0].text, 'The value is value-of-alpha.');
        assert.equal((await proxy.waitFakeLogFor(`sq-a-${pool}`, (l) => l.state === 'exited', 20000)).pid, parkedA.pid);
        assert.equal((await proxy.waitFakeLogFor(`sq-b-${pool}`, (l) => l.state === 'exited', 20000)).pid, parkedB.pid);

        // Slots back once the CLIs are reaped (a count never queues): a count answers again; only
        // the pool is left, nothing counted as busy.
        await waitFor(() => childrenOf(proxy.pid).length <= Number(pool), 20000, 'only the pool left');
        const c3 = await count(`count after sq-c3-${pool}`);
        assert.equal(c3.status, 200, c3.text);
        await waitFor(async () => {
          const z = await health();
          return z.requests_in_flight === 0 && z.queued === 0 && z.parked === 0;
        }, 20000, 'no slot still counted');
      });
    });
  }
});
