import type { Command } from '../command.ts';
import { loadConfig } from '../../config/config.ts';
import { setLogLevel, type Level } from '../../util/log.ts';
import { connectEs } from '../../pipeline/build.ts';
import { migrateEmbeddedMembers } from '../../store/migrate-embedded.ts';
import { migrateEcsFields } from '../../store/migrate-ecs.ts';
import { migrateToClusterIds } from '../../store/migrate-clusters.ts';

export const command: Command = {
  name: 'migrate',
  summary: 'Move stored contexts to the current layout: members out of their summaries, ids scoped to a cluster, ECS fields on summaries written before them.',
  usage: '[options]',
  description: [
    'Context summaries written by kontext before member documents existed carry their members inside.',
    'This moves them into <prefix>-members (one document per auditID) and rewrites each summary',
    'without them, printing progress. Idempotent and resumable: run it again after an interruption;',
    'a summary a running kontext wrote meanwhile is left as it is. Safe while kontext runs.',
    'Then contexts and members stored before clusters (no `cluster`, ids = bare auditIDs) become',
    '--cluster-name\'s: ids <cluster>/<auditID>, `cluster` set (start-up does the same).',
    'Last, every summary written before the ECS fields (@timestamp, event.*, user.*, source.ip,',
    'orchestrator.*, kubernetes.audit.*) gets them, derived from its own fields (kontext serve does',
    'this at start-up too; here it runs again and prints progress).',
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
      const clusters = await migrateToClusterIds(es.client, cfg.indexPrefix, cfg.clusterName, {
        onProgress: (kind, n) => process.stderr.write(`migrate: ${n} ${kind} moved to cluster ${cfg.clusterName}\n`),
      });
      const ecs = await migrateEcsFields(es.client, cfg.indexPrefix, {
        onProgress: (q) => process.stderr.write(`migrate: ECS fields on ${q.migrated + q.skipped}/${q.total} summaries\n`),
      });
      process.stdout.write(`${JSON.stringify({ ...p, clusters, ecs })}\n`);
      return 0;
    } finally {
      await es.close();
    }
  },
};
