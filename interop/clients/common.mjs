// Helpers shared by the Node interop clients: configuration from the environment, named steps,
// checks, and one exit path that prints the failing step and never a secret.

/** A required environment variable (one of the .env lines `handshake serve` prints). */
export function env(name) {
  const v = process.env[name];
  if (v === undefined || v === '') {
    console.error(`FAIL setup: ${name} is not set (pass the .env lines of \`handshake serve\`)`);
    process.exit(2);
  }
  return v;
}

class CheckFailed extends Error {}

export function fail(what) {
  throw new CheckFailed(what);
}

export function check(cond, what) {
  if (!cond) fail(what);
}

/** GET a protected resource with a bearer token (RFC 6750 §2.1). */
export async function getJson(url, accessToken) {
  // Agile CRM answers XML unless asked for JSON; every CRM accepts the header.
  return fetch(url, { headers: { authorization: `Bearer ${accessToken}`, accept: 'application/json' } });
}

/** What the error of a library call says, without the request (which may hold secrets). */
function describe(e) {
  if (e instanceof CheckFailed) return e.message;
  const status = e.output?.statusCode ?? e.status ?? e.response?.status;
  const body = e.data?.payload ?? e.error ?? e.cause;
  let text = `${e.name}: ${e.message}`;
  if (status) text += ` (HTTP ${status})`;
  if (body && typeof body === 'object') {
    const { error, error_description: description, code, message } = body;
    text += ` body: ${JSON.stringify({ error, error_description: description, code, message })}`;
  }
  return text;
}

export const steps = {
  current: 'setup',
  start(name) {
    this.current = name;
    console.log(`step: ${name}`);
  },
  done() {
    console.log('ok');
    process.exit(0);
  },
  error(e) {
    console.log(`FAIL ${this.current}: ${describe(e)}`);
    process.exit(1);
  },
};
