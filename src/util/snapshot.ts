/**
 * Snapshots of in-memory state (the labeler's tracer, the detections' correlations) for the
 * restart checkpoint: plain values whose shared objects stay shared (one record the tracer
 * files under several keys is one record again after a restore), written as text with
 * `flatted`, and LRU caches dumped and loaded with their recency order.
 */
import { parse, stringify } from 'flatted';
import type { LRUCache } from 'lru-cache';

/** A value graph as text; objects referenced twice come back as one object. */
export function encodeState(value: unknown): string { return stringify(value); }
export function decodeState<T>(text: string): T { return parse(text) as T; }

/** An LRU cache's entries, most recent last, values mapped by `enc`. */
export function dumpLru<K extends {}, V extends {}, S = V>(cache: LRUCache<K, V>, enc?: (v: V) => S): Array<[K, S]> {
  return cache.dump().map(([k, e]) => [k, enc ? enc(e.value) : (e.value as unknown as S)]);
}

/** Refills an LRU cache from `dumpLru` output (nothing when `entries` is not an array). */
export function loadLru<K extends {}, V extends {}, S = V>(cache: LRUCache<K, V>, entries: unknown, dec?: (s: S) => V): void {
  cache.clear();
  if (!Array.isArray(entries)) return;
  cache.load((entries as Array<[K, S]>).map(([k, s]) => [k, { value: dec ? dec(s) : (s as unknown as V) }]));
}

/** -Infinity and Infinity survive JSON as null: back to the default. */
export function num(v: unknown, dflt: number): number { return typeof v === 'number' && Number.isFinite(v) ? v : dflt; }
