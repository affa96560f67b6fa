import type { Receipt } from '../types/pipeline.ts';

/**
 * A receipt for part of a record: one record of the parent unit expanded into `parts` events
 * (e.g. an EventList inside a forward record). The parent's share settles once every part
 * has; a failure of any part fails the parent.
 */
export function partReceipt(parent: Receipt, parts: number): Receipt {
  let left = parts;
  let over = false;
  if (parts <= 0) { parent.settle(1); over = true; }
  return {
    settle(n = 1) {
      if (over || n <= 0) return;
      left -= n;
      if (left <= 0) { over = true; parent.settle(1); }
    },
    fail(err) {
      if (over) return;
      over = true;
      parent.fail(err);
    },
    duplicate(n = 1) { parent.duplicate?.(n); },
  };
}
