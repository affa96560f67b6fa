/**
 * The UI's only way to data: GraphQL over `/graphql` on the same origin, with the bearer token
 * the user entered (kept in sessionStorage for this tab). A 401 raises AuthRequired, which
 * the app answers with the token prompt.
 */
import { SseParser } from './lib/sse.ts';

const TOKEN_KEY = 'kontext.token';

export class AuthRequired extends Error {
  constructor(message: string) { super(message); this.name = 'AuthRequired'; }
}

export function getToken(): string | null { return sessionStorage.getItem(TOKEN_KEY); }
export function setToken(t: string | null): void {
  if (t) sessionStorage.setItem(TOKEN_KEY, t); else sessionStorage.removeItem(TOKEN_KEY);
}

function headers(extra: Record<string, string>): Record<string, string> {
  const t = getToken();
  return { 'content-type': 'application/json', ...extra, ...(t ? { authorization: `Bearer ${t}` } : {}) };
}

async function failure(r: Response): Promise<Error> {
  let msg = `HTTP ${r.status}`;
  try { const b = await r.json() as { errors?: { message: string }[]; error?: string }; msg = b.errors?.[0]?.message ?? b.error ?? msg; } catch { /* not JSON */ }
  return r.status === 401 ? new AuthRequired(msg) : new Error(msg);
}

export async function gql<T = any>(query: string, variables: Record<string, unknown> = {}, signal?: AbortSignal): Promise<T> {
  const r = await fetch('/graphql', { method: 'POST', headers: headers({ accept: 'application/json' }), body: JSON.stringify({ query, variables }), signal });
  if (!r.ok) throw await failure(r);
  const body = await r.json() as { data?: T; errors?: { message: string }[] };
  if (body.errors?.length) throw new Error(body.errors.map((e) => e.message).join('; '));
  return body.data as T;
}

/** Whether the server wants a token this tab does not have (a valid token, or --no-auth, answers no). */
export async function authNeeded(): Promise<boolean> {
  try { await gql('{ __typename }'); return false; } catch (e) { if (e instanceof AuthRequired) return true; throw e; }
}

/**
 * Subscribes over Server-Sent Events (POST with `Accept: text/event-stream`). `onData` gets each
 * result's `data`; `onError` once, when the stream fails or ends. Returns the unsubscribe.
 */
export function subscribe<T = any>(query: string, variables: Record<string, unknown>, onData: (d: T) => void, onError: (e: Error) => void): () => void {
  const ac = new AbortController();
  void (async () => {
    try {
      const r = await fetch('/graphql', { method: 'POST', headers: headers({ accept: 'text/event-stream' }), body: JSON.stringify({ query, variables }), signal: ac.signal });
      if (!r.ok || !r.body) throw await failure(r);
      const reader = r.body.pipeThrough(new TextDecoderStream()).getReader();
      const parser = new SseParser();
      for (;;) {
        const { value, done } = await reader.read();
        if (done) break;
        for (const ev of parser.push(value)) {
          if (ev.event !== 'next' || !ev.data) continue;
          const msg = JSON.parse(ev.data) as { data?: T; errors?: { message: string }[] };
          if (msg.errors?.length) throw new Error(msg.errors.map((e) => e.message).join('; '));
          if (msg.data) onData(msg.data);
        }
      }
      if (!ac.signal.aborted) onError(new Error('live updates ended'));
    } catch (e) {
      if (!ac.signal.aborted) onError(e as Error);
    }
  })();
  return () => ac.abort();
}
