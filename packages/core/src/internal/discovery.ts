import type * as HttpClient from "@effect/platform/HttpClient"
import * as HttpClientRequest from "@effect/platform/HttpClientRequest"
import * as Clock from "effect/Clock"
import * as Effect from "effect/Effect"
import * as Either from "effect/Either"
import { identity } from "effect/Function"
import * as Schema from "effect/Schema"
import type * as ClientCredentials from "../ClientCredentials.js"
import type * as Discovery from "../Discovery.js"
import * as TokenError from "../TokenError.js"
import { clientAuthFor } from "./clientAuth.js"
import { validateUrl } from "./clientCredentials.js"
import * as Monotonic from "./monotonic.js"
import type { Resolved } from "./resolvedOptions.js"
import { parseRetryAfter } from "./retryAfter.js"
import { attemptTimeout, retrySchedule } from "./retryPolicy.js"
import * as Telemetry from "./telemetry.js"
import type { Endpoint } from "./tokenEndpoint.js"
import { send } from "./transport.js"

/**
 * RFC 8414 §3.1: the well-known segment goes between the host and the issuer's path (a trailing `/`
 * removed); OpenID Connect Discovery 1.0 §4 appends it to the issuer instead.
 *
 * @internal
 */
export const metadataUrls = (issuer: string): readonly [URL, URL] => {
  const url = new URL(issuer)
  const path = url.pathname.replace(/\/+$/, "")
  return [
    new URL(`${url.origin}/.well-known/oauth-authorization-server${path}`),
    new URL(`${url.origin}${path}/.well-known/openid-configuration`)
  ]
}

const StringList = Schema.optionalWith(Schema.Array(Schema.String), { nullable: true })

/** @internal */
export const Metadata = Schema.Struct({
  issuer: Schema.String,
  token_endpoint: Schema.String,
  token_endpoint_auth_methods_supported: StringList,
  token_endpoint_auth_signing_alg_values_supported: StringList,
  jwks_uri: Schema.optionalWith(Schema.String, { nullable: true }),
  scopes_supported: StringList,
  grant_types_supported: StringList
})

const decodeMetadata = Schema.decodeUnknownEither(Metadata, { onExcessProperty: "ignore" })

const clip = (text: string, max = 120): string => text.length > max ? `${text.slice(0, max)}…` : text

const failed = (
  issuer: string,
  reason: TokenError.TokenDiscoveryFailed["reason"],
  detail: string,
  attempts = 1
) => new TokenError.TokenDiscoveryFailed({ issuer, reason, detail, attempts })

/** The options discovery needs; `ClientCredentials.Options` resolved, or `Discovery.discover`'s. @internal */
export type DiscoverOptions = Pick<
  Resolved,
  "retry" | "requestTimeoutMillis" | "maxResponseBytes" | "allowInsecureHttp"
>

/** Redirects of a metadata URL followed in a row, within its origin. @internal */
export const maxMetadataRedirects = 3

const redirectStatuses: ReadonlySet<number> = new Set([301, 302, 303, 307, 308])

const resolve = (location: string, base: URL): URL | undefined => {
  try {
    return new URL(location, base)
  } catch {
    return undefined
  }
}

/**
 * GET of a metadata URL, following redirects within its origin (Django OAuth Toolkit answers the RFC 8414
 * path with a 301 to the same path with a trailing `/`), at most `maxMetadataRedirects` of them. A
 * redirect to another origin is `RejectedRedirect`: the configured issuer alone says where metadata
 * comes from. Token requests never follow redirects (`send` does not).
 */
