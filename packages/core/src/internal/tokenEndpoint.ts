import type * as HttpClient from "@effect/platform/HttpClient"
import * as HttpClientRequest from "@effect/platform/HttpClientRequest"
import * as Cause from "effect/Cause"
import * as Clock from "effect/Clock"
import * as Effect from "effect/Effect"
import * as Metric from "effect/Metric"
import * as Option from "effect/Option"
import type * as AccessToken from "../AccessToken.js"
import * as DPoP from "../DPoP.js"
import type * as TokenError from "../TokenError.js"
import type { ClientAuth, Target } from "./clientAuth.js"
import * as Monotonic from "./monotonic.js"
import type { Resolved } from "./resolvedOptions.js"
import { attemptTimeout, retrySchedule, withAttempts } from "./retryPolicy.js"
import type { Scrub } from "./scrub.js"
import * as Telemetry from "./telemetry.js"
import { classify, parseBody, type RequestedScope } from "./tokenResponse.js"
import { type RawResponse, send } from "./transport.js"

/**
 * Where and how token requests go: configured, or discovered from the issuer; the client authentication
 * resolved for that endpoint's method.
 *
 * @internal
 */
export interface Endpoint extends Target {
  readonly auth: ClientAuth
}

/**
 * What a grant asks for: its form parameters (`grant_type` first), the scope a token is taken to have
 * when the answer names none, and its own check of the answer, if any.
 *
 * @internal
 */
export interface Grant extends RequestedScope {
  readonly form: ReadonlyArray<readonly [string, string]>
}

/**
 * DPoP on the token endpoint: the key read once, and the last nonce each server gave.
 *
 * @internal
 */
export interface DPoPContext {
  readonly proofer: DPoP.Proofer
  readonly nonces: DPoP.NonceStore
}

/** The options a token fetch reads. @internal */
export type FetchOptions = Pick<
  Resolved,
  | "clientId"
  | "retry"
  | "requestTimeoutMillis"
  | "maxResponseBytes"
  | "assumeBearer"
  | "dpop"
  | "defaultExpiresInMillis"
>

/**
 * The token request (RFC 6749 §4.4.2 and every other grant's): a form-encoded POST that accepts JSON, the
 * grant's parameters, the client's credentials, and with DPoP a fresh proof (RFC 9449 §4: htm POST, htu the
 * endpoint, iat from Clock, a new jti, the server's last nonce). Build it once per attempt: a JWT method signs
 * a new assertion each time.
 *
 * @internal
 */
export const buildRequest = (
  endpoint: Endpoint,
  grant: Grant,
  dpop?: DPoPContext | undefined
): Effect.Effect<HttpClientRequest.HttpClientRequest, TokenError.TokenError> => {
  const request = Effect.map(
    endpoint.auth.credentials(endpoint),
    (credentials) =>
      HttpClientRequest.post(endpoint.tokenUrl).pipe(
        HttpClientRequest.acceptJson,
        HttpClientRequest.setHeaders(credentials.headers),
        HttpClientRequest.bodyUrlParams([...grant.form, ...credentials.form])
      )
  )
  // the token URL was validated: a proof that cannot be made for it is a bug
  return dpop === undefined ? request : Effect.flatMap(
    request,
    (request) => Effect.orDie(DPoP.setProof(request, { proofer: dpop.proofer, nonces: dpop.nonces }))
  )
}

// `now` is wall time, for an HTTP-date Retry-After; the token's life is on the monotonic time line
const classifyNow = (response: RawResponse, options: FetchOptions, grant: Grant, scrub: Scrub, sentAt: number) =>
  Effect.flatMap(Clock.currentTimeMillis, (now) => classify(response, options, grant, now, scrub, sentAt))

/** One request and its answer, with the time it was sent. A DPoP nonce in any answer is kept (RFC 9449 §8.2). */
const sendOnce = (
  client: HttpClient.HttpClient,
  endpoint: Endpoint,
  grant: Grant,
  options: FetchOptions,
  scrub: Scrub,
  dpop: DPoPContext | undefined
) =>
  Effect.flatMap(Monotonic.millis, (sentAt) =>
    buildRequest(endpoint, grant, dpop).pipe(
      Effect.flatMap((request) => send(client, request, options, scrub)),
      Effect.tap((response) =>
        dpop === undefined ? Effect.void : Option.match(DPoP.nonceFromHeaders(response.headers), {
          onNone: () => Effect.void,
          onSome: (nonce) => dpop.nonces.set(endpoint.tokenUrl, nonce)
        })
      ),
      Effect.map((response) => ({ response, sentAt }))
    ))

