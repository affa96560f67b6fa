import type { Command } from '../command.ts';

// Placeholder: replaced by the real implementation of `kontext simulate`.
export const command: Command = {
  name: 'simulate',
  summary: 'not implemented yet',
  usage: '[options]',
  flags: [],
  usesConfig: false,
  async run() {
    process.stderr.write('kontext simulate: not implemented yet\n');
    return 1;
  },
};
