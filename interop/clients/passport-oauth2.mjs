// The whole authorization-code flow with passport + passport-oauth2 (npm, third-party: the
// OAuth 2.0 strategy most Node web apps use) against a handshake mock, configured only by the
// .env lines `handshake serve <crm>` prints (read from the environment).
//
// passport-oauth2 is a Passport strategy, not a client library: it only runs inside a web app.
// So this script starts a tiny Express app (express-session for passport's state store) with
// two routes, GET /login and the redirect URI's path (/callback), and plays the user's browser
// against it: fetch with redirect 'manual' and the session cookie. The app listens on a free
// loopback port; the mock's redirect to OAUTH_REDIRECT_URI (http://localhost:3000/callback, as
// registered) is followed to the same path and query on that port, as a browser would reach
// the app behind that address.
//
// passport-oauth2 runs with its defaults except `state: true` (its session state store; the
// default is no state at all) and `pkce` where OAUTH_PKCE_METHOD offers it: form bodies and the
// client credentials in the body (client_secret_post) on every token request, whatever
// OAUTH_TOKEN_AUTH_METHOD prefers (every mock accepts client_secret_post). It never refreshes
// by itself: refresh is passport-oauth2-refresh's requestNewAccessToken (the strategy's own
// OAuth2 client with grant_type=refresh_token). Passport has no revocation: RFC 7009 is a plain
// fetch form POST with the same client authentication.
//
// Exit 0 and a last line `ok` when every step behaved as RFC 6749/6750/7009/7636 say;
// exit 1 with the failing step otherwise. No token, code, verifier, cookie or secret is printed.

import { createRequire } from 'node:module';
import { randomBytes } from 'node:crypto';
import { check, env, fail, getJson, steps } from './common.mjs';

const require = createRequire(import.meta.url);
const express = require('express');
const session = require('express-session');
const passport = require('passport');
const OAuth2Strategy = require('passport-oauth2');
const refresh = require('passport-oauth2-refresh');

const clientId = env('OAUTH_CLIENT_ID');
const clientSecret = env('OAUTH_CLIENT_SECRET');
const authorizeUrl = env('OAUTH_AUTHORIZE_URL');
const redirectUri = new URL(env('OAUTH_REDIRECT_URI'));
const revokeUrl = process.env.OAUTH_REVOKE_URL || '';
const pkce = env('OAUTH_PKCE_METHOD');
const scopes = env('OAUTH_SCOPES').replace(/^"|"$/g, '').split(/\s+/).filter(Boolean);
const api = env('CRM_API_URL');

// What passport handed the verify callback: the tokens of each successful code exchange.
const connections = [];
// The last error the app's routes raised (a refused code exchange), for the failure message.
let appError = null;

const strategy = new OAuth2Strategy(
  {
    authorizationURL: authorizeUrl,
    tokenURL: env('OAUTH_TOKEN_URL'),
    clientID: clientId,
    clientSecret,
    callbackURL: redirectUri.href,
    scope: scopes,
    scopeSeparator: ' ',
    state: true,
    pkce: pkce === 'none' ? false : pkce,
  },
  (accessToken, refreshToken, params, _profile, done) => {
    connections.push({ accessToken, refreshToken, params });
    done(null, { connected: true });
  },
);
passport.use(strategy);
refresh.use(strategy);

const app = express();
app.disable('x-powered-by');
app.use(session({
  secret: randomBytes(32).toString('base64url'),
  resave: false,
  saveUninitialized: false,
  cookie: { httpOnly: true, sameSite: 'lax' },
}));
app.use(passport.initialize());
app.get('/login', passport.authenticate('oauth2', { session: false }));
app.get(redirectUri.pathname,
  passport.authenticate('oauth2', { session: false, failureRedirect: '/not-connected' }),
  (_req, res) => res.send('connected'));
app.get('/not-connected', (_req, res) => res.status(403).send('not connected'));
app.use((err, _req, res, _next) => {
  appError = err;
  res.status(500).send('error');
});

/** An error of passport-oauth2 or the `oauth` package, without the request (secrets). */
function describeOAuth(e) {
  if (!e) return 'no error recorded';
  const status = e.status ?? e.statusCode ?? e.oauthError?.statusCode;
  let body = e.data ?? e.oauthError?.data;
  try {
    const { error, error_description: description } = JSON.parse(body);
    body = JSON.stringify({ error, error_description: description });
  } catch {
    body = undefined;
  }
  return `${e.name ?? 'error'}: ${e.message ?? ''}${e.code ? ` (${e.code})` : ''}`
    + `${status ? ` (HTTP ${status})` : ''}${body ? ` body: ${body}` : ''}`;
}

/** passport-oauth2-refresh's callback API as a promise; rejects with the `oauth` error. */
function requestNewAccessToken(refreshToken) {
  return new Promise((resolve, reject) => {
    refresh.requestNewAccessToken('oauth2', refreshToken, (err, accessToken, newRefreshToken) =>
      (err ? reject(err) : resolve({ accessToken, refreshToken: newRefreshToken })));
  });
}

