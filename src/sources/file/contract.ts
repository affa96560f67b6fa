/** File replay as a `Source` (src/types/stage.ts): `start` begins reading; `done` resolves with the replay's result. */
import type { Downstream } from '../../types/pipeline.ts';
import type { Source, SourceAddress, SourceContext } from '../../types/stage.ts';
import { replayFile, type ReplayOptions, type ReplayResult } from './index.ts';

export function fileSource(file: string, opts: ReplayOptions = {}): Source & { readonly done: Promise<ReplayResult> } {
  let resolveDone!: (r: ReplayResult) => void;
  let rejectDone!: (e: unknown) => void;
  const done = new Promise<ReplayResult>((res, rej) => { resolveDone = res; rejectDone = rej; });
  done.catch(() => {});
  let started = false;
  return {
    name: 'file',
    done,
    async start(downstream: Downstream, _ctx?: SourceContext): Promise<SourceAddress> {
      if (started) throw new Error('file source already started');
      started = true;
      replayFile(file, downstream, opts).then(resolveDone, rejectDone);
      return { address: file };
    },
    async stop(): Promise<void> {
      if (started) await done.catch(() => undefined);
    },
  };
}
