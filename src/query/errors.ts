/** GraphQL errors kontext returns on purpose (shown to clients; everything else is masked). */
import { GraphQLError } from 'graphql';

export type ErrorCode = 'BAD_USER_INPUT' | 'UNAUTHENTICATED' | 'QUERY_TOO_COMPLEX' | 'BACKEND_UNAVAILABLE' | 'TOO_MANY_SUBSCRIPTIONS';

export function userError(message: string, code: ErrorCode = 'BAD_USER_INPUT'): GraphQLError {
  return new GraphQLError(message, { extensions: { code } });
}
