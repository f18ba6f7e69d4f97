// SPDX-License-Identifier: MIT
//
// The features in combination, with the REAL Claude Code CLI against the scripted mock, pool on
// and off:
//   - a registry MCP server (PROXY_MCP_CONFIG) and client tools in one request: the CLI keeps
//     both servers (cold: --mcp-config memfd + initialize{sdkMcpServers}; pooled: mcp_set_servers
//     then the late initialize), runs the registry tool itself, and the client tool comes back to
//     the client, which never sees the registry call; the follow-up with the result completes;
//   - structured output and client tools in one request: the model calls a client tool first
//     (the client gets tool_use, not a 502), then after the follow-up the StructuredOutput tool
//     (the client gets the value as its text), streaming and not;
//   - the same with parking (TOOL_PARK_MS) on a warm pool: the follow-up continues the parked
//     process, /health and /metrics count the parked run.

import assert from 'node:assert/strict';
import fs from 'node:fs';
import { createRequire } from 'node:module';
import path from 'node:path';
import { after, before, describe, test } from 'node:test';

import {
  NODE_DIR, REAL_CLI, SOURCE_ROOT, childrenOf, getJson, missing, postJson, requireOrSkip, sdkClient, startMock, startProxy,
  tmpdir, waitFor,
} from './lib/harness.mjs';

requireOrSkip(missing({ fake: false, realCli: true, sdk: true }));

const SERVER = path.join(SOURCE_ROOT, 'tests', 'mcp', 'registry-server.mjs');
const SECRET = `combo-secret-${process.pid}`;
const TOOLS = [{ name: 'weather', description: 'The weather in a city.',
  input_schema: { type: 'object', properties: { city: { type: 'string' } }, required: ['city'] } }];
const SO_SCHEMA = { type: 'object', properties: { city: { type: 'string' }, temp: { type: 'integer' } },
  required: ['city', 'temp'] };
const SO_FORMAT = { output_config: { format: { type: 'json_schema', schema: SO_SCHEMA } } };

// Registry tool (the CLI runs it), then the client tool (after the registry's answer), then,
// after the client's result, an answer echoing every tool result upstream holds.
const REG_THEN_CLIENT = {
  queue: [
    { content: [{ type: 'text', text: 'Let me look.' },
      { type: 'tool_use', id: 'toolu_cmb_reg', name: 'mcp__reg__lookup', input: { key: 'alpha' } }] },
    { content: [{ type: 'tool_use', id: 'toolu_cmb_cli', name: 'mcp__cp__weather', input: { city: 'Paris' } }] },
    { echo_tool_result: 'Results: ' },
  ],
  default: { content: [{ type: 'text', text: 'unexpected extra call' }] },
};
// Client tool first, then (after the result) the StructuredOutput tool.
const CLIENT_THEN_SO = {
  queue: [
    { content: [{ type: 'tool_use', id: 'toolu_cmb_so1', name: 'mcp__cp__weather', input: { city: 'Oslo' } }] },
    { content: [{ type: 'text', text: 'Here it is.' },
      { type: 'tool_use', id: 'toolu_cmb_so2', name: 'StructuredOutput', input: { city: 'Oslo', temp: 3 } }], chunk: 5 },
  ],
  default: { content: [{ type: 'text', text: 'Done.' }] },
};

function blocksOf(body) {
  return body.messages.flatMap((m) => Array.isArray(m.content) ? m.content : []);
}

function textOf(content) {
  return content.filter((b) => b.type === 'text').map((b) => b.text).join('');
}

async function finish(client, stream, params) {
  if (!stream)
    return client.messages.create(params);
  return client.messages.stream(params).finalMessage();
}

const MODES = [
  { pool: '0', park: '0' },
  { pool: '1', park: '0' },
  { pool: '1', park: '60000' },
];