// The browser: one cookie jar (the app's session cookie), redirects read by hand.
const server = await new Promise((resolve) => {
  const s = app.listen(0, '127.0.0.1', () => resolve(s));
});
const appOrigin = `http://127.0.0.1:${server.address().port}`;
let cookie = '';
async function browse(url) {
  const sameApp = new URL(url).origin === appOrigin;
  const resp = await fetch(url, { redirect: 'manual', headers: sameApp && cookie ? { cookie } : {} });
  if (sameApp) {
    for (const c of resp.headers.getSetCookie()) {
      const pair = c.split(';')[0];
      if (pair.startsWith('connect.sid=')) cookie = pair;
    }
  }
  return resp;
}
const location = (resp, what) => {
  check(resp.status >= 300 && resp.status < 400, `${what} answered ${resp.status}, not a redirect`);
  return new URL(resp.headers.get('location'), appOrigin);
};
// The redirect URI as the app serves it: same path and query, the app's real address.
const atApp = (callback) => new URL(callback.pathname + callback.search, appOrigin);

/** /login at the app, then the mock's authorization endpoint: the callback URL it redirects to. */
async function authorize() {
  const toCrm = location(await browse(`${appOrigin}/login`), 'the app\'s /login');
  check(toCrm.href.startsWith(authorizeUrl), '/login redirected to OAUTH_AUTHORIZE_URL');
  check(cookie, '/login set a session cookie (passport keeps the state there)');
  const state = toCrm.searchParams.get('state');
  check(state && state.length >= 16, 'passport sent a strong state');
  if (pkce !== 'none') {
    check(toCrm.searchParams.get('code_challenge_method') === pkce, `passport sent PKCE ${pkce}`);
  }
  const callback = location(await browse(toCrm.href), 'authorize');
  check(callback.href.startsWith(redirectUri.href), 'redirect went to the registered redirect_uri');
  check(callback.searchParams.get('state') === state, 'state came back unchanged');
  check(callback.searchParams.get('code'), `callback carries a code (error=${callback.searchParams.get('error')})`);
  return callback;
}

/** GET the callback at the app: true when passport connected, false when it refused. */
async function callbackAtApp(callback) {
  const resp = await browse(atApp(callback).href);
  if (resp.status === 200) return true;
  check(resp.status === 302 && resp.headers.get('location') === '/not-connected',
    `callback answered ${resp.status}: ${describeOAuth(appError)}`);
  return false;
}

try {
  steps.start('forged state refused');
  const first = await authorize();
  const forged = new URL(first);
  forged.searchParams.set('state', randomBytes(24).toString('base64url'));
  check(!(await callbackAtApp(forged)), 'passport accepted a forged state');
  check(connections.length === 0, 'no code exchange for a forged state');

  steps.start('authorize');
  const callback = await authorize();

  steps.start('exchange');
  check(await callbackAtApp(callback), 'passport refused a genuine callback');
  check(connections.length === 1, 'one code exchange');
  let { accessToken, refreshToken } = connections[0];
  const { params } = connections[0];
  check(accessToken, 'token response has access_token');
  check(refreshToken, 'token response has refresh_token');
  check(/^bearer$/i.test(params.token_type ?? ''), 'token_type is Bearer');
  check(Number(params.expires_in) > 0, 'expires_in is a positive number');

  steps.start('replayed callback refused');
  check(!(await callbackAtApp(callback)), 'passport accepted a replayed callback (its state is single-use)');
  check(connections.length === 1, 'no code exchange for a replayed callback');

  steps.start('api call');
  const firstCall = await getJson(api, accessToken);
  check(firstCall.status === 200, `API answered ${firstCall.status} to a fresh token`);

  steps.start('refresh');
  const fresh = await requestNewAccessToken(refreshToken).catch((e) => fail(`refresh refused: ${describeOAuth(e)}`));
  check(fresh.accessToken && fresh.accessToken !== accessToken, 'refresh issued a new access token');
  accessToken = fresh.accessToken;
  refreshToken = fresh.refreshToken || refreshToken; // a CRM that does not rotate keeps the old one
  const second = await getJson(api, accessToken);
  check(second.status === 200, `API answered ${second.status} to the refreshed token`);

  if (revokeUrl) {
    steps.start('revoke');
    // RFC 7009 §2.1, the refresh token first, with passport-oauth2's client authentication.
    for (const [token, hint] of [[refreshToken, 'refresh_token'], [accessToken, 'access_token']]) {
      const resp = await fetch(revokeUrl, {
        method: 'POST',
        headers: { 'content-type': 'application/x-www-form-urlencoded', accept: 'application/json' },
        body: new URLSearchParams({ token, token_type_hint: hint, client_id: clientId, client_secret: clientSecret }),
      });
      check(resp.status === 200, `revocation of the ${hint} answered ${resp.status}, want 200`);
    }
    const after = await getJson(api, accessToken);
    check(after.status === 401, `API answered ${after.status} to a revoked access token, want 401`);
    check(/^Bearer\b/.test(after.headers.get('www-authenticate') ?? ''), '401 carries WWW-Authenticate: Bearer (RFC 6750 §3)');
    await requestNewAccessToken(refreshToken).then(
      () => fail('a revoked refresh token was accepted'),
      (e) => check(e.statusCode === 400 || e.statusCode === 401,
        `revoked refresh token refused with 400/401 (got ${describeOAuth(e)})`),
    );
  } else {
    console.log('note: no OAUTH_REVOKE_URL; revoke skipped');
  }
  server.close();
  steps.done();
} catch (e) {
  server.close();
  steps.error(e);
}
