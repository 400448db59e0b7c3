// Starts panva's node-oidc-provider (npm `oidc-provider`, third-party, OpenID Certified) as an
// authorization server for the conformance runner's provider mode: the STOCK provider with its
// stock development login and consent pages (devInteractions, on by default), one static
// client, and only the configuration a plain OAuth 2.0 authorization-code client needs.
//
//   node interop/servers/oidc-provider.mjs [PORT]   # PORT 0 or omitted: a free port
//
// prints `oidc-provider ready at http://127.0.0.1:PORT` once it accepts connections, then the
// provider's own development warnings (stderr). Stops on SIGTERM/SIGINT.
//
// Choices (interop/profiles/oidc-provider.toml describes the result):
// - Issuer `http://127.0.0.1:PORT`: the socket is bound first, so the issuer (and the `iss` it
//   adds to every authorization response, RFC 9207) is the address the runner is given.
// - The client authenticates with client_secret_basic, oidc-provider's default
//   token_endpoint_auth_method (a client has exactly one method).
// - Scopes: the defaults, `openid` and `offline_access`, plus the standard `profile`. The
//   resource the runner GETs with the bearer token is the userinfo endpoint `/me`, which wants
//   `openid` in the token, so the profile's default scope is `openid` and no resource indicator
//   is needed. `profile` is a scope a client can be granted without `openid`; /me then answers
//   403 insufficient_scope (the runner's insufficient-scope scenario). `offline_access` cannot
//   serve for that: without prompt=consent it is dropped, and a request left with no scope is
//   answered access_denied.
// - issueRefreshToken: the default issues one only when `offline_access` was granted, and the
//   provider drops `offline_access` from any request without `prompt=consent` (OpenID Connect
//   Core §11). A plain OAuth 2.0 client sends neither, so a refresh token is issued whenever
//   the client may use the refresh_token grant. Such refresh tokens end with the user's
//   session at the provider (expiresWithSession's default for grants without offline_access;
//   sessions live 14 days here).
// - PKCE: the default, S256 only, required for public clients and optional (checked when a
//   challenge was sent) for this confidential one.
// - features.revocation: off by default, enabled (RFC 7009 at /token/revocation). Revoking an
//   access or refresh token revokes the whole grant.
// - rotateRefreshToken: true (the default rotates for confidential clients only late in a
//   refresh token's life): every refresh answers a new refresh token and consumes the old one;
//   presenting a consumed one revokes the grant (RFC 9700 §4.14.2 reuse detection). This is
//   the provider's own documented option, turned on so the runner's rotation scenarios apply.
// Everything else (adapter: in memory; signing keys: generated development ones; no cookie
// signing keys; TTLs: access token 1 h, code 60 s, refresh token 14 d) is oidc-provider's
// default. On Node 20 it warns "Unsupported runtime" (it wants 22 LTS) and works.

import { createServer } from 'node:http';
import Provider from 'oidc-provider';

const port = Number(process.argv[2] ?? process.env.PORT ?? 0);
const server = createServer();
await new Promise((resolve, reject) => {
  server.once('error', reject);
  server.listen(port, '127.0.0.1', resolve);
});
const issuer = `http://127.0.0.1:${server.address().port}`;

const provider = new Provider(issuer, {
  clients: [
    {
      client_id: 'handshake-client',
      client_secret: 'handshake-secret',
      redirect_uris: ['http://localhost:3000/callback'],
      grant_types: ['authorization_code', 'refresh_token'],
      response_types: ['code'],
    },
  ],
  features: {
    revocation: { enabled: true },
  },
  scopes: ['openid', 'offline_access', 'profile'],
  issueRefreshToken: async (_ctx, client) => client.grantTypeAllowed('refresh_token'),
  rotateRefreshToken: true,
});
server.on('request', provider.callback());
console.log(`oidc-provider ready at ${issuer}`);

const stop = () => {
  server.close(() => process.exit(0));
  server.closeAllConnections();
};
process.on('SIGTERM', stop);
process.on('SIGINT', stop);