for (const { pool, park } of MODES) describe(`combined, real CLI, WARM_POOL=${pool} TOOL_PARK_MS=${park}`,
  { concurrency: false }, () => {
    let mock, proxy, dir;
    const posts = () => mock.requests.filter((r) => r.method === 'POST' && r.path === '/v1/messages');
    const parking = park !== '0';

    before(async () => {
      dir = tmpdir('cp-combined-real-');
      fs.writeFileSync(path.join(dir, 'mcp.json'), JSON.stringify({ mcpServers: {
        reg: { command: process.execPath, args: [SERVER], env: { REG_SECRET: SECRET } } } }));
      mock = await startMock();
      proxy = await startProxy({
        claudePath: REAL_CLI,
        env: {
          ANTHROPIC_BASE_URL: mock.url, ANTHROPIC_API_KEY: 'sk-test-real-cli',
          CHILD_ENV: 'ANTHROPIC_BASE_URL ANTHROPIC_API_KEY', CLI_MAX_RETRIES: '0', REQUEST_TIMEOUT_MS: '90000',
          KILL_GRACE_MS: '500', PROXY_MCP_CONFIG: path.join(dir, 'mcp.json'), WARM_POOL: pool, TOOL_PARK_MS: park,
        },
      });
    });
    after(async () => {
      await proxy?.stop();
      await mock?.close();
      if (dir) fs.rmSync(dir, { recursive: true, force: true });
    });

    async function warm() {
      if (pool !== '0')
        await proxy.waitHealth((h) => h.pool.ready >= 1, 60000, 'a pooled CLI');
    }

    async function parkedCounts(n) {
      const h = (await getJson(`${proxy.url}/health`)).json;
      assert.equal(h.parked, n, JSON.stringify(h));
      const m = await (await fetch(`${proxy.url}/metrics`)).text();
      assert.match(m, new RegExp(`^claude_proxy_parked_runs ${n}$`, 'm'));
    }

    for (const stream of [false, true]) {
      test(`registry tool then a client tool, ${stream ? 'streaming' : 'non-streaming'}: only the client's`, async () => {
        await warm();
        const { client } = await sdkClient(proxy, { timeout: 90000 });
        mock.setScript(REG_THEN_CLIENT);
        const n0 = posts().length;
        const first = [{ role: 'user', content: 'Weather where alpha is?' }];
        const base = { model: 'claude-sonnet-4-5', max_tokens: 256, tools: TOOLS, metadata: { mcp_servers: ['reg'] } };
        const m = await finish(client, stream, { ...base, messages: first });
        assert.equal(m.stop_reason, 'tool_use', JSON.stringify(m));
        assert.deepEqual(m.content.filter((b) => b.type === 'tool_use'),
          [{ type: 'tool_use', id: 'toolu_cmb_cli', name: 'weather', input: { city: 'Paris' } }]);
        assert.ok(!JSON.stringify(m).includes('toolu_cmb_reg'), 'the registry call reached the client');
        assert.ok(!JSON.stringify(m).includes(SECRET), 'the registry result reached the client');
        const up = posts().slice(n0);
        assert.equal(up.length, 2, 'one call for the registry tool, one after it ran');
        const names = up[0].body.tools.map((t) => t.name);
        assert.ok(names.includes('mcp__reg__lookup') && names.includes('mcp__cp__weather'),
          `both servers' tools offered: ${names.join(' ')}`);
        const regResult = blocksOf(up[1].body).find((b) => b.type === 'tool_result' && b.tool_use_id === 'toolu_cmb_reg');
        assert.ok(regResult && !regResult.is_error && JSON.stringify(regResult).includes(SECRET),
          `the CLI ran the registry tool: ${JSON.stringify(regResult)}`);
        if (parking) {
          await proxy.waitHealth((h) => h.parked === 1, 10000, 'the run to be parked');
          await parkedCounts(1);
        }

        const follow = [...first, { role: 'assistant', content: m.content },
          { role: 'user', content: [{ type: 'tool_result', tool_use_id: 'toolu_cmb_cli', content: 'sunny, 21' }] }];
        const f = await finish(client, stream, { ...base, messages: follow });
        assert.equal(f.stop_reason, 'end_turn', JSON.stringify(f));
        assert.match(textOf(f.content), /sunny, 21/);
        const last = posts().at(-1).body;
        assert.ok(blocksOf(last).some((b) => b.type === 'tool_result' && b.tool_use_id === 'toolu_cmb_cli'));
        if (parking) {
          // The parked process went on: its upstream history still holds the registry round,
          // which a replay from the client's messages could not have.
          assert.equal(posts().length - n0, 3, 'nothing replayed');
          assert.ok(blocksOf(last).some((b) => b.tool_use_id === 'toolu_cmb_reg'), 'the parked run continued');
          await parkedCounts(0);
        }
        await waitFor(() => childrenOf(proxy.pid).length <= Number(pool), 30000, 'no run left behind');
      });

      test(`OpenAI surfaces, client tool then structured output (${stream ? 'Chat' : 'Responses'})`, async () => {
        await warm();
        const mod = await import(createRequire(path.join(NODE_DIR, 'package.json')).resolve('openai'));
        const OpenAI = mod.default ?? mod.OpenAI;
        const client = new OpenAI({ baseURL: `${proxy.url}/v1`, apiKey: 'x', maxRetries: 0, timeout: 90000 });
        const t = TOOLS[0];
        mock.setScript(CLIENT_THEN_SO);
        const n0 = posts().length;
        let value;
        if (stream) {
          const tools = [{ type: 'function', function: { name: t.name, description: t.description, parameters: t.input_schema } }];
          const rf = { type: 'json_schema', json_schema: { name: 'w', schema: SO_SCHEMA } };
          const messages = [{ role: 'user', content: 'Weather in Oslo as JSON.' }];
          const r1 = await client.chat.completions.create({ model: 'claude-sonnet-4-5', tools, response_format: rf, messages });
          assert.equal(r1.choices[0].finish_reason, 'tool_calls', JSON.stringify(r1));
          const msg = r1.choices[0].message;
          assert.equal(msg.tool_calls[0].function.name, 'weather');
          const s2 = await client.chat.completions.create({ model: 'claude-sonnet-4-5', tools, response_format: rf, stream: true,
            messages: [...messages, msg, { role: 'tool', tool_call_id: msg.tool_calls[0].id, content: '3 degrees' }] });
          value = '';
          for await (const c of s2) value += c.choices[0]?.delta?.content ?? '';
        } else {
          const tools = [{ type: 'function', name: t.name, description: t.description, parameters: t.input_schema }];
          const text = { format: { type: 'json_schema', name: 'w', schema: SO_SCHEMA } };
          const input = 'Weather in Oslo as JSON.';
          const q1 = await client.responses.create({ model: 'claude-sonnet-4-5', tools, text, input });
          const call = q1.output.find((i) => i.type === 'function_call');
          assert.ok(call, JSON.stringify(q1.output));
          assert.equal(call.name, 'weather');
          const q2 = await client.responses.create({ model: 'claude-sonnet-4-5', tools, text, input: [
            { role: 'user', content: input }, ...q1.output.map(({ id, status, ...item }) => item),
            { type: 'function_call_output', call_id: call.call_id, output: '3 degrees' }] });
          value = q2.output_text;
        }
        assert.deepEqual(JSON.parse(value), { city: 'Oslo', temp: 3 });
        if (parking)
          assert.equal(posts().length - n0, 2, 'nothing replayed');
        await waitFor(() => childrenOf(proxy.pid).length <= Number(pool), 30000, 'no run left behind');
      });

      test(`all three, ${stream ? 'streaming' : 'non-streaming'}: registry tool, client tool, then the value`, async () => {
        await warm();
        const { client } = await sdkClient(proxy, { timeout: 90000 });
        mock.setScript({ queue: [REG_THEN_CLIENT.queue[0], REG_THEN_CLIENT.queue[1], CLIENT_THEN_SO.queue[1]],
          default: { content: [{ type: 'text', text: 'unexpected extra call' }] } });
        const n0 = posts().length;
        const first = [{ role: 'user', content: 'Weather where alpha is, as JSON.' }];
        const base = { model: 'claude-sonnet-4-5', max_tokens: 256, tools: TOOLS, metadata: { mcp_servers: ['reg'] },
          ...SO_FORMAT };
        const m = await finish(client, stream, { ...base, messages: first });
        assert.equal(m.stop_reason, 'tool_use', JSON.stringify(m));
        assert.deepEqual(m.content.filter((b) => b.type === 'tool_use').map((b) => b.id), ['toolu_cmb_cli']);
        const names = posts()[n0].body.tools.map((t) => t.name);
        for (const n of ['mcp__reg__lookup', 'mcp__cp__weather', 'StructuredOutput'])
          assert.ok(names.includes(n), `${n} offered: ${names.join(' ')}`);
        const f = await finish(client, stream, { ...base, messages: [...first, { role: 'assistant', content: m.content },
          { role: 'user', content: [{ type: 'tool_result', tool_use_id: 'toolu_cmb_cli', content: 'sunny, 21' }] }] });
        assert.equal(f.stop_reason, 'end_turn', JSON.stringify(f));
        assert.deepEqual(f.content, [{ type: 'text', text: '{"city":"Oslo","temp":3}' }]);
        if (parking)
          assert.equal(posts().length - n0, 3, 'nothing replayed');
        await waitFor(() => childrenOf(proxy.pid).length <= Number(pool), 30000, 'no run left behind');
      });

      test(`client tool then structured output, ${stream ? 'streaming' : 'non-streaming'}`, async () => {
        await warm();
        const { client } = await sdkClient(proxy, { timeout: 90000 });
        mock.setScript(CLIENT_THEN_SO);
        const n0 = posts().length;
        const first = [{ role: 'user', content: 'Weather in Oslo as JSON.' }];
        const base = { model: 'claude-sonnet-4-5', max_tokens: 256, tools: TOOLS, ...SO_FORMAT };
        const m = await finish(client, stream, { ...base, messages: first });
        assert.equal(m.stop_reason, 'tool_use', JSON.stringify(m));
        assert.deepEqual(m.content.filter((b) => b.type === 'tool_use'),
          [{ type: 'tool_use', id: 'toolu_cmb_so1', name: 'weather', input: { city: 'Oslo' } }]);
        const names = posts()[n0].body.tools.map((t) => t.name);
        assert.ok(names.includes('StructuredOutput') && names.includes('mcp__cp__weather'), names.join(' '));
        if (parking) {
          await proxy.waitHealth((h) => h.parked === 1, 10000, 'the run to be parked');
          await parkedCounts(1);
        }

        const follow = [...first, { role: 'assistant', content: m.content },
          { role: 'user', content: [{ type: 'tool_result', tool_use_id: 'toolu_cmb_so1', content: '3 degrees' }] }];
        const f = await finish(client, stream, { ...base, messages: follow });
        assert.equal(f.stop_reason, 'end_turn', JSON.stringify(f));
        assert.deepEqual(f.content, [{ type: 'text', text: '{"city":"Oslo","temp":3}' }]);
        const last = posts().at(-1).body;
        assert.ok(last.tools.some((t) => t.name === 'StructuredOutput'), 'the follow-up kept the schema');
        assert.ok(blocksOf(last).some((b) => b.type === 'tool_result' && b.tool_use_id === 'toolu_cmb_so1'));
        if (parking) {
          assert.equal(posts().length - n0, 2, 'nothing replayed');
          await parkedCounts(0);
        }
        await waitFor(() => childrenOf(proxy.pid).length <= Number(pool), 30000, 'no run left behind');
      });
    }
  });

