/**
 * Metrics, span attributes and operator logs, named after the OpenTelemetry semantic conventions. None of
 * them carries a secret, a token, a request body or a header: only names, the endpoint without its
 * credentials or query values, status codes, error tags and durations.
 *
 * Effect 3 metrics have no unit field; `@effect/opentelemetry` exports the `unit` tag of a metric as its
 * unit (and, like every tag, as an attribute), so every metric here is tagged with its UCUM unit.
 *
 * @see https://opentelemetry.io/docs/specs/semconv/general/metrics/
 * @see https://opentelemetry.io/docs/specs/semconv/http/http-metrics/#metric-httpclientrequestduration
 * @internal
 */
import type * as HttpClientRequest from "@effect/platform/HttpClientRequest"
import * as UrlParams from "@effect/platform/UrlParams"
import * as Cause from "effect/Cause"
import * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import * as Either from "effect/Either"
import * as Exit from "effect/Exit"
import * as Metric from "effect/Metric"
import * as MetricBoundaries from "effect/MetricBoundaries"
import * as MetricLabel from "effect/MetricLabel"
import * as Option from "effect/Option"
import * as Schedule from "effect/Schedule"
import type * as TokenError from "../TokenError.js"
import * as Monotonic from "./monotonic.js"

/** The bucket boundaries the HTTP semantic conventions advise for `http.client.request.duration`, in seconds. */
const durationBoundaries = MetricBoundaries.fromIterable([
  0.005,
  0.01,
  0.025,
  0.05,
  0.075,
  0.1,
  0.25,
  0.5,
  0.75,
  1,
  2.5,
  5,
  7.5,
  10
])

/** @internal */
export const fetchCounter = Metric.counter("oauth_cc.token.fetches", {
  description: "Token fetches (each up to maxAttempts requests) by outcome: success or the TokenError tag",
  incremental: true
}).pipe(Metric.tagged("unit", "{fetch}"))

/** @internal */
export const fetchDuration = Metric.histogram(
  "oauth_cc.token.fetch.duration",
  durationBoundaries,
  "Duration of token fetches in seconds, retries and their waits included"
).pipe(Metric.tagged("unit", "s"))

/** @internal */
export const requestCounter = Metric.counter("oauth_cc.token.requests", {
  description: "Token requests sent (attempts, retries included)",
  incremental: true
}).pipe(Metric.tagged("unit", "{request}"))

const cacheLookups = Metric.counter("oauth_cc.token.cache.lookups", {
  description:
    "TokenProvider.get results: hit, miss, joined (waited for a fetch under way), refresh-ahead, stale-on-error",
  incremental: true
})

/** @internal */
export const cacheCounter = cacheLookups.pipe(Metric.tagged("unit", "{lookup}"))

/**
 * The lookup counter of one `result`, its labels set at once: a chain of `Metric.tagged` derives its key
 * again on every update (about 2 µs, more than the rest of a cache hit: the P3 benchmark saw it).
 *
 * @internal
 */
export const cacheResult = (result: string) =>
  Metric.taggedWithLabels(cacheLookups, [MetricLabel.make("unit", "{lookup}"), MetricLabel.make("result", result)])

/** The standard HTTP client metric, for token requests (discovery requests are not in it). @internal */
export const httpClientRequestDuration = Metric.histogram(
  "http.client.request.duration",
  durationBoundaries,
  "Duration of HTTP client requests (oauth-cc token requests), in seconds"
).pipe(Metric.tagged("unit", "s"))

/**
 * `url.full` without credentials, fragment or query values (a query may carry a signature or a key):
 * each query parameter keeps its name, its value becomes `REDACTED`.
 *
 * @internal
 */
export const safeUrl = (url: URL): string => {
  const copy = new URL(url.href)
  copy.username = ""
  copy.password = ""
  copy.hash = ""
  if (copy.search !== "") {
    copy.search = Array.from(copy.searchParams.keys(), (key) => `${encodeURIComponent(key)}=REDACTED`).join("&")
  }
  return copy.href
}

const portOf = (url: URL): number => url.port !== "" ? Number(url.port) : url.protocol === "https:" ? 443 : 80

/**
 * The attributes of a request known before it is sent (HTTP client span conventions).
 *
 * @internal
 */
export const requestAttributes = (url: URL, method: string) => ({
  "http.request.method": method,
  "server.address": url.hostname,
  "server.port": portOf(url),
  "url.full": safeUrl(url)
})

/**
 * `error.type` of a request: the status code when the server answered 4xx/5xx, else the error's tag
 * (a transport failure or timeout).
 *
 * @internal
 */
export const errorType = (status: number | undefined, error: TokenError.TokenError | undefined): string | undefined =>
  status !== undefined && status >= 400 ? String(status) : error?._tag

/**
 * A failed token request attempt: `error.type` on its span (the status of a 4xx/5xx, else the error's tag,
 * e.g. a 200 that is no token response), and a Debug log.
 *
 * @internal
 */
export const attemptFailed = (error: TokenError.TokenError, attempt: number): Effect.Effect<void> =>
  Effect.zipRight(
    Effect.annotateCurrentSpan(
      "error.type",
      errorType(error._tag === "TokenRateLimited" ? 429 : "status" in error ? error.status : undefined, error)!
    ),
    Effect.logDebug(`oauth-cc: token request attempt ${attempt} failed: ${error.message}`)
  )

