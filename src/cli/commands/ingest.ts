import { existsSync } from 'node:fs';
import type { Command } from '../command.ts';
import { UsageError } from '../args.ts';
import { loadConfig } from '../../config/config.ts';
import { setLogLevel, setLogFormat, type Level, type LogFormat } from '../../util/log.ts';
import { connectEs, buildPipeline, checkModelDir, detectionsFromConfig } from '../../pipeline/build.ts';
import { replayFile, type ReplayResult } from '../../sources/file/index.ts';
import { alertsFromConfig } from '../../alert/index.ts';

export const command: Command = {
  name: 'ingest',
  summary: 'Replay audit log files (JSONL, .gz) through the pipeline into Elasticsearch.',
  usage: '[options] FILE...',
  description: [
    'Reads kube-apiserver audit logs (one Event per line, or an EventList / JSON array; gzip is',
    'detected), labels and groups them into contexts and stores the contexts in Elasticsearch.',
    'Bad lines are counted and reported with their line numbers; nothing else stops the replay.',
    'Exits 1 when a file holds no valid audit event or events could not be stored.',
    'With ELASTICSEARCH_URL unset, a local Elasticsearch is used (started if needed).',
  ].join('\n'),
  flags: [
    { flag: 'no-progress', help: 'no progress bar', boolean: true },
  ],
  usesConfig: true,
  async run({ flags, positionals }) {
    if (!positionals.length) throw new UsageError('no input file: kontext ingest FILE...');
    for (const f of positionals) if (!existsSync(f)) throw new UsageError(`no such file: ${f}`);
    const cfg = loadConfig(flags);
    setLogLevel(cfg.logLevel as Level);
    setLogFormat(cfg.logFormat as LogFormat);
    checkModelDir(cfg);
    const detections = detectionsFromConfig(cfg); // an invalid rules file stops here, before Elasticsearch
    const es = await connectEs(cfg);
    const { pipeline, cluster } = await buildPipeline(cfg, es.client, { detections });
    const alerts = alertsFromConfig(cfg, es.client, detections, (cb) => pipeline.subscribeClosed(cb));
    let stored = 0;
    let closed = 0;
    const unsub = pipeline.subscribeStored((docs) => { stored += docs.length; for (const d of docs) if (d.state === 'closed') closed++; });
    const results: ReplayResult[] = [];
    let code = 0;
    try {
      for (const file of positionals) {
        const r = await replayFile(file, pipeline, { progress: flags['no-progress'] !== true });
        results.push(r);
        for (const b of r.badLineSamples) process.stderr.write(`${file}:${b.line}: ${b.reason}\n`);
        if (r.badLines > r.badLineSamples.length) process.stderr.write(`${file}: ${r.badLines - r.badLineSamples.length} more bad lines\n`);
        if (r.records === 0) {
          code = 1;
          process.stderr.write(`kontext ingest: ${file}: no valid audit events (${r.lines} line${r.lines === 1 ? '' : 's'}, ${r.badLines} bad); expected kube-apiserver audit Events, one JSON object a line or an EventList\n`);
        }
      }
      await pipeline.flushAll();
      for (const r of results) {
        const s = await r.settled;
        if (s.failed) { code = 1; for (const e of s.errors) process.stderr.write(`${r.path}: lines ${e.firstLine}-${e.lastLine} not stored: ${e.error}\n`); }
      }
    } finally {
      unsub();
      await pipeline.stop();
      await alerts?.close();
      await es.close();
    }
    const events = results.reduce((n, r) => n + r.records, 0);
    const bad = results.reduce((n, r) => n + r.badLines, 0);
    process.stdout.write(`${events} events from ${results.length} file${results.length === 1 ? '' : 's'}${bad ? ` (${bad} bad lines skipped)` : ''} → ` +
      `${closed} contexts in ${cfg.indexPrefix}-contexts (${stored} document writes; ${cluster.openContexts} left open)\n`);
    return code;
  },
};
