import type { Command } from '../command.ts';
import { flagNumber } from '../args.ts';
import { loadConfig, type Config } from '../../config/config.ts';
import { setLogLevel, setLogFormat, log, type Level, type LogFormat } from '../../util/log.ts';
import { startService } from '../../pipeline/service.ts';
import { forwardExposure } from '../../sources/forward/index.ts';
import { checkModelDir } from '../../pipeline/build.ts';

/** `--local` (what `npm start` runs): loopback only, no auth unless tokens are given. */
export function localConfig(cfg: Config, flags: Record<string, string | boolean>, env: NodeJS.ProcessEnv): Config {
  const out = { ...cfg };
  const given = (flag: string, envName: string) => flags[flag] !== undefined || (env[envName] ?? '') !== '';
  if (!given('http-host', 'KONTEXT_HTTP_HOST')) out.httpHost = '127.0.0.1';
  if (!given('forward-host', 'KONTEXT_FORWARD_HOST')) out.forwardHost = '127.0.0.1';
  if (!out.authTokens) out.noAuth = true;
  return out;
}

function forwardAuthText(cfg: Config): string {
  switch (forwardExposure(cfg).auth) {
    case 'shared-key': return 'shared key';
    case 'mtls': return 'client certificates';
    case 'loopback': return 'loopback only, no auth';
    default: return 'INSECURE: no auth';
  }
}

export const command: Command = {
  name: 'serve',
  summary: 'Run kontext: forward + webhook ingest, labeling, contexts into Elasticsearch, GraphQL.',
  usage: '[options]',
  description: [
    'Listens for Fluent Bit / Fluentd on the forward port and for the kube-apiserver audit webhook',
    'at POST /webhook/audit, labels and groups events into contexts, stores them in Elasticsearch and',
    'serves GraphQL at /graphql and the web UI at / (plus /healthz, /readyz, /metrics).',
    'Closed by default: GraphQL, the webhook and /metrics need --auth-tokens; the forward input on a',
    'non-loopback address needs --forward-shared-key or --forward-tls-ca (client certificates), or',
    '--forward-insecure for a lab. --health-port answers the probes off the main event loop.',
    'With ELASTICSEARCH_URL unset, a local Elasticsearch is started (downloaded from Maven Central',
    'on first use) and left running for the next start (`kontext es stop` stops it).',
  ].join('\n'),
  flags: [
    { flag: 'local', help: 'local run: listen on 127.0.0.1 only, no auth unless --auth-tokens is set (npm start)', boolean: true },
    { flag: 'simulate', help: 'also feed simulated audit traffic (a demo cluster) into the pipeline', boolean: true },
    { flag: 'simulate-speed', help: 'simulated seconds per second with --simulate', default: '1' },
    { flag: 'simulate-seed', help: 'seed of the simulated traffic', default: '1' },
  ],
  usesConfig: true,
  async run({ flags }) {
    let cfg = loadConfig(flags);
    if (flags.local === true) cfg = localConfig(cfg, flags, process.env);
    setLogLevel(cfg.logLevel as Level);
    setLogFormat(cfg.logFormat as LogFormat);
    checkModelDir(cfg);
    const svc = await startService(cfg, {
      simulate: flags.simulate === true ? {
        speed: flagNumber(flags, 'simulate-speed', 1, { min: 0.01 }),
        seed: flagNumber(flags, 'simulate-seed', 1, { int: true }),
      } : undefined,
    });
    process.stderr.write(`\nkontext is running\n  GraphQL        ${svc.http.url}/graphql\n  webhook        POST ${svc.http.url}/webhook/audit\n` +
      `  forward        ${svc.forward.host}:${svc.forward.port} (${forwardAuthText(cfg)})\n  Elasticsearch  ${svc.es.url}\n  auth           ${cfg.noAuth ? 'off (local)' : 'bearer token'}\n` +
      (svc.health ? `  health         ${svc.health.url}/healthz, /readyz\n` : '') +
      `  metrics        ${svc.http.url}/metrics (${cfg.metricsPublic || cfg.noAuth ? 'public' : 'bearer token'})\n` +
      `  labeler        ${svc.built.labeler.mode}\nCtrl-C stops.\n\n`);
    await new Promise<void>((resolve) => {
      let stopping = false;
      const stop = (sig: string) => {
        if (stopping) { log.warn('second signal: exiting now'); process.exit(130); }
        stopping = true;
        log.info('shutting down', { signal: sig });
        svc.stop().catch((e: unknown) => log.error('shutdown failed', { err: e instanceof Error ? e : new Error(String(e)) })).finally(resolve);
      };
      process.once('SIGINT', () => stop('SIGINT'));
      process.once('SIGTERM', () => stop('SIGTERM'));
    });
    log.info('stopped');
    return 0;
  },
};