/**
 * Measures one HTTP request of oauth-cc (a token or a metadata request, redirects not followed):
 * `http.client.request.duration` with the HTTP attributes, which also go on the current span (the attempt
 * span of a token request) with `url.full`, `http.response.status_code` and `error.type`. An interrupted
 * request is not measured.
 *
 * @internal
 */
export const trackRequest =
  (request: HttpClientRequest.HttpClientRequest) =>
  <A extends { readonly status: number }, R>(
    self: Effect.Effect<A, TokenError.TokenError, R>
  ): Effect.Effect<A, TokenError.TokenError, R> => {
    const url = Either.getOrUndefined(UrlParams.makeUrl(request.url, request.urlParams, request.hash))
    if (url === undefined) return self
    const attributes = requestAttributes(url, request.method)
    return Effect.clockWith((clock) => {
      const start = Monotonic.unsafeMillis(clock)
      return Effect.zipRight(Effect.annotateCurrentSpan(attributes), self).pipe(
        Effect.onExit((exit) => {
          if (Exit.isInterrupted(exit)) return Effect.void
          const status = Exit.isSuccess(exit) ? exit.value.status : undefined
          const error = Exit.isFailure(exit) ? Option.getOrUndefined(Cause.failureOption(exit.cause)) : undefined
          const type = errorType(status, error)
          const labels = [
            MetricLabel.make("http.request.method", request.method),
            MetricLabel.make("server.address", attributes["server.address"]),
            MetricLabel.make("server.port", String(attributes["server.port"])),
            ...(status === undefined ? [] : [MetricLabel.make("http.response.status_code", String(status))]),
            ...(type === undefined ? [] : [MetricLabel.make("error.type", type)])
          ]
          const seconds = (Monotonic.unsafeMillis(clock) - start) / 1000
          return Effect.zipRight(
            Metric.update(Metric.taggedWithLabels(httpClientRequestDuration, labels), seconds),
            Effect.annotateCurrentSpan({
              ...(status === undefined ? {} : { "http.response.status_code": status }),
              ...(type === undefined ? {} : { "error.type": type })
            })
          )
        })
      )
    })
  }

// -----------------------------------------------------------------------------
// operator logs: never a secret or a token; messages are TokenError messages (scrubbed) and numbers
// -----------------------------------------------------------------------------

const seconds = (millis: number): string => Duration.format(Duration.millis(Math.max(0, Math.round(millis))))

const retryAfterOf = (error: TokenError.TokenError): Duration.Duration | undefined =>
  error._tag === "TokenRateLimited" || error._tag === "TokenServerError" ? error.retryAfter : undefined

/**
 * The retry `schedule`, logging at Info each wait a server's `Retry-After` asked for (only when a retry
 * follows).
 *
 * @internal
 */
export const logRetryAfterWaits = <Out, R>(
  schedule: Schedule.Schedule<Out, TokenError.TokenError, R>,
  what: string
): Schedule.Schedule<Out, TokenError.TokenError, R> =>
  Schedule.intersect(schedule, Schedule.identity<TokenError.TokenError>()).pipe(
    Schedule.onDecision(([, error], decision) => {
      // the schedule waits exactly the Retry-After it got (a longer one ends it)
      const retryAfter = retryAfterOf(error)
      return decision._tag === "Continue" && retryAfter !== undefined
        ? Effect.logInfo(
          `oauth-cc: the ${what} answered ${
            error._tag === "TokenServerError" ? `HTTP ${error.status}` : "HTTP 429"
          } with Retry-After; waiting ${Duration.format(retryAfter)} before the next request`
        )
        : Effect.void
    }),
    Schedule.map(([out]) => out)
  )

/**
 * A fetch that failed with `invalid_client` (the credentials are wrong or the client is unknown): Error,
 * since no retry or wait fixes it.
 *
 * @internal
 */
export const logFetchFailure = (error: TokenError.TokenError, clientId: string): Effect.Effect<void> =>
  error._tag === "TokenRequestRejected" && error.error === "invalid_client"
    ? Effect.logError(
      `oauth-cc: the token endpoint rejected client "${clientId}" (invalid_client): check its credentials and auth method; ${error.message}`
    )
    : Effect.void

/**
 * A failed fetch started the cooldown: no request for this key until it ends.
 *
 * @internal
 */
export const logCooldown = (error: TokenError.TokenError, cooldownMillis: number): Effect.Effect<void> =>
  Effect.logWarning(
    `oauth-cc: token fetch failed (${error.message}); no new token request for ${
      seconds(cooldownMillis)
    } (failure cooldown), a cached token that has not expired is served meanwhile`
  )

const staleLogged = new WeakSet<object>()

/**
 * A refresh failed and the cached token, past its refresh time but not expired, was served instead. Logged
 * once per failed fetch (`fetch` identifies it), however many callers were waiting for it.
 *
 * @internal
 */
export const logStaleServed = (fetch: object, error: TokenError.TokenError, leftMillis: number): Effect.Effect<void> =>
  Effect.suspend(() => {
    if (staleLogged.has(fetch)) return Effect.void
    staleLogged.add(fetch)
    return Effect.logWarning(
      `oauth-cc: token refresh failed (${error._tag}); serving the cached token, which expires in ${
        seconds(leftMillis)
      }`
    )
  })
