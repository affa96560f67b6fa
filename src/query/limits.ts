/**
 * Query limits as GraphQL validation rules: depth, number of searches (root fields), and a
 * cost estimate (fields resolved, multiplied by requested list sizes). Introspection counts
 * like any other query: `__schema` / `__type` are root fields, and their lists (types, fields,
 * args, ...) are costed at the schema's real sizes, so aliasing `__schema` many times is refused.
 * Only the depth limit skips introspection (type references nest deeply by design).
 * The cost rule needs the variable values, so it is built per execution.
 */
import {
  GraphQLError, Kind, getIntrospectionQuery, parse, SchemaMetaFieldDef, TypeMetaFieldDef, TypeNameMetaFieldDef, getNamedType, getNullableType,
  isEnumType, isInputObjectType, isInterfaceType, isListType, isObjectType, isUnionType, valueFromAST,
  type ASTVisitor, type FieldNode, type FragmentDefinitionNode, type GraphQLField, type GraphQLNamedType,
  type GraphQLObjectType, type GraphQLSchema, type OperationDefinitionNode, type SelectionSetNode,
  type ValidationContext, type ValidationRule,
} from 'graphql';

export interface QueryLimits {
  /** deepest field nesting (contexts.edges.node.trigger.user is 5) */
  maxDepth: number;
  /** estimated fields resolved; see costOf */
  maxCost: number;
  /** root fields per operation (each is one Elasticsearch request) */
  maxRootFields: number;
  /** characters of the query text */
  maxQueryChars: number;
  /** `first` of contexts(...) */
  maxFirst: number;
  /** concurrent contextClosed subscriptions */
  maxSubscriptions: number;
}

export const DEFAULT_LIMITS: QueryLimits = {
  maxDepth: 8,
  maxCost: 50_000,
  maxRootFields: 10,
  maxQueryChars: 10_000,
  maxFirst: 500,
  maxSubscriptions: 100,
};

/** Size assumed for object lists that take no `first` (counts.verbs, timeline buckets). */
const DEFAULT_LIST_SIZE = 10;
const LIST_SIZE: Record<string, number> = { 'Timeline.buckets': 100 };
/** Fields that run an Elasticsearch request of their own per parent count this much each. */
const SEARCH_FIELD_COST = 100;
const SEARCH_FIELDS = new Set(['Context.previousOfUser', 'Context.nextOfUser', 'Context.sameObject', 'Context.flagMatches']);
/** Connection-like fields: their `first` applies to these children. */
const PAGED_CHILDREN = new Set(['edges', 'nodes', 'buckets']);

function tooComplex(message: string, node?: FieldNode | OperationDefinitionNode): GraphQLError {
  return new GraphQLError(message, { nodes: node ? [node] : undefined, extensions: { code: 'QUERY_TOO_COMPLEX' } });
}

function isIntrospection(name: string): boolean { return name.startsWith('__'); }

/**
 * List sizes of the schema's introspection lists (the number of types and directives; the mean
 * number of fields, args, ... per type or field that has them), for costOf: an estimate of
 * what introspection really resolves.
 */
const introspectionSizes = new WeakMap<GraphQLSchema, Record<string, number>>();
function introspectionListSize(schema: GraphQLSchema, field: string): number {
  let m = introspectionSizes.get(schema);
  if (!m) {
    const types = Object.values(schema.getTypeMap());
    const sums: Record<string, [number, number]> = {};
    const add = (k: string, n: number) => { const v = (sums[k] ??= [0, 0]); v[0] += n; v[1]++; };
    for (const t of types) {
      if (isObjectType(t) || isInterfaceType(t)) {
        const fs = Object.values(t.getFields());
        add('fields', fs.length);
        for (const f of fs) add('args', f.args.length);
        add('interfaces', t.getInterfaces().length);
      }
      if (isInputObjectType(t)) add('inputFields', Object.keys(t.getFields()).length);
      if (isEnumType(t)) add('enumValues', t.getValues().length);
      if (isUnionType(t)) add('possibleTypes', t.getTypes().length);
    }
    for (const d of schema.getDirectives()) { add('args', d.args.length); add('locations', d.locations.length); }
    m = { types: types.length, directives: schema.getDirectives().length };
    for (const [k, [sum, n]] of Object.entries(sums)) m[k] = Math.ceil(sum / Math.max(1, n));
    introspectionSizes.set(schema, m);
  }
  return Math.max(1, m[field] ?? DEFAULT_LIST_SIZE);
}

