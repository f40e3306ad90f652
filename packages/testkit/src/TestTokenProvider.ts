/**
 * A stub `TokenProvider` for unit tests that need no server: it answers every call with the token
 * (or error) it was given, and counts the calls.
 *
 * @since 0.1.0
 */
import * as AccessToken from "@oauth-cc/core/AccessToken"
import * as TokenError from "@oauth-cc/core/TokenError"
import * as TokenProvider from "@oauth-cc/core/TokenProvider"
import * as Clock from "effect/Clock"
import * as Context from "effect/Context"
import * as Effect from "effect/Effect"
import * as Layer from "effect/Layer"
import type * as Redacted from "effect/Redacted"

/**
 * What the stub answers: a token string (a Bearer token valid for one hour from the `Clock` at
 * construction), an `AccessToken`, or a `TokenError` to fail with.
 *
 * @since 0.1.0
 * @category models
 */
export type Answer = string | Redacted.Redacted<string> | AccessToken.AccessToken | TokenError.TokenError

/**
 * The stub's controls.
 *
 * @since 0.1.0
 * @category models
 */
export interface Stub {
  /** Calls of `get`, `getFor` and `refresh`. */
  readonly calls: Effect.Effect<number>
  /** Calls of `refresh`. */
  readonly refreshCalls: Effect.Effect<number>
  /** Calls of `invalidate`. */
  readonly invalidations: Effect.Effect<number>
  /** The parameter sets `getFor` was called with, oldest first. */
  readonly getForParams: Effect.Effect<ReadonlyArray<TokenProvider.Params>>
  /** Changes the answer from now on. */
  readonly set: (answer: Answer) => Effect.Effect<void>
}

/**
 * @since 0.1.0
 * @category tags
 */
export class TestTokenProvider extends Context.Tag("@oauth-cc/testkit/TestTokenProvider")<TestTokenProvider, Stub>() {}

const toResult = (
  answer: Answer,
  now: number
): { readonly _tag: "Token"; readonly token: AccessToken.AccessToken } | {
  readonly _tag: "Error"
  readonly error: TokenError.TokenError
} => {
  if (TokenError.isTokenError(answer)) return { _tag: "Error", error: answer }
  if (AccessToken.isAccessToken(answer)) return { _tag: "Token", token: answer }
  return {
    _tag: "Token",
    token: AccessToken.make({ value: answer, tokenType: "Bearer", issuedAt: now, expiresAt: now + 60 * 60 * 1000 })
  }
}

/**
 * Makes a stub provider and its controls.
 *
 * @since 0.1.0
 * @category constructors
 */
export const make = (
  answer: Answer
): Effect.Effect<{ readonly provider: TokenProvider.Service; readonly stub: Stub }> =>
  Effect.map(Clock.currentTimeMillis, (now) => {
    let result = toResult(answer, now)
    let calls = 0
    let refreshCalls = 0
    let invalidations = 0
    const params: Array<TokenProvider.Params> = []
    const answerNow = Effect.suspend(() => {
      calls++
      return result._tag === "Token" ? Effect.succeed(result.token) : Effect.fail(result.error)
    })
    const provider: TokenProvider.Service = {
      get: answerNow,
      getFor: (p) =>
        Effect.suspend(() => {
          params.push(p)
          return answerNow
        }),
      refresh: Effect.suspend(() => {
        refreshCalls++
        return answerNow
      }),
      invalidate: () => Effect.sync(() => void invalidations++)
    }
    const stub: Stub = {
      calls: Effect.sync(() => calls),
      refreshCalls: Effect.sync(() => refreshCalls),
      invalidations: Effect.sync(() => invalidations),
      getForParams: Effect.sync(() => params.slice()),
      set: (next) => Effect.map(Clock.currentTimeMillis, (now) => void (result = toResult(next, now)))
    }
    return { provider, stub }
  })

/**
 * A `TokenProvider` that answers with `answer`, and the `TestTokenProvider` controls to count calls.
 *
 * @example
 * ```ts
 * import { TokenError } from "@oauth-cc/core"
 * import { TestTokenProvider } from "@oauth-cc/testkit"
 *
 * const Ok = TestTokenProvider.layer("token-1")
 * const Rejected = TestTokenProvider.layer(new TokenError.TokenRequestRejected({ error: "invalid_client", status: 401 }))
 * ```
 *
 * @since 0.1.0
 * @category layers
 */
export const layer = (answer: Answer): Layer.Layer<TokenProvider.TokenProvider | TestTokenProvider> =>
  Layer.effectContext(
    Effect.map(
      make(answer),
      ({ provider, stub }) =>
        Context.make(TokenProvider.TokenProvider, provider).pipe(Context.add(TestTokenProvider, stub))
    )
  )
