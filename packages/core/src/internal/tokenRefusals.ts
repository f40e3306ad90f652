import * as AccessToken from "../AccessToken.js"
import * as DPoP from "../DPoP.js"

/**
 * RFC 6750 §3.1: `insufficient_scope` means the token is fine but lacks a scope; a fresh token for the
 * same parameters would be refused the same way. Read from the `error` auth-param of a `Bearer` or `DPoP`
 * challenge (RFC 9110 §11.6.1: quoted strings with their escapes), never from inside another parameter's value.
 *
 * @internal
 */
export const insufficientScope = (headers: { readonly [name: string]: string | undefined }): boolean => {
  const challenge = headers["www-authenticate"]
  if (challenge === undefined) return false
  return DPoP.parseChallenges(challenge).some((c) => {
    const scheme = c.scheme.toLowerCase()
    return (scheme === "bearer" || scheme === "dpop") && c.params.error?.toLowerCase() === "insufficient_scope"
  })
}

/** How many resource origins the authorized client remembers an accepted token for. @internal */
export const acceptedOrigins = 64

/**
 * Per resource origin: the last token it accepted (answered with something other than 401), and whether a
 * fresh token fetched after one of its 401s was refused too. Bounded: past `acceptedOrigins` origins the least
 * recently used is forgotten.
 *
 * @internal
 */
export const makeAcceptedTokens = (capacity = acceptedOrigins) => {
  const entries = new Map<string, { token: AccessToken.AccessToken | undefined; refusesFresh: boolean }>()
  const entry = (origin: string) => {
    let found = entries.get(origin)
    if (found !== undefined) entries.delete(origin)
    else found = { token: undefined, refusesFresh: false }
    entries.set(origin, found)
    if (entries.size > capacity) entries.delete(entries.keys().next().value!)
    return found
  }
  return {
    accept: (origin: string, token: AccessToken.AccessToken) => {
      entry(origin).token = token
    },
    /** `origin` accepted `token` before and it is not known to refuse every fresh token. */
    revoked: (origin: string, token: AccessToken.AccessToken): boolean => {
      const found = entries.get(origin)
      return found !== undefined && !found.refusesFresh && found.token !== undefined &&
        AccessToken.isSameValue(found.token, token)
    },
    /** A replay with a fresh token after a 401 was refused again (`true`) or answered (`false`). */
    replayed: (origin: string, refusedAgain: boolean) => {
      entry(origin).refusesFresh = refusedAgain
    },
    size: () => entries.size
  }
}

/** The first refusal window, and the longest: each drop in a row doubles it. @internal */
export const refusalWindowMillis = { first: 1_000, max: 30_000 } as const

/**
 * Drops of never-accepted tokens: at most one per window; the window doubles with each drop in a row
 * (1 s, 2 s, 4 s, … 30 s) and starts over after a quiet window. Synchronous: no fiber interleaves.
 *
 * @internal
 */
export const makeRefusalBudget = () => {
  let last: { readonly at: number; readonly window: number } | undefined
  return {
    take: (now: number): boolean => {
      if (last !== undefined && now < last.at + last.window) return false
      const window = last !== undefined && now < last.at + 2 * last.window
        ? Math.min(2 * last.window, refusalWindowMillis.max)
        : refusalWindowMillis.first
      last = { at: now, window }
      return true
    }
  }
}
