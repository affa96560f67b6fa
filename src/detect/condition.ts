/**
 * The condition language of detections: a small, safe expression language over one JSON value
 * (an audit event, or a context). Parsed once at start-up into a tree of closures; nothing is
 * ever evaluated as code.
 *
 *   condition  := or
 *   or         := and ("or" and)*
 *   and        := not ("and" not)*
 *   not        := "not" not | "(" or ")" | true | false | MACRO | test
 *   test       := operand OP value | operand ("in" | "intersects") "(" item ("," item)* ")" | operand "exists"
 *   operand    := path | FUNCTION "(" path ")"
 *   path       := name ("." name | "[*]" | "[" digits "]" | "[" "\"" key "\"" "]")*
 *   OP         := = != < <= > >= startswith endswith contains icontains glob
 *   item       := value | LIST           value := "quoted" | 'quoted' | bare-word | number
 *
 * A path yields every value it reaches: `[*]` fans out over an array, a name applied to an array
 * applies to each element, and an array at the end counts as its elements (so `user.groups`,
 * `sourceIPs` compare element-wise). Missing values yield nothing. Then:
 *  - `=`, `<`…, `startswith`, `contains`, `glob`: true when ANY value satisfies it
 *  - `!=`: `not (path = value)` (true when the path is missing)
 *  - `in (…)`: true when there is a value and EVERY value is in the set (Falco's `in`)
 *  - `intersects (…)`: true when ANY value is in the set
 *  - `exists`: true when the path yields a value
 * Values compare as text (`responseStatus.code = 201`, `…privileged = true` work), except the
 * ordering operators, which compare numbers. `contains` on an object searches its JSON.
 */

export type Value = unknown;

export class ConditionError extends Error {
  /** character offset in the condition text */
  readonly pos: number;
  constructor(message: string, pos: number) { super(message); this.name = 'ConditionError'; this.pos = pos; }
}

type Segment = { key: string } | { index: number } | { all: true };

export interface Operand { text: string; root: string; path: Segment[]; fn?: FunctionName }

export type CmpOp = '=' | '!=' | '<' | '<=' | '>' | '>=' | 'startswith' | 'endswith' | 'contains' | 'icontains' | 'glob' | 'in' | 'intersects' | 'exists';

export type Node =
  | { k: 'and' | 'or'; a: Node; b: Node }
  | { k: 'not'; a: Node }
  | { k: 'const'; v: boolean }
  | { k: 'test'; operand: Operand; op: CmpOp; value?: string; set?: Set<string>; pattern?: RegExp };

/** Names the parser resolves: macros (inlined) and lists (expanded into `in (…)` sets). */
export interface Scope {
  macro(name: string): Node | undefined;
  list(name: string): readonly string[] | undefined;
  /** allowed first path names (e.g. the fields of an audit event); undefined: any */
  roots?: ReadonlySet<string>;
  /** known keys right below some roots (e.g. objectRef → resource, name, …) */
  children?: ReadonlyMap<string, ReadonlySet<string>>;
}

const FUNCTIONS = {
  /** container image → repository: "docker.io/falcosecurity/falco:0.38@sha256:…" → "docker.io/falcosecurity/falco" */
  repository: (vs: Value[]): Value[] => vs.map((v) => {
    let s = String(v);
    const at = s.indexOf('@');
    if (at >= 0) s = s.slice(0, at);
    const colon = s.lastIndexOf(':');
    return colon > s.lastIndexOf('/') ? s.slice(0, colon) : s;
  }),
  lower: (vs: Value[]): Value[] => vs.map((v) => String(v).toLowerCase()),
  /** number of values (0 when the path is missing) */
  count: (vs: Value[]): Value[] => [vs.length],
} as const;
export type FunctionName = keyof typeof FUNCTIONS;

const WORD_OPS = new Set(['startswith', 'endswith', 'contains', 'icontains', 'glob', 'in', 'intersects', 'exists']);
const SYMBOL_OPS = new Set(['=', '!=', '<', '<=', '>', '>=']);
const KEYWORDS = new Set(['and', 'or', 'not', ...WORD_OPS]);

interface Token { t: 'word' | 'str' | 'op' | '(' | ')' | ','; v: string; pos: number }

