// SPDX-License-Identifier: MIT
//
// Registry MCP servers (PROXY_MCP_CONFIG) run by the REAL Claude Code CLI against the scripted
// mock: the model (the mock) calls mcp__reg__lookup, the CLI runs tests/mcp/registry-server.mjs
// and calls the tool itself, the mock's next answer echoes the tool's result. The client gets
// only that final answer — no tool_use, on every surface, streaming or not — and the server's
// secret (its registry `env`) appears in the tool's answer but never in the CLI's environment or
// command line (/proc), nor in the proxy's log. Without activation the server is not started.
// Twice: cold (WARM_POOL=0: --mcp-config on a memfd) and on pooled processes (WARM_POOL=1: the
// servers given late with mcp_set_servers; the first request waits for a ready pooled process).

import assert from 'node:assert/strict';
import { createRequire } from 'node:module';
import fs from 'node:fs';
import path from 'node:path';
import { after, before, describe, test } from 'node:test';

import {
  NODE_DIR, REAL_CLI, SOURCE_ROOT, assertSseGrammar, realCliEnv, getJson, messageBody, missing, parseSse, postJson, requireOrSkip,
  sdkClient, startMock, startProxy, tmpdir, waitFor,
} from './lib/harness.mjs';

requireOrSkip(missing({ fake: false, realCli: true, sdk: true }));

const SERVER = path.join(SOURCE_ROOT, 'tests', 'mcp', 'registry-server.mjs');
const SECRET = `reg-secret-${process.pid}-9c41`;
const ANSWER = `The tool said: value-of-alpha:${SECRET}`;

// The model's two turns: call the registry tool, then (after the CLI ran it) say what it returned.
// The second answer waits a little, so the CLI is certainly alive while /proc is read.
const SCRIPT = {
  queue: [
    { content: [{ type: 'text', text: 'Let me look.' },
      { type: 'tool_use', id: 'toolu_reg_1', name: 'mcp__reg__lookup', input: { key: 'alpha' } }] },
    { echo_tool_result: 'The tool said: ', delay_ms: 800 },
  ],
  default: { content: [{ type: 'text', text: 'unexpected extra call' }] },
};

function serverLog(file) {
  try {
    return fs.readFileSync(file, 'utf8').split('\n').filter(Boolean).map((l) => JSON.parse(l));
  } catch {
    return [];
  }
}

function readProc(pid, what) {
  try {
    return fs.readFileSync(`/proc/${pid}/${what}`).toString('latin1');
  } catch {
    return null;
  }
}

