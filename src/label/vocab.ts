/**
 * Stable vocabularies of feature tokens and labels. A feature token is "field=value"; every
 * field has an unknown bucket "field=?" that unseen values map to (never a fresh id), so the
 * indices the model was trained with stay valid for any input. Saved next to the model as
 * vocab.json; ids depend only on the sorted token set, not on the order data arrived in.
 */
export const UNKNOWN = '?';

export interface VocabJson {
  version: 1;
  /** feature tokens, index = input column */
  tokens: string[];
  /** label keys, index = output class */
  labels: string[];
}

export function fieldOf(token: string): string {
  const i = token.indexOf('=');
  return i < 0 ? token : token.slice(0, i);
}

export class Vocab {
  readonly tokens: readonly string[];
  readonly labels: readonly string[];
  private readonly tokenIds: Map<string, number>;
  private readonly labelIds: Map<string, number>;

  constructor(json: VocabJson) {
    if (json.version !== 1 || !Array.isArray(json.tokens) || !Array.isArray(json.labels)) {
      throw new Error('vocab.json: unsupported format (expected version 1 with tokens and labels)');
    }
    this.tokens = json.tokens;
    this.labels = json.labels;
    this.tokenIds = new Map(json.tokens.map((t, i) => [t, i]));
    this.labelIds = new Map(json.labels.map((t, i) => [t, i]));
    for (const t of json.tokens) {
      if (!this.tokenIds.has(`${fieldOf(t)}=${UNKNOWN}`)) throw new Error(`vocab.json: field ${fieldOf(t)} has no unknown bucket`);
    }
  }

  get size(): number { return this.tokens.length; }
  get numLabels(): number { return this.labels.length; }

  /** Column of a token; an unseen value goes to its field's unknown bucket, an unseen field is dropped (-1). */
  tokenId(token: string): number {
    const id = this.tokenIds.get(token);
    if (id !== undefined) return id;
    return this.tokenIds.get(`${fieldOf(token)}=${UNKNOWN}`) ?? -1;
  }

  /** Sorted, de-duplicated columns of an event's tokens. */
  encode(tokens: readonly string[]): Int32Array {
    const ids = new Int32Array(tokens.length);
    let n = 0;
    for (let i = 0; i < tokens.length; i++) {
      const id = this.tokenId(tokens[i]!);
      if (id < 0) continue;
      let dup = false;
      for (let j = 0; j < n; j++) if (ids[j] === id) { dup = true; break; }
      if (!dup) ids[n++] = id;
    }
    return ids.subarray(0, n).sort();
  }

  labelId(label: string): number { return this.labelIds.get(label) ?? -1; }
  label(id: number): string { return this.labels[id]!; }

  toJSON(): VocabJson { return { version: 1, tokens: [...this.tokens], labels: [...this.labels] }; }

  /**
   * Builds a vocabulary from token lists and labels. Values seen fewer than `minCount` times go
   * to the unknown bucket too, so the model learns what "unknown" means during training.
   */
  static build(events: Iterable<readonly string[]>, labels: Iterable<string>, minCount = 2): Vocab {
    const counts = new Map<string, number>();
    for (const toks of events) for (const t of toks) counts.set(t, (counts.get(t) ?? 0) + 1);
    return Vocab.fromCounts(counts, labels, minCount);
  }

  /** Same as `build`, from token counts. Tokens counted 0 still define their field. */
  static fromCounts(counts: ReadonlyMap<string, number>, labels: Iterable<string>, minCount = 2): Vocab {
    const fields = new Set<string>();
    for (const t of counts.keys()) fields.add(fieldOf(t));
    const tokens = new Set<string>();
    for (const f of fields) tokens.add(`${f}=${UNKNOWN}`);
    for (const [t, c] of counts) if (c >= minCount) tokens.add(t);
    return new Vocab({ version: 1, tokens: [...tokens].sort(), labels: [...new Set(labels)].sort() });
  }

  /** Parses vocab.json content, validating it. */
  static fromJSON(json: unknown): Vocab { return new Vocab(json as VocabJson); }
}
