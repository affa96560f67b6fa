import type { Command } from '../command.ts';

// Placeholder: replaced by the real implementation of `kontext ingest`.
export const command: Command = {
  name: 'ingest',
  summary: 'not implemented yet',
  usage: '[options]',
  flags: [],
  usesConfig: false,
  async run() {
    process.stderr.write('kontext ingest: not implemented yet\n');
    return 1;
  },
};
