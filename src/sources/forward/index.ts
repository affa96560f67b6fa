/** Forward protocol input (Fluent Bit / Fluentd `forward` output → kontext). */
import { tagClusterMatcher } from '../../clusters/names.ts';
import { readFileSync } from 'node:fs';
import type { Config } from '../../config/config.ts';
import type { ForwardServerOptions } from './server.ts';

export { ForwardServer, type ForwardServerOptions, type ForwardTlsOptions } from './server.ts';
export { EventTime, ProtocolError } from './protocol.ts';

/** Forward server options from the shared configuration (reads the TLS files). */
export function forwardOptionsFromConfig(c: Config): ForwardServerOptions {
  return {
    host: c.forwardHost,
    port: c.forwardPort,
    sharedKey: c.forwardSharedKey,
    users: c.forwardUsers,
    tls: c.forwardTlsCert && c.forwardTlsKey ? {
      cert: readFileSync(c.forwardTlsCert), key: readFileSync(c.forwardTlsKey),
      ca: c.forwardTlsCa ? readFileSync(c.forwardTlsCa) : undefined,
    } : undefined,
    maxMessageBytes: c.maxMessageBytes,
    maxDecompressionRatio: c.maxDecompressionRatio,
    maxDepth: c.maxDepth,
    maxMessageEntries: c.maxMessageEntries,
    idleTimeout: c.idleTimeout,
    maxConnections: c.maxConnections,
    maxConnectionsPerPeer: c.maxConnectionsPerPeer,
    clusterOfTag: tagClusterMatcher(c.clusterFromTag),
  };
}

/** 127.0.0.0/8, ::1, localhost (and IPv4-mapped loopback). */
export function isLoopback(host: string): boolean {
  const h = host.trim().toLowerCase().replace(/^\[|\]$/g, '');
  return h === 'localhost' || h === '::1' || /^(::ffff:)?127\.\d{1,3}\.\d{1,3}\.\d{1,3}$/.test(h);
}

/**
 * Closed by default: how the forward input authenticates peers, or why it must not start.
 * A non-loopback address needs a shared key or client certificates, unless --forward-insecure.
 */
export function forwardExposure(c: Pick<Config, 'forwardHost' | 'forwardSharedKey' | 'forwardTlsCa' | 'forwardInsecure'>):
  { auth: 'shared-key' | 'mtls' | 'loopback' | 'insecure'; error?: string } {
  if (c.forwardSharedKey) return { auth: 'shared-key' };
  if (c.forwardTlsCa) return { auth: 'mtls' };
  if (isLoopback(c.forwardHost)) return { auth: 'loopback' };
  if (c.forwardInsecure) return { auth: 'insecure' };
  return {
    auth: 'insecure',
    error: `the forward input would accept unauthenticated events on ${c.forwardHost}: set --forward-shared-key (KONTEXT_FORWARD_SHARED_KEY) ` +
      'or --forward-tls-ca with --forward-tls-cert/--forward-tls-key (client certificates), listen on a loopback address (--forward-host 127.0.0.1), ' +
      'or, for a lab only, --forward-insecure',
  };
}