/** Fields of a selection set with fragments inlined (cycle-safe: fragments already on the path are skipped). */
export function* fieldsOf(set: SelectionSetNode, fragments: Record<string, FragmentDefinitionNode>, seen: ReadonlySet<string>): Generator<FieldNode> {
  for (const sel of set.selections) {
    if (sel.kind === Kind.FIELD) yield sel;
    else if (sel.kind === Kind.INLINE_FRAGMENT) yield* fieldsOf(sel.selectionSet, fragments, seen);
    else {
      const name = sel.name.value;
      const frag = fragments[name];
      if (!frag || seen.has(name)) continue;
      yield* fieldsOf(frag.selectionSet, fragments, new Set([...seen, name]));
    }
  }
}

function fragmentsOf(ctx: ValidationContext): Record<string, FragmentDefinitionNode> {
  const out: Record<string, FragmentDefinitionNode> = {};
  for (const d of ctx.getDocument().definitions) if (d.kind === Kind.FRAGMENT_DEFINITION) out[d.name.value] = d;
  return out;
}

/** Rejects operations nested deeper than `max` fields. */
export function depthLimitRule(max: number): ValidationRule {
  return (ctx: ValidationContext): ASTVisitor => ({
    OperationDefinition(op) {
      const fragments = fragmentsOf(ctx);
      const walk = (set: SelectionSetNode, depth: number, seen: ReadonlySet<string>): number => {
        let deepest = depth;
        for (const f of fieldsOf(set, fragments, seen)) {
          if (isIntrospection(f.name.value)) continue;
          const d = f.selectionSet ? walk(f.selectionSet, depth + 1, seen) : depth + 1;
          if (d > deepest) deepest = d;
          if (deepest > max) return deepest;
        }
        return deepest;
      };
      const depth = walk(op.selectionSet, 0, new Set());
      if (depth > max) ctx.reportError(tooComplex(`query is nested too deeply: depth ${depth} exceeds the limit of ${max}`, op));
    },
  });
}

/** Rejects operations with more than `max` root fields (aliases and introspection count, __typename does not). */
export function rootFieldLimitRule(max: number): ValidationRule {
  return (ctx: ValidationContext): ASTVisitor => ({
    OperationDefinition(op) {
      const n = [...fieldsOf(op.selectionSet, fragmentsOf(ctx), new Set())].filter((f) => f.name.value !== '__typename').length;
      if (n > max) ctx.reportError(tooComplex(`too many root fields: ${n} exceeds the limit of ${max} per request; split the query`, op));
    },
  });
}

/**
 * Estimated cost: every field resolved counts 1 for each time it is resolved. A field with a
 * `first` argument multiplies its list children by it (or, for connections, its `edges`,
 * `nodes` and `buckets`); other object lists count DEFAULT_LIST_SIZE. Variables are resolved
 * from `variables`; an unknown variable counts as its schema default. Fields that search
 * Elasticsearch themselves (SEARCH_FIELDS) count SEARCH_FIELD_COST each time.
 */
