import type { Command } from '../command.ts';

// Placeholder: replaced by the real implementation of `kontext evaluate`.
export const command: Command = {
  name: 'evaluate',
  summary: 'not implemented yet',
  usage: '[options]',
  flags: [],
  usesConfig: false,
  async run() {
    process.stderr.write('kontext evaluate: not implemented yet\n');
    return 1;
  },
};
