/** GraphQL over the contexts index: see handler.ts (endpoint), filter.ts (filter semantics), search.ts (Elasticsearch). */
export { createGraphqlHandler, type GraphqlHandler, type GraphqlHandlerOptions } from './handler.ts';
export { DEFAULT_LIMITS, type QueryLimits } from './limits.ts';
export type { SubscribeClosed } from './resolvers.ts';
export { normalizeFilter, toEsQuery, matchesFilter, type Filter } from './filter.ts';
export { authFromConfig, type AuthOptions } from '../http/auth.ts';
