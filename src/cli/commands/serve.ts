import type { Command } from '../command.ts';

// Placeholder: replaced by the real implementation of `kontext serve`.
export const command: Command = {
  name: 'serve',
  summary: 'not implemented yet',
  usage: '[options]',
  flags: [],
  usesConfig: false,
  async run() {
    process.stderr.write('kontext serve: not implemented yet\n');
    return 1;
  },
};
