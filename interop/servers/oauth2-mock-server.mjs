// Starts axa-group's oauth2-mock-server (npm, third-party) on a random loopback port, as the
// server our reference client and conformance runner are tested against. Prints
//
//   oauth2-mock-server ready at http://127.0.0.1:PORT
//
// then one `event {json}` line per request it handled (endpoint, grant type, how the client
// authenticated, which parameters came), so a test can judge what our client sent. Values of
// codes, tokens, verifiers and secrets are never printed: only parameter names.
// Stops on SIGTERM/SIGINT.

import { OAuth2Server } from 'oauth2-mock-server';

const server = new OAuth2Server();
await server.issuer.keys.generate('RS256');

const event = (fields) => console.log(`event ${JSON.stringify(fields)}`);
const authOf = (req) => {
  const h = req.headers.authorization ?? '';
  if (h.startsWith('Basic ')) return 'client_secret_basic';
  return req.body?.client_secret !== undefined ? 'client_secret_post' : 'none';
};

server.service.on('beforeAuthorizeRedirect', (_redirect, req) => {
  event({ endpoint: 'authorize', params: Object.keys(req.query).sort(),
    code_challenge_method: req.query.code_challenge_method ?? null });
});
server.service.on('beforeResponse', (response, req) => {
  event({ endpoint: 'token', grant_type: req.body.grant_type, client_auth: authOf(req),
    content_type: req.headers['content-type'] ?? null, params: Object.keys(req.body).sort(),
    status: response.statusCode });
});
server.service.on('beforeRevoke', (_response, req) => {
  event({ endpoint: 'revoke', client_auth: authOf(req), content_type: req.headers['content-type'] ?? null });
});
server.service.on('beforeUserinfo', (_response, req) => {
  event({ endpoint: 'userinfo', bearer: /^Bearer /.test(req.headers.authorization ?? '') });
});

await server.start(Number(process.env.PORT ?? 0), '127.0.0.1');
// Its issuer URL says `localhost`; clients are pointed at the address it really bound.
console.log(`oauth2-mock-server ready at http://127.0.0.1:${server.address().port}`);

const stop = async () => {
  await server.stop();
  process.exit(0);
};
process.on('SIGTERM', stop);
process.on('SIGINT', stop);