function tokenize(src: string): Token[] {
  const out: Token[] = [];
  let i = 0;
  while (i < src.length) {
    const c = src[i]!;
    if (/\s/.test(c)) { i++; continue; }
    if (c === '(' || c === ')' || c === ',') { out.push({ t: c, v: c, pos: i }); i++; continue; }
    if (c === '=' || c === '!' || c === '<' || c === '>') {
      const two = src.slice(i, i + 2);
      if (two === '!=' || two === '<=' || two === '>=') { out.push({ t: 'op', v: two, pos: i }); i += 2; continue; }
      if (c === '!') throw new ConditionError("'!' must be followed by '=' (use `not` for negation)", i);
      out.push({ t: 'op', v: c, pos: i }); i++; continue;
    }
    if (c === '"' || c === "'") {
      const start = i; let s = ''; i++;
      while (i < src.length && src[i] !== c) {
        if (src[i] === '\\' && i + 1 < src.length) { s += src[i + 1]; i += 2; continue; }
        s += src[i]; i++;
      }
      if (i >= src.length) throw new ConditionError('unterminated string', start);
      i++;
      out.push({ t: 'str', v: s, pos: start });
      continue;
    }
    const start = i;
    while (i < src.length && !/[\s(),=!<>"']/.test(src[i]!)) {
      if (src[i] === '[') {
        // a bracket segment: [*], [0] or ["key"] (the key may hold any character)
        const close = src[i + 1] === '"' ? src.indexOf('"]', i + 2) + 1 : src.indexOf(']', i);
        if (close <= 0) throw new ConditionError("'[' without ']'", i);
        i = close + 1;
        continue;
      }
      i++;
    }
    out.push({ t: 'word', v: src.slice(start, i), pos: start });
  }
  return out;
}

function parsePath(text: string, pos: number, roots: ReadonlySet<string> | undefined, children?: ReadonlyMap<string, ReadonlySet<string>>): Operand {
  const path: Segment[] = [];
  let i = 0;
  const name = /[A-Za-z_][A-Za-z0-9_-]*/y;
  const readName = (): string => {
    name.lastIndex = i;
    const m = name.exec(text);
    if (!m) throw new ConditionError(`bad field path ${JSON.stringify(text)}`, pos + i);
    i += m[0].length;
    return m[0];
  };
  const root = readName();
  path.push({ key: root });
  while (i < text.length) {
    if (text[i] === '.') { i++; path.push({ key: readName() }); continue; }
    if (text.startsWith('[*]', i)) { path.push({ all: true }); i += 3; continue; }
    const idx = /\[(\d+)\]/y; idx.lastIndex = i;
    const mi = idx.exec(text);
    if (mi) { path.push({ index: Number(mi[1]) }); i += mi[0].length; continue; }
    const key = /\["([^"]*)"\]/y; key.lastIndex = i;
    const mk = key.exec(text);
    if (mk) { path.push({ key: mk[1]! }); i += mk[0].length; continue; }
    throw new ConditionError(`bad field path ${JSON.stringify(text)}`, pos + i);
  }
  if (roots && !roots.has(root)) {
    throw new ConditionError(`unknown field '${root}' (fields: ${[...roots].sort().join(', ')})`, pos);
  }
  const known = children?.get(root);
  const second = path[1];
  if (known && second && 'key' in second && !known.has(second.key)) {
    throw new ConditionError(`unknown field '${root}.${second.key}' (${root} has: ${[...known].join(', ')})`, pos);
  }
  return { text, root, path };
}

function globToRegExp(glob: string): RegExp {
  let re = '';
  for (const ch of glob) re += ch === '*' ? '.*' : ch === '?' ? '.' : ch.replace(/[.+^${}()|[\]\\/]/g, '\\$&');
  return new RegExp(`^${re}$`, 's');
}

