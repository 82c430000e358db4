/**
 * One credentials provider shared by every client of the page: the first call asks Cognito (GetId once
 * per browser, then GetCredentialsForIdentity); later calls reuse the answer until shortly before it
 * expires. Without sharing, two clients starting at once could each create a new guest identity.
 */

/** Refresh this long before the credentials expire. */
export const REFRESH_MARGIN_MS = 5 * 60 * 1000;

export function shareCredentials(provider, now = Date.now) {
  let pending = null;
  const fresh = () => {
    pending = provider().catch((error) => {
      pending = null;
      throw error;
    });
    return pending;
  };
  return async () => {
    const current = pending ?? fresh();
    const credentials = await current;
    const expiresAt = credentials.expiration?.getTime() ?? Number.POSITIVE_INFINITY;
    if (now() < expiresAt - REFRESH_MARGIN_MS) {
      return credentials;
    }
    // Expired: the first caller to notice refreshes; the others wait for that refresh.
    return pending === current || pending === null ? fresh() : pending;
  };
}
