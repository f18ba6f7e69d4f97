// SPDX-License-Identifier: MIT
/*
 * record.mjs — re-record tests/data/transcripts/ from the REAL Claude Code CLI.
 *
 * Prerequisite: `npm ci --prefix tests/node` (this script installs nothing). Usage:
 *   node tests/record/record.mjs             # all scenarios
 *   node tests/record/record.mjs text err_401 # some
 *   node tests/record/record.mjs --list
 * Env: CLAUDE_BIN overrides the CLI path, RECORD_JOBS the parallelism (default 4).
 *
 * Each scenario gets its own in-process mock (../mock/anthropic-mock.mjs), a fresh HOME and an
 * empty cwd, and runs the CLI with the proxy's flags. stdin is stream-json; lines are written in
 * sequence (a step may wait for N `result` lines first, as the history recipe of the CLI needs),
 * and stdin is closed once as many `result` lines arrived as user lines were written.
 * Output per scenario NAME:
 *   NAME.ndjson         the CLI's stdout, verbatim
 *   NAME.meta.json      {argv, env (values of HOME/base URL/PATH replaced by placeholders), stdin
 *                        lines with t_ms, exit_code, signal, stderr, mock_script, line_ms, duration_ms}
 *   NAME.upstream.json  every request the mock received
 */

import { spawn } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import net from 'node:net';
import { fileURLToPath } from 'node:url';
import { startMock } from '../mock/anthropic-mock.mjs';

const here = path.dirname(fileURLToPath(import.meta.url));
const root = path.resolve(here, '../..');
const out_dir = path.join(root, 'tests/data/transcripts');
const claude_bin = process.env.CLAUDE_BIN || path.join(root, 'tests/node/node_modules/.bin/claude');

/* A warm-pool process gets only this: nothing a request chooses (cli/README §16.4). */
const WARM_ARGV = ['-p', '--output-format', 'stream-json', '--verbose', '--include-partial-messages',
                   '--input-format', 'stream-json', '--tools', '', '--setting-sources', '',
                   '--strict-mcp-config', '--no-session-persistence'];
const BASE_ARGV = [...WARM_ARGV, '--model', 'sonnet'];

/* A 4x4 red PNG: small enough for a fixture, real enough for the CLI's image checks. */
const PNG_4X4 = 'iVBORw0KGgoAAAANSUhEUgAAAAQAAAAECAIAAAAmkwkpAAAAEElEQVR4nGP4z8AARwzEcQCukw/x0F8jngAAAABJRU5ErkJggg==';

const OAUTH_TOKEN = 'sk-ant-oat01-test-token';

const user = (content, extra = {}) => ({ type: 'user', message: { role: 'user', content },
                                         parent_tool_use_id: null, session_id: '', ...extra });
const assistant = (id, text) => ({ type: 'assistant', message: { id, type: 'message', role: 'assistant',
                                   content: [{ type: 'text', text }] }, parent_tool_use_id: null,
                                   session_id: '' });
const text_step = (text, extra = {}) => ({ content: [{ type: 'text', text }], ...extra });
const err = (status, type, message, headers = {}) => ({ default: { status, error: { type, message }, headers } });
/* A host->CLI control request; the recorder waits for its control_response before the next step. */
const control = (request_id, request) => ({ line: { type: 'control_request', request_id, request },
                                            wait_response: request_id });
/* The same without waiting: the host pipelines its configuration in front of the user line. */
const control_nowait = (request_id, request) => ({ line: { type: 'control_request', request_id, request } });
const SYSTEM_FILE_TEXT = 'SYSTEM PROMPT FROM THE REQUEST.\nSecond line.';
/*
 * Warm-pool scenarios: spawned with WARM_ARGV only (no --model, --effort, --thinking, system
 * prompt), idle for a while like a pooled process, then configured over the control channel.
 * Each has a cold counterpart (same setting as argv) so the two upstream requests can be compared.
 */
const WARM_IDLE_MS = 1500;
const warm = (steps, extra = {}) => ({ warm: true, idle_ms: WARM_IDLE_MS, flags: [],
                                       script: { default: text_step('Warm answer.') },
                                       steps: [...steps, { line: user('Say hello') }], ...extra });
const cold = (flags, extra = {}) => ({ warm: true, flags, script: { default: text_step('Cold answer.') },
                                       steps: [{ line: user('Say hello') }], ...extra });

