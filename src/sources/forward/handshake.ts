/**
 * Shared-key handshake of the forward protocol (HELO → PING → PONG), compatible with
 * Fluentd's in_forward and Fluent Bit's out_forward:
 *   server: ['HELO', {nonce: bin, auth: bin|'', keepalive: true}]
 *   client: ['PING', hostname, salt, sha512_hex(salt + hostname + nonce + shared_key),
 *            username, sha512_hex(auth_salt + username + password)]
 *   server: ['PONG', ok, reason, server_hostname, sha512_hex(salt + server_hostname + nonce + shared_key)]
 * Digests are over raw bytes: Fluent Bit's salt is 16 random bytes sent as a msgpack str.
 */
import { createHash, randomBytes, timingSafeEqual } from 'node:crypto';
import { encodeValue, type Ping } from './protocol.ts';

export function sharedKeyDigest(salt: Uint8Array | string, hostname: Uint8Array | string, nonce: Uint8Array | string, sharedKey: string): string {
  return createHash('sha512').update(salt).update(hostname).update(nonce).update(sharedKey).digest('hex');
}

export function passwordDigest(authSalt: Uint8Array | string, username: string, password: string): string {
  return createHash('sha512').update(authSalt).update(username).update(password).digest('hex');
}

/** "user:password,user2:password2" → map (a password may contain ':'). */
export function parseUsers(spec: string | Record<string, string> | undefined): Map<string, string> | undefined {
  if (spec === undefined) return undefined;
  if (typeof spec !== 'string') return new Map(Object.entries(spec));
  const m = new Map<string, string>();
  for (const pair of spec.split(',')) {
    const i = pair.indexOf(':');
    if (i <= 0) throw new Error(`forward users: expected user:password, got ${JSON.stringify(pair)}`);
    m.set(pair.slice(0, i), pair.slice(i + 1));
  }
  return m.size ? m : undefined;
}

function safeEqualHex(a: string, b: string): boolean {
  const x = Buffer.from(a, 'utf8');
  const y = Buffer.from(b, 'utf8');
  return x.length === y.length && timingSafeEqual(x, y);
}

export interface HandshakeResult {
  ok: boolean;
  /** why it failed, also sent to the peer in the PONG */
  reason: string;
  /** the PONG to send */
  pong: Buffer;
  clientHostname: string;
  username?: string;
}

/** One handshake per connection: fresh nonce (and auth salt when users are configured). */
export class Handshake {
  readonly nonce = randomBytes(16);
  readonly authSalt: Buffer | undefined;

  constructor(private readonly sharedKey: string, private readonly hostname: string, private readonly users?: Map<string, string>) {
    this.authSalt = users?.size ? randomBytes(16) : undefined;
  }

  helo(): Buffer {
    return encodeValue(['HELO', { nonce: this.nonce, auth: this.authSalt ?? '', keepalive: true }]);
  }

  verify(ping: Ping): HandshakeResult {
    const clientHostname = Buffer.from(ping.hostname).toString('utf8');
    const fail = (reason: string): HandshakeResult => ({ ok: false, reason, clientHostname, pong: encodeValue(['PONG', false, reason, '', '']) });
    if (clientHostname === this.hostname) return fail('same hostname between input and output: invalid configuration');
    const expected = sharedKeyDigest(ping.salt, ping.hostname, this.nonce, this.sharedKey);
    if (!safeEqualHex(ping.digest, expected)) return fail('shared_key mismatch');
    if (this.users && this.authSalt) {
      const password = ping.username ? this.users.get(ping.username) : undefined;
      if (password === undefined || !safeEqualHex(ping.passwordDigest, passwordDigest(this.authSalt, ping.username, password))) {
        return fail('username/password mismatch');
      }
    }
    const pong = encodeValue(['PONG', true, '', this.hostname, sharedKeyDigest(ping.salt, this.hostname, this.nonce, this.sharedKey)]);
    return { ok: true, reason: '', pong, clientHostname, username: ping.username || undefined };
  }
}
