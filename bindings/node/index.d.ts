// Types of handshake-mock (index.mjs): handshake mock CRMs from Node tests.

import type { ChildProcess } from 'node:child_process';

/** A built-in provider of `handshake serve`. */
export type Provider = 'capsule' | 'connectwise' | 'agilecrm' | 'redtail' | 'insightly';

/** An endpoint of the mock, as named in faults and the journal. */
export type Endpoint = 'authorize' | 'token' | 'revoke' | 'api';

/** An RFC 6749 error code the mock can answer with. */
export type OAuthError =
  | 'invalid_request'
  | 'invalid_client'
  | 'invalid_grant'
  | 'unauthorized_client'
  | 'unsupported_grant_type'
  | 'invalid_scope'
  | 'access_denied'
  | 'server_error'
  | 'temporarily_unavailable';

/** A requirement `relax()` can lift for the rest of the run. */
export type Requirement = 'pkce' | 'body_encoding' | 'client_auth' | 'scope';

export interface StartMockOptions {
  /** Built-in provider id (or any id a newer binary knows). Give this or `profile`. */
  provider?: Provider | (string & {});
  /** A provider profile TOML file instead of a built-in provider. */
  profile?: string;
  /** The handshake binary: default `HANDSHAKE_BIN` from the environment, else `handshake` on PATH. */
  binary?: string;
  /** Registered redirect URI(s), matched exactly (default `http://localhost:3000/callback`). */
  redirectUri?: string | string[];
  /** Port to listen on (default 0: any free port). */
  port?: number;
  /** Address to listen on (default 127.0.0.1). */
  host?: string;
  /** Skip the consent page: the authorization endpoint redirects back at once. */
  autoApprove?: boolean;
  /** Registered client id (default `handshake-client`). */
  clientId?: string;
  /** Registered client secret (default `handshake-secret`); passed through the environment. */
  clientSecret?: string;
  /** Serve HTTPS with a generated certificate (your fetch must trust it: NODE_EXTRA_CA_CERTS). */
  tls?: boolean;
  /** Seed of the API's generated data set. */
  seed?: number;
  /** API requests allowed per rate-limit window. */
  rateLimit?: number;
  /** Length of the rate-limit window in seconds (with `rateLimit`). */
  rateWindow?: number;
  /** `--log-format` of a binary that has it (e.g. `json`). */
  logFormat?: string;
  /** More arguments for `handshake serve`. */
  args?: string[];
  /** More environment variables for the mock process (e.g. `HANDSHAKE_API_KEY`). */
  env?: Record<string, string>;
  /** Working directory of the mock process. */
  cwd?: string;
  /** How long to wait for the ready line (default 15000 ms). */
  timeoutMs?: number;
}

/** How `failNext()` makes a request fail: exactly one of `error`, `status`, `delayMs`, `drop`. */
export interface FailHow {
  /** Answer with this RFC 6749 error (at `authorize`: an error redirect). */
  error?: OAuthError;
  /** Answer with this HTTP status and an error body. */
  status?: number;
  /** Wait this long, then answer normally. */
  delayMs?: number;
  /** Close the connection without answering. */
  drop?: boolean;
  /** How many requests fail (default 1). */
  times?: number;
}

export interface RateLimitHow {
  /** How long the CRM's own 429 holds, in seconds (default 1, at least 1). */
  retryAfterSecs?: number;
  /** At most this many refusals in that period (the mock's default: 1). */
  times?: number;
}

/** The fault as the mock armed it (the JSON of `POST /__handshake/faults`). */
export interface Fault {
  endpoint: Endpoint;
  kind: 'oauth_error' | 'status' | 'delay' | 'drop' | 'rate_limited';
  times: number;
  error?: OAuthError;
  status?: number;
  delay_ms?: number;
  retry_after_secs?: number;
}

/** One request as the mock received it; secrets read `[redacted]` or `[redacted:tag]`. */
export interface JournalEntry {
  seq: number;
  endpoint: Endpoint | null;
  method: string;
  path: string;
  query: [string, string][];
  headers: [string, string][];
  params: [string, string][];
  grant_type: string | null;
  client_auth: 'client_secret_basic' | 'client_secret_post' | null;
  /** HTTP status answered; 0 when a fault dropped the connection. */
  status: number;
  auth_mode?: string | null;
  error?: string | null;
  error_description?: string | null;
  requirement?: Requirement | null;
  user?: string | null;
  notes?: string[];
  [field: string]: unknown;
}

/** A running mock. Call `stop()` in `finally` / `afterEach` / `t.after`. */
export interface Mock {
  /** Base URL, e.g. `http://127.0.0.1:38411` (no trailing slash). */
  readonly url: string;
  /** `${url}/__handshake`. */
  readonly controlUrl: string;
  /** The provider id from the ready line. */
  readonly provider: string | null;
  /** The `.env` lines `handshake serve` printed, e.g. `env.OAUTH_TOKEN_URL`; quotes removed. */
  readonly env: Readonly<Record<string, string>>;
  /** The mock's process id. */
  readonly pid: number | undefined;
  /** The mock's process. */
  readonly process: ChildProcess;
  /** Fail the next request(s) to `endpoint`. */
  failNext(endpoint: Endpoint, how: FailHow): Promise<Fault>;
  /** The CRM's own 429 (headers and body) on the next API request(s). */
  rateLimitNext(how?: RateLimitHow): Promise<Fault>;
  /** Disarm every fault and end a running rate limit. */
  clearFaults(): Promise<void>;
  /** Expire every access token now. */
  expireTokens(): Promise<void>;
  /** Revoke every grant, or that user's only (`'bob'`), as a user would in the CRM. */
  revokeGrant(user?: string): Promise<void>;
  /** Move the mock's clock forward. */
  advanceClock(secs: number): Promise<{ offset_secs: number }>;
  /** Lift one requirement for the rest of the run (until `reset()`). */
  relax(requirement: Requirement): Promise<{ relaxed: Requirement[] }>;
  /** Every request received, oldest first, secrets redacted. */
  journal(): Promise<JournalEntry[]>;
  /** RFC 8414 metadata plus provider, client (never the secret) and users. */
  metadata(): Promise<Record<string, unknown>>;
  /** Forget codes, tokens, faults, relaxations and the journal. */
  reset(): Promise<void>;
  /** What the mock printed on stdout after its ready lines (the last 1000 lines). */
  logLines(): string[];
  /** Stop the mock (SIGTERM, then SIGKILL after 3 s); idempotent. */
  stop(): Promise<void>;
  [Symbol.asyncDispose](): Promise<void>;
}

/** A non-2xx answer of the control API. */
export class ControlError extends Error {
  readonly status: number;
  readonly body: unknown;
}

/** Default of `StartMockOptions.timeoutMs`. */
export const DEFAULT_TIMEOUT_MS: number;

/** Starts `handshake serve <provider> --port 0` and waits for its ready line and `.env` lines. */
export function startMock(options: StartMockOptions): Promise<Mock>;

/** One `KEY=VALUE` line of `handshake serve`, or null. */
export function parseEnvLine(line: string): [string, string] | null;

/** A `--log-format json` ready line, or null. */
export function parseJsonReadyLine(
  line: string,
): { url: string; provider?: string; env?: Record<string, string> } | null;
