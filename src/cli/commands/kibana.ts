import type { Command } from '../command.ts';

// Placeholder: replaced by the real implementation of `kontext kibana`.
export const command: Command = {
  name: 'kibana',
  summary: 'not implemented yet',
  usage: '[options]',
  flags: [],
  usesConfig: false,
  async run() {
    process.stderr.write('kontext kibana: not implemented yet\n');
    return 1;
  },
};
