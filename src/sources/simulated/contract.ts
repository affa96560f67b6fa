/** The simulated source (`serve --simulate`) as a `Source` (src/types/stage.ts). */
import type { Downstream } from '../../types/pipeline.ts';
import type { Source, SourceAddress } from '../../types/stage.ts';
import { startSimulatedSource, type SimulatedSource, type SimulatedSourceOptions } from './index.ts';

export function simulatedSource(opts: SimulatedSourceOptions = {}): Source & { readonly pushed: number } {
  let running: SimulatedSource | undefined;
  let pushed = 0;
  return {
    name: 'simulated',
    get pushed() { return running?.pushed ?? pushed; },
    async start(downstream: Downstream): Promise<SourceAddress> {
      if (running) throw new Error('simulated source already started');
      running = startSimulatedSource(downstream, opts);
      return { address: `simulated (seed ${opts.seed ?? 1}, ${opts.speed ?? 1}x)` };
    },
    async stop(): Promise<void> {
      const r = running;
      running = undefined;
      if (r) { await r.stop(); pushed = r.pushed; }
    },
  };
}