/**
 * One attempt: build the request, send it, classify and decode the answer. A token's life is counted from
 * when its request was sent: the server started `expires_in` no earlier, so a slow answer never makes the
 * client think the token lives longer than the server does. With DPoP, a `400 use_dpop_nonce` with a
 * `DPoP-Nonce` is sent again at once with a new proof carrying it (RFC 9449 §8).
 *
 * @internal
 */
export const attempt = (
  client: HttpClient.HttpClient,
  endpoint: Endpoint,
  grant: Grant,
  options: FetchOptions,
  scrub: Scrub,
  dpop?: DPoPContext | undefined
): Effect.Effect<AccessToken.AccessToken, TokenError.TokenError> => {
  const once = sendOnce(client, endpoint, grant, options, scrub, dpop)
  const decode = (answer: { readonly response: RawResponse; readonly sentAt: number }) =>
    classifyNow(answer.response, options, grant, scrub, answer.sentAt)
  return Effect.flatMap(once, (answer) => {
    const demanded = dpop === undefined ? Option.none() : Option.flatMap(
      parseBody(answer.response),
      (body) => DPoP.tokenEndpointNonce(answer.response, body)
    )
    return Option.isSome(demanded)
      ? Effect.flatMap(once, decode).pipe(Effect.withSpan("oauth-cc.token.dpop-nonce"))
      : decode(answer)
  })
}

/**
 * One token fetch, the whole pipe: auth → send → classify → decode per attempt, attempts under the retry
 * policy, traced and measured. Serves any grant: the grant only gives its form.
 *
 * @internal
 */
export const fetch = (
  client: HttpClient.HttpClient,
  options: FetchOptions,
  endpoint: Endpoint,
  grant: Grant,
  scrub: Scrub,
  dpop?: DPoPContext | undefined
): Effect.Effect<AccessToken.AccessToken, TokenError.TokenError> =>
  Effect.clockWith((clock) => {
    let attempts = 0
    const deadline = Monotonic.unsafeMillis(clock) + options.retry.maxElapsedMillis
    const schedule = retrySchedule(options.retry, deadline)
    const one = Effect.suspend(() => {
      attempts++
      const current = attempts
      return attemptTimeout(options.requestTimeoutMillis, deadline).pipe(
        Effect.flatMap((requestTimeoutMillis) =>
          attempt(client, endpoint, grant, { ...options, requestTimeoutMillis }, scrub, dpop)
        ),
        Effect.tapError((error) => Telemetry.attemptFailed(error, current)),
        Effect.withSpan("oauth-cc.token.attempt", { kind: "client", attributes: { "oauth.attempt": current } }),
        Metric.trackAll(Telemetry.requestCounter, 1)
      )
    })
    return Effect.clockWith((clock) => {
      const start = Monotonic.unsafeMillis(clock)
      return one.pipe(
        Effect.retry(Telemetry.logRetryAfterWaits(schedule, "token endpoint")),
        Effect.mapError((error) => withAttempts(error, attempts)),
        Effect.onExit((exit) =>
          Effect.zipRight(
            Telemetry.fetchDuration(Effect.succeed((Monotonic.unsafeMillis(clock) - start) / 1000)),
            Effect.annotateCurrentSpan({
              "oauth.attempts": attempts,
              "oauth.outcome": exit._tag === "Success" ? "success" : outcomeOf(exit.cause)
            })
          )
        ),
        Effect.tapBoth({
          onFailure: (error) =>
            Effect.zipRight(
              Metric.increment(Metric.tagged(Telemetry.fetchCounter, "outcome", error._tag)),
              Telemetry.logFetchFailure(error, options.clientId)
            ),
          onSuccess: () => Metric.increment(Metric.tagged(Telemetry.fetchCounter, "outcome", "success"))
        }),
        Effect.withSpan("oauth-cc.token.fetch", {
          kind: "client",
          attributes: {
            "oauth.token_endpoint.host": endpoint.tokenUrl.host,
            "oauth.client_auth_method": endpoint.auth.method,
            "oauth.client_id": options.clientId,
            "oauth.scope": grant.scope.join(" ")
          }
        })
      )
    })
  })

const outcomeOf = (cause: Cause.Cause<TokenError.TokenError>): string =>
  Option.match(Cause.failureOption(cause), { onNone: () => "interrupted", onSome: (error) => error._tag })
