// SPDX-License-Identifier: MIT
/*
 * anthropic-mock.mjs — a scripted mock of the Anthropic Messages API (plain node, no deps).
 *
 * Used by tests/record/record.mjs (to drive the real Claude Code CLI) and by the integration
 * tests (the proxy's CLI children point ANTHROPIC_BASE_URL at it).
 *
 * COMMAND LINE
 *   node anthropic-mock.mjs [--port N] [--script FILE]
 *     --port N      listen on 127.0.0.1:N (default 0 = any free port)
 *     --script FILE initial script (JSON, format below); default: a one-line "Hello from the mock." reply
 *   When it listens it prints exactly one line on stdout:  MOCK_PORT=<port>
 *   It exits on SIGTERM/SIGINT, and when its stdin is a pipe/socket that reaches EOF (spawn it with
 *   stdio[0] = 'pipe' and the mock dies with the test). If stdin is /dev/null, a file or a tty it is
 *   not watched.
 *
 * LIBRARY
 *   import { startMock } from './anthropic-mock.mjs';
 *   const m = await startMock({ port: 0, script });   // m.port, m.url
 *   m.setScript(obj); m.requests (array); m.reset(); await m.close();
 *
 * HTTP ENDPOINTS
 *   HEAD /                       200, empty (the CLI's preflight probe)
 *   POST /v1/messages[?beta=true]  takes the next STEP (see SCRIPT). If the body has "stream":true
 *                                the answer is SSE, otherwise one JSON message (the CLI falls back to
 *                                non-streaming after stream errors and 404s)
 *   POST /v1/messages/count_tokens  {"input_tokens": <body bytes / 4, at least 1>} (takes no step)
 *   POST /__mock/script          replace the script (JSON body); restarts the queue. -> {"ok":true}
 *   GET  /__mock/requests        JSON array of every request received so far (control requests
 *                                excluded), each {seq, t_ms, method, path, query, headers, body, step, status}
 *                                (body = parsed JSON or null, raw string if not JSON; step = "head",
 *                                "count_tokens", "queue:<i>", "default" or null)
 *   POST /__mock/reset           forget recorded requests and restore the startup script. -> {"ok":true}
 *   anything else                404 Anthropic error envelope (not_found_error)
 *
 * SCRIPT  {"default": STEP, "queue": [STEP, ...]}
 *   Each POST /v1/messages consumes queue[0] (shift) if the queue is non-empty, else uses default.
 *   STEP fields (all optional):
 *     content       array of blocks: {"type":"text","text"} | {"type":"thinking","thinking","signature"}
 *                   | {"type":"tool_use","id","name","input"}        default [{"type":"text","text":"Hello from the mock."}]
 *     usage         {input_tokens, output_tokens, cache_creation_input_tokens, cache_read_input_tokens}
 *                   default input 25 / output 17 / cache 0 / 0 (message_start carries output_tokens 1,
 *                   message_delta the final numbers, like the real API)
 *     stop_reason   default "end_turn" ("tool_use" if content has a tool_use block)
 *     model         model reported in the answer; default: the request body's model
 *     id            message id; default "msg_mock_<seq>" (seq = request number, 1-based)
 *     chunk         split text/thinking/tool-input into deltas of N chars (default: one delta per block)
 *     delay_ms      wait before answering (headers included)
 *     chunk_delay_ms  wait between SSE events
 *     status        HTTP status; >= 400 answers the Anthropic error envelope
 *                   {"type":"error","error":{type,message},"request_id":"req_mock_<seq>"}
 *     error         {type, message} for status >= 400 (default type from status)
 *     headers       extra response headers, e.g. {"retry-after":"7",
 *                   "anthropic-ratelimit-unified-status":"rejected", ...}
 *     hang          true: never answer (the socket stays open until the client gives up or reset)
 *     sse_error_after_start  true or {type,message}: after message_start + ping send
 *                   `event: error` (default overloaded_error "Overloaded") and end the stream
 *     ping          false: no `ping` event after message_start (default true)
 *     echo_tool_result  "PREFIX": answer one text block PREFIX + the text of every tool_result in the
 *                   request's last message (joined with "|"; "" when there is none), in place of
 *                   `content`: a model that read the tool's answer
 *   Every answer has headers request-id: req_mock_<seq> and content-type (text/event-stream or json).
 *
 * SSE ORDER: message_start, ping, then per block content_block_start / content_block_delta...
 *   (text_delta | thinking_delta + one signature_delta | input_json_delta) / content_block_stop,
 *   then message_delta {stop_reason, stop_sequence:null} + usage, then message_stop.
 */

