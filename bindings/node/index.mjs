// handshake mock CRMs from Node tests (node:test, Jest, Vitest, Mocha, ...).
//
// startMock() runs `handshake serve <provider> --port 0`, waits for its ready line and .env
// lines, and returns the mock's URL, its .env values and the control API (/__handshake/*) as
// methods. Node's standard library only (child_process, readline, fetch).

import { spawn } from 'node:child_process';
import { appendFileSync } from 'node:fs';
import { resolve } from 'node:path';
import { createInterface } from 'node:readline';

/** How long startMock() waits for the ready line by default. */
export const DEFAULT_TIMEOUT_MS = 15_000;

/** Lines of stderr kept for error messages. */
const STDERR_LINES = 50;

/** The human ready line: `handshake: capsule mock (Capsule CRM; ...) ready at http://127.0.0.1:1234`. */
const READY_LINE = /^handshake: (\S+) mock \(.*\) ready at (https?:\/\/\S+)\s*$/;

/** Every mock still running, killed when the process exits (a test that forgot stop()). */
const running = new Set();
let exitHookInstalled = false;

function installExitHook() {
  if (exitHookInstalled) return;
  exitHookInstalled = true;
  process.on('exit', () => {
    for (const child of running) {
      try {
        child.kill('SIGKILL');
      } catch {
        // already gone
      }
    }
  });
}

/**
 * Parses one `KEY=VALUE` line of `handshake serve` into `[key, value]`, or `null` for any
 * other line. Double quotes around the value are removed (`OAUTH_SCOPES="read write"`).
 * @param {string} line
 * @returns {[string, string] | null}
 */
export function parseEnvLine(line) {
  const m = /^([A-Z][A-Z0-9_]*)=(.*)$/.exec(line.trimEnd());
  if (!m) return null;
  let value = m[2];
  if (value.length >= 2 && value.startsWith('"') && value.endsWith('"')) {
    value = value.slice(1, -1);
  }
  return [m[1], value];
}

/**
 * A machine-readable ready line (`--log-format json`), as an object with `url` and maybe
 * `env`, or `null` when the line is not one. Accepts `url`, `uri` or `base_url` for the URL and
 * an `env` object of strings, with an `event` (or `type`/`msg`/`message`) of `ready`, or with
 * no event at all.
 * @param {string} line
 * @returns {{ url: string, provider?: string, env?: Record<string, string> } | null}
 */
export function parseJsonReadyLine(line) {
  const text = line.trim();
  if (!text.startsWith('{')) return null;
  let obj;
  try {
    obj = JSON.parse(text);
  } catch {
    return null;
  }
  if (obj === null || typeof obj !== 'object' || Array.isArray(obj)) return null;
  const event = obj.event ?? obj.type ?? obj.msg ?? obj.message ?? obj.kind;
  if (event !== undefined && !/\bready\b/i.test(String(event))) return null;
  const url = [obj.url, obj.uri, obj.base_url, obj.baseUrl].find(
    (u) => typeof u === 'string' && /^https?:\/\//.test(u),
  );
  if (!url) return null;
  const out = { url: url.replace(/\/+$/, '') };
  const provider = obj.provider ?? obj.id;
  if (typeof provider === 'string') out.provider = provider;
  if (obj.env && typeof obj.env === 'object' && !Array.isArray(obj.env)) {
    out.env = Object.fromEntries(
      Object.entries(obj.env).filter(([, v]) => typeof v === 'string'),
    );
  }
  return out;
}

/** An answer of the control API other than 2xx. */
export class ControlError extends Error {
  /**
   * @param {string} message
   * @param {number} status
   * @param {unknown} body
   */
  constructor(message, status, body) {
    super(message);
    this.name = 'ControlError';
    this.status = status;
    this.body = body;
  }
}

function serveArgs(options) {
  const args = ['serve'];
  if (options.profile) {
    args.push('--profile', options.profile);
  } else if (options.provider) {
    args.push(options.provider);
  } else {
    throw new TypeError('startMock: give `provider` (e.g. "capsule") or `profile` (a TOML file)');
  }
  args.push('--port', String(options.port ?? 0));
  if (options.host) args.push('--host', options.host);
  if (options.clientId) args.push('--client-id', options.clientId);
  const redirects = options.redirectUri === undefined ? [] : [options.redirectUri].flat();
  for (const uri of redirects) args.push('--redirect-uri', uri);
  if (options.autoApprove) args.push('--auto-approve');
  if (options.tls) args.push('--tls');
  if (options.seed !== undefined) args.push('--seed', String(options.seed));
  if (options.rateLimit !== undefined) args.push('--rate-limit', String(options.rateLimit));
  if (options.rateWindow !== undefined) args.push('--rate-window', String(options.rateWindow));
  if (options.logFormat) args.push('--log-format', options.logFormat);
  args.push(...(options.args ?? []));
  return args;
}