/** Parses a condition against a scope; throws ConditionError with the offset of the problem. */
export function parseCondition(src: string, scope: Scope): Node {
  const toks = tokenize(src);
  let p = 0;
  const peek = (o = 0): Token | undefined => toks[p + o];
  const end = src.length;
  const fail = (msg: string, tok?: Token): never => { throw new ConditionError(msg, tok?.pos ?? end); };
  const isWord = (tok: Token | undefined, w: string) => tok?.t === 'word' && tok.v === w;

  const parseOr = (): Node => {
    let a = parseAnd();
    while (isWord(peek(), 'or')) { p++; a = { k: 'or', a, b: parseAnd() }; }
    return a;
  };
  const parseAnd = (): Node => {
    let a = parseNot();
    while (isWord(peek(), 'and')) { p++; a = { k: 'and', a, b: parseNot() }; }
    return a;
  };
  const parseNot = (): Node => {
    if (isWord(peek(), 'not')) { p++; return { k: 'not', a: parseNot() }; }
    return parsePrimary();
  };
  const parseValue = (): string => {
    const tok = peek();
    if (!tok) return fail('expected a value, got the end of the condition');
    if (tok.t === 'str' || (tok.t === 'word' && !KEYWORDS.has(tok.v))) { p++; return tok.v; }
    return fail(`expected a value, got '${tok.v}'`, tok);
  };
  const parseSet = (): Set<string> => {
    const open = peek();
    if (open?.t !== '(') fail("expected '(' and a list of values", open);
    p++;
    const set = new Set<string>();
    if (peek()?.t === ')') { p++; return set; }
    for (;;) {
      const tok = peek();
      const v = parseValue();
      const list = tok?.t === 'word' ? scope.list(v) : undefined;
      if (list) for (const x of list) set.add(x); else set.add(v);
      const sep = peek();
      if (sep?.t === ',') { p++; continue; }
      if (sep?.t === ')') { p++; return set; }
      fail("expected ',' or ')' in a list", sep);
    }
  };
  const parseTest = (operand: Operand): Node => {
    const tok = peek();
    const op = tok && (tok.t === 'op' ? tok.v : tok.t === 'word' && WORD_OPS.has(tok.v) ? tok.v : undefined);
    if (!op) return fail(`expected an operator after '${operand.text}' (=, !=, <, <=, >, >=, in, intersects, startswith, endswith, contains, icontains, glob, exists)`, tok);
    p++;
    const cmp = op as CmpOp;
    if (cmp === 'exists') return { k: 'test', operand, op: cmp };
    if (cmp === 'in' || cmp === 'intersects') return { k: 'test', operand, op: cmp, set: parseSet() };
    const vtok = peek();
    const value = parseValue();
    if ((cmp === '<' || cmp === '<=' || cmp === '>' || cmp === '>=') && !Number.isFinite(Number(value))) {
      fail(`'${cmp}' compares numbers; got ${JSON.stringify(value)}`, vtok);
    }
    const node: Node = { k: 'test', operand, op: cmp, value };
    if (cmp === 'glob') node.pattern = globToRegExp(value);
    if (cmp === 'icontains') node.value = value.toLowerCase();
    return node;
  };
  const parsePrimary = (): Node => {
    const tok = peek();
    if (!tok) return fail('unexpected end of the condition');
    if (tok.t === '(') {
      p++;
      const e = parseOr();
      if (peek()?.t !== ')') fail("expected ')'", peek());
      p++;
      return e;
    }
    if (tok.t !== 'word' || KEYWORDS.has(tok.v)) return fail(`unexpected '${tok.v}'`, tok);
    p++;
    const next = peek();
    if (next?.t === '(' && Object.hasOwn(FUNCTIONS, tok.v)) {
      p++;
      const arg = peek();
      if (arg?.t !== 'word') fail(`${tok.v}() takes a field path`, arg);
      p++;
      if (peek()?.t !== ')') fail("expected ')'", peek());
      p++;
      const operand = { ...parsePath(arg!.v, arg!.pos, scope.roots, scope.children), text: `${tok.v}(${arg!.v})`, fn: tok.v as FunctionName };
      return parseTest(operand);
    }
    const startsTest = next && (next.t === 'op' || (next.t === 'word' && WORD_OPS.has(next.v)));
    if (startsTest) return parseTest(parsePath(tok.v, tok.pos, scope.roots, scope.children));
    if (tok.v === 'true' || tok.v === 'false') return { k: 'const', v: tok.v === 'true' };
    const macro = scope.macro(tok.v);
    if (macro) return macro;
    if (next?.t === '(') return fail(`unknown function '${tok.v}' (functions: ${Object.keys(FUNCTIONS).join(', ')})`, tok);
    return fail(`unknown macro '${tok.v}' (a field needs an operator, e.g. '${tok.v} exists')`, tok);
  };

  if (!toks.length) fail('empty condition', { t: 'word', v: '', pos: 0 });
  const node = parseOr();
  if (p < toks.length) fail(`unexpected '${toks[p]!.v}' (missing 'and'/'or'?)`, toks[p]);
  return node;
}