import http from 'node:http';
import fs from 'node:fs';
import { fileURLToPath } from 'node:url';

const DEFAULT_SCRIPT = { default: { content: [{ type: 'text', text: 'Hello from the mock.' }] } };

const ERROR_TYPES = {
        400: 'invalid_request_error', 401: 'authentication_error', 403: 'permission_error',
        404: 'not_found_error', 413: 'request_too_large', 429: 'rate_limit_error',
        500: 'api_error', 529: 'overloaded_error',
};

const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

function clone(x) {
        return x === undefined ? undefined : JSON.parse(JSON.stringify(x));
}

function split_chunks(s, n) {
        if (!n || n <= 0 || s.length <= n)
                return [s];
        const out = [];
        for (let i = 0; i < s.length; i += n)
                out.push(s.slice(i, i + n));
        return out;
}

function full_usage(step) {
        const u = step.usage || {};
        return {
                input_tokens: u.input_tokens ?? 25,
                cache_creation_input_tokens: u.cache_creation_input_tokens ?? 0,
                cache_read_input_tokens: u.cache_read_input_tokens ?? 0,
                output_tokens: u.output_tokens ?? 17,
        };
}

function stop_reason_of(step, content) {
        if (step.stop_reason !== undefined)
                return step.stop_reason;
        return content.some((b) => b.type === 'tool_use') ? 'tool_use' : 'end_turn';
}

function tool_result_text(body) {
        const last = body && Array.isArray(body.messages) ? body.messages.at(-1) : null;
        const blocks = last && Array.isArray(last.content) ? last.content : [];
        return blocks.filter((b) => b && b.type === 'tool_result').map((b) => typeof b.content === 'string'
                ? b.content
                : (Array.isArray(b.content) ? b.content : []).map((c) => c.text ?? '').join('')).join('|');
}

function content_of(step) {
        return step.content || DEFAULT_SCRIPT.default.content;
}

function message_object(step, seq, req_model) {
        const content = content_of(step);
        const u = full_usage(step);
        return {
                id: step.id || `msg_mock_${seq}`,
                type: 'message',
                role: 'assistant',
                model: step.model || req_model || 'claude-mock',
                content: clone(content),
                stop_reason: stop_reason_of(step, content),
                stop_sequence: null,
                usage: { ...u, service_tier: 'standard' },
        };
}

function sse_events(step, seq, req_model) {
        const msg = message_object(step, seq, req_model);
        const u = full_usage(step);
        const ev = [];
        ev.push({
                type: 'message_start',
                message: { ...msg, content: [], stop_reason: null, stop_sequence: null,
                           usage: { ...u, output_tokens: 1, service_tier: 'standard' } },
        });
        if (step.ping !== false)
                ev.push({ type: 'ping' });
        if (step.sse_error_after_start) {
                const e = typeof step.sse_error_after_start === 'object'
                        ? step.sse_error_after_start
                        : { type: 'overloaded_error', message: 'Overloaded' };
                ev.push({ type: 'error', error: e });
                return ev;
        }
        msg.content.forEach((b, index) => {
                if (b.type === 'text') {
                        ev.push({ type: 'content_block_start', index, content_block: { type: 'text', text: '' } });
                        for (const t of split_chunks(b.text || '', step.chunk))
                                ev.push({ type: 'content_block_delta', index, delta: { type: 'text_delta', text: t } });
                } else if (b.type === 'thinking') {
                        ev.push({ type: 'content_block_start', index,
                                  content_block: { type: 'thinking', thinking: '', signature: '' } });
                        for (const t of split_chunks(b.thinking || '', step.chunk))
                                ev.push({ type: 'content_block_delta', index,
                                          delta: { type: 'thinking_delta', thinking: t } });
                        ev.push({ type: 'content_block_delta', index,
                                  delta: { type: 'signature_delta', signature: b.signature || '' } });
                } else if (b.type === 'tool_use') {
                        ev.push({ type: 'content_block_start', index,
                                  content_block: { type: 'tool_use', id: b.id, name: b.name, input: {} } });
                        for (const t of split_chunks(JSON.stringify(b.input ?? {}), step.chunk))
                                ev.push({ type: 'content_block_delta', index,
                                          delta: { type: 'input_json_delta', partial_json: t } });
                } else {
                        ev.push({ type: 'content_block_start', index, content_block: clone(b) });
                }
                ev.push({ type: 'content_block_stop', index });
        });
        ev.push({
                type: 'message_delta',
                delta: { stop_reason: msg.stop_reason, stop_sequence: null },
                usage: { output_tokens: u.output_tokens, input_tokens: u.input_tokens,
                         cache_creation_input_tokens: u.cache_creation_input_tokens,
                         cache_read_input_tokens: u.cache_read_input_tokens },
        });
        ev.push({ type: 'message_stop' });
        return ev;
}

