/** The GraphQL documents the UI sends (schema/kontext.graphql). */
export const CONTEXT_ROW = `
  id action label outcome flags start end durationMs eventCount state namespaces
  trigger { user client code }
`;

export const CONTEXTS = `query Contexts($filter: ContextFilter, $first: Int, $after: String) {
  contexts(filter: $filter, first: $first, after: $after) {
    totalCount
    pageInfo { hasNextPage endCursor }
    nodes { ${CONTEXT_ROW} }
  }
}`;

export const CONTEXT_CLOSED = `subscription Live($filter: ContextFilter) {
  contextClosed(filter: $filter) { ${CONTEXT_ROW} }
}`;

export const TIMELINE = `query Timeline($filter: ContextFilter, $first: Int, $after: String) {
  contexts(filter: $filter, first: $first, after: $after, sort: START_DESC) {
    totalCount
    pageInfo { hasNextPage endCursor }
    nodes { id action start end outcome flags namespaces trigger { user } }
  }
}`;

export const MEMBER_FIELDS = 'auditID time user verb resource subresource namespace name code component actor';

export const CONTEXT = `query Context($id: ID!, $first: Int) {
  context(id: $id) {
    id cluster action label state outcome flags start end durationMs eventCount failures forbidden confidence
    users namespaces resources verbs
    trigger { auditID user groups userAgent client sourceIPs verb apiGroup resource subresource namespace name code impersonatedUser }
    flagMatches { flag members complete }
    members(first: $first) { ${MEMBER_FIELDS} }
    previousOfUser { id action start }
    nextOfUser { id action start }
    sameObject(first: 10) { id action start outcome eventCount }
  }
}`;

export const MEMBERS_PAGE = `query Members($id: ID!, $first: Int, $offset: Int) {
  context(id: $id) { members(first: $first, offset: $offset) { ${MEMBER_FIELDS} } }
}`;

export const CONTEXT_OF_EVENT = `query Lookup($auditID: ID!, $cluster: String) { contextOfEvent(auditID: $auditID, cluster: $cluster) { id } }`;

export const PROBE = '{ __typename }';

/** members fetched per request (the API's maximum) */
export const MEMBER_PAGE = 1000;
