// SPDX-License-Identifier: MIT
//
// A real agent as the proxy's client: Claude Code itself (`claude -p`, the CLI in tests/node),
// pointed at the proxy with ANTHROPIC_BASE_URL, with its own HOME and CLAUDE_CONFIG_DIR so it
// uses none of the proxy's settings. The proxy's own CLI is the same real CLI, pointed at the
// scripted mock (tests/mock). Between the client and the proxy sits a tap that forwards every
// request and keeps a copy, so a case can say what Claude Code sent and that it was accepted.
//
// One test() per case: script the mock, run the client, look at its result and at the tap.

import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import fs from 'node:fs';
import http from 'node:http';
import path from 'node:path';
import { after, before, describe, test } from 'node:test';

import {
  REAL_CLI, realCliEnv, WARM_POOL, childrenOf, loadMock, missing, requireOrSkip, sleep, startMock, startProxy, tmpdir, waitFor,
} from './lib/harness.mjs';

const mockMod = await loadMock();
requireOrSkip(missing({ fake: false, realCli: true }) || (!mockMod && 'tests/mock/anthropic-mock.mjs missing'));

// A recording pass-through: what the client sent (method, path, headers, parsed body, status).
async function startTap(target) {
  const seen = [];
  const hop = new Set(['host', 'connection', 'content-length', 'transfer-encoding', 'keep-alive']);
  const server = http.createServer(async (req, res) => {
    const chunks = [];
    for await (const c of req) chunks.push(c);
    const raw = Buffer.concat(chunks);
    const entry = { method: req.method, path: req.url, headers: req.headers, body: null, status: null };
    try { entry.body = raw.length ? JSON.parse(raw.toString('utf8')) : null; } catch { entry.body = raw.toString('utf8'); }
    seen.push(entry);
    try {
      const headers = Object.fromEntries(Object.entries(req.headers).filter(([k]) => !hop.has(k)));
      const up = await fetch(`${target}${req.url}`, { method: req.method, headers,
        body: raw.length ? raw : undefined });
      entry.status = up.status;
      res.writeHead(up.status, Object.fromEntries([...up.headers].filter(([k]) => !hop.has(k))));
      if (up.body) for await (const c of up.body) res.write(c);
      res.end();
    } catch (e) {
      entry.status = 599;
      res.destroy(e);
    }
  });
  await new Promise((resolve) => server.listen(0, '127.0.0.1', resolve));
  return {
    url: `http://127.0.0.1:${server.address().port}`,
    seen,
    messages: () => seen.filter((e) => e.method === 'POST' && /^\/v1\/messages(\?|$)/.test(e.path)),
    close: () => new Promise((resolve) => { server.closeAllConnections?.(); server.close(resolve); }),
  };
}

