// SPDX-License-Identifier: MIT
//
// The proxy driving the REAL Claude Code CLI (tests/node/node_modules/.bin/claude), pointed
// at the scripted Anthropic mock (tests/mock/anthropic-mock.mjs). Slow (a cold CLI start is
// ~350 ms and ~300 MB), so one proxy serves every test here and they run one after another.

import assert from 'node:assert/strict';
import { createRequire } from 'node:module';
import path from 'node:path';
import { after, before, describe, test } from 'node:test';

import {
  NODE_DIR, REAL_CLI, assertErrorEnvelope, realCliEnv, assertSseGrammar, childrenOf, getJson, groupEmpty, loadMock, messageBody,
  missing, parseSse, postJson, reap, requireOrSkip, sdkClient, sseText, startMock, startProxy, waitFor,
} from './lib/harness.mjs';

const mockMod = await loadMock();
requireOrSkip(missing({ fake: false, realCli: true, sdk: true }) || (!mockMod && 'tests/mock/anthropic-mock.mjs missing'));

// 1x1 PNG.
const PNG = 'iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mP8z8BQDwAEhQGAhKmMIQAAAABJRU5ErkJggg==';

describe('real CLI against the mock API', { concurrency: false }, () => {
  let mock, proxy;
  const url = () => `${proxy.url}/v1/messages`;
  const lastUpstream = () => mock.requests.filter((r) => r.method === 'POST' && /\/v1\/messages/.test(r.path)
    && !/count_tokens/.test(r.path)).at(-1);

  before(async () => {
    mock = await startMock();
    proxy = await startProxy({
      claudePath: REAL_CLI,
      env: realCliEnv(mock.url, { REQUEST_TIMEOUT_MS: '20000' }),
    });
  });
  after(async () => {
    await proxy?.stop();
    await mock?.close();
  });

  test('text, non-streaming', async () => {
    mock.setScript({ default: { content: [{ type: 'text', text: 'Real CLI says hi.' }] } });
    const r = await postJson(url(), messageBody('Say hi'));
    assert.equal(r.status, 200, r.text);
    assert.deepEqual(r.json.content, [{ type: 'text', text: 'Real CLI says hi.' }]);
    assert.equal(r.json.stop_reason, 'end_turn');
    const up = lastUpstream();
    assert.equal(up.headers['x-api-key'], 'sk-test-real-cli', 'CHILD_ENV passed the credential');
    assert.match(JSON.stringify(up.body.messages), /Say hi/);
  });

  test('streaming via the SDK', async () => {
    mock.setScript({ default: { content: [{ type: 'text', text: 'Streamed from the real CLI.' }], chunk: 5 } });
    const { client } = await sdkClient(proxy);
    const s = client.messages.stream(messageBody('Stream please'));
    let text = '';
    s.on('text', (t) => { text += t; });
    const m = await s.finalMessage();
    assert.equal(text, 'Streamed from the real CLI.');
    assert.equal(m.content[0].text, 'Streamed from the real CLI.');

    const res = await fetch(url(), { method: 'POST', headers: { 'content-type': 'application/json' },
      body: JSON.stringify(messageBody('Stream please', { stream: true })) });
    assert.equal(sseText(assertSseGrammar(parseSse(await res.text()))), 'Streamed from the real CLI.');
  });

  test('system prompt reaches upstream', async () => {
    mock.setScript({ default: { content: [{ type: 'text', text: 'ok' }] } });
    const r = await postJson(url(), messageBody('hi', { system: 'SYSTEM-MARKER-42: answer tersely.' }));
    assert.equal(r.status, 200, r.text);
    assert.match(JSON.stringify(lastUpstream().body), /SYSTEM-MARKER-42/);
  });

  test('multi-turn history arrives in order', async () => {
    mock.setScript({ default: { content: [{ type: 'text', text: 'You are Bob from Paris.' }] } });
    const r = await postJson(url(), {
      model: 'claude-sonnet-4-5', max_tokens: 100,
      messages: [
        { role: 'user', content: 'My name is Bob.' },
        { role: 'assistant', content: 'Nice to meet you, Bob.' },
        { role: 'user', content: 'I live in Paris.' },
        { role: 'assistant', content: 'Paris is lovely.' },
        { role: 'user', content: 'Who am I?' },
      ],
    });
    assert.equal(r.status, 200, r.text);
    assert.equal(r.json.content[0].text, 'You are Bob from Paris.');
    const msgs = lastUpstream().body.messages;
    assert.deepEqual(msgs.map((m) => m.role), ['user', 'assistant', 'user', 'assistant', 'user']);
    const flat = msgs.map((m) => JSON.stringify(m.content));
    assert.match(flat[0], /My name is Bob/);
    assert.match(flat[1], /Nice to meet you, Bob/);
    assert.match(flat[2], /I live in Paris/);
    assert.match(flat[3], /Paris is lovely/);
    assert.match(flat[4], /Who am I/);
  });

  test('an image reaches upstream', async () => {
    mock.setScript({ default: { content: [{ type: 'text', text: 'A pixel.' }] } });
    const r = await postJson(url(), messageBody([
      { type: 'image', source: { type: 'base64', media_type: 'image/png', data: PNG } },
      { type: 'text', text: 'What is this?' },
    ]));
    assert.equal(r.status, 200, r.text);
    const blocks = lastUpstream().body.messages.at(-1).content;
    assert.ok(blocks.some((b) => b.type === 'image' && b.source?.media_type === 'image/png'),
      JSON.stringify(blocks).slice(0, 500));
  });

  test('thinking', async () => {
    mock.setScript({ default: { content: [
      { type: 'thinking', thinking: 'Let me think.', signature: 'sig-abc' },
      { type: 'text', text: 'Thought about it.' },
    ] } });
    const r = await postJson(url(), messageBody('Think', { thinking: { type: 'enabled', budget_tokens: 2048 } }));
    assert.equal(r.status, 200, r.text);
    assert.deepEqual(r.json.content.map((b) => b.type), ['thinking', 'text']);
    assert.equal(r.json.content[0].thinking, 'Let me think.');
    assert.equal(r.json.content[1].text, 'Thought about it.');
    const off = await postJson(url(), messageBody('No thinking'));
    assert.deepEqual(off.json.content.map((b) => b.type), ['text']);
  });

  for (const [upstream, status, type, extra] of [
    [429, 429, 'rate_limit_error', {}],
    [401, 503, 'api_error', {}],
    [529, 529, 'overloaded_error', {}],
    [400, 400, 'invalid_request_error', {}],
    [404, 404, 'not_found_error', { error: { type: 'not_found_error', message: 'model: claude-nope' } }],
  ]) {
    test(`upstream ${upstream} -> ${status} ${type}`, async () => {
      mock.setScript({ default: { status: upstream, ...extra } });
      const r = await postJson(url(), messageBody('hi'));
      assert.equal(r.status, status, r.text);
      assertErrorEnvelope(r.json, type);
    });
  }

  // The OpenAI surface over the same CLI: the official openai client, streaming with usage,
  // reasoning_content, and tool-call history the CLI must accept as tool_use/tool_result blocks.
  test('chat completions via the openai client: streaming, reasoning, tool-call history', async () => {
    const mod = await import(createRequire(path.join(NODE_DIR, 'package.json')).resolve('openai'));
    const OpenAI = mod.default ?? mod.OpenAI;
    const client = new OpenAI({ baseURL: `${proxy.url}/v1`, apiKey: 'x', maxRetries: 0 });
    mock.setScript({ default: { content: [
      { type: 'thinking', thinking: 'Pondering.', signature: 'sig-oa' },
      { type: 'text', text: 'Chat from the real CLI.' },
    ], chunk: 4 } });
    const stream = await client.chat.completions.create({
      model: 'claude-sonnet-4', stream: true, stream_options: { include_usage: true }, reasoning_effort: 'low',
      messages: [
        { role: 'system', content: 'OA-SYSTEM-MARK' },
        { role: 'user', content: 'Weather?' },
        { role: 'assistant', content: null, tool_calls: [{ id: 'toolu_oa1', type: 'function',
          function: { name: 'get_weather', arguments: '{"city":"Paris"}' } }] },
        { role: 'tool', tool_call_id: 'toolu_oa1', content: 'sunny' },
        { role: 'user', content: 'So?' },
      ],
    });
    let text = '', reasoning = '', usage = null, finishes = 0;
    for await (const c of stream) {
      if (c.usage) usage = c.usage;
      for (const ch of c.choices) {
        text += ch.delta.content ?? '';
        reasoning += ch.delta.reasoning_content ?? '';
        if (ch.finish_reason) finishes++;
      }
    }
    assert.equal(text, 'Chat from the real CLI.');
    assert.equal(reasoning, 'Pondering.');
    assert.equal(finishes, 1);
    assert.ok(usage && usage.completion_tokens > 0, 'usage chunk');
    const body = lastUpstream().body;
    assert.match(JSON.stringify(body), /OA-SYSTEM-MARK/);
    const blocks = body.messages.flatMap((m) => Array.isArray(m.content) ? m.content : []);
    assert.ok(blocks.some((b) => b.type === 'tool_use' && b.id === 'toolu_oa1' && b.input.city === 'Paris'),
      `tool_use upstream: ${JSON.stringify(body.messages)}`);
    assert.ok(blocks.some((b) => b.type === 'tool_result' && b.tool_use_id === 'toolu_oa1'), 'tool_result upstream');

  });

  // Structured output (cli/README §13): the CLI offers its StructuredOutput tool with the
  // request's schema (sent in its initialize), the mock calls it after some prose, and the
  // client gets the value as its one text answer. Warm (the pool's model) and cold (another).
  const SO_SCHEMA = { type: 'object', properties: { name: { type: 'string' }, age: { type: 'integer' } },
    required: ['name', 'age'] };
  const soScript = () => ({
    queue: [{ content: [
      { type: 'text', text: 'Here is the person you asked for.' },
      { type: 'tool_use', id: 'toolu_so_real', name: 'StructuredOutput', input: { name: 'Ada', age: 36 } },
    ], chunk: 6 }],
    default: { content: [{ type: 'text', text: 'Done.' }] },
  });
  const soTools = (req) => (req?.body?.tools ?? []).filter((t) => t.name === 'StructuredOutput');

  test('structured output: the value as the answer (warm, non-streaming)', async () => {
    mock.setScript(soScript());
    const n0 = mock.requests.length;
    const r = await postJson(url(), messageBody('Give me a person',
      { output_config: { format: { type: 'json_schema', schema: SO_SCHEMA } } }));
    assert.equal(r.status, 200, r.text);
    assert.deepEqual(r.json.content, [{ type: 'text', text: '{"name":"Ada","age":36}' }]);
    assert.equal(r.json.stop_reason, 'end_turn');
    const first = mock.requests.slice(n0).find((q) => q.method === 'POST' && /\/v1\/messages$/.test(q.path));
    assert.equal(soTools(first).length, 1, 'the CLI offered its StructuredOutput tool');
    assert.deepEqual(soTools(first)[0].input_schema.properties, SO_SCHEMA.properties);
  });

  test('structured output: streaming (cold, openai client) and a run without the value', async () => {
    const mod = await import(createRequire(path.join(NODE_DIR, 'package.json')).resolve('openai'));
    const OpenAI = mod.default ?? mod.OpenAI;
    const client = new OpenAI({ baseURL: `${proxy.url}/v1`, apiKey: 'x', maxRetries: 0 });
    mock.setScript(soScript());
    const stream = await client.chat.completions.create({ model: 'claude-haiku-4-5', stream: true,
      messages: [{ role: 'user', content: 'A person, please' }],
      response_format: { type: 'json_schema', json_schema: { name: 'person', schema: SO_SCHEMA } } });
    let text = '';
    for await (const c of stream) text += c.choices[0]?.delta?.content ?? '';
    assert.equal(text, '{"name":"Ada","age":36}', 'only the value, not the prose around the call');

    // The model never calls the tool: after one nudge the CLI reports success with prose; the
    // client must get an error, not that prose.
    mock.setScript({ default: { content: [{ type: 'text', text: 'I will not use tools.' }] } });
    const r = await postJson(url(), messageBody('No tool',
      { output_config: { format: { type: 'json_schema', schema: SO_SCHEMA } } }));
    assert.equal(r.status, 502, r.text);
    assertErrorEnvelope(r.json, 'api_error');
  });

  test('count_tokens: the real CLI counts through upstream count_tokens, no model call, grows', async () => {
    const modelCalls = () => mock.requests.filter((r) => r.method === 'POST' && /\/v1\/messages/.test(r.path)
      && !/count_tokens/.test(r.path)).length;
    const counts = () => mock.requests.filter((r) => /count_tokens/.test(r.path)).length;
    const calls0 = modelCalls(), counts0 = counts();
    const ct = (text) => postJson(`${proxy.url}/v1/messages/count_tokens`,
      { model: 'claude-sonnet-4-5', messages: [{ role: 'user', content: text }] });
    const small = await ct('Count me.');
    assert.equal(small.status, 200, small.text);
    assert.equal(small.headers.get('x-proxy-token-count'), 'derived');
    assert.ok(small.json.input_tokens > 0, small.text);
    const big = await ct('Count me. ' + 'Many more words here. '.repeat(200));
    assert.equal(big.status, 200, big.text);
    // The mock counts body bytes / 4: ~4400 more bytes is ~1100 more tokens.
    assert.ok(big.json.input_tokens > small.json.input_tokens + 500, `${big.json.input_tokens} vs ${small.json.input_tokens}`);
    assert.ok(counts() > counts0, 'the CLI asked upstream count_tokens');
    assert.equal(modelCalls(), calls0, 'a model call was made to count');
  });

  test('GET /v1/models: the real CLI\'s own list', async () => {
    const r = await getJson(`${proxy.url}/v1/models`);
    assert.equal(r.status, 200, r.text);
    assert.equal(r.headers.get('x-proxy-models'), 'cli');
    assert.ok(r.json.data.some((m) => /^claude-/.test(m.id)), r.text);
    assert.ok(r.json.data.some((m) => m.id === 'sonnet'), r.text);
  });

  test('client disconnect: the CLI process group is gone', async () => {
    mock.setScript({ default: { hang: true } });
    const hung = () => mock.requests.filter((r) => r.status === 'hang').length;
    const n0 = hung();
    // With a warm pool the request adopts the idle pooled CLI (one there before it came), else
    // its CLI is a new child.
    await waitFor(() => proxy.onlyPoolLeft(), 10000, 'no CLI but the idle pool');
    const before = childrenOf(proxy.pid);
    const hits0 = (await getJson(`${proxy.url}/health`)).json.pool.hits;
    const ctl = new AbortController();
    const p = fetch(url(), { method: 'POST', headers: { 'content-type': 'application/json' },
      body: JSON.stringify(messageBody('hang', { stream: true })), signal: ctl.signal })
      .then((res) => res.text()).catch(() => null);
    // The CLI has called upstream and is waiting on it.
    await waitFor(() => hung() > n0, 15000, 'the CLI to call the mock');
    const adopted = (await getJson(`${proxy.url}/health`)).json.pool.hits > hits0;
    const cli = adopted ? before[0] : childrenOf(proxy.pid).find((c) => !before.includes(c));
    assert.ok(cli, 'a CLI child runs');
    try {
      ctl.abort();
      await p;
      // Polled with a generous bound: on a loaded machine this took 245 ms once; speed is
      // bench/'s business.
      await waitFor(() => groupEmpty(cli), 5000, 'the CLI process group to be empty');
    } finally {
      reap([cli]);
    }
  });

  test('request timeout -> 504 and no CLI left', async () => {
    mock.setScript({ default: { hang: true } });
    const t = await startProxy({
      claudePath: REAL_CLI,
      env: {
        ANTHROPIC_BASE_URL: mock.url, ANTHROPIC_API_KEY: 'sk-test-real-cli',
        CHILD_ENV: 'ANTHROPIC_BASE_URL ANTHROPIC_API_KEY', CLI_MAX_RETRIES: '0',
        REQUEST_TIMEOUT_MS: '2500', KILL_GRACE_MS: '300',
      },
    });
    try {
      const r = await postJson(`${t.url}/v1/messages`, messageBody('hi'));
      assert.equal(r.status, 504, r.text);
      assertErrorEnvelope(r.json, 'timeout_error');
      await waitFor(() => t.onlyPoolLeft(), 15000, 'no CLI children but the idle pool');
    } finally {
      await t.stop();
    }
  });
});
