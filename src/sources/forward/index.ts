/** Forward protocol input (Fluent Bit / Fluentd `forward` output → kontext). */
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
    tls: c.forwardTlsCert && c.forwardTlsKey ? { cert: readFileSync(c.forwardTlsCert), key: readFileSync(c.forwardTlsKey) } : undefined,
    maxMessageBytes: c.maxMessageBytes,
    idleTimeout: c.idleTimeout,
    maxConnections: c.maxConnections,
  };
}