/*
 * Scenario: {flags: extra argv, auth: "api_key"|"oauth"|"none", retries0: bool,
 * base_url: "closed" for a refused port, script, steps: [{line, wait_results?}]}.
 */
const SCENARIOS = {
        text: {
                flags: ['--thinking', 'disabled'],
                script: { default: text_step('Hello! I am a scripted mock reply, streamed in several small chunks.',
                                             { chunk: 12, usage: { input_tokens: 25, output_tokens: 17 } }) },
                steps: [{ line: user('Say hello') }],
        },
        thinking: {
                flags: ['--effort', 'high'],
                script: { default: { content: [
                        { type: 'thinking', thinking: 'The user wants a greeting. I will keep it short.',
                          signature: 'EqMBCkYIBxgCKkBmockSignatureBytes==' },
                        { type: 'text', text: 'Hello there!' }], chunk: 12,
                        usage: { input_tokens: 40, output_tokens: 30 } } },
                steps: [{ line: user('Say hello') }],
        },
        history: {
                flags: ['--thinking', 'disabled'],
                script: { default: text_step('Your name is Bob and you live in Paris.', { chunk: 16 }) },
                steps: [
                        { line: user('My name is Bob.', { shouldQuery: false }) },
                        { wait_results: 1, line: assistant('msg_hist_1', 'Nice to meet you, Bob.') },
                        { line: user([{ type: 'text', text: 'I live in Paris.' }], { shouldQuery: false }) },
                        { wait_results: 2, line: assistant('msg_hist_2', 'Paris is lovely.') },
                        { line: user('What is my name and city?') },
                ],
        },
        image: {
                flags: ['--thinking', 'disabled'],
                script: { default: text_step('A small red square.') },
                steps: [{ line: user([
                        { type: 'image', source: { type: 'base64', media_type: 'image/png', data: PNG_4X4 } },
                        { type: 'text', text: 'What is in this image?' }]) }],
        },
        multi_message: {
                flags: ['--thinking', 'disabled'],
                script: { default: text_step('The end.'), queue: [
                        text_step('This answer was cut off because', { stop_reason: 'max_tokens', chunk: 10,
                                  usage: { input_tokens: 30, output_tokens: 64000 } }),
                        text_step(' the limit was reached; here is the rest.', { chunk: 10,
                                  usage: { input_tokens: 60, output_tokens: 12 } })] },
                steps: [{ line: user('Write a long answer.') }],
        },
        rate_limit_warning: {
                flags: ['--thinking', 'disabled'], auth: 'oauth',
                script: { default: text_step('Hi.', { headers: {
                        'anthropic-ratelimit-unified-status': 'allowed_warning',
                        'anthropic-ratelimit-unified-reset': '1795529999',
                        'anthropic-ratelimit-unified-5h-status': 'allowed_warning',
                        'anthropic-ratelimit-unified-5h-utilization': '0.95',
                        'anthropic-ratelimit-unified-5h-reset': '1795529999',
                        'anthropic-ratelimit-unified-5h-surpassed-threshold': '0.9',
                        'anthropic-ratelimit-unified-representative-claim': 'five_hour' } }) },
                steps: [{ line: user('Say hi') }],
        },
        err_400: { retries0: true, script: err(400, 'invalid_request_error', 'messages.0: bad') },
        err_prompt_too_long: { retries0: true, script: err(400, 'invalid_request_error',
                                                           'prompt is too long: 250000 tokens > 200000 maximum') },
        err_401: { retries0: true, script: err(401, 'authentication_error', 'invalid x-api-key') },
        err_403: { retries0: true, script: err(403, 'permission_error',
                                               'Your API key does not have permission to use the specified resource.') },
        err_404_model: { retries0: true, script: err(404, 'not_found_error', 'model: claude-sonnet-5') },
        err_413: { retries0: true, script: err(413, 'request_too_large',
                                               'Request exceeds the maximum allowed number of bytes.') },
        err_429: { retries0: true, script: err(429, 'rate_limit_error',
                                               'Number of request tokens has exceeded your per-minute rate limit',
                                               { 'retry-after': '7', 'anthropic-ratelimit-requests-limit': '50',
                                                 'anthropic-ratelimit-requests-remaining': '0' }) },
        err_429_oauth_rejected: { retries0: true, auth: 'oauth', script: err(429, 'rate_limit_error',
                'Rate limited', {
                        'anthropic-ratelimit-unified-status': 'rejected',
                        'anthropic-ratelimit-unified-reset': '1795529999',
                        'anthropic-ratelimit-unified-5h-status': 'rejected',
                        'anthropic-ratelimit-unified-5h-utilization': '1.0',
                        'anthropic-ratelimit-unified-5h-reset': '1795529999',
                        'anthropic-ratelimit-unified-representative-claim': 'five_hour' }) },
        err_500: { retries0: true, script: err(500, 'api_error', 'Internal server error') },
        err_529: { retries0: true, script: err(529, 'overloaded_error', 'Overloaded') },
        err_not_logged_in: { retries0: true, auth: 'none', script: { default: text_step('unused') } },
        err_connection_refused: { retries0: true, base_url: 'closed', script: { default: text_step('unused') } },
        /*
         * Unescaped slash text: the CLI runs it as a command and never sends it upstream. Turn 1
         * string form, turn 2 block form (the LAST block is what the CLI checks), turn 3 a
         * shouldQuery:false history line (also run as a command; its output is merged into the
         * next upstream user message), turn 4 a plain question that shows that pollution.
         */
        slash_raw: {
                script: { default: text_step('Got it.') },
                steps: [
                        { line: user('/foo bar') },
                        { wait_results: 1, line: user([{ type: 'text', text: 'hello' },
                                                       { type: 'text', text: '/foo bar' }]) },
                        { wait_results: 2, line: user('/foo bar', { shouldQuery: false }) },
                        { wait_results: 3, line: user('hi') },
                ],
        },
        /*
         * The escape: one leading space before the "/", in a shouldQuery:false history line, in
         * string form, in block form and as the last of two blocks. All four reach upstream as
         * text, the space included.
         */
        slash_escaped: {
                script: { default: text_step('Got it.') },
                steps: [
                        { line: user(' /compact this history line', { shouldQuery: false }) },
                        { wait_results: 1, line: assistant('msg_slash_1', 'Noted.') },
                        { line: user(' /foo bar (string form)') },
                        { wait_results: 2, line: user([{ type: 'text', text: ' /foo bar (block form)' }]) },
                        { wait_results: 3, line: user([{ type: 'text', text: 'hello' },
                                                       { type: 'text', text: ' /foo bar (last block)' }]) },
                ],
        },
        /* What the CLI does with nothing chosen: the defaults a pooled process starts from. */
        warm_default: warm([]),
        warm_set_model_alias: warm([control('model_1', { subtype: 'set_model', model: 'sonnet' })]),
        cold_model_alias: cold(['--model', 'sonnet']),
        warm_set_model_id: warm([control('model_1', { subtype: 'set_model', model: 'claude-sonnet-4-6' })]),
        cold_model_id: cold(['--model', 'claude-sonnet-4-6']),
        warm_thinking_off: warm([control('think_1', { subtype: 'set_max_thinking_tokens', max_thinking_tokens: 0 })]),
        cold_thinking_off: cold(['--thinking', 'disabled']),
        /* A budget-thinking model (haiku) is the only kind that uses a token budget (cli/README §8). */
        warm_thinking_budget: warm([control('model_1', { subtype: 'set_model', model: 'haiku' }),
                                    control('think_1', { subtype: 'set_max_thinking_tokens',
                                                         max_thinking_tokens: 4096 })]),
        cold_thinking_budget: cold(['--model', 'haiku', '--max-thinking-tokens', '4096']),
        /* No control request names effort; the CLI's own remote client uses apply_flag_settings. */
        warm_effort: warm([control('effort_1', { subtype: 'apply_flag_settings', settings: { effortLevel: 'low' } })]),
        cold_effort: cold(['--effort', 'low']),
        warm_system_replace: warm([control('init_1', { subtype: 'initialize', systemPrompt: [SYSTEM_FILE_TEXT] })]),
        cold_system_replace: cold(['--system-prompt-file', '@SYSTEM_FILE']),
        warm_system_append: warm([control('init_1', { subtype: 'initialize', appendSystemPrompt: SYSTEM_FILE_TEXT })]),
        cold_system_append: cold(['--append-system-prompt-file', '@SYSTEM_FILE']),
        /* An initialize without any prompt field: does it change the identity block on its own? */
        warm_initialize_empty: warm([control('init_1', { subtype: 'initialize' })]),
        /*
         * Everything a request chooses, written back to back with the user line, without waiting
         * for any control_response: the latency path a pool would like to take.
         */
        warm_all_pipelined: warm([
                control_nowait('init_1', { subtype: 'initialize', appendSystemPrompt: SYSTEM_FILE_TEXT }),
                control_nowait('model_1', { subtype: 'set_model', model: 'claude-sonnet-4-6' }),
                control_nowait('think_1', { subtype: 'set_max_thinking_tokens', max_thinking_tokens: 0 }),
                control_nowait('effort_1', { subtype: 'apply_flag_settings', settings: { effortLevel: 'low' } })]),
        cold_all: cold(['--append-system-prompt-file', '@SYSTEM_FILE', '--model', 'claude-sonnet-4-6',
                        '--thinking', 'disabled', '--effort', 'low']),
        /*
         * set_model runs the /model command: its caveat, command and stdout become text blocks of
         * the first upstream user message. apply_flag_settings {model} is the quiet way.
         */
        warm_model_flag_settings: warm([control('model_1', { subtype: 'apply_flag_settings',
                                                             settings: { model: 'claude-sonnet-4-6' } })]),
        warm_model_alias_flag_settings: warm([control('model_1', { subtype: 'apply_flag_settings',
                                                                   settings: { model: 'sonnet' } })]),
        /* The settings schema lists effortLevel low|medium|high|xhigh only; --effort also takes max. */
        warm_effort_max: warm([control('effort_1', { subtype: 'apply_flag_settings', settings: { effortLevel: 'max' } })]),
        cold_effort_max: cold(['--effort', 'max']),
        warm_thinking_off_flag_settings: warm([control('think_1', { subtype: 'apply_flag_settings',
                                                                    settings: { alwaysThinkingEnabled: false } })]),
        warm_all_flag_settings_pipelined: warm([
                control_nowait('init_1', { subtype: 'initialize', appendSystemPrompt: SYSTEM_FILE_TEXT }),
                control_nowait('flags_1', { subtype: 'apply_flag_settings',
                                            settings: { model: 'claude-sonnet-4-6', effortLevel: 'low' } }),
                control_nowait('think_1', { subtype: 'set_max_thinking_tokens', max_thinking_tokens: 0 })]),
        /*
         * The pool keyed by model: spawned with --model (the one setting that cannot be changed
         * late without the /model record), the rest applied late and pipelined. Compare with cold_all.
         */
        warm_keyed_model_pipelined: warm([
                control_nowait('init_1', { subtype: 'initialize', appendSystemPrompt: SYSTEM_FILE_TEXT }),
                control_nowait('effort_1', { subtype: 'apply_flag_settings', settings: { effortLevel: 'low' } }),
                control_nowait('think_1', { subtype: 'set_max_thinking_tokens', max_thinking_tokens: 0 })],
                { flags: ['--model', 'claude-sonnet-4-6'] }),
        warm_keyed_model_thinking_budget: warm([control('think_1', { subtype: 'set_max_thinking_tokens',
                                                                     max_thinking_tokens: 4096 })],
                                               { flags: ['--model', 'haiku'] }),
        /* A pooled process waits for minutes: still alive and configurable after 60 s idle. */
        warm_keyed_model_idle_60s: warm([
                control_nowait('init_1', { subtype: 'initialize', appendSystemPrompt: SYSTEM_FILE_TEXT }),
                control_nowait('effort_1', { subtype: 'apply_flag_settings', settings: { effortLevel: 'low' } }),
                control_nowait('think_1', { subtype: 'set_max_thinking_tokens', max_thinking_tokens: 0 })],
                { flags: ['--model', 'claude-sonnet-4-6'], idle_ms: 60000 }),
        /*
         * Readiness: a pool cannot know when a process has finished starting (seconds on a loaded
         * machine) unless it asks. A harmless request at spawn (mcp_status) is answered once the
         * CLI is ready; the request's own configuration later still applies as without it.
         */
        warm_keyed_model_probe: warm([
                control('probe_1', { subtype: 'mcp_status' }), { sleep_ms: 1000 },
                control_nowait('init_1', { subtype: 'initialize', appendSystemPrompt: SYSTEM_FILE_TEXT }),
                control_nowait('effort_1', { subtype: 'apply_flag_settings', settings: { effortLevel: 'low' } }),
                control_nowait('think_1', { subtype: 'set_max_thinking_tokens', max_thinking_tokens: 0 })],
                { flags: ['--model', 'claude-sonnet-4-6'], idle_ms: 0 }),
        /* set_model to the model the process already has: no /model record (only a change adds one). */
        warm_keyed_model_same_set_model: warm([control('model_1', { subtype: 'set_model', model: 'claude-sonnet-4-6' })],
                                              { flags: ['--model', 'claude-sonnet-4-6'] }),
        /* Host requests the proxy may need besides configuration, answered on an idle process. */
        warm_misc_requests: warm([control('usage_1', { subtype: 'get_context_usage' }),
                                  control('bogus_1', { subtype: 'no_such_subtype' }),
                                  control('int_1', { subtype: 'interrupt' })]),
};
for (const s of Object.values(SCENARIOS)) {
        s.flags ??= ['--thinking', 'disabled'];
        s.auth ??= 'api_key';
        s.steps ??= [{ line: user('Say hello') }];
}

