// A handshake mock CRM in node:test. Copy this file into your project: with Jest or Vitest,
// `before`/`after` are `beforeAll`/`afterAll` and `assert.equal(a, b)` is `expect(a).toBe(b)`;
// import startMock from wherever you put bindings/node (e.g. 'handshake-mock').
//
// The binary is HANDSHAKE_BIN, else `handshake` on PATH:
//   cargo build -p handshake && HANDSHAKE_BIN=target/debug/handshake node --test bindings/node

import { after, before, beforeEach, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { createHash, randomBytes } from 'node:crypto';

import { startMock } from '../index.mjs';

/** The browser's part, with auto-approve: the authorization endpoint redirects back at once. */
async function authorize(mock, { state = randomBytes(16).toString('hex') } = {}) {
  const verifier = randomBytes(32).toString('base64url');
  const url = new URL(mock.env.OAUTH_AUTHORIZE_URL);
  url.search = new URLSearchParams({
    response_type: 'code',
    client_id: mock.env.OAUTH_CLIENT_ID,
    redirect_uri: mock.env.OAUTH_REDIRECT_URI,
    scope: mock.env.OAUTH_SCOPES,
    state,
    code_challenge: createHash('sha256').update(verifier).digest('base64url'),
    code_challenge_method: 'S256',
  }).toString();
  const resp = await fetch(url, { redirect: 'manual' });
  assert.equal(resp.status, 302);
  const callback = new URL(resp.headers.get('location'));
  assert.equal(callback.searchParams.get('state'), state);
  return { code: callback.searchParams.get('code'), verifier };
}

/** Your app's part: a token request as RFC 6749 §4.1.3 and Capsule's profile say. */
function tokenRequest(mock, params) {
  const basic = Buffer.from(`${mock.env.OAUTH_CLIENT_ID}:${mock.env.OAUTH_CLIENT_SECRET}`).toString('base64');
  return fetch(mock.env.OAUTH_TOKEN_URL, {
    method: 'POST',
    headers: { authorization: `Basic ${basic}`, 'content-type': 'application/x-www-form-urlencoded' },
    body: new URLSearchParams(params),
  });
}

async function login(mock) {
  const { code, verifier } = await authorize(mock);
  const resp = await tokenRequest(mock, {
    grant_type: 'authorization_code',
    code,
    redirect_uri: mock.env.OAUTH_REDIRECT_URI,
    code_verifier: verifier,
  });
  assert.equal(resp.status, 200);
  return resp.json();
}

function api(mock, accessToken) {
  return fetch(mock.env.CRM_API_URL, { headers: { authorization: `Bearer ${accessToken}` } });
}

describe('an app against the Capsule mock', () => {
  let mock;
  before(async () => {
    mock = await startMock({ provider: 'capsule', autoApprove: true });
  });
  // Runs whether the tests passed or failed: no mock outlives the test file.
  after(() => mock?.stop());
  beforeEach(() => mock.reset());

  test('a code exchange with fetch gets tokens that the API accepts', async () => {
    assert.match(mock.url, /^http:\/\/127\.0\.0\.1:\d+$/);
    assert.equal(mock.env.OAUTH_TOKEN_AUTH_METHOD, 'client_secret_basic');
    const tokens = await login(mock);
    assert.equal(tokens.token_type.toLowerCase(), 'bearer');
    assert.ok(tokens.refresh_token);
    assert.equal((await api(mock, tokens.access_token)).status, 200);
  });

  test('an armed fault fails the next token request only, and the journal shows both', async () => {
    const { refresh_token } = await login(mock);
    await mock.failNext('token', { error: 'invalid_grant' });
    const refused = await tokenRequest(mock, { grant_type: 'refresh_token', refresh_token });
    assert.equal(refused.status, 400);
    assert.equal((await refused.json()).error, 'invalid_grant');
    const retried = await tokenRequest(mock, { grant_type: 'refresh_token', refresh_token });
    assert.equal(retried.status, 200);

    const refreshes = (await mock.journal()).filter((e) => e.grant_type === 'refresh_token');
    assert.deepEqual(refreshes.map((e) => e.status), [400, 200]);
    assert.equal(refreshes[0].error, 'invalid_grant');
    assert.equal(refreshes[0].client_auth, 'client_secret_basic');
    // Secrets never reach the journal.
    assert.ok(!JSON.stringify(refreshes).includes(mock.env.OAUTH_CLIENT_SECRET));
    assert.ok(!JSON.stringify(refreshes).includes(refresh_token));
  });

  test('expired tokens, a revoked grant, the clock and a 429', async () => {
    const tokens = await login(mock);
    await mock.expireTokens();
    assert.equal((await api(mock, tokens.access_token)).status, 401);

    await mock.rateLimitNext({ retryAfterSecs: 30 });
    const fresh = await tokenRequest(mock, { grant_type: 'refresh_token', refresh_token: tokens.refresh_token });
    const { access_token } = await fresh.json();
    assert.equal((await api(mock, access_token)).status, 429);
    await mock.clearFaults();
    assert.equal((await api(mock, access_token)).status, 200);

    assert.equal((await mock.advanceClock(120)).offset_secs, 120);

    await mock.revokeGrant();
    assert.equal((await api(mock, access_token)).status, 401);
  });
});