export function costOf(schema: GraphQLSchema, op: OperationDefinitionNode, fragments: Record<string, FragmentDefinitionNode>, variables: Record<string, unknown> = {}, part?: 'data' | 'introspection'): number {
  const root = op.operation === 'subscription' ? schema.getSubscriptionType() : op.operation === 'mutation' ? schema.getMutationType() : schema.getQueryType();
  if (!root) return 0;
  const firstOf = (node: FieldNode, def: GraphQLField<unknown, unknown>): number | undefined => {
    const argDef = def.args.find((a) => a.name === 'first');
    if (!argDef) return undefined;
    const arg = node.arguments?.find((a) => a.name.value === 'first');
    let v: unknown = argDef.defaultValue;
    if (arg) v = valueFromAST(arg.value, argDef.type, variables) ?? argDef.defaultValue;
    return typeof v === 'number' && v >= 0 ? v : undefined;
  };
  const walk = (type: GraphQLNamedType, set: SelectionSetNode, mult: number, pagedSize: number | undefined, seen: ReadonlySet<string>): number => {
    if (!isObjectType(type)) return 0; // no interfaces or unions in this schema
    const meta = isIntrospection(type.name);
    let cost = 0;
    for (const node of fieldsOf(set, fragments, seen)) {
      const name = node.name.value;
      const def = name === '__typename' ? TypeNameMetaFieldDef
        : name === '__schema' && type === root ? SchemaMetaFieldDef
        : name === '__type' && type === root ? TypeMetaFieldDef
        : (type as GraphQLObjectType).getFields()[name];
      if (!def) continue; // unknown fields are reported by the standard rules
      if (part && type === root && name !== '__typename' && (name === '__schema' || name === '__type') !== (part === 'introspection')) continue;
      cost += mult * (SEARCH_FIELDS.has(`${type.name}.${name}`) ? SEARCH_FIELD_COST : 1);
      if (!node.selectionSet) continue;
      const first = firstOf(node, def);
      const isList = isListType(getNullableType(def.type));
      let childMult = mult;
      let childPaged: number | undefined;
      if (isList) {
        const size = meta ? introspectionListSize(schema, name)
          : first ?? (PAGED_CHILDREN.has(name) ? pagedSize : undefined) ?? LIST_SIZE[`${type.name}.${name}`] ?? DEFAULT_LIST_SIZE;
        childMult = mult * size;
      } else if (first !== undefined) childPaged = first;
      cost += walk(getNamedType(def.type), node.selectionSet, childMult, childPaged, seen);
      if (cost > Number.MAX_SAFE_INTEGER / 2) return cost;
    }
    return cost;
  };
  return walk(root, op.selectionSet, 1, undefined, new Set());
}

/** The cost of GraphiQL's full introspection query against `schema` (computed once per schema). */
const fullIntrospection = new WeakMap<GraphQLSchema, number>();
function fullIntrospectionCost(schema: GraphQLSchema): number {
  let c = fullIntrospection.get(schema);
  if (c === undefined) {
    const doc = parse(getIntrospectionQuery());
    const op = doc.definitions.find((d): d is OperationDefinitionNode => d.kind === Kind.OPERATION_DEFINITION)!;
    const frags: Record<string, FragmentDefinitionNode> = {};
    for (const d of doc.definitions) if (d.kind === Kind.FRAGMENT_DEFINITION) frags[d.name.value] = d;
    c = costOf(schema, op, frags, {}, 'introspection');
    fullIntrospection.set(schema, c);
  }
  return c;
}

/**
 * Rejects operations whose estimated cost (costOf) exceeds `max`. Introspection is answered
 * from memory and its cost grows with the schema, so it has its own budget: at most one full
 * introspection of the served schema (what GraphiQL asks for); copies of it under aliases
 * exceed that budget.
 */
export function costLimitRule(max: number, variables: Record<string, unknown> = {}): ValidationRule {
  return (ctx: ValidationContext): ASTVisitor => ({
    OperationDefinition(op) {
      const schema = ctx.getSchema();
      const frags = fragmentsOf(ctx);
      const data = costOf(schema, op, frags, variables, 'data');
      const intro = costOf(schema, op, frags, variables, 'introspection');
      const introMax = Math.max(max, fullIntrospectionCost(schema));
      if (data > max || intro > introMax) {
        const [cost, limit] = data > max ? [data, max] : [intro, introMax];
        ctx.reportError(tooComplex(`query is too expensive: estimated cost ${cost} exceeds the limit of ${limit}; request fewer items (first) or fewer fields`, op));
      }
    },
  });
}
