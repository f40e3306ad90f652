import * as Duration from "effect/Duration"
import type * as AccessToken from "../AccessToken.js"
import type * as TokenError from "../TokenError.js"

/**
 * The numbers a token cache runs on, in milliseconds.
 *
 * @internal
 */
export interface Settings {
  /** How long before expiry a token stops being served (at most half its life). */
  readonly refreshSkewMillis: number
  /** The fraction of the served life after which one background refresh starts. */
  readonly refreshAhead: number
  /** How long a failed fetch is answered from memory before the next one. */
  readonly failureCooldownMillis: number
  /** The longest `Retry-After` a cooldown follows. */
  readonly maxRetryAfterMillis: number
  /** Keys whose coordination state is kept before idle ones are dropped. */
  readonly maxKeys: number
}

/**
 * When a token is served and refreshed, and how long a failure cools down: plain arithmetic, on the hot path.
 *
 * @internal
 */
export interface Policy {
  readonly maxKeys: number
  /** The token is served until then (monotonic millis). */
  readonly serveUntil: (token: AccessToken.AccessToken) => number
  /** One background refresh starts from then. */
  readonly refreshAt: (token: AccessToken.AccessToken) => number
  /** How long the failure is answered from memory. */
  readonly cooldownOf: (error: TokenError.TokenError) => number
}

/** @internal */
export const make = (settings: Settings): Policy => {
  const skew = settings.refreshSkewMillis
  // the same as `AccessToken.effectiveSkew`, without decoding a `Duration` on every call
  const serveUntil = (token: AccessToken.AccessToken) =>
    token.expiresAt - Math.max(0, Math.min(skew, (token.expiresAt - token.issuedAt) / 2))
  return {
    maxKeys: settings.maxKeys,
    serveUntil,
    refreshAt: (token) => token.issuedAt + settings.refreshAhead * (serveUntil(token) - token.issuedAt),
    cooldownOf: (error) => {
      const retryAfter = "retryAfter" in error && error.retryAfter !== undefined
        ? Math.min(Duration.toMillis(error.retryAfter), settings.maxRetryAfterMillis)
        : 0
      return Math.max(settings.failureCooldownMillis, retryAfter)
    }
  }
}
