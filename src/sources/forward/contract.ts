/** The forward input as a `Source` (src/types/stage.ts). */
import type { Downstream } from '../../types/pipeline.ts';
import type { Source, SourceAddress } from '../../types/stage.ts';
import { ForwardServer, type ForwardServerOptions } from './server.ts';

export function forwardSource(opts: ForwardServerOptions = {}, close: { graceMs?: number } = {}): Source & { readonly server?: ForwardServer } {
  let server: ForwardServer | undefined;
  return {
    name: 'forward',
    get server() { return server; },
    async start(downstream: Downstream): Promise<SourceAddress> {
      if (server) throw new Error('forward source already started');
      server = new ForwardServer(downstream, opts);
      const { host, port } = await server.listen();
      return { address: `${host}:${port}`, port };
    },
    async stop(): Promise<void> {
      const s = server;
      server = undefined;
      await s?.close(close);
    },
  };
}
