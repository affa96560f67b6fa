import type { Command } from '../command.ts';
import { loadConfig } from '../../config/config.ts';
import { setLogLevel, type Level } from '../../util/log.ts';
import { connectEs } from '../../pipeline/build.ts';
import { migrateEmbeddedMembers } from '../../store/migrate-embedded.ts';

export const command: Command = {
  name: 'migrate',
  summary: 'Move members embedded in context summaries (the layout before member documents) into <prefix>-members.',
  usage: '[options]',
  description: [
    'Context summaries written by kontext before member documents existed carry their members inside.',
    'This moves them into <prefix>-members (one document per auditID) and rewrites each summary',
    'without them, printing progress. Idempotent and resumable: run it again after an interruption;',
    'a summary a running kontext wrote meanwhile is left as it is. Safe while kontext runs.',
  ].join('\n'),
  flags: [],
  usesConfig: true,
  async run({ flags }) {
    const cfg = loadConfig(flags);
    setLogLevel(cfg.logLevel as Level);
    const es = await connectEs(cfg);
    try {
      const p = await migrateEmbeddedMembers(es.client, cfg.indexPrefix, {
        onProgress: (q) => process.stderr.write(`migrate: ${q.migrated + q.skipped}/${q.total} summaries, ${q.members} member documents created, ${q.existing} already stored\n`),
      });
      process.stdout.write(`${JSON.stringify(p)}\n`);
      return 0;
    } finally {
      await es.close();
    }
  },
};