function send_json(res, status, obj, extra = {}) {
        const body = JSON.stringify(obj);
        res.writeHead(status, { 'content-type': 'application/json', 'content-length': Buffer.byteLength(body),
                                ...extra });
        res.end(body);
}

/**
 * startMock() - start a mock server.
 * @opts.port: TCP port on 127.0.0.1 (0 = any)
 * @opts.script: initial script object
 * Returns {port, url, requests, setScript(obj), reset(), close()}.
 */
export async function startMock(opts = {}) {
        const initial = clone(opts.script || DEFAULT_SCRIPT);
        let script = clone(initial);
        let queue = [...(script.queue || [])];
        const requests = [];
        const hung = new Set();
        const t0 = Date.now();
        let seq = 0;

        const set_script = (s) => {
                script = clone(s || DEFAULT_SCRIPT);
                queue = [...(script.queue || [])];
        };
        const take_step = () => {
                if (queue.length > 0) {
                        const i = (script.queue || []).length - queue.length;
                        return [queue.shift(), `queue:${i}`];
                }
                return [script.default || DEFAULT_SCRIPT.default, 'default'];
        };

        async function handle(req, res, raw) {
                const url = new URL(req.url, 'http://x');
                const path = url.pathname;

                if (path.startsWith('/__mock/')) {
                        if (path === '/__mock/requests' && req.method === 'GET')
                                return send_json(res, 200, requests);
                        if (path === '/__mock/script' && req.method === 'POST') {
                                try {
                                        set_script(JSON.parse(raw));
                                } catch (e) {
                                        return send_json(res, 400, { ok: false, error: String(e) });
                                }
                                return send_json(res, 200, { ok: true });
                        }
                        if (path === '/__mock/reset' && req.method === 'POST') {
                                requests.length = 0;
                                set_script(initial);
                                for (const s of hung)
                                        s.destroy();
                                hung.clear();
                                return send_json(res, 200, { ok: true });
                        }
                        return send_json(res, 404, { ok: false });
                }

                seq += 1;
                const my_seq = seq;
                let body = null;
                if (raw.length > 0) {
                        try {
                                body = JSON.parse(raw);
                        } catch {
                                body = raw;
                        }
                }
                const rec = { seq: my_seq, t_ms: Date.now() - t0, method: req.method, path,
                              query: url.search.replace(/^\?/, ''), headers: { ...req.headers }, body,
                              step: null, status: null };
                requests.push(rec);
                const rid = `req_mock_${my_seq}`;

                if (req.method === 'HEAD' && path === '/') {
                        rec.step = 'head';
                        rec.status = 200;
                        res.writeHead(200, { 'content-length': 0 });
                        return res.end();
                }
                if (req.method === 'POST' && path === '/v1/messages/count_tokens') {
                        rec.step = 'count_tokens';
                        rec.status = 200;
                        return send_json(res, 200, { input_tokens: Math.max(1, Math.floor(raw.length / 4)) },
                                         { 'request-id': rid });
                }
                if (!(req.method === 'POST' && path === '/v1/messages')) {
                        rec.status = 404;
                        return send_json(res, 404, { type: 'error', error: { type: 'not_found_error',
                                         message: `Not found: ${req.method} ${path}` }, request_id: rid });
                }

                let [step, step_name] = take_step();
                if (step.echo_tool_result !== undefined)
                        step = { ...step, content: [{ type: 'text',
                                 text: `${step.echo_tool_result}${tool_result_text(body)}` }] };
                rec.step = step_name;
                if (step.delay_ms)
                        await sleep(step.delay_ms);
                if (step.hang) {
                        rec.status = 'hang';
                        hung.add(req.socket);
                        req.socket.on('close', () => hung.delete(req.socket));
                        return;
                }
                const extra = { 'request-id': rid, ...(step.headers || {}) };
                const status = step.status || 200;
                rec.status = status;
                if (status >= 400) {
                        const e = { type: ERROR_TYPES[status] || 'api_error', message: 'mock error',
                                    ...(step.error || {}) };
                        return send_json(res, status, { type: 'error', error: e, request_id: rid }, extra);
                }
                const req_model = body && typeof body === 'object' ? body.model : undefined;
                if (!(body && typeof body === 'object' && body.stream === true))
                        return send_json(res, status, message_object(step, my_seq, req_model), extra);

                res.writeHead(status, { 'content-type': 'text/event-stream', 'cache-control': 'no-cache',
                                        connection: 'keep-alive', ...extra });
                for (const ev of sse_events(step, my_seq, req_model)) {
                        if (res.destroyed)
                                return;
                        res.write(`event: ${ev.type}\ndata: ${JSON.stringify(ev)}\n\n`);
                        if (step.chunk_delay_ms)
                                await sleep(step.chunk_delay_ms);
                }
                res.end();
        }

        const server = http.createServer((req, res) => {
                const chunks = [];
                req.on('data', (c) => chunks.push(c));
                req.on('end', () => {
                        handle(req, res, Buffer.concat(chunks).toString('utf8')).catch((e) => {
                                if (!res.headersSent)
                                        send_json(res, 500, { type: 'error',
                                                  error: { type: 'api_error', message: `mock failure: ${e}` } });
                                else
                                        res.destroy();
                        });
                });
        });
        server.keepAliveTimeout = 1000;
        await new Promise((resolve, reject) => {
                server.once('error', reject);
                server.listen(opts.port || 0, '127.0.0.1', resolve);
        });
        const port = server.address().port;
        return {
                port,
                url: `http://127.0.0.1:${port}`,
                requests,
                setScript: set_script,
                reset() {
                        requests.length = 0;
                        set_script(initial);
                },
                close() {
                        for (const s of hung)
                                s.destroy();
                        server.closeAllConnections?.();
                        return new Promise((r) => server.close(() => r()));
                },
        };
}

async function main() {
        const args = process.argv.slice(2);
        let port = 0;
        let script;
        for (let i = 0; i < args.length; i++) {
                if (args[i] === '--port')
                        port = Number(args[++i]);
                else if (args[i] === '--script')
                        script = JSON.parse(fs.readFileSync(args[++i], 'utf8'));
                else {
                        process.stderr.write(`anthropic-mock: unknown argument ${args[i]}\n`);
                        process.exit(2);
                }
        }
        const m = await startMock({ port, script });
        process.stdout.write(`MOCK_PORT=${m.port}\n`);
        const quit = () => process.exit(0);
        process.on('SIGTERM', quit);
        process.on('SIGINT', quit);
        try {
                const st = fs.fstatSync(0);
                /* Only a pipe or socket means "a parent holds the other end"; /dev/null would EOF at once. */
                if (st.isFIFO() || st.isSocket()) {
                        process.stdin.on('end', quit);
                        process.stdin.on('close', quit);
                        process.stdin.resume();
                }
        } catch {
                /* no stdin at all: rely on signals */
        }
}

if (process.argv[1] && fileURLToPath(import.meta.url) === fs.realpathSync(process.argv[1]))
        main();