// Run `claude -p ...` as the client; resolves with {code, stdout, stderr, json} (json: the
// parsed --output-format json result, when it printed one).
function runClient(baseUrl, args, { timeoutMs = 120000 } = {}) {
  const home = tmpdir('cp-cc-client-');
  const env = {
    PATH: process.env.PATH,
    HOME: home,
    CLAUDE_CONFIG_DIR: path.join(home, '.claude'),
    ANTHROPIC_BASE_URL: baseUrl,
    ANTHROPIC_API_KEY: 'sk-client-of-the-proxy',
    CLAUDE_CODE_DISABLE_NONESSENTIAL_TRAFFIC: '1',
    CLAUDE_CODE_MAX_RETRIES: '0',
  };
  return new Promise((resolve, reject) => {
    const child = spawn(REAL_CLI, ['-p', ...args], { env, cwd: home, stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '', stderr = '';
    child.stdout.setEncoding('utf8').on('data', (d) => { stdout += d; });
    child.stderr.setEncoding('utf8').on('data', (d) => { stderr += d; });
    const t = setTimeout(() => child.kill('SIGKILL'), timeoutMs);
    child.on('error', reject);
    child.on('exit', (code, signal) => {
      clearTimeout(t);
      fs.rmSync(home, { recursive: true, force: true });
      let json = null;
      try { json = JSON.parse(stdout); } catch { /* not json output */ }
      resolve({ code, signal, stdout, stderr, json });
    });
  });
}

describe('Claude Code as a client of the proxy', { concurrency: false }, () => {
  let mock, proxy, tap;

  before(async () => {
    mock = await startMock();
    proxy = await startProxy({
      claudePath: REAL_CLI,
      env: realCliEnv(mock.url),
    });
    tap = await startTap(proxy.url);
  });
  after(async () => {
    await tap?.close();
    await proxy?.stop();
    await mock?.close();
  });

  test('a plain prompt answers', async () => {
    mock.setScript({ default: { content: [{ type: 'text', text: 'Hello through the proxy.' }] } });
    const n0 = tap.messages().length;
    const r = await runClient(tap.url, ['Say hi', '--output-format', 'json']);
    const sent = tap.messages().slice(n0);
    assert.equal(r.code, 0, `claude -p failed: ${r.stdout}\n${r.stderr}\nproxy answered: ${
      JSON.stringify(sent.map((e) => e.status))}\n${proxy.stderrText.slice(-3000)}`);
    assert.equal(r.json?.is_error, false, r.stdout);
    assert.equal(r.json?.result, 'Hello through the proxy.');
    assert.ok(sent.length >= 1 && sent.every((e) => e.status === 200), JSON.stringify(sent.map((e) => e.status)));
  });

  // What Claude Code 2.1.197 sends with a prompt, all of which the proxy took (the case above):
  // the proof that each of these is accepted, not just that some request was.
  test('what it sends is accepted: system messages, adaptive thinking, context_management, effort, ...', async () => {
    const sent = tap.messages().find((e) => e.status === 200 && e.body?.stream === true);
    assert.ok(sent, `a streamed request reached the proxy: ${JSON.stringify(tap.seen.map((e) => [e.method, e.path, e.status]))}`);
    const b = sent.body;
    assert.match(sent.headers['anthropic-beta'] ?? '', /mid-conversation-system-2026-04-07/);
    assert.ok(b.messages.some((m) => m.role === 'system'), 'a mid-conversation system message');
    assert.deepEqual(b.thinking, { type: 'adaptive' });
    assert.ok(b.context_management, 'context_management');
    assert.equal(typeof b.output_config?.effort, 'string');
    assert.equal(typeof b.metadata?.user_id, 'string');
    assert.ok(Array.isArray(b.system) && b.system.some((s) => s.cache_control), 'system blocks with cache_control');
    assert.ok(b.tools.length >= 20 && b.tools.some((t) => t.name === 'Bash'), `its tools: ${b.tools.map((t) => t.name)}`);

    // The system message's text reached upstream, as a <system-reminder> in the user turn.
    const sys = b.messages.find((m) => m.role === 'system');
    const sysText = typeof sys.content === 'string' ? sys.content : sys.content.map((c) => c.text).join('');
    const needle = sysText.split('\n')[0];
    const upstream = mock.requests.filter((q) => q.method === 'POST' && /\/v1\/messages$/.test(q.path)).at(-1);
    const upText = JSON.stringify(upstream.body.messages);
    assert.ok(upText.includes('<system-reminder>') && upText.includes(JSON.stringify(needle).slice(1, -1)),
      `the system text upstream: ${needle}`);
  });

  // The Bash round trip: the mock (the model) calls mcp__cp__Bash, the proxy hands Claude Code a
  // tool_use named Bash, Claude Code runs the command itself and sends the tool_result, whose
  // text the mock's next answer repeats. The marker is random, so only a command that really
  // ran can have produced it; each of the client's requests is one upstream call (the tool turn
  // ends with interrupt, not with the CLI calling the model again).
  test('its Bash tool round-trips: the client runs the command, the result goes upstream', async () => {
    const mark = `CP_MARK_${process.pid}_${Math.floor(Math.random() * 1e9)}`;
    mock.setScript({
      queue: [{ content: [
        { type: 'text', text: 'Running it.' },
        { type: 'tool_use', id: 'toolu_cc_bash_1', name: 'mcp__cp__Bash',
          input: { command: `echo ${mark}`, description: 'Print the marker' } }] }],
      default: { echo_tool_result: 'The command printed: ' },
    });
    const n0 = tap.messages().length;
    const m0 = mock.requests.length;
    // --allowedTools Bash: a -p run asks nobody, so a command outside its read-only list would
    // be refused without it (echo is on that list; the grant keeps the case about the proxy).
    const r = await runClient(tap.url, ['Run the marker command', '--output-format', 'json',
      '--allowedTools', 'Bash']);
    // Every CLI of these requests has ended (the pooled one stays) before the count below, so a
    // late second model call of an interrupted run would be seen.
    await waitFor(() => childrenOf(proxy.pid).length <= Number(WARM_POOL), 30000, 'the runs\' CLIs to end');
    await sleep(300);
    const sent = tap.messages().slice(n0);
    const upstream = mock.requests.slice(m0).filter((q) => q.method === 'POST' && /^\/v1\/messages$/.test(q.path));
    const trail = `stdout: ${r.stdout}\nstderr: ${r.stderr}\nproxy answered: ${
      JSON.stringify(sent.map((e) => e.status))}\n${proxy.stderrText.slice(-3000)}`;
    assert.equal(r.code, 0, `claude -p failed: ${trail}`);
    assert.equal(r.json?.is_error, false, trail);

    // The model's call reached the client as its own Bash tool, and the client answered it.
    const followUp = sent.find((e) => JSON.stringify(e.body?.messages ?? []).includes('toolu_cc_bash_1'));
    assert.ok(followUp, `a follow-up carrying the tool_result: ${trail}`);
    const blocks = followUp.body.messages.flatMap((x) => Array.isArray(x.content) ? x.content : []);
    assert.ok(blocks.some((b) => b.type === 'tool_use' && b.id === 'toolu_cc_bash_1' && b.name === 'Bash'),
      JSON.stringify(followUp.body.messages.slice(-2)));
    const result = blocks.find((b) => b.type === 'tool_result' && b.tool_use_id === 'toolu_cc_bash_1');
    assert.ok(result && !result.is_error, JSON.stringify(result));

    // The command's output reached upstream in a real tool_result block, and the final answer
    // (the mock repeating it) is what Claude Code printed.
    const upBlocks = upstream.at(-1).body.messages.flatMap((x) => Array.isArray(x.content) ? x.content : []);
    const upResult = upBlocks.find((b) => b.type === 'tool_result' && b.tool_use_id === 'toolu_cc_bash_1');
    assert.ok(upResult && JSON.stringify(upResult.content).includes(mark), JSON.stringify(upBlocks));
    assert.match(r.json.result, new RegExp(`^The command printed: .*${mark}`));

    // One upstream call per proxy request.
    assert.ok(sent.length >= 2 && sent.every((e) => e.status === 200), JSON.stringify(sent.map((e) => e.status)));
    assert.equal(upstream.length, sent.length,
      `upstream calls ${upstream.length} for ${sent.length} client requests`);
  });
  // With parking on (TOOL_PARK_MS), the run that made the Bash call waits for its result instead
  // of ending, and Claude Code's follow-up continues it: one CLI for both turns. Claude Code
  // re-sends its history with cache_control moved and reminders added; the follow-up still has
  // to be recognised as the same conversation.
  test('with parking on, its Bash follow-up continues the parked run', async () => {
    const parked = await startProxy({
      claudePath: REAL_CLI,
      env: realCliEnv(mock.url, { TOOL_PARK_MS: '30000', LOG_LEVEL: 'debug' }),
    });
    try {
      const mark = `CP_PARK_${process.pid}_${Math.floor(Math.random() * 1e9)}`;
      mock.setScript({
        queue: [{ content: [{ type: 'tool_use', id: 'toolu_cc_park_1', name: 'mcp__cp__Bash',
          input: { command: `echo ${mark}`, description: 'Print the marker' } }] }],
        default: { echo_tool_result: 'Parked and resumed: ' },
      });
      const r = await runClient(parked.url, ['Run the marker command', '--output-format', 'json',
        '--allowedTools', 'Bash']);
      const trail = `stdout: ${r.stdout}\nstderr: ${r.stderr}\n${parked.stderrText.slice(-4000)}`;
      assert.equal(r.code, 0, trail);
      assert.match(r.json?.result ?? '', new RegExp(`^Parked and resumed: .*${mark}`), trail);
      assert.match(parked.stderrText, /CLI parked on 1 tool call/, trail);
      assert.match(parked.stderrText, /parked CLI adopted, its tool calls answered/, trail);
    } finally {
      await parked.stop();
    }
  });
});