const getFollowing = (client: HttpClient.HttpClient, issuer: string, start: URL, options: DiscoverOptions) =>
  Effect.gen(function*() {
    let url = start
    for (let hops = 0;; hops++) {
      const request = HttpClientRequest.get(url).pipe(HttpClientRequest.acceptJson)
      const response = yield* send(client, request, options, identity)
      const location = response.headers["location"]
      if (!redirectStatuses.has(response.status) || location === undefined) return { url, response }
      const next = resolve(location, url)
      if (next === undefined || next.origin !== url.origin) {
        return yield* Effect.fail(failed(
          issuer,
          "RejectedRedirect",
          `${start.pathname} redirected (${response.status}) to ${
            next === undefined ? "an unparsable Location" : `another origin, ${clip(next.origin)}`
          }; only redirects within ${url.origin} are followed`
        ))
      }
      if (hops >= maxMetadataRedirects) {
        return yield* Effect.fail(failed(
          issuer,
          "RejectedRedirect",
          `${start.pathname} redirected more than ${maxMetadataRedirects} times`
        ))
      }
      url = next
    }
  })

/** One pass over both well-known URLs: a document, or the error of the last one. */
const once = (client: HttpClient.HttpClient, issuer: string, options: DiscoverOptions) =>
  Effect.gen(function*() {
    const statuses: Array<string> = []
    for (const start of metadataUrls(issuer)) {
      const { response, url } = yield* getFollowing(client, issuer, start, options)
      if (response.status === 429 || response.status >= 500) {
        // 429 and 5xx: the same Retry-After handling and retry policy as token requests
        const retryAfter = parseRetryAfter(response.headers["retry-after"], yield* Clock.currentTimeMillis)
        return yield* Effect.fail(
          response.status === 429
            ? new TokenError.TokenRateLimited({ retryAfter, attempts: 1 })
            : new TokenError.TokenServerError({
              status: response.status,
              attempts: 1,
              retryAfter: response.status === 503 ? retryAfter : undefined
            })
        )
      }
      if (response.status !== 200) {
        statuses.push(`${url.pathname} answered ${response.status}`)
        continue
      }
      let body: unknown
      try {
        body = JSON.parse(response.body)
      } catch {
        return yield* Effect.fail(failed(issuer, "InvalidMetadata", `${url.pathname} is not JSON`))
      }
      const decoded = decodeMetadata(body)
      if (Either.isLeft(decoded)) {
        return yield* Effect.fail(
          failed(issuer, "InvalidMetadata", `${url.pathname} lacks a string issuer or token_endpoint`)
        )
      }
      return decoded.right
    }
    return yield* Effect.fail(failed(issuer, "NotFound", `no metadata: ${statuses.join(", ")}`))
  })

/**
 * Why the metadata could not be fetched, worded for a metadata request (the transport and the status
 * classes are the token request's, the wording is not).
 */
const unreachable = (error: TokenError.TokenError, attempts: number): string => {
  const after = `after ${attempts} ${attempts === 1 ? "attempt" : "attempts"}`
  switch (error._tag) {
    case "TokenRateLimited":
      return `metadata endpoint rate limited (HTTP 429) ${after}`
    case "TokenServerError":
      return `metadata endpoint server error (HTTP ${error.status}) ${after}`
    case "TokenTransportError":
      return `metadata request ${error.reason === "Timeout" ? "timed out" : "failed"} ${after}: ${error.detail}`
    case "TokenResponseInvalid":
      return `invalid metadata response (HTTP ${error.status}, ${error.reason}): ${error.detail}`
    default:
      return error.message
  }
}

