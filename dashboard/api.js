// The dashboard's only way to the data: the public GraphQL API, with the token the person pasted in. The token
// lives in this tab's session storage and travels only in the Authorization header, never in a URL.
const TOKEN_KEY = 'lifeline.dashboard.token';

export function storedToken() {
  return sessionStorage.getItem(TOKEN_KEY);
}

export function storeToken(token) {
  sessionStorage.setItem(TOKEN_KEY, token);
}

export function forgetToken() {
  sessionStorage.removeItem(TOKEN_KEY);
}

export class ApiError extends Error {
  constructor(message, code) {
    super(message);
    this.code = code;
  }
}

/** Runs one GraphQL operation; the first error, if any, is thrown with its code and the API's own message. */
export async function graphql(query, variables = {}) {
  const token = storedToken();
  if (!token) throw new ApiError('Sign in with an API token first.', 'UNAUTHENTICATED');
  let response;
  try {
    response = await fetch('/graphql', {
      method: 'POST',
      headers: { 'content-type': 'application/json', accept: 'application/json', authorization: `Bearer ${token}` },
      body: JSON.stringify({ query, variables }),
    });
  } catch {
    throw new ApiError('Lifeline could not be reached. Is it running?', 'NETWORK');
  }
  let body;
  try {
    body = await response.json();
  } catch {
    throw new ApiError(`Lifeline answered ${response.status} without a GraphQL result.`, 'HTTP');
  }
  const [first] = body.errors ?? [];
  if (first) throw new ApiError(first.message, first.extensions?.code ?? 'ERROR');
  return body.data;
}