// ---- evaluation ------------------------------------------------------------------------------

/** Every value a path reaches in `obj` (see the module comment). */
export function resolve(obj: unknown, operand: Operand): Value[] {
  let cur: Value[] = [obj];
  for (const seg of operand.path) {
    const next: Value[] = [];
    for (const v of cur) {
      if (v === null || v === undefined) continue;
      if ('all' in seg) { if (Array.isArray(v)) next.push(...v); continue; }
      if ('index' in seg) { if (Array.isArray(v)) next.push(v[seg.index]); continue; }
      if (Array.isArray(v)) { for (const el of v) if (el && typeof el === 'object') next.push((el as Record<string, unknown>)[seg.key]); continue; }
      if (typeof v === 'object') next.push((v as Record<string, unknown>)[seg.key]);
    }
    cur = next;
  }
  const out: Value[] = [];
  for (const v of cur) {
    if (v === null || v === undefined) continue;
    if (Array.isArray(v)) { for (const el of v) if (el !== null && el !== undefined) out.push(el); } else out.push(v);
  }
  return operand.fn ? FUNCTIONS[operand.fn](out) : out;
}

const text = (v: Value): string => (typeof v === 'object' ? JSON.stringify(v) : String(v));
const scalar = (v: Value): string | undefined => (typeof v === 'object' ? undefined : String(v));

function test(node: Extract<Node, { k: 'test' }>, values: Value[]): boolean {
  const lit = node.value!;
  switch (node.op) {
    case 'exists': return values.length > 0;
    case '=': return values.some((v) => scalar(v) === lit);
    case '!=': return !values.some((v) => scalar(v) === lit);
    case '<': return values.some((v) => Number(v) < Number(lit));
    case '<=': return values.some((v) => Number(v) <= Number(lit));
    case '>': return values.some((v) => Number(v) > Number(lit));
    case '>=': return values.some((v) => Number(v) >= Number(lit));
    case 'startswith': return values.some((v) => text(v).startsWith(lit));
    case 'endswith': return values.some((v) => text(v).endsWith(lit));
    case 'contains': return values.some((v) => text(v).includes(lit));
    case 'icontains': return values.some((v) => text(v).toLowerCase().includes(lit));
    case 'glob': return values.some((v) => { const s = scalar(v); return s !== undefined && node.pattern!.test(s); });
    case 'in': return values.length > 0 && values.every((v) => { const s = scalar(v); return s !== undefined && node.set!.has(s); });
    case 'intersects': return values.some((v) => { const s = scalar(v); return s !== undefined && node.set!.has(s); });
  }
}

export function evaluate(node: Node, obj: unknown): boolean {
  switch (node.k) {
    case 'and': return evaluate(node.a, obj) && evaluate(node.b, obj);
    case 'or': return evaluate(node.a, obj) || evaluate(node.b, obj);
    case 'not': return !evaluate(node.a, obj);
    case 'const': return node.v;
    case 'test': return test(node, resolve(obj, node.operand));
  }
}

/**
 * Three-valued evaluation: tests `decide` answers (true/false) take that value, the others are
 * unknown; the result is true/false when it does not depend on the unknown ones, else undefined.
 * Used to find detections that can never fire without request/response bodies.
 */
export function partial(node: Node, decide: (t: Extract<Node, { k: 'test' }>) => boolean | undefined): boolean | undefined {
  switch (node.k) {
    case 'const': return node.v;
    case 'test': return decide(node);
    case 'not': { const a = partial(node.a, decide); return a === undefined ? undefined : !a; }
    case 'and': {
      const a = partial(node.a, decide); const b = partial(node.b, decide);
      if (a === false || b === false) return false;
      return a === true && b === true ? true : undefined;
    }
    case 'or': {
      const a = partial(node.a, decide); const b = partial(node.b, decide);
      if (a === true || b === true) return true;
      return a === false && b === false ? false : undefined;
    }
  }
}

/** Whether the condition can only be true when some field rooted at one of `roots` is present. */
export function needsRoots(node: Node, roots: ReadonlySet<string>): boolean {
  return partial(node, (t) => (roots.has(t.operand.root) ? test(t, resolve({}, t.operand)) : undefined)) === false;
}
