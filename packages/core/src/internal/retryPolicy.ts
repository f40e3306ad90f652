import * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import * as Schedule from "effect/Schedule"
import * as TokenError from "../TokenError.js"
import * as Monotonic from "./monotonic.js"
import type { Resolved } from "./resolvedOptions.js"

const retryAfterOf = (error: TokenError.TokenError): Duration.Duration | undefined =>
  error._tag === "TokenRateLimited" || error._tag === "TokenServerError" ? error.retryAfter : undefined

/**
 * The retry schedule: `Retry-After` when the server sent one, else capped exponential backoff with
 * jitter; only retryable errors, at most `maxAttempts` requests, never a `Retry-After` longer than
 * `maxRetryAfter`, and no retry that would start after `deadline` (epoch millis: the start of the
 * fetch plus `maxElapsed`, waits and attempts included).
 *
 * @internal
 */
export const retrySchedule = (
  policy: Resolved["retry"],
  deadline: number
): Schedule.Schedule<unknown, TokenError.TokenError> => {
  const backoff = Schedule.exponential(Duration.millis(policy.baseDelayMillis), policy.factor)
  return (policy.jitter ? Schedule.jittered(backoff) : backoff).pipe(
    Schedule.intersect(Schedule.identity<TokenError.TokenError>()),
    Schedule.modifyDelay(([, error], delay) => {
      const retryAfter = retryAfterOf(error)
      return retryAfter ?? Duration.min(delay, Duration.millis(policy.maxDelayMillis))
    }),
    Schedule.intersect(Schedule.recurs(policy.maxAttempts - 1)),
    Schedule.whileInput((error: TokenError.TokenError) => {
      const retryAfter = retryAfterOf(error)
      return error.retryable &&
        (retryAfter === undefined || Duration.toMillis(retryAfter) <= policy.maxRetryAfterMillis)
    }),
    Schedule.delays,
    Schedule.checkEffect((_, delay) => Effect.map(Monotonic.millis, (now) => now + Duration.toMillis(delay) < deadline))
  )
}

/**
 * The timeout of an attempt starting now: `requestTimeout`, cut to the time left before the deadline.
 *
 * @internal
 */
export const attemptTimeout = (
  requestTimeoutMillis: number,
  deadline: number
): Effect.Effect<number> =>
  Effect.map(Monotonic.millis, (now) => Math.max(1, Math.min(requestTimeoutMillis, deadline - now)))

/** @internal */
export const withAttempts = (error: TokenError.TokenError, attempts: number): TokenError.TokenError => {
  switch (error._tag) {
    case "TokenRateLimited":
      return new TokenError.TokenRateLimited({ ...error, attempts })
    case "TokenServerError":
      return new TokenError.TokenServerError({ ...error, attempts })
    case "TokenTransportError":
      return new TokenError.TokenTransportError({ ...error, attempts })
    default:
      return error
  }
}
