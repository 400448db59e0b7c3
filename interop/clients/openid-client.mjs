// The whole authorization-code flow with openid-client v6 (npm, third-party; panva's certified
// client) against a handshake mock. Server metadata comes from RFC 8414 discovery when the
// mock serves /.well-known/oauth-authorization-server (Capsule), else from the mock's
// /__handshake/metadata, which is the same document plus extras. Configured by the .env lines
// of `handshake serve <crm>`; acts as the browser itself.
//
// openid-client runs with its defaults: RFC 6749 form bodies on the token and revocation
// endpoints (the only encoding it has; every mock accepts it), client_secret_basic or
// client_secret_post as OAUTH_TOKEN_AUTH_METHOD says, PKCE S256 where OAUTH_PKCE_METHOD says so.
// A mock that wanted JSON bodies (OAUTH_TOKEN_ENCODING=json) would be out of its reach: it
// exits 3 then.

import * as oidc from 'openid-client';
import { check, env, fail, getJson, steps } from './common.mjs';

if (env('OAUTH_TOKEN_ENCODING') !== 'form') {
  console.log('unsupported: openid-client cannot send JSON token requests');
  process.exit(3);
}

const origin = new URL(env('OAUTH_TOKEN_URL')).origin;
const clientId = env('OAUTH_CLIENT_ID');
const secret = env('OAUTH_CLIENT_SECRET');
const redirectUri = env('OAUTH_REDIRECT_URI');
const pkce = env('OAUTH_PKCE_METHOD');
const auth = env('OAUTH_TOKEN_AUTH_METHOD') === 'client_secret_basic'
  ? oidc.ClientSecretBasic(secret)
  : oidc.ClientSecretPost(secret);

try {
  steps.start('discovery');
  let config;
  const wellKnown = await fetch(`${origin}/.well-known/oauth-authorization-server`);
  if (wellKnown.ok) {
    // The recommended path: the issuer identifier in, metadata validated against it.
    config = await oidc.discovery(new URL(origin), clientId, secret, auth, {
      algorithm: 'oauth2',
      execute: [oidc.allowInsecureRequests], // loopback http mock
    });
    console.log('metadata: RFC 8414 discovery');
  } else {
    const meta = await (await fetch(`${origin}/__handshake/metadata`)).json();
    config = new oidc.Configuration(meta, clientId, secret, auth);
    oidc.allowInsecureRequests(config);
    console.log('metadata: /__handshake/metadata');
  }
  const server = config.serverMetadata();
  check(server.authorization_endpoint === env('OAUTH_AUTHORIZE_URL'), 'metadata authorization_endpoint matches the .env line');
  check(server.token_endpoint === env('OAUTH_TOKEN_URL'), 'metadata token_endpoint matches the .env line');

  steps.start('authorize');
  const state = oidc.randomState();
  const verifier = oidc.randomPKCECodeVerifier();
  const params = { redirect_uri: redirectUri, scope: env('OAUTH_SCOPES').replace(/^"|"$/g, ''), state };
  if (pkce === 'S256') {
    params.code_challenge = await oidc.calculatePKCECodeChallenge(verifier);
    params.code_challenge_method = 'S256';
  }
  const resp = await fetch(oidc.buildAuthorizationUrl(config, params), { redirect: 'manual' });
  check(resp.status >= 300 && resp.status < 400, `authorize answered ${resp.status}, not a redirect`);
  const callback = new URL(resp.headers.get('location'));

  steps.start('exchange');
  // openid-client validates state, error and iss of the callback itself.
  const checks = { expectedState: state };
  if (pkce === 'S256') checks.pkceCodeVerifier = verifier;
  let tokens = await oidc.authorizationCodeGrant(config, callback, checks);
  check(tokens.access_token && tokens.refresh_token, 'access and refresh tokens issued');
  check(tokens.expiresIn() > 0, 'expires_in understood');

  steps.start('forged state refused');
  const forged = new URL(callback);
  forged.searchParams.set('state', oidc.randomState());
  await oidc.authorizationCodeGrant(config, forged, checks).then(
    () => fail('openid-client accepted a forged state'),
    (e) => check(e.code === 'OAUTH_INVALID_RESPONSE' || /state/i.test(e.message), `refused for state (${e.code})`),
  );

  steps.start('api call');
  const api = new URL(env('CRM_API_URL'));
  const first = await oidc.fetchProtectedResource(config, tokens.access_token, api, 'GET', undefined,
    new Headers({ accept: 'application/json' }));
  check(first.status === 200, `API answered ${first.status}`);

  steps.start('refresh');
  const old = tokens.access_token;
  tokens = await oidc.refreshTokenGrant(config, tokens.refresh_token);
  check(tokens.access_token !== old, 'refresh issued a new access token');
  const second = await getJson(api, tokens.access_token);
  check(second.status === 200, `API answered ${second.status} to the refreshed token`);

  if (server.revocation_endpoint) {
    steps.start('revoke');
    await oidc.tokenRevocation(config, tokens.refresh_token, { token_type_hint: 'refresh_token' });
    await oidc.tokenRevocation(config, tokens.access_token, { token_type_hint: 'access_token' });
    const after = await getJson(api, tokens.access_token);
    check(after.status === 401, `API answered ${after.status} to a revoked token, want 401`);
    await oidc.refreshTokenGrant(config, tokens.refresh_token).then(
      () => fail('a revoked refresh token was accepted'),
      (e) => check(e.error === 'invalid_grant', `revoked refresh token refused with invalid_grant (got ${e.error ?? e.code})`),
    );
  } else {
    console.log('note: no revocation_endpoint in metadata; revoke skipped');
  }
  steps.done();
} catch (e) {
  steps.error(e);
}