/**
 * Starts a handshake mock CRM and waits until it is ready.
 * @param {import('./index.d.ts').StartMockOptions} options
 * @returns {Promise<import('./index.d.ts').Mock>}
 */
export async function startMock(options = {}) {
  let binary = options.binary ?? process.env.HANDSHAKE_BIN ?? 'handshake';
  // A path (not a name looked up on PATH) is relative to this process, whatever `cwd` is.
  if (binary.includes('/')) binary = resolve(binary);
  const args = serveArgs(options);
  const timeoutMs = options.timeoutMs ?? DEFAULT_TIMEOUT_MS;
  const env = { ...process.env, ...(options.env ?? {}) };
  // The secret goes through the environment, which `ps` does not show.
  if (options.clientSecret !== undefined) env.HANDSHAKE_CLIENT_SECRET = options.clientSecret;

  const child = spawn(binary, args, {
    cwd: options.cwd,
    env,
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  installExitHook();
  running.add(child);

  const stderr = [];
  const logLines = [];
  let exited = null;
  const exitPromise = new Promise((resolve) => {
    child.once('exit', (code, signal) => {
      exited = { code, signal };
      running.delete(child);
      resolve(exited);
    });
  });
  const spawnError = new Promise((_, reject) => {
    child.once('error', (e) => {
      running.delete(child);
      reject(
        new Error(
          e.code === 'ENOENT'
            ? `cannot run ${JSON.stringify(binary)}: not found (set HANDSHAKE_BIN or pass \`binary\`, e.g. target/debug/handshake)`
            : `cannot run ${JSON.stringify(binary)}: ${e.message}`,
        ),
      );
    });
  });
  spawnError.catch(() => {});

  createInterface({ input: child.stderr }).on('line', (line) => {
    stderr.push(line);
    if (stderr.length > STDERR_LINES) stderr.shift();
  });
  const stderrText = () => (stderr.length ? stderr.join('\n') : '(nothing)');
  const describeExit = (e) => (e.signal ? `signal ${e.signal}` : `exit code ${e.code}`);

  // stdout is read until the process ends, so a chatty mock (a request log) never blocks on a
  // full pipe; after the ready lines, what it prints is kept as log lines.
  const ready = new Promise((resolve) => {
    let url = null;
    let provider = null;
    const values = {};
    let done = false;
    let settle = null;
    const finish = () => {
      if (done || !url) return;
      done = true;
      clearTimeout(settle);
      resolve({ url, provider, env: values });
    };
    createInterface({ input: child.stdout }).on('line', (line) => {
      if (done) {
        logLines.push(line);
        if (logLines.length > 1000) logLines.shift();
        return;
      }
      const json = parseJsonReadyLine(line);
      if (json && !url) {
        url = json.url;
        provider = json.provider ?? null;
        if (json.env) {
          Object.assign(values, json.env);
          finish();
          return;
        }
      }
      const human = READY_LINE.exec(line);
      if (human && !url) {
        provider = human[1];
        url = human[2].replace(/\/+$/, '');
      } else if (url) {
        const kv = parseEnvLine(line);
        if (kv) values[kv[0]] = kv[1];
      }
      if (url && /press Ctrl-C/i.test(line)) {
        finish();
        return;
      }
      // A future format without the closing line: the lines come in one burst.
      if (url) {
        clearTimeout(settle);
        settle = setTimeout(finish, 500);
      }
    });
  });

  let timer;
  const timeout = new Promise((_, reject) => {
    timer = setTimeout(
      () =>
        reject(
          new Error(
            `handshake ${args.join(' ')}: no ready line within ${timeoutMs} ms; stderr:\n${stderrText()}`,
          ),
        ),
      timeoutMs,
    );
  });
  const early = exitPromise.then((e) => {
    throw new Error(
      `handshake ${args.join(' ')} exited before it was ready (${describeExit(e)}); stderr:\n${stderrText()}`,
    );
  });

  let info;
  try {
    info = await Promise.race([ready, timeout, early, spawnError]);
  } catch (e) {
    child.kill('SIGKILL');
    running.delete(child);
    throw e;
  } finally {
    clearTimeout(timer);
  }
  early.catch(() => {});

  // A forgotten stop() must not keep the test process alive; the exit hook kills the mock.
  child.unref();
  child.stdout.unref?.();
  child.stderr.unref?.();

  return makeMock(child, info, { exitPromise, stderrText, describeExit, logLines, getExit: () => exited });
}

/**
 * With `HANDSHAKE_CONTRACT_LOG` set (the helper's own tests in CI), appends each control
 * answer as one JSON line, for `openapi_contract.py --check-log` to judge against the
 * control API's OpenAPI document. Control answers hold no secrets a test has not set itself.
 */
function keepForContract(method, url, resp, text) {
  const file = process.env.HANDSHAKE_CONTRACT_LOG;
  if (!file) return;
  const headers = {};
  resp.headers.forEach((value, name) => {
    headers[name] = value;
  });
  const line = { method, url, status: resp.status, headers, body: text };
  appendFileSync(file, JSON.stringify(line) + '\n');
}

function makeMock(child, info, { exitPromise, stderrText, describeExit, logLines, getExit }) {
  const url = info.url;
  const controlUrl = `${url}/__handshake`;

  async function control(method, path, body) {
    const exit = getExit();
    if (exit) {
      throw new Error(`the handshake mock is not running (${describeExit(exit)}); stderr:\n${stderrText()}`);
    }
    const init = { method, headers: {} };
    if (body !== undefined) {
      init.headers['content-type'] = 'application/json';
      init.body = JSON.stringify(body);
    }
    let resp;
    try {
      resp = await fetch(`${controlUrl}/${path}`, init);
    } catch (e) {
      const exit = getExit();
      const why = exit ? ` (the mock exited: ${describeExit(exit)}; stderr:\n${stderrText()})` : '';
      throw new Error(`${method} ${controlUrl}/${path} failed: ${e.cause?.message ?? e.message}${why}`);
    }
    const text = await resp.text();
    keepForContract(method, `${controlUrl}/${path}`, resp, text);
    let parsed = text;
    try {
      parsed = text ? JSON.parse(text) : null;
    } catch {
      // not JSON: keep the text
    }
    if (!resp.ok) {
      const detail =
        parsed && typeof parsed === 'object'
          ? [parsed.error, parsed.error_description].filter(Boolean).join(': ')
          : String(parsed);
      throw new ControlError(`${method} /__handshake/${path}: ${resp.status} ${detail}`, resp.status, parsed);
    }
    return parsed;
  }

  let stopping = null;
  const mock = {
    url,
    controlUrl,
    provider: info.provider,
    env: Object.freeze({ ...info.env }),
    pid: child.pid,
    process: child,

    failNext(endpoint, how = {}) {
      const kinds = ['error', 'status', 'delayMs', 'drop'].filter(
        (k) => how[k] !== undefined && how[k] !== false,
      );
      if (kinds.length !== 1) {
        throw new TypeError(
          `failNext(${JSON.stringify(endpoint)}, ...): say how it fails with exactly one of error, status, delayMs, drop (got ${kinds.join(', ') || 'none'})`,
        );
      }
      const fault = { endpoint };
      if (how.error !== undefined) Object.assign(fault, { kind: 'oauth_error', error: how.error });
      if (how.status !== undefined) Object.assign(fault, { kind: 'status', status: how.status });
      if (how.delayMs !== undefined) Object.assign(fault, { kind: 'delay', delay_ms: how.delayMs });
      if (how.drop) fault.kind = 'drop';
      if (how.times !== undefined) fault.times = how.times;
      return control('POST', 'faults', fault);
    },
    rateLimitNext({ retryAfterSecs = 1, times } = {}) {
      const fault = { endpoint: 'api', kind: 'rate_limited', retry_after_secs: retryAfterSecs };
      if (times !== undefined) fault.times = times;
      return control('POST', 'faults', fault);
    },
    async clearFaults() {
      await control('DELETE', 'faults');
    },
    async expireTokens() {
      await control('POST', 'expire');
    },
    async revokeGrant(user) {
      await control('POST', 'revoke', user === undefined ? undefined : { user });
    },
    advanceClock(secs) {
      return control('POST', 'clock', { advance_secs: secs });
    },
    relax(requirement) {
      return control('POST', 'relax', { requirement });
    },
    journal() {
      return control('GET', 'journal');
    },
    metadata() {
      return control('GET', 'metadata');
    },
    async reset() {
      await control('POST', 'reset');
    },
    logLines() {
      return [...logLines];
    },
    stop() {
      stopping ??= (async () => {
        if (!getExit()) {
          child.kill('SIGTERM');
          const killer = setTimeout(() => child.kill('SIGKILL'), 3000);
          await exitPromise;
          clearTimeout(killer);
        }
        running.delete(child);
      })();
      return stopping;
    },
  };
  if (Symbol.asyncDispose) mock[Symbol.asyncDispose] = () => mock.stop();
  return mock;
}
