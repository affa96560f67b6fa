/**
 * Bearer-token authentication shared by /graphql and the webhook: tokens from configuration
 * (`--auth-tokens a,b`), compared in constant time; off only when `--no-auth` is set.
 */
import { createHash, timingSafeEqual } from 'node:crypto';
import type { NextFunction, Request, Response } from 'express';
import { log } from '../util/log.ts';
import { counter } from '../util/metrics.ts';

const authFailures = counter('kontext_http_auth_failures_total', 'Requests refused for a missing or wrong bearer token, by route.');
const failWindow = { start: 0, count: 0, suppressed: 0 };

/**
 * Logs a refused request with the peer's address and the reason, never the token; at most 20
 * lines per 10 s (the count of the rest is logged when the next window opens).
 */
export function logAuthFailure(route: string, remote: string | undefined, reason: string): void {
  authFailures.inc({ route });
  const now = Date.now();
  const w = failWindow;
  if (now - w.start >= 10_000) {
    if (w.suppressed) log.warn(`${w.suppressed} more authentication failures in the last 10 s (see kontext_http_auth_failures_total)`);
    w.start = now; w.count = 0; w.suppressed = 0;
  }
  if (++w.count <= 20) log.warn('authentication failed', { route, remote: remote ?? '?', reason });
  else w.suppressed++;
}

export interface AuthOptions {
  /** accepted bearer tokens */
  tokens?: readonly string[];
  /** serve without authentication (explicit, local use only) */
  noAuth?: boolean;
}

export class AuthConfigError extends Error {
  constructor(message: string) { super(message); this.name = 'AuthConfigError'; }
}

/** AuthOptions from the configuration (`authTokens` comma-separated, `noAuth`). */
export function authFromConfig(cfg: { authTokens?: string; noAuth?: boolean }): AuthOptions {
  const tokens = (cfg.authTokens ?? '').split(',').map((t) => t.trim()).filter(Boolean);
  return { tokens, noAuth: cfg.noAuth === true };
}

export interface Authenticator {
  readonly enabled: boolean;
  /** null when the Authorization header is accepted, else the reason (for a 401 body) */
  check(authorization: string | null | undefined): string | null;
}

/** Throws AuthConfigError when neither tokens nor noAuth are configured. */
export function createAuthenticator(opts: AuthOptions): Authenticator {
  const tokens = (opts.tokens ?? []).filter((t) => t.length > 0);
  if (opts.noAuth) return { enabled: false, check: () => null };
  if (tokens.length === 0) {
    throw new AuthConfigError('no auth tokens configured: set --auth-tokens (KONTEXT_AUTH_TOKENS) or, for local use only, --no-auth');
  }
  // fixed-length digests make the comparison constant-time whatever the token lengths
  const digests = tokens.map((t) => createHash('sha256').update(t).digest());
  return {
    enabled: true,
    check(header) {
      if (!header) return 'missing Authorization header: send "Authorization: Bearer <token>"';
      const m = /^Bearer[ \t]+(\S+)[ \t]*$/i.exec(header);
      if (!m) return 'malformed Authorization header: expected "Bearer <token>"';
      const d = createHash('sha256').update(m[1]!).digest();
      let ok = false;
      for (const ref of digests) ok = timingSafeEqual(d, ref) || ok; // no early exit
      return ok ? null : 'invalid bearer token';
    },
  };
}

/** Express middleware answering 401 (JSON, WWW-Authenticate) unless the request carries a valid token. */
export function requireBearer(auth: Authenticator | AuthOptions, route = 'http') {
  const a = 'check' in auth ? auth : createAuthenticator(auth);
  return (req: Request, res: Response, next: NextFunction): void => {
    const why = a.check(req.headers.authorization);
    if (why === null) { next(); return; }
    logAuthFailure(route, req.socket?.remoteAddress, why);
    res.status(401).set('WWW-Authenticate', 'Bearer realm="kontext"').json({ error: why });
  };
}
