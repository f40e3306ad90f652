/**
 * An access token as the client holds it: the redacted value, its type, and when it expires.
 *
 * @since 0.1.0
 */
import * as Data from "effect/Data"
import * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import * as Predicate from "effect/Predicate"
import * as Redacted from "effect/Redacted"
import * as Monotonic from "./internal/monotonic.js"

/**
 * @since 0.1.0
 * @category type ids
 */
export const TypeId: unique symbol = Symbol.for("@oauth-cc/core/AccessToken")

/**
 * @since 0.1.0
 * @category type ids
 */
export type TypeId = typeof TypeId

/**
 * An access token. `value` is `Redacted`: `String()`, `JSON.stringify` and `util.inspect` of a token
 * never show it; `Redacted.value(token.value)` does, at the one place it is sent.
 *
 * @see https://www.rfc-editor.org/rfc/rfc6749#section-5.1
 * @since 0.1.0
 * @category models
 */
export class AccessToken extends Data.Class<{
  /** The token itself. */
  readonly value: Redacted.Redacted<string>
  /** The token type, canonical case (`"Bearer"`, `"DPoP"`). */
  readonly tokenType: string
  /**
   * When the token's request was sent, in epoch milliseconds on the `Clock`'s monotonic time line
   * (`currentTimeNanos`), so a step of the wall clock does not move it.
   */
  readonly issuedAt: number
  /** When the token expires, on the same time line as `issuedAt`. */
  readonly expiresAt: number
  /** The granted scopes: the server's `scope`, or the requested ones when it sent none (RFC 6749 §5.1). */
  readonly scope: ReadonlyArray<string>
}> {
  /** @since 0.1.0 */
  readonly [TypeId]: TypeId = TypeId
  /**
   * The lifetime the server granted.
   *
   * @since 0.1.0
   */
  get lifetime(): Duration.Duration {
    return Duration.millis(this.expiresAt - this.issuedAt)
  }
}

/**
 * @since 0.1.0
 * @category refinements
 */
export const isAccessToken = (u: unknown): u is AccessToken => Predicate.hasProperty(u, TypeId)

/**
 * @since 0.1.0
 * @category constructors
 */
export const make = (fields: {
  readonly value: string | Redacted.Redacted<string>
  readonly tokenType?: string | undefined
  readonly issuedAt: number
  readonly expiresAt: number
  readonly scope?: ReadonlyArray<string> | undefined
}): AccessToken =>
  new AccessToken({
    value: Redacted.isRedacted(fields.value) ? fields.value : Redacted.make(fields.value),
    tokenType: fields.tokenType ?? "Bearer",
    issuedAt: fields.issuedAt,
    expiresAt: fields.expiresAt,
    scope: fields.scope ?? []
  })

/**
 * The skew that applies to a token: `skew`, capped at half the token's lifetime so that
 * short-lived tokens are not refetched on every call.
 *
 * @since 0.1.0
 * @category utils
 */
export const effectiveSkew = (token: AccessToken, skew: Duration.DurationInput): number =>
  Math.max(0, Math.min(Duration.toMillis(skew), (token.expiresAt - token.issuedAt) / 2))

/**
 * Whether the token is expired at `now` (epoch milliseconds), counting the (capped) skew.
 *
 * @since 0.1.0
 * @category predicates
 */
export const isExpiredAt = (token: AccessToken, now: number, skew: Duration.DurationInput = 0): boolean =>
  now >= token.expiresAt - effectiveSkew(token, skew)

/**
 * Whether the token is expired now, reading the `Clock`'s monotonic time (`currentTimeNanos`) so a step of
 * the wall clock does not change the answer and `TestClock` drives it.
 *
 * @since 0.1.0
 * @category predicates
 */
export const isExpired = (token: AccessToken, skew: Duration.DurationInput = 0): Effect.Effect<boolean> =>
  Effect.map(Monotonic.millis, (now) => isExpiredAt(token, now, skew))

/**
 * Whether two tokens carry the same value (what a `TokenStore` compares when asked to drop a given token).
 *
 * @since 0.1.0
 * @category predicates
 */
export const isSameValue = (self: AccessToken, that: AccessToken): boolean =>
  self === that || Redacted.value(self.value) === Redacted.value(that.value)

/**
 * The value of an `Authorization` header carrying this token (`Bearer <token>`).
 * The result holds the secret token: send it, never log it.
 *
 * @see https://www.rfc-editor.org/rfc/rfc6750#section-2.1
 * @since 0.1.0
 * @category utils
 */
export const authorizationHeader = (token: AccessToken): string => `${token.tokenType} ${Redacted.value(token.value)}`

const shiftBy = (token: AccessToken, offset: number): AccessToken =>
  offset === 0 ? token : make({
    value: token.value,
    tokenType: token.tokenType,
    issuedAt: token.issuedAt + offset,
    expiresAt: token.expiresAt + offset,
    scope: token.scope
  })

/**
 * The token with `issuedAt` and `expiresAt` moved from this process's monotonic time line to the wall clock
 * (`currentTimeMillis`). A store shared by several processes (Redis, a file) keeps tokens on the wall clock,
 * the one line they share; `fromWallClock` brings a stored token back. Each process's monotonic line starts
 * at its wall time, so the two agree until the wall clock is stepped or slewed.
 *
 * @since 0.2.0
 * @category utils
 */
export const toWallClock = (token: AccessToken): Effect.Effect<AccessToken> =>
  Effect.clockWith((clock) =>
    Effect.sync(() => shiftBy(token, clock.unsafeCurrentTimeMillis() - Monotonic.unsafeMillis(clock)))
  )

/**
 * The inverse of `toWallClock`: a token read from a shared store, on this process's monotonic time line.
 *
 * @since 0.2.0
 * @category utils
 */
export const fromWallClock = (token: AccessToken): Effect.Effect<AccessToken> =>
  Effect.clockWith((clock) =>
    Effect.sync(() => shiftBy(token, Monotonic.unsafeMillis(clock) - clock.unsafeCurrentTimeMillis()))
  )