for (const mode of ['cold', 'warm']) describe(`registry MCP servers under the real CLI, ${mode}`, { concurrency: false }, () => {
  let mock, proxy, dir, logFile;
  const starts = () => serverLog(logFile).filter((l) => l.event === 'start');

  before(async () => {
    dir = tmpdir('cp-mcp-real-');
    logFile = path.join(dir, 'server.log');
    fs.writeFileSync(path.join(dir, 'mcp.json'), JSON.stringify({ mcpServers: {
      reg: { command: process.execPath, args: [SERVER, '--log', logFile], env: { REG_SECRET: SECRET } },
    } }));
    mock = await startMock();
    proxy = await startProxy({
      claudePath: REAL_CLI,
      env: realCliEnv(mock.url, {
        PROXY_MCP_CONFIG: path.join(dir, 'mcp.json'),
        WARM_POOL: mode === 'warm' ? '1' : '0',
      }),
    });
  });
  after(async () => {
    await proxy?.stop();
    await mock?.close();
    if (dir) fs.rmSync(dir, { recursive: true, force: true });
  });

  const upstreamCalls = () => mock.requests.filter((r) => r.method === 'POST' && r.path === '/v1/messages');

  test('Messages, non-streaming: the CLI runs the tool; only the answer comes back; the secret stays out', async () => {
    mock.setScript(SCRIPT);
    const pool = async () => (await getJson(`${proxy.url}/health`)).json.pool;
    if (mode === 'warm')
      await waitFor(async () => (await pool()).ready === 1, 60000, 'a pooled CLI ready');
    const hits0 = (await pool()).hits;
    const n0 = upstreamCalls().length, s0 = starts().length;
    const pending = postJson(`${proxy.url}/v1/messages`,
      messageBody('Look up alpha', { metadata: { mcp_servers: ['reg'] } }));

    // While the run is on: the server runs as the CLI's child; read both from /proc.
    await waitFor(() => starts().length > s0, 30000, 'the registry server to start');
    const start = starts().at(-1);
    const cli = start.ppid;
    const cliEnv = readProc(cli, 'environ'), cliCmd = readProc(cli, 'cmdline');
    const srvEnv = readProc(start.pid, 'environ');
    assert.ok(cliEnv !== null && cliCmd !== null, 'the CLI was still there to look at');
    assert.ok(!cliEnv.includes(SECRET), 'the secret is in the CLI\'s environment');
    assert.ok(!cliCmd.includes(SECRET), 'the secret is in the CLI\'s command line');
    if (mode === 'cold') {
      assert.match(cliCmd, /--mcp-config\0\/dev\/fd\/3\0/, 'the config by path');
      assert.match(cliCmd, /--allowedTools\0mcp__reg\0/);
    } else {
      assert.doesNotMatch(cliCmd, /--mcp-config/, 'a pooled process was spawned without MCP servers');
    }
    // The check can fail: the server's own environment does hold it.
    assert.ok(srvEnv?.includes(`REG_SECRET=${SECRET}`), 'the server was given its env');
    // The server holds no copy of the config file (another server's env would be in it).
    assert.ok(!start.fds.some((f) => /claude-proxy/.test(f)), `server fds: ${start.fds.join(' ')}`);

    const r = await pending;
    assert.equal(r.status, 200, r.text);
    assert.deepEqual(r.json.content, [{ type: 'text', text: 'Let me look.' }, { type: 'text', text: ANSWER }]);
    assert.equal(r.json.stop_reason, 'end_turn');
    assert.equal(upstreamCalls().length - n0, 2, 'one call for the tool_use, one after the tool ran');
    const second = upstreamCalls().at(-1).body;
    const result = second.messages.at(-1).content.find((b) => b.type === 'tool_result');
    assert.equal(result.tool_use_id, 'toolu_reg_1');
    assert.ok(!result.is_error, JSON.stringify(result));
    assert.ok(serverLog(logFile).some((l) => l.event === 'rpc' && l.method === 'tools/call'), 'tools/call reached the server');
    assert.ok(second.tools.some((t) => t.name === 'mcp__reg__lookup'), 'the tool was offered upstream');
    assert.ok(!proxy.stderrText.includes(SECRET), 'the secret is in the proxy\'s log');
    assert.equal((await pool()).hits, hits0 + (mode === 'warm' ? 1 : 0), 'adopted a pooled process (warm only)');
  });

  test('Messages, streaming via the SDK with x-mcp-servers: no tool_use event, the answer streams', async () => {
    mock.setScript(SCRIPT);
    const { client } = await sdkClient(proxy);
    const s = client.messages.stream(messageBody('Look up alpha'), { headers: { 'x-mcp-servers': 'reg' } });
    const m = await s.finalMessage();
    assert.deepEqual(m.content.map((b) => b.type), ['text', 'text']);
    assert.equal(m.content[1].text, ANSWER);
    assert.equal(m.stop_reason, 'end_turn');

    mock.setScript(SCRIPT);
    const res = await fetch(`${proxy.url}/v1/messages`, { method: 'POST',
      headers: { 'content-type': 'application/json', 'x-mcp-servers': 'reg' },
      body: JSON.stringify(messageBody('Look up alpha', { stream: true })) });
    const events = assertSseGrammar(parseSse(await res.text()));
    assert.ok(!events.some((e) => e.data?.content_block?.type === 'tool_use'), 'a tool_use block reached the client');
    assert.ok(!events.some((e) => e.data?.delta?.type === 'input_json_delta'));
    const text = events.filter((e) => e.data?.delta?.type === 'text_delta').map((e) => e.data.delta.text).join('');
    assert.equal(text, `Let me look.${ANSWER}`);
    assert.equal(events.find((e) => e.event === 'message_delta').data.delta.stop_reason, 'end_turn');
    assert.ok(!proxy.stderrText.includes(SECRET));
  });

  test('Chat Completions via the openai client, streaming and not: no tool_calls', async () => {
    const mod = await import(createRequire(path.join(NODE_DIR, 'package.json')).resolve('openai'));
    const OpenAI = mod.default ?? mod.OpenAI;
    const client = new OpenAI({ baseURL: `${proxy.url}/v1`, apiKey: 'x', maxRetries: 0,
      defaultHeaders: { 'x-mcp-servers': 'reg' } });
    const body = { model: 'claude-sonnet-4-5', messages: [{ role: 'user', content: 'Look up alpha' }] };

    mock.setScript(SCRIPT);
    const c = await client.chat.completions.create(body);
    assert.equal(c.choices[0].finish_reason, 'stop');
    assert.equal(c.choices[0].message.tool_calls, undefined);
    assert.match(c.choices[0].message.content, new RegExp(`${ANSWER}$`));

    mock.setScript(SCRIPT);
    const stream = await client.chat.completions.create({ ...body, stream: true });
    let text = '', finish = null, calls = 0;
    for await (const chunk of stream)
      for (const ch of chunk.choices) {
        text += ch.delta.content ?? '';
        calls += ch.delta.tool_calls?.length ?? 0;
        finish = ch.finish_reason ?? finish;
      }
    assert.equal(calls, 0);
    assert.equal(finish, 'stop');
    assert.match(text, new RegExp(`${ANSWER}$`));
  });

  test('Responses: the answer, no function_call item', async () => {
    mock.setScript(SCRIPT);
    const r = await postJson(`${proxy.url}/v1/responses`, { model: 'claude-sonnet-4-5', input: 'Look up alpha' },
      { 'x-mcp-servers': 'reg' });
    assert.equal(r.status, 200, r.text);
    assert.ok(!r.json.output.some((o) => o.type === 'function_call'), JSON.stringify(r.json.output));
    assert.match(JSON.stringify(r.json.output), new RegExp(ANSWER));
  });

  test('without activation the server is not started and its tool not offered', async () => {
    mock.setScript({ default: { content: [{ type: 'text', text: 'No tools here.' }] } });
    const s0 = starts().length;
    const r = await postJson(`${proxy.url}/v1/messages`, messageBody('Plain question'));
    assert.equal(r.status, 200, r.text);
    assert.equal(r.json.content[0].text, 'No tools here.');
    const up = upstreamCalls().at(-1).body;
    assert.ok(!(up.tools ?? []).some((t) => /^mcp__/.test(t.name)), JSON.stringify(up.tools));
    assert.equal(starts().length, s0, 'the registry server started');
  });

  test('an unknown name: 400, no CLI run', async () => {
    const n0 = upstreamCalls().length;
    const r = await postJson(`${proxy.url}/v1/messages`, messageBody('x', { metadata: { mcp_servers: ['nope'] } }));
    assert.equal(r.status, 400, r.text);
    assert.match(r.json.error.message, /Unknown MCP server: "nope"\. Available: reg/);
    assert.equal(upstreamCalls().length, n0);
  });
});