// Side queries (count_tokens, /v1/models) beside tool requests that run and then park, with two
// slots: a count while a request with tools runs answers (on a pooled process); with both slots
// held by parked runs it is a 529 at once (no wait, no parked run given up); the parked runs
// then continue, and no CLI nor registry server is left.
describe('side queries beside running and parked tool runs, real CLI, MAX_CONCURRENT=2', { concurrency: false }, () => {
  let mock, proxy, dir, logFile;
  const posts = () => mock.requests.filter((r) => r.method === 'POST' && r.path === '/v1/messages');
  // This file's registry servers still running (their --log path is unique to this run).
  const servers = () => fs.readdirSync('/proc').filter((p) => /^\d+$/.test(p)).filter((p) => {
    try {
      return fs.readFileSync(`/proc/${p}/cmdline`, 'latin1').includes(logFile);
    } catch {
      return false;
    }
  });

  before(async () => {
    dir = tmpdir('cp-combined-side-');
    logFile = path.join(dir, 'server.log');
    fs.writeFileSync(path.join(dir, 'mcp.json'), JSON.stringify({ mcpServers: {
      reg: { command: process.execPath, args: [SERVER, '--log', logFile], env: { REG_SECRET: SECRET } } } }));
    mock = await startMock();
    proxy = await startProxy({
      claudePath: REAL_CLI,
      env: {
        ANTHROPIC_BASE_URL: mock.url, ANTHROPIC_API_KEY: 'sk-test-real-cli',
        CHILD_ENV: 'ANTHROPIC_BASE_URL ANTHROPIC_API_KEY', CLI_MAX_RETRIES: '0', REQUEST_TIMEOUT_MS: '90000',
        KILL_GRACE_MS: '500', PROXY_MCP_CONFIG: path.join(dir, 'mcp.json'), WARM_POOL: '1', TOOL_PARK_MS: '60000',
        MAX_CONCURRENT: '2',
      },
    });
  });
  after(async () => {
    await proxy?.stop();
    await mock?.close();
    if (dir) fs.rmSync(dir, { recursive: true, force: true });
  });

  test('counts and listings answer or 529; parked runs continue; nothing is left', async () => {
    const health = async () => (await getJson(`${proxy.url}/health`)).json;
    const poolReady = () => waitFor(async () => (await health()).pool.ready >= 1, 60000, 'a pooled CLI ready');
    const count = (t) => postJson(`${proxy.url}/v1/messages/count_tokens`,
      { model: 'claude-sonnet-4-5', messages: [{ role: 'user', content: t }] });
    const { client } = await sdkClient(proxy, { timeout: 90000 });
    const base = { model: 'claude-sonnet-4-5', max_tokens: 256, tools: TOOLS, metadata: { mcp_servers: ['reg'] } };
    mock.setScript({
      queue: [
        { delay_ms: 4000, content: [{ type: 'tool_use', id: 'toolu_side_A', name: 'mcp__cp__weather', input: { city: 'Rome' } }] },
        { content: [{ type: 'tool_use', id: 'toolu_side_B', name: 'mcp__cp__weather', input: { city: 'Lima' } }] },
      ],
      default: { echo_tool_result: 'Results: ' },
    });
    await poolReady();

    // A runs (its model call held 4 s by the mock); a count beside it.
    const firstA = [{ role: 'user', content: 'Weather in Rome?' }];
    const pendingA = client.messages.create({ ...base, messages: firstA });
    await waitFor(() => posts().length >= 1, 60000, 'A to reach upstream');
    await poolReady();
    const c1 = await count('Count me while A runs.');
    assert.equal(c1.status, 200, c1.text);
    assert.ok(c1.json.input_tokens > 0, c1.text);
    const a = await pendingA;
    assert.equal(a.stop_reason, 'tool_use');
    await waitFor(async () => (await health()).parked === 1, 20000, 'A parked');

    // One run parked, a pooled process beside it: the first listing asks the CLI.
    await poolReady();
    const models = await getJson(`${proxy.url}/v1/models`);
    assert.equal(models.status, 200, models.text);

    // B parks too: both slots parked; the count is refused at once, the listing still answers.
    await poolReady();
    const firstB = [{ role: 'user', content: 'Weather in Lima?' }];
    const b = await client.messages.create({ ...base, messages: firstB });
    assert.equal(b.stop_reason, 'tool_use');
    await waitFor(async () => (await health()).parked === 2, 20000, 'B parked');
    const t0 = Date.now();
    const c2 = await count('Count me with every slot parked.');
    assert.equal(c2.status, 529, c2.text);
    assert.ok(Date.now() - t0 < 5000, `the 529 took ${Date.now() - t0} ms`);
    const again = await getJson(`${proxy.url}/v1/models`);
    assert.equal(again.status, 200, again.text);
    assert.equal((await health()).parked, 2, 'a side query gave up a parked run');

    // Both continue their own processes: each follow-up is one upstream call.
    const n0 = posts().length;
    for (const [first, m, id, want] of [[firstA, a, 'toolu_side_A', 'sunny'], [firstB, b, 'toolu_side_B', 'rainy']]) {
      const f = await client.messages.create({ ...base, messages: [...first, { role: 'assistant', content: m.content },
        { role: 'user', content: [{ type: 'tool_result', tool_use_id: id, content: want }] }] });
      assert.equal(f.stop_reason, 'end_turn');
      assert.match(textOf(f.content), new RegExp(want));
    }
    assert.equal(posts().length - n0, 2, 'nothing replayed');
    // A slot comes back when its CLI is reaped, a moment after the answer; a count never
    // queues, so it is asked once they are gone.
    await waitFor(() => childrenOf(proxy.pid).length <= 1, 30000, 'only the pooled CLI left');
    const c3 = await count('Count me after.');
    assert.equal(c3.status, 200, c3.text);
    await waitFor(() => servers().length === 0, 30000, 'the registry servers to go with their CLIs');
    const h = await health();
    assert.equal(h.parked, 0);
    assert.equal(h.queued, 0);
    await waitFor(async () => (await health()).requests_in_flight === 0, 20000, 'no slot still counted busy');
  });
});
