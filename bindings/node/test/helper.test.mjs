// The helper itself: every provider's .env values drive a flow, startup failures say why,
// the mock is stopped even when the test body throws, and the line parsers.

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createHash, randomBytes } from 'node:crypto';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { spawnSync } from 'node:child_process';

import { ControlError, parseEnvLine, parseJsonReadyLine, startMock } from '../index.mjs';

const isGone = (pid) => {
  try {
    process.kill(pid, 0);
    return false;
  } catch (e) {
    return e.code === 'ESRCH';
  }
};

/** A full code exchange configured only by the mock's .env values, as an app would be. */
async function exchange(mock) {
  const env = mock.env;
  const verifier = randomBytes(32).toString('base64url');
  const params = {
    response_type: 'code',
    client_id: env.OAUTH_CLIENT_ID,
    redirect_uri: env.OAUTH_REDIRECT_URI,
    scope: env.OAUTH_SCOPES,
    state: randomBytes(16).toString('hex'),
  };
  if (env.OAUTH_PKCE_METHOD === 'S256') {
    params.code_challenge = createHash('sha256').update(verifier).digest('base64url');
    params.code_challenge_method = 'S256';
  }
  const authorize = await fetch(`${env.OAUTH_AUTHORIZE_URL}?${new URLSearchParams(params)}`, { redirect: 'manual' });
  assert.equal(authorize.status, 302, `${mock.provider}: authorize`);
  const code = new URL(authorize.headers.get('location')).searchParams.get('code');
  assert.ok(code, `${mock.provider}: a code`);

  const body = { grant_type: 'authorization_code', code, redirect_uri: env.OAUTH_REDIRECT_URI };
  if (env.OAUTH_PKCE_METHOD === 'S256') body.code_verifier = verifier;
  const headers = { 'content-type': 'application/x-www-form-urlencoded' };
  if (env.OAUTH_TOKEN_AUTH_METHOD === 'client_secret_basic') {
    headers.authorization = `Basic ${Buffer.from(`${env.OAUTH_CLIENT_ID}:${env.OAUTH_CLIENT_SECRET}`).toString('base64')}`;
  } else {
    Object.assign(body, { client_id: env.OAUTH_CLIENT_ID, client_secret: env.OAUTH_CLIENT_SECRET });
  }
  return fetch(env.OAUTH_TOKEN_URL, { method: 'POST', headers, body: new URLSearchParams(body) });
}

test('every provider: the .env values drive a code exchange; failNext and journal work', async () => {
  for (const provider of ['capsule', 'connectwise', 'agilecrm', 'redtail', 'insightly']) {
    const mock = await startMock({ provider, autoApprove: true, redirectUri: 'http://localhost:5173/cb' });
    try {
      assert.equal(mock.provider, provider);
      assert.equal(mock.env.OAUTH_REDIRECT_URI, 'http://localhost:5173/cb');
      assert.ok(mock.env.OAUTH_TOKEN_URL.startsWith(`${mock.url}/`), mock.env.OAUTH_TOKEN_URL);
      assert.ok(!mock.env.OAUTH_SCOPES.includes('"'), 'quotes removed');
      assert.ok(mock.env.CRM_AUTH_SCHEME, `${provider}: the native scheme's lines too`);
      const ok = await exchange(mock);
      assert.equal(ok.status, 200, `${provider}: ${await ok.clone().text()}`);

      const fault = await mock.failNext('token', { status: 503, times: 1 });
      assert.deepEqual([fault.kind, fault.status, fault.times], ['status', 503, 1]);
      assert.equal((await exchange(mock)).status, 503, provider);
      const tokenCalls = (await mock.journal()).filter((e) => e.endpoint === 'token');
      assert.deepEqual(tokenCalls.map((e) => e.status), [200, 503], provider);
    } finally {
      await mock.stop();
    }
    assert.ok(isGone(mock.pid), `${provider}: stopped`);
  }
});

test('the mock is stopped when the test body throws', async () => {
  let mock;
  await assert.rejects(async () => {
    mock = await startMock({ provider: 'redtail' });
    try {
      throw new Error('the test failed');
    } finally {
      await mock.stop();
    }
  }, /the test failed/);
  assert.ok(isGone(mock.pid));
  await assert.rejects(fetch(`${mock.url}/__handshake/healthz`));
  await assert.rejects(mock.journal(), /not running/);
  await mock.stop(); // idempotent
});

