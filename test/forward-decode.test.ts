/**
 * The one-pass entry decoder (msgpack.ts decodeFramed) decodes exactly what @msgpack/msgpack's
 * Decoder does: random values of every msgpack type, real audit events, and the same refusals.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { Encoder } from '@msgpack/msgpack';
import { decodeFramed, NOT_FAST } from '../src/sources/forward/msgpack.ts';
import { createDecoders, EventTime, extensionCodec } from '../src/sources/forward/protocol.ts';
import { simulate } from '../src/simulate/index.ts';

const enc = new Encoder({ extensionCodec });
const ref = createDecoders().value;

function both(bytes: Uint8Array): { ours: unknown; theirs: unknown } {
  const buf = Buffer.from(bytes);
  let ours: unknown; let theirs: unknown;
  try { ours = decodeFramed(buf, 0, buf.length, extensionCodec); } catch (e) { ours = e === NOT_FAST ? NOT_FAST : { error: (e as Error).message }; }
  try { theirs = ref.decode(buf); } catch (e) { theirs = { error: (e as Error).message }; }
  return { ours, theirs };
}

let seed = 17;
const rnd = (n: number) => { seed = (seed * 48271) % 2147483647; return seed % n; };
function value(depth: number): unknown {
  switch (rnd(depth > 3 ? 9 : 11)) {
    case 0: return null;
    case 1: return rnd(2) === 0;
    case 2: return [0, 1, 127, 128, 255, 256, 65535, 65536, 2 ** 32 - 1, 2 ** 32, 2 ** 53 - 1][rnd(11)]! * (rnd(2) ? -1 : 1);
    case 3: return rnd(1000) / 7;
    case 4: return Math.fround(rnd(1000) / 3);
    case 5: return 'x'.repeat([0, 1, 31, 32, 255, 256, 70000][rnd(depth > 0 ? 6 : 7)]!);
    case 6: return ['héllo', '日本語', '😀 emoji', 'a\u0000b', ''][rnd(5)];
    case 7: return Uint8Array.from({ length: [0, 3, 300, 70000][rnd(depth > 0 ? 3 : 4)]! }, (_, i) => i & 0xff);
    case 8: return new EventTime(rnd(2 ** 31), rnd(1e9));
    case 9: return Array.from({ length: [0, 2, 15, 16, 20][rnd(5)]! }, () => value(depth + 1));
    default: return Object.fromEntries(Array.from({ length: [0, 3, 15, 16, 20][rnd(5)]! }, (_, i) => [`k${i}`, value(depth + 1)]));
  }
}

test('decodeFramed: random values of every type decode as @msgpack/msgpack decodes them', () => {
  for (let i = 0; i < 1500; i++) {
    const v = [value(0), value(0)];
    const { ours, theirs } = both(enc.encode(v));
    assert.deepEqual(ours, theirs);
  }
  // float32, uint64, int64, fixext/ext sizes, a Date (msgpack timestamp ext -1)
  for (const hex of ['ca3fc00000', 'cf0000000100000002', 'd3ffffffff00000001', 'd40105', 'd5020102', 'c70303010203', 'c8000104ab', 'd6ff00000001']) {
    const { ours, theirs } = both(Buffer.from(hex, 'hex'));
    assert.deepEqual(ours, theirs, hex);
  }
});

test('decodeFramed: simulated audit events decode identically', () => {
  let n = 0;
  for (const e of simulate({ seed: 4, durationMs: 60_000 })) {
    const { ours, theirs } = both(enc.encode([new EventTime(1, 2), e]));
    assert.deepEqual(ours, theirs);
    n++;
  }
  assert.ok(n > 500);
});

test('decodeFramed: refuses what @msgpack/msgpack refuses, hands invalid UTF-8 back', () => {
  // map with a map key, with a nil key, with a __proto__ key, and a bad EventTime
  for (const hex of ['8181a16101a162', '81c001', '81a95f5f70726f746f5f5f01', 'd5000102']) {
    const { ours, theirs } = both(Buffer.from(hex, 'hex'));
    assert.ok(typeof theirs === 'object' && theirs !== null && 'error' in theirs, hex);
    assert.deepEqual(ours, theirs, hex);
  }
  assert.equal(both(Buffer.from('a3ff6162', 'hex')).ours, NOT_FAST);
  assert.equal(both(Buffer.from('a2c3a9', 'hex')).ours, 'é');
});
