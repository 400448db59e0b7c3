// The whole authorization-code flow with simple-oauth2 (npm, third-party) against a handshake
// mock, configured only by the .env lines `handshake serve <crm>` prints (read from the
// environment). This script is the browser too: it GETs the authorization URL with redirects
// off and reads the code from the Location header.
//
// simple-oauth2 runs with its defaults: RFC 6749 form bodies (bodyFormat 'form'; every mock
// accepts them) and HTTP Basic client authentication (authorizationMethod 'header'), switched
// to 'body' where OAUTH_TOKEN_AUTH_METHOD=client_secret_post. SIMPLE_OAUTH2_BODY_FORMAT=json
// is an extra case only: JSON token and revocation bodies, for the mocks that also accept the
// seed posts' JSON (ConnectWise, Agile CRM).
//
// Exit 0 and a last line `ok` when every step behaved as RFC 6749/6750/7009/7636 say;
// exit 1 with the failing step otherwise. No token, code, verifier or secret is printed.

import { createRequire } from 'node:module';
import { createHash, randomBytes } from 'node:crypto';
import { check, env, fail, getJson, steps } from './common.mjs';

const require = createRequire(import.meta.url);
const { AuthorizationCode } = require('simple-oauth2');

const tokenUrl = new URL(env('OAUTH_TOKEN_URL'));
const authorizeUrl = new URL(env('OAUTH_AUTHORIZE_URL'));
const revokeUrl = process.env.OAUTH_REVOKE_URL ? new URL(process.env.OAUTH_REVOKE_URL) : null;
const redirectUri = env('OAUTH_REDIRECT_URI');
const pkce = env('OAUTH_PKCE_METHOD');
const scope = env('OAUTH_SCOPES').replace(/^"|"$/g, '');

const options = {
  authorizationMethod: env('OAUTH_TOKEN_AUTH_METHOD') === 'client_secret_basic' ? 'header' : 'body',
};
if (process.env.SIMPLE_OAUTH2_BODY_FORMAT === 'json') options.bodyFormat = 'json';

const client = new AuthorizationCode({
  client: { id: env('OAUTH_CLIENT_ID'), secret: env('OAUTH_CLIENT_SECRET') },
  auth: {
    tokenHost: tokenUrl.origin,
    tokenPath: tokenUrl.pathname,
    authorizeHost: authorizeUrl.origin,
    authorizePath: authorizeUrl.pathname,
    revokePath: revokeUrl ? revokeUrl.pathname : undefined,
  },
  options,
});

const b64url = (buf) => buf.toString('base64url');
const state = b64url(randomBytes(32));
const verifier = b64url(randomBytes(32));
const authParams = { redirect_uri: redirectUri, scope, state };
if (pkce === 'S256') {
  authParams.code_challenge = b64url(createHash('sha256').update(verifier).digest());
  authParams.code_challenge_method = 'S256';
} else if (pkce === 'plain') {
  authParams.code_challenge = verifier;
  authParams.code_challenge_method = 'plain';
}

try {
  steps.start('authorize');
  const resp = await fetch(client.authorizeURL(authParams), { redirect: 'manual' });
  check(resp.status >= 300 && resp.status < 400, `authorize answered ${resp.status}, not a redirect`);
  const callback = new URL(resp.headers.get('location'));
  check(callback.href.startsWith(redirectUri), 'redirect went to the registered redirect_uri');
  check(callback.searchParams.get('state') === state, 'state came back unchanged');
  const code = callback.searchParams.get('code');
  check(code, `callback carries a code (error=${callback.searchParams.get('error')})`);

  steps.start('exchange');
  const tokenParams = { code, redirect_uri: redirectUri };
  if (pkce !== 'none') tokenParams.code_verifier = verifier;
  let token = await client.getToken(tokenParams);
  check(token.token.access_token, 'token response has access_token');
  check(/^bearer$/i.test(token.token.token_type), 'token_type is Bearer');
  check(token.token.refresh_token, 'token response has refresh_token');
  check(!token.expired(), 'token not expired (expires_in understood)');

  steps.start('replayed code');
  await client.getToken(tokenParams).then(
    () => fail('a replayed code was accepted (RFC 6749 §4.1.2)'),
    (e) => check(e.data?.payload?.error === 'invalid_grant' || e.output?.statusCode === 400,
      `replayed code refused with 400 invalid_grant (got ${e.output?.statusCode})`),
  );
  // The replay revoked what the code issued (RFC 6749 §4.1.2 SHOULD): start over.
  steps.start('second authorize + exchange');
  const state2 = b64url(randomBytes(32));
  const resp2 = await fetch(client.authorizeURL({ ...authParams, state: state2 }), { redirect: 'manual' });
  const cb2 = new URL(resp2.headers.get('location'));
  check(cb2.searchParams.get('state') === state2, 'state came back unchanged');
  token = await client.getToken({ ...tokenParams, code: cb2.searchParams.get('code') });

  steps.start('api call');
  const api = env('CRM_API_URL');
  const first = await getJson(api, token.token.access_token);
  check(first.status === 200, `API answered ${first.status} to a fresh token`);

  steps.start('refresh');
  const oldAccess = token.token.access_token;
  const oldRefresh = token.token.refresh_token;
  token = await token.refresh();
  check(token.token.access_token && token.token.access_token !== oldAccess, 'refresh issued a new access token');
  const second = await getJson(api, token.token.access_token);
  check(second.status === 200, `API answered ${second.status} to the refreshed token`);
  if (process.env.EXPECT_ROTATION === '1') {
    check(token.token.refresh_token !== oldRefresh, 'refresh token rotated');
  }

  if (revokeUrl) {
    steps.start('revoke');
    // RFC 7009 §2.2: a 200 revocation answer has no meaningful body, but simple-oauth2 parses
    // every answer as strict JSON; relax that for this call (Wreck's `json: true`).
    await token.revokeAll({ json: true });
    const after = await getJson(api, token.token.access_token);
    check(after.status === 401, `API answered ${after.status} to a revoked access token, want 401`);
    check(/^Bearer\b/.test(after.headers.get('www-authenticate') ?? ''), '401 carries WWW-Authenticate: Bearer (RFC 6750 §3)');
    await token.refresh().then(
      () => fail('a revoked refresh token was accepted'),
      (e) => check(e.output?.statusCode === 400 || e.output?.statusCode === 401,
        `revoked refresh token refused (got ${e.output?.statusCode})`),
    );
  }
  steps.done();
} catch (e) {
  steps.error(e);
}