async function closed_port() {
        const srv = net.createServer();
        await new Promise((r) => srv.listen(0, '127.0.0.1', r));
        const { port } = srv.address();
        await new Promise((r) => srv.close(r));
        return port;
}

async function record(name) {
        const sc = SCENARIOS[name];
        const mock = await startMock({ script: sc.script });
        const home = fs.mkdtempSync(path.join(os.tmpdir(), `rec-home-${name}-`));
        const cwd = fs.mkdtempSync(path.join(os.tmpdir(), `rec-cwd-${name}-`));
        const base_url = sc.base_url === 'closed' ? `http://127.0.0.1:${await closed_port()}` : mock.url;
        const env = { PATH: process.env.PATH || '/usr/bin:/bin', HOME: home, ANTHROPIC_BASE_URL: base_url,
                      CLAUDE_CODE_DISABLE_NONESSENTIAL_TRAFFIC: '1' };
        if (sc.auth === 'api_key')
                env.ANTHROPIC_API_KEY = 'sk-test';
        else if (sc.auth === 'oauth')
                env.CLAUDE_CODE_OAUTH_TOKEN = OAUTH_TOKEN;
        if (sc.retries0)
                env.CLAUDE_CODE_MAX_RETRIES = '0';
        const sys_file = path.join(home, 'system-prompt.txt');
        fs.writeFileSync(sys_file, SYSTEM_FILE_TEXT);
        const flags = sc.flags.map((f) => (f === '@SYSTEM_FILE' ? sys_file : f));
        const argv = [...(sc.warm ? WARM_ARGV : BASE_ARGV), ...flags];

        const t0 = Date.now();
        const child = spawn(claude_bin, argv, { cwd, env, stdio: ['pipe', 'pipe', 'pipe'] });
        const stdin_written = [];
        const line_ms = [];
        let stdout = '';
        let stderr = '';
        let pending = '';
        let results = 0;
        let waiters = [];
        const responses = new Set();
        const n_users = sc.steps.filter((s) => s.line?.type === 'user').length;

        child.stdout.on('data', (c) => {
                const s = c.toString('utf8');
                stdout += s;
                pending += s;
                let i;
                while ((i = pending.indexOf('\n')) >= 0) {
                        const line = pending.slice(0, i);
                        pending = pending.slice(i + 1);
                        line_ms.push(Date.now() - t0);
                        try {
                                const j = JSON.parse(line);
                                if (j.type === 'result')
                                        results += 1;
                                else if (j.type === 'control_response')
                                        responses.add(j.response?.request_id);
                                else if (j.type === 'control_request')
                                        answer_cli_request(j);
                        } catch {
                                /* non-JSON line: kept verbatim, not counted */
                        }
                        waiters = waiters.filter((w) => !w());
                }
        });
        child.stderr.on('data', (c) => (stderr += c.toString('utf8')));
        const exited = new Promise((r) => child.on('exit', (code, signal) => r({ code, signal })));
        let done = false;
        exited.then(() => {
                done = true;
                waiters.forEach((w) => w());
        });
        const wait_results = (n) => new Promise((r) => {
                const w = () => {
                        if (results >= n || done) {
                                r();
                                return true;
                        }
                        return false;
                };
                if (!w())
                        waiters.push(w);
        });
        const wait_response = (id) => new Promise((r) => {
                const w = () => {
                        if (responses.has(id) || done) {
                                r();
                                return true;
                        }
                        return false;
                };
                if (!w())
                        waiters.push(w);
        });
        const write_line = (obj, note) => {
                const line = JSON.stringify(obj);
                stdin_written.push({ t_ms: Date.now() - t0, line, ...(note ? { note } : {}) });
                if (!done)
                        child.stdin.write(line + '\n');
        };
        /* No scenario declares an MCP server, so any request from the CLI gets the SDK's refusal. */
        function answer_cli_request(j) {
                write_line({ type: 'control_response', response: { subtype: 'error', request_id: j.request_id,
                            error: `Unsupported control request subtype: ${j.request?.subtype}` } },
                           'auto answer');
        }
        const timer = setTimeout(() => child.kill('SIGKILL'), 30000 + (sc.idle_ms || 0));

        if (sc.idle_ms)
                await new Promise((r) => setTimeout(r, sc.idle_ms));
        for (const st of sc.steps) {
                if (st.sleep_ms) {
                        await new Promise((r) => setTimeout(r, st.sleep_ms));
                        continue;
                }
                if (st.wait_results)
                        await wait_results(st.wait_results);
                write_line(st.line);
                if (st.wait_response)
                        await wait_response(st.wait_response);
        }
        await wait_results(n_users);
        child.stdin.end();
        const { code, signal } = await exited;
        clearTimeout(timer);
        const duration_ms = Date.now() - t0;
        /* Give the mock a moment for a trailing request (HEAD probes arrive asynchronously). */
        await new Promise((r) => setTimeout(r, 50));
        const upstream = JSON.parse(JSON.stringify(mock.requests));
        await mock.close();

        const placeholder_env = { ...env, PATH: '<PATH>', HOME: '<fresh empty temp dir>',
                                  ANTHROPIC_BASE_URL: sc.base_url === 'closed'
                                          ? 'http://127.0.0.1:<closed port>' : 'http://127.0.0.1:<mock port>' };
        const meta = { name, argv: ['claude', ...argv.map((a) => (a === sys_file ? '<system prompt file>' : a))],
                       system_prompt_file: flags.includes(sys_file) ? SYSTEM_FILE_TEXT : undefined,
                       idle_ms: sc.idle_ms, env: placeholder_env, cwd: '<empty temp dir>',
                       stdin: stdin_written, exit_code: code, signal, stderr, mock_script: sc.script,
                       line_ms, duration_ms, claude_version: '2.1.197' };
        fs.writeFileSync(path.join(out_dir, `${name}.ndjson`), stdout);
        fs.writeFileSync(path.join(out_dir, `${name}.meta.json`), JSON.stringify(meta, null, 1) + '\n');
        fs.writeFileSync(path.join(out_dir, `${name}.upstream.json`), JSON.stringify(upstream, null, 1) + '\n');
        fs.rmSync(home, { recursive: true, force: true });
        fs.rmSync(cwd, { recursive: true, force: true });
        const types = stdout.split('\n').filter(Boolean).map((l) => {
                try {
                        const j = JSON.parse(l);
                        return j.subtype ? `${j.type}/${j.subtype}` : j.type;
                } catch {
                        return '?';
                }
        });
        const n_posts = upstream.filter((r) => r.method === 'POST').length;
        console.log(`${name}: exit ${code}${signal ? ' ' + signal : ''}, ${types.length} lines, ` +
                    `${n_posts} upstream POSTs, ${duration_ms} ms`);
        return code;
}

async function main() {
        const args = process.argv.slice(2);
        if (args.includes('--list')) {
                console.log(Object.keys(SCENARIOS).join('\n'));
                return;
        }
        if (!fs.existsSync(claude_bin)) {
                console.error(`record: ${claude_bin} missing; run npm ci --prefix tests/node`);
                process.exit(1);
        }
        const names = args.length ? args : Object.keys(SCENARIOS);
        for (const n of names) {
                if (!SCENARIOS[n]) {
                        console.error(`record: unknown scenario ${n}`);
                        process.exit(2);
                }
        }
        fs.mkdirSync(out_dir, { recursive: true });
        const jobs = Number(process.env.RECORD_JOBS || 4);
        const todo = [...names];
        let failed = 0;
        await Promise.all(Array.from({ length: Math.min(jobs, todo.length) }, async () => {
                while (todo.length) {
                        const n = todo.shift();
                        try {
                                await record(n);
                        } catch (e) {
                                failed += 1;
                                console.error(`${n}: FAILED ${e.stack || e}`);
                        }
                }
        }));
        process.exit(failed ? 1 : 0);
}

main();
