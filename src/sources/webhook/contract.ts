/**
 * The webhook input as a `Source` (src/types/stage.ts) on its own HTTP listener. `serve`
 * mounts the router on the shared HTTP app instead; both answer the same way.
 */
import express from 'express';
import { once } from 'node:events';
import type { AddressInfo, Server } from 'node:net';
import type { Downstream } from '../../types/pipeline.ts';
import type { Source, SourceAddress } from '../../types/stage.ts';
import { createWebhookRouter, type WebhookOptions } from './index.ts';

export const WEBHOOK_PATH = '/webhook/audit';

export function webhookSource(opts: Omit<WebhookOptions, 'downstream'> & { host?: string; port?: number }): Source {
  let server: Server | undefined;
  return {
    name: 'webhook',
    async start(downstream: Downstream): Promise<SourceAddress> {
      if (server) throw new Error('webhook source already started');
      const app = express();
      app.use(WEBHOOK_PATH, createWebhookRouter({ ...opts, downstream }));
      const host = opts.host ?? '127.0.0.1';
      server = app.listen(opts.port ?? 0, host);
      await once(server, 'listening');
      const port = (server.address() as AddressInfo).port;
      return { address: `http://${host.includes(':') ? `[${host}]` : host}:${port}${WEBHOOK_PATH}`, port };
    },
    async stop(): Promise<void> {
      const s = server as (Server & { closeAllConnections?: () => void }) | undefined;
      server = undefined;
      if (!s) return;
      await new Promise<void>((r) => { s.close(() => r()); s.closeAllConnections?.(); });
    },
  };
}
