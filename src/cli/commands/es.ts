import type { Command } from '../command.ts';
import { UsageError, flagNumber } from '../args.ts';
import { startLocalEs, runningLocalEs, stopLocalEsByPid, ES_VERSION } from '../../es-local/local-es.ts';

export const command: Command = {
  name: 'es',
  summary: 'Manage the local Elasticsearch (start | stop | status).',
  usage: 'start|stop|status [--port N]',
  description: `Runs Elasticsearch ${ES_VERSION} (integ-test-zip from Maven Central) on 127.0.0.1 with data under .kontext/es/data.\n` +
    '`start` leaves it running in the background and prints its URL; `kontext serve` uses it when ELASTICSEARCH_URL is unset.',
  flags: [
    { flag: 'port', help: 'HTTP port (0 = any free port)', default: '9200' },
    { flag: 'heap', help: 'JVM heap', default: '1g' },
  ],
  usesConfig: false,
  async run({ flags, positionals }) {
    const [action] = positionals;
    switch (action) {
      case 'start': {
        const running = await runningLocalEs();
        if (running) { process.stdout.write(`${running.url}\n`); return 0; }
        const es = await startLocalEs({ port: flagNumber(flags, 'port', 9200, { int: true, min: 0 }), heap: typeof flags.heap === 'string' ? flags.heap : '1g' });
        process.stdout.write(`${es.url}\n`);
        return 0;
      }
      case 'stop':
        process.stdout.write((await stopLocalEsByPid()) ? 'stopped\n' : 'not running\n');
        return 0;
      case 'status': {
        const running = await runningLocalEs();
        process.stdout.write(running ? `running at ${running.url} (pid ${running.pid})\n` : 'not running\n');
        return running ? 0 : 3;
      }
      default:
        throw new UsageError(action ? `unknown action ${JSON.stringify(action)}` : 'expected start, stop or status');
    }
  },
};
