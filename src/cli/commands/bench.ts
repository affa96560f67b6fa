import type { Command } from '../command.ts';

// Placeholder: replaced by the real implementation of `kontext bench`.
export const command: Command = {
  name: 'bench',
  summary: 'not implemented yet',
  usage: '[options]',
  flags: [],
  usesConfig: false,
  async run() {
    process.stderr.write('kontext bench: not implemented yet\n');
    return 1;
  },
};