/** @internal */
export const discover = (
  client: HttpClient.HttpClient,
  issuer: string,
  options: DiscoverOptions
): Effect.Effect<Discovery.Metadata, TokenError.TokenDiscoveryFailed> =>
  Effect.clockWith((clock) => {
    let attempts = 0
    const deadline = Monotonic.unsafeMillis(clock) + options.retry.maxElapsedMillis
    return Effect.flatMap(attemptTimeout(options.requestTimeoutMillis, deadline), (requestTimeoutMillis) => {
      attempts++
      return once(client, issuer, { ...options, requestTimeoutMillis })
    }).pipe(
      Effect.retry(Telemetry.logRetryAfterWaits(retrySchedule(options.retry, deadline), "metadata endpoint")),
      Effect.mapError((error) =>
        error._tag === "TokenDiscoveryFailed"
          ? new TokenError.TokenDiscoveryFailed({ ...error, attempts })
          : new TokenError.TokenDiscoveryFailed({
            issuer,
            reason: "Unreachable",
            detail: unreachable(error, attempts),
            attempts,
            retryAfter: "retryAfter" in error ? error.retryAfter : undefined
          })
      ),
      Effect.flatMap((metadata) => {
        if (metadata.issuer !== issuer) {
          return Effect.fail(failed(
            issuer,
            "IssuerMismatch",
            `the metadata names issuer "${clip(metadata.issuer)}"; it must be identical (RFC 8414 §3.3)`,
            attempts
          ))
        }
        // the loopback exemption (and allowInsecureHttp) is for URLs the user configured: an https issuer
        // never sends the client's credentials to an http endpoint because its metadata says so
        const url = validateUrl("token_endpoint", metadata.token_endpoint, options.allowInsecureHttp)
        const downgrade = new URL(issuer).protocol === "https:" && Either.isRight(url) &&
          url.right.protocol !== "https:"
        if (downgrade || Either.isLeft(url)) {
          return Effect.fail(failed(
            issuer,
            "InsecureTokenEndpoint",
            `token_endpoint ${clip(metadata.token_endpoint)} is not usable: it must be https${
              downgrade ? " (the issuer is https)" : " (http only on loopback)"
            }`,
            attempts
          ))
        }
        return Effect.succeed(metadata)
      }),
      Effect.withSpan("oauth-cc.discovery", { attributes: { "oauth.issuer": issuer } })
    )
  })

/**
 * The method for a server's `token_endpoint_auth_methods_supported` (RFC 8414 §2: absent means
 * `client_secret_basic`): `private_key_jwt` when a key is configured, else `client_secret_basic`,
 * `client_secret_post`, `client_secret_jwt` when a secret is.
 *
 * @internal
 */
export const chooseAuthMethod = (
  supported: ReadonlyArray<string> | undefined,
  credentials: { readonly hasKey: boolean; readonly hasSecret: boolean }
): ClientCredentials.AuthMethod | undefined => {
  const offered = supported ?? ["client_secret_basic"]
  const preference: ReadonlyArray<ClientCredentials.AuthMethod> = [
    ...(credentials.hasKey ? ["private_key_jwt" as const] : []),
    ...(credentials.hasSecret ? ["client_secret_basic", "client_secret_post", "client_secret_jwt"] as const : [])
  ]
  return preference.find((method) => offered.includes(method))
}

/**
 * The endpoint of a provider configured with `issuer`: discovered, then the method chosen.
 *
 * @internal
 */
export const endpointFromIssuer = (
  client: HttpClient.HttpClient,
  options: Resolved & { readonly issuer: string }
): Effect.Effect<Endpoint, TokenError.TokenDiscoveryFailed> =>
  Effect.flatMap(discover(client, options.issuer, options), (metadata) => {
    const authMethod = options.authMethod ?? chooseAuthMethod(metadata.token_endpoint_auth_methods_supported, {
      hasKey: options.assertion.key !== undefined || options.assertion.source !== undefined,
      hasSecret: options.clientSecret !== undefined
    })
    const auth = authMethod === undefined ? undefined : clientAuthFor(authMethod, options)
    if (auth === undefined) {
      const offered = metadata.token_endpoint_auth_methods_supported ?? ["client_secret_basic"]
      return Effect.fail(failed(
        options.issuer,
        "NoSupportedAuthMethod",
        `the server supports ${clip(offered.join(", "))}; none fits the configured ${
          options.assertion.key !== undefined || options.assertion.source !== undefined
            ? "client assertion"
            : "client secret"
        } (set authMethod to override)`
      ))
    }
    return Effect.succeed({ tokenUrl: new URL(metadata.token_endpoint), issuer: options.issuer, auth })
  })