test('after() stops the mock when a test fails, in a node --test run of its own', () => {
  const dir = mkdtempSync(join(tmpdir(), 'handshake-node-'));
  try {
    const pidFile = join(dir, 'pid');
    const file = join(dir, 'failing.test.mjs');
    const helper = new URL('../index.mjs', import.meta.url).href;
    writeFileSync(
      file,
      `import { after, test } from 'node:test';
import { writeFileSync } from 'node:fs';
import { startMock } from ${JSON.stringify(helper)};
const mock = await startMock({ provider: 'capsule' });
after(() => mock.stop());
test('fails', () => {
  writeFileSync(${JSON.stringify(pidFile)}, String(mock.pid));
  throw new Error('the test failed');
});
`,
    );
    // Without NODE_TEST_CONTEXT, which would make the child a part of this run.
    const { NODE_TEST_CONTEXT: _, ...env } = process.env;
    const run = spawnSync(process.execPath, ['--test', file], {
      env: { ...env, HANDSHAKE_BIN: resolve(process.env.HANDSHAKE_BIN ?? 'handshake') },
      encoding: 'utf8',
      timeout: 30_000,
    });
    assert.equal(run.status, 1, run.stdout + run.stderr);
    assert.match(run.stdout, /the test failed/);
    assert.ok(isGone(Number(readFileSync(pidFile, 'utf8'))), 'the mock was stopped');
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test('startup failures name the cause', async () => {
  await assert.rejects(startMock({ provider: 'no-such-crm' }), (e) => {
    assert.match(e.message, /exited before it was ready/);
    assert.match(e.message, /no-such-crm/, 'stderr is in the message');
    return true;
  });
  await assert.rejects(startMock({ provider: 'capsule', binary: '/nonexistent/handshake' }), /not found \(set HANDSHAKE_BIN/);
  await assert.rejects(startMock({}), /give `provider`/);
});

test('a process that never gets ready is killed at the timeout, and its stderr is shown', async () => {
  // A stand-in "binary" that ignores the serve arguments, says something and sleeps.
  const dir = mkdtempSync(join(tmpdir(), 'handshake-node-'));
  const pidFile = join(dir, 'pid');
  const fake = join(dir, 'fake-handshake');
  writeFileSync(fake, `#!/bin/sh\necho $$ > '${pidFile}'\necho 'warming up' >&2\nexec sleep 60\n`, { mode: 0o755 });
  try {
    const started = Date.now();
    await assert.rejects(startMock({ provider: 'capsule', binary: fake, timeoutMs: 500 }), (e) => {
      assert.match(e.message, /no ready line within 500 ms/);
      assert.match(e.message, /warming up/);
      return true;
    });
    assert.ok(Date.now() - started < 5000);
    const pid = Number(readFileSync(pidFile, 'utf8'));
    for (let i = 0; i < 50 && !isGone(pid); i++) await new Promise((r) => setTimeout(r, 20));
    assert.ok(isGone(pid), 'killed');
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});


test("control API refusals are ControlErrors with the mock's reason", async () => {
  const mock = await startMock({ provider: 'capsule' });
  try {
    await assert.rejects(mock.revokeGrant('nobody'), (e) => {
      assert.ok(e instanceof ControlError);
      assert.equal(e.status, 400);
      assert.match(e.message, /invalid_request/);
      return true;
    });
    assert.throws(() => mock.failNext('token', {}), /exactly one of error, status, delayMs, drop/);
    assert.throws(() => mock.failNext('token', { error: 'invalid_grant', status: 500 }), /exactly one/);
    const drop = await mock.failNext('api', { drop: true, times: 2 });
    assert.deepEqual([drop.kind, drop.times], ['drop', 2]);
    const delay = await mock.failNext('token', { delayMs: 10 });
    assert.deepEqual([delay.kind, delay.delay_ms], ['delay', 10]);
    const limited = await mock.rateLimitNext({ retryAfterSecs: 2 });
    assert.deepEqual([limited.endpoint, limited.kind, limited.retry_after_secs], ['api', 'rate_limited', 2]);
    assert.deepEqual((await mock.relax('pkce')).relaxed, ['pkce']);
    assert.equal((await mock.metadata()).client.client_id, 'handshake-client');
  } finally {
    await mock.stop();
  }
});

test('parseEnvLine', () => {
  assert.deepEqual(parseEnvLine('OAUTH_TOKEN_URL=http://127.0.0.1:1/oauth/token'), [
    'OAUTH_TOKEN_URL',
    'http://127.0.0.1:1/oauth/token',
  ]);
  assert.deepEqual(parseEnvLine('OAUTH_SCOPES="read write"'), ['OAUTH_SCOPES', 'read write']);
  assert.deepEqual(parseEnvLine('OAUTH_REVOKE_URL='), ['OAUTH_REVOKE_URL', '']);
  assert.deepEqual(parseEnvLine('A=b=c'), ['A', 'b=c']);
  assert.equal(parseEnvLine('# .env for your app'), null);
  assert.equal(parseEnvLine('handshake: capsule mock (x) ready at http://127.0.0.1:1'), null);
  assert.equal(parseEnvLine('GET /oauth/token?a=b 200'), null);
});

test('parseJsonReadyLine', () => {
  assert.deepEqual(
    parseJsonReadyLine(
      '{"event":"ready","url":"http://127.0.0.1:9/","provider":"capsule","env":{"OAUTH_CLIENT_ID":"c","N":1}}',
    ),
    { url: 'http://127.0.0.1:9', provider: 'capsule', env: { OAUTH_CLIENT_ID: 'c' } },
  );
  assert.deepEqual(parseJsonReadyLine('{"uri":"https://127.0.0.1:9"}'), { url: 'https://127.0.0.1:9' });
  assert.equal(parseJsonReadyLine('{"event":"request","url":"http://127.0.0.1:9/oauth/token"}'), null);
  assert.equal(parseJsonReadyLine('{"event":"ready"}'), null);
  assert.equal(parseJsonReadyLine('{not json'), null);
  assert.equal(parseJsonReadyLine('OAUTH_CLIENT_ID=x'), null);
  assert.equal(parseJsonReadyLine('[1,2]'), null);
});
