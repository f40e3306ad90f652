import * as FetchHttpClient from "@effect/platform/FetchHttpClient"
import * as HttpClient from "@effect/platform/HttpClient"
import type * as HttpClientError from "@effect/platform/HttpClientError"
import * as HttpClientRequest from "@effect/platform/HttpClientRequest"
import type * as HttpClientResponse from "@effect/platform/HttpClientResponse"
import * as Cause from "effect/Cause"
import * as Chunk from "effect/Chunk"
import * as Clock from "effect/Clock"
import * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import * as Either from "effect/Either"
import { identity } from "effect/Function"
import * as Metric from "effect/Metric"
import * as Option from "effect/Option"
import type * as ParseResult from "effect/ParseResult"
import * as Redacted from "effect/Redacted"
import * as Schedule from "effect/Schedule"
import * as Schema from "effect/Schema"
import * as Stream from "effect/Stream"
import * as AccessToken from "../AccessToken.js"
import type * as ClientCredentials from "../ClientCredentials.js"
import * as DPoP from "../DPoP.js"
import * as TokenError from "../TokenError.js"
import { assertionType, sign, type Signer } from "./clientAssertion.js"
import { reservedParams, type Resolved } from "./clientCredentials.js"
import * as Monotonic from "./monotonic.js"
import * as Telemetry from "./telemetry.js"
import * as TransportFailure from "./transportFailure.js"

/**
 * Where and how token requests go: configured, or discovered from the issuer.
 *
 * @internal
 */
export interface Endpoint {
  readonly tokenUrl: URL
  readonly authMethod: ClientCredentials.AuthMethod
  readonly issuer: string | undefined
}

/**
 * The parameters a token is requested for; normalized (sorted, de-duplicated) so equal sets are equal.
 *
 * @internal
 */
export interface Params {
  readonly scope: ReadonlyArray<string>
  readonly audience: string | undefined
  readonly resource: ReadonlyArray<string>
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

/**
 * RFC 6749 §2.3.1 / Appendix B: id and secret are form-urlencoded before they are joined for Basic.
 *
 * @internal
 */
export const formEncode = (value: string): string => new URLSearchParams([["", value]]).toString().slice(1)

/** @internal */
export const basicCredentials = (id: string, secret: string, encoding: "form" | "raw"): string => {
  const encode = encoding === "form" ? formEncode : identity<string>
  return `Basic ${base64Utf8(`${encode(id)}:${encode(secret)}`)}`
}

/** Base64 of the UTF-8 bytes of `text`, with the Web platform's `btoa` (which takes one byte per char). @internal */
export const base64Utf8 = (text: string): string => {
  let binary = ""
  for (const byte of new TextEncoder().encode(text)) binary += String.fromCharCode(byte)
  return btoa(binary)
}

const concatBytes = (chunks: ReadonlyArray<Uint8Array>, size: number): Uint8Array => {
  const bytes = new Uint8Array(size)
  let offset = 0
  for (const chunk of chunks) {
    bytes.set(chunk, offset)
    offset += chunk.length
  }
  return bytes
}

/** The `aud` of a client assertion: see `ClientAssertion.Options.audience`. @internal */
export const assertionAudience = (options: Resolved, endpoint: Endpoint): string => {
  const audience = options.assertion.audience
  if (audience === "token_endpoint") return endpoint.tokenUrl.href
  if (audience === "issuer" || audience === undefined) return endpoint.issuer ?? endpoint.tokenUrl.href
  return audience
}

const signerOf = (options: Resolved, method: "client_secret_jwt" | "private_key_jwt"): Signer =>
  method === "private_key_jwt"
    ? {
      key: options.assertion.key!,
      alg: options.assertion.alg!,
      kid: options.assertion.kid,
      header: options.assertion.header,
      lifetimeSeconds: options.assertion.lifetimeSeconds
    }
    : {
      key: new TextEncoder().encode(Redacted.value(options.clientSecret!)),
      alg: "HS256",
      kid: undefined,
      header: {},
      lifetimeSeconds: options.assertion.lifetimeSeconds
    }

/**
 * Builds the token request (RFC 6749 §4.4.2): a form-encoded POST that accepts JSON. A JWT method
 * signs a new assertion each time (its `iat` from `Clock`, a fresh `jti`), so build once per attempt.
 *
 * @internal
 */
export const buildRequest = (
  options: Resolved,
  endpoint: Endpoint,
  params: Params,
  dpop?: DPoPContext | undefined
): Effect.Effect<HttpClientRequest.HttpClientRequest> =>
  dpop === undefined ? buildPlainRequest(options, endpoint, params) : Effect.flatMap(
    buildPlainRequest(options, endpoint, params),
    // a fresh proof per attempt (RFC 9449 §4): htm POST, htu the endpoint without query and fragment, iat
    // from Clock, a new jti, the server's last nonce. The token URL was validated: a failure is a bug.
    (request) => Effect.orDie(DPoP.setProof(request, { proofer: dpop.proofer, nonces: dpop.nonces }))
  )

const buildPlainRequest = (
  options: Resolved,
  endpoint: Endpoint,
  params: Params
): Effect.Effect<HttpClientRequest.HttpClientRequest> =>
  Effect.suspend(() => {
    const form: Array<[string, string]> = [["grant_type", "client_credentials"]]
    if (params.scope.length > 0) form.push(["scope", params.scope.join(" ")])
    if (params.audience !== undefined) form.push(["audience", params.audience])
    for (const resource of params.resource) form.push(["resource", resource])
    for (const [key, value] of Object.entries(options.extraParams)) {
      if (!reservedParams.has(key)) form.push([key, value])
    }
    const request = HttpClientRequest.post(endpoint.tokenUrl).pipe(HttpClientRequest.acceptJson)
    const done = (request: HttpClientRequest.HttpClientRequest) =>
      Effect.succeed(HttpClientRequest.bodyUrlParams(request, form))
    const method = endpoint.authMethod
    switch (method) {
      case "client_secret_basic": {
        return done(HttpClientRequest.setHeader(
          request,
          "authorization",
          basicCredentials(options.clientId, Redacted.value(options.clientSecret!), options.basicEncoding)
        ))
      }
      case "client_secret_post": {
        form.push(["client_id", options.clientId], ["client_secret", Redacted.value(options.clientSecret!)])
        return done(request)
      }
      case "client_secret_jwt":
      case "private_key_jwt": {
        return Effect.flatMap(
          sign(signerOf(options, method), options.clientId, assertionAudience(options, endpoint)),
          (assertion) => {
            form.push(
              ["client_id", options.clientId],
              ["client_assertion_type", assertionType],
              ["client_assertion", assertion]
            )
            return done(request)
          }
        )
      }
      case "tls_client_auth": {
        form.push(["client_id", options.clientId])
        return done(request)
      }
    }
  })

// -----------------------------------------------------------------------------
// decoding
// -----------------------------------------------------------------------------

const maxExpiresInSeconds = 10 * 365 * 24 * 60 * 60

/**
 * `expires_in` as a string: decimal digits only (RFC 6749 §5.1 says a number; some servers quote it). No sign,
 * no whitespace, no exponent, no hex: `Number` would read "0x10" as 16 and " 1e3 " as 1000.
 */
const DecimalString = Schema.compose(Schema.String.pipe(Schema.pattern(/^[0-9]{1,16}$/)), Schema.NumberFromString)

const ExpiresIn = Schema.Union(Schema.Number, DecimalString).pipe(
  // at least one second: a positive fraction such as 1e-9 would give a token that is expired on arrival
  Schema.filter((n) => Number.isFinite(n) && n >= 1 && n <= maxExpiresInSeconds)
)

/**
 * A successful token response (RFC 6749 §5.1). Unknown members are ignored; `expires_in` may be a
 * JSON number or a string of decimal digits; `null` counts as absent.
 *
 * @internal
 */
export const TokenResponse = Schema.Struct({
  access_token: Schema.String,
  token_type: Schema.optionalWith(Schema.String, { nullable: true }),
  expires_in: Schema.optionalWith(ExpiresIn, { nullable: true }),
  scope: Schema.optionalWith(Schema.String, { nullable: true })
})

const decodeTokenResponse = Schema.decodeUnknownEither(TokenResponse, { onExcessProperty: "ignore" })

/**
 * An error response (RFC 6749 §5.2).
 *
 * @internal
 */
export const ErrorResponse = Schema.Struct({
  error: Schema.String,
  error_description: Schema.optionalWith(Schema.String, { nullable: true }),
  error_uri: Schema.optionalWith(Schema.String, { nullable: true })
})

const decodeErrorResponse = Schema.decodeUnknownOption(ErrorResponse)

/** RFC 6750 §2.1 b64token is narrower; any visible ASCII is accepted, nothing that could split a header. */
const tokenValue = /^[\x21-\x7e]+$/

/** @internal */
export interface RawResponse {
  readonly status: number
  readonly headers: Readonly<Record<string, string>>
  readonly body: string
}

/**
 * Masks occurrences of the client secret in text the server sent back. Not stripped from the declarations:
 * the `oauth-cc` CLI of `@oauth-cc/node-adapter` masks what it prints with `makeScrub`.
 *
 * @since 0.2.0
 */
export type Scrub = (text: string) => string

const clip = (text: string, max = 200): string => text.length > max ? `${text.slice(0, max)}…` : text

const parseBody = (response: RawResponse): Option.Option<unknown> => {
  try {
    return Option.some(JSON.parse(response.body))
  } catch {
    const contentType = response.headers["content-type"] ?? ""
    if (contentType.startsWith("application/x-www-form-urlencoded")) {
      return Option.some(Object.fromEntries(new URLSearchParams(response.body)))
    }
    return Option.none()
  }
}

const invalid = (status: number, reason: TokenError.TokenResponseInvalid["reason"], detail: string) =>
  new TokenError.TokenResponseInvalid({ status, reason, detail })

const rejected = (status: number, body: unknown, scrub: Scrub): Option.Option<TokenError.TokenRequestRejected> =>
  Option.map(decodeErrorResponse(body), (e) =>
    new TokenError.TokenRequestRejected({
      status,
      error: clip(scrub(e.error), 64),
      errorDescription: e.error_description === undefined ? undefined : clip(scrub(e.error_description)),
      errorUri: e.error_uri === undefined ? undefined : clip(scrub(e.error_uri))
    }))

/**
 * The member the first issue is about, read from the issue tree. Never formatted: a formatter renders
 * the offending value, and a value nested 100,000 levels deep overflows the stack while it is rendered.
 */
const firstKey = (issue: ParseResult.ParseIssue): PropertyKey | undefined => {
  switch (issue._tag) {
    case "Pointer": {
      const path: ParseResult.Path = issue.path
      return Array.isArray(path) ? path[0] : path as PropertyKey
    }
    case "Composite": {
      const first = Array.isArray(issue.issues) ? issue.issues[0] : issue.issues
      return first === undefined ? undefined : firstKey(first as ParseResult.ParseIssue)
    }
    case "Refinement":
    case "Transformation":
      return firstKey(issue.issue)
    default:
      return undefined
  }
}

const fieldReason = (path: PropertyKey | undefined): TokenError.TokenResponseInvalid["reason"] => {
  switch (path) {
    case "access_token":
      return "MissingAccessToken"
    case "token_type":
      return "UnsupportedTokenType"
    case "expires_in":
      return "InvalidExpiresIn"
    default:
      return "InvalidScope"
  }
}

const fieldDetail: Record<TokenError.TokenResponseInvalid["reason"], string> = {
  InvalidJson: "the body is not JSON",
  NotAnObject: "the body is not a JSON object",
  MissingAccessToken: "access_token is missing or not a string",
  InvalidAccessToken: "access_token is empty or has characters a header cannot carry",
  MissingTokenType: "token_type is missing (set assumeBearer to accept that)",
  UnsupportedTokenType: "token_type is not a string",
  InvalidExpiresIn: `expires_in must be a number of seconds in [1, ${maxExpiresInSeconds}]`,
  InvalidScope: "scope is not a string",
  BodyTooLarge: "the body is over the size cap",
  UnexpectedStatus: "unexpected status",
  DPoPDowngrade: "a DPoP token request was answered with a Bearer token (set dpop.allowBearer to accept that)"
}

/**
 * Turns a successful answer into token fields, or the error it stands for.
 *
 * @internal
 */
export const decodeSuccess = (
  response: RawResponse,
  options: Resolved,
  params: Params,
  now: number,
  scrub: Scrub
): Either.Either<AccessToken.AccessToken, TokenError.TokenError> => {
  const status = response.status
  const parsed = parseBody(response)
  if (Option.isNone(parsed)) return Either.left(invalid(status, "InvalidJson", fieldDetail.InvalidJson))
  const body = parsed.value
  if (typeof body !== "object" || body === null || Array.isArray(body)) {
    return Either.left(invalid(status, "NotAnObject", fieldDetail.NotAnObject))
  }
  if ("error" in body) {
    const rejection = rejected(status, body, scrub)
    if (Option.isSome(rejection)) return Either.left(rejection.value)
  }
  const decoded = decodeTokenResponse(body)
  if (Either.isLeft(decoded)) {
    const reason = fieldReason(firstKey(decoded.left.issue))
    return Either.left(invalid(status, reason, fieldDetail[reason]))
  }
  const fields = decoded.right
  if (!tokenValue.test(fields.access_token)) {
    return Either.left(invalid(status, "InvalidAccessToken", fieldDetail.InvalidAccessToken))
  }
  let tokenType: string
  if (fields.token_type === undefined) {
    if (!options.assumeBearer) return Either.left(invalid(status, "MissingTokenType", fieldDetail.MissingTokenType))
    tokenType = "Bearer"
  } else if (fields.token_type.toLowerCase() === "bearer") {
    tokenType = "Bearer"
  } else if (fields.token_type.toLowerCase() === "dpop" && options.dpop !== undefined) {
    // a DPoP token only in answer to a request that carried a proof (RFC 9449 §5)
    tokenType = "DPoP"
  } else {
    return Either.left(
      invalid(status, "UnsupportedTokenType", `token_type "${clip(scrub(fields.token_type), 32)}" is not supported`)
    )
  }
  if (tokenType === "Bearer" && options.dpop !== undefined && !options.dpop.allowBearer) {
    return Either.left(invalid(status, "DPoPDowngrade", fieldDetail.DPoPDowngrade))
  }
  const lifetime = fields.expires_in === undefined ? options.defaultExpiresInMillis : fields.expires_in * 1000
  return Either.right(AccessToken.make({
    value: Redacted.make(fields.access_token),
    tokenType,
    issuedAt: now,
    expiresAt: now + Math.floor(lifetime),
    scope: fields.scope === undefined ? params.scope : fields.scope.split(" ").filter((s) => s.length > 0)
  }))
}

const day = "(?:Mon|Tue|Wed|Thu|Fri|Sat|Sun)"
const dayName = "(?:Monday|Tuesday|Wednesday|Thursday|Friday|Saturday|Sunday)"
const month = "(?:Jan|Feb|Mar|Apr|May|Jun|Jul|Aug|Sep|Oct|Nov|Dec)"
const time = "\\d{2}:\\d{2}:\\d{2}"
/** IMF-fixdate (`Sun, 06 Nov 1994 08:49:37 GMT`) and the obsolete rfc850-date and asctime-date. */
const imfFixdate = new RegExp(`^${day}, \\d{2} ${month} \\d{4} ${time} GMT$`)
const rfc850Date = new RegExp(`^${dayName}, \\d{2}-${month}-\\d{2} ${time} GMT$`)
const asctimeDate = new RegExp(`^${day} ${month} (?:\\d{2}| \\d) ${time} \\d{4}$`)

const HttpDate = Schema.transform(
  Schema.String.pipe(Schema.filter((s) => imfFixdate.test(s) || rfc850Date.test(s) || asctimeDate.test(s))),
  Schema.ValidDateFromSelf,
  {
    strict: true,
    // asctime-date has no zone: it is GMT (RFC 9110 §5.6.7), which Date.parse would not assume
    decode: (s) => new Date(asctimeDate.test(s) ? `${s} GMT` : s),
    encode: (date) => date.toUTCString()
  }
)

/**
 * `Retry-After` (RFC 9110 §10.2.3): delta-seconds (digits only: no sign, fraction or exponent) or an
 * HTTP-date (§5.6.7). Anything else is no `Retry-After` at all.
 *
 * @internal
 */
export const RetryAfter = Schema.Union(
  Schema.String.pipe(Schema.pattern(/^[0-9]+$/), Schema.compose(Schema.NumberFromString)),
  HttpDate
)

const decodeRetryAfter = Schema.decodeUnknownOption(RetryAfter)

/**
 * The wait a `Retry-After` asks for, from `now`; `undefined` when absent or not in an RFC 9110 form.
 *
 * @internal
 */
export const parseRetryAfter = (value: string | undefined, now: number): Duration.Duration | undefined => {
  if (value === undefined) return undefined
  // optional whitespace around a field value is not part of it (RFC 9110 §5.5)
  const decoded = decodeRetryAfter(value.replace(/^[ \t]+|[ \t]+$/g, ""))
  if (Option.isNone(decoded)) return undefined
  const retryAfter = decoded.value
  return typeof retryAfter === "number"
    ? Duration.seconds(retryAfter)
    : Duration.millis(Math.max(0, retryAfter.getTime() - now))
}

/**
 * Classifies one complete answer of the token endpoint.
 *
 * @internal
 */
export const classify = (
  response: RawResponse,
  options: Resolved,
  params: Params,
  now: number,
  scrub: Scrub,
  sentAt: number = now
): Either.Either<AccessToken.AccessToken, TokenError.TokenError> => {
  const status = response.status
  if (status >= 200 && status < 300) return decodeSuccess(response, options, params, sentAt, scrub)
  if (status === 429) {
    return Either.left(
      new TokenError.TokenRateLimited({
        retryAfter: parseRetryAfter(response.headers["retry-after"], now),
        attempts: 1
      })
    )
  }
  if (status >= 500) {
    return Either.left(
      new TokenError.TokenServerError({
        status,
        attempts: 1,
        retryAfter: status === 503 ? parseRetryAfter(response.headers["retry-after"], now) : undefined
      })
    )
  }
  if (status === 408) {
    return Either.left(
      new TokenError.TokenTransportError({
        reason: "Timeout",
        detail: "server answered 408 Request Timeout",
        attempts: 1
      })
    )
  }
  if (status >= 300 && status < 400) {
    return Either.left(invalid(status, "UnexpectedStatus", "the token endpoint redirected; redirects are not followed"))
  }
  if (status >= 400) {
    const rejection = Option.flatMap(parseBody(response), (body) => rejected(status, body, scrub))
    if (Option.isSome(rejection)) return Either.left(rejection.value)
    // 401 and 403 without an error body (Glewlwyd answers a wrong secret with an empty 403): the client was refused
    if (status === 401 || status === 403) {
      return Either.left(
        new TokenError.TokenRequestRejected({
          status,
          error: "invalid_client",
          errorDescription: `HTTP ${status} without an RFC 6749 error body`
        })
      )
    }
  }
  return Either.left(invalid(status, "UnexpectedStatus", `HTTP ${status} without an RFC 6749 error body`))
}

// -----------------------------------------------------------------------------
// one attempt
// -----------------------------------------------------------------------------

const readBody = (response: HttpClientResponse.HttpClientResponse, cap: number) =>
  Stream.runFoldEffect(
    response.stream,
    { size: 0, chunks: Chunk.empty<Uint8Array>() },
    (acc, chunk) => {
      const size = acc.size + chunk.length
      return size > cap
        ? Effect.fail(invalid(response.status, "BodyTooLarge", `the body is over ${cap} bytes`))
        : Effect.succeed({ size, chunks: Chunk.append(acc.chunks, chunk) })
    }
  ).pipe(
    Effect.map(({ chunks, size }) => new TextDecoder().decode(concatBytes(Chunk.toReadonlyArray(chunks), size)))
  )

/** fetch follows redirects unless told not to (undici's client never does); other init options are kept. */
const noRedirects = <A, E, R>(self: Effect.Effect<A, E, R>): Effect.Effect<A, E, R> =>
  Effect.flatMap(
    Effect.serviceOption(FetchHttpClient.RequestInit),
    (init) =>
      Effect.provideService(self, FetchHttpClient.RequestInit, {
        ...Option.getOrElse(init, () => ({})),
        redirect: "manual"
      })
  )

const describeCause = (cause: unknown): string => {
  if (cause instanceof Error) {
    const code = (cause as { code?: unknown }).code
    const inner = (cause as { cause?: unknown }).cause
    const base = typeof code === "string" ? `${code} ${cause.message}` : cause.message
    return inner instanceof Error && inner.message !== cause.message ? `${base} (${describeCause(inner)})` : base
  }
  return String(cause)
}

const transportError = (error: HttpClientError.HttpClientError, scrub: Scrub) => {
  // certificates, client certificates and proxy credentials are terminal: retrying meets the same refusal
  const terminal = TransportFailure.classify(error.cause)
  return new TokenError.TokenTransportError({
    reason: terminal?.reason ?? "Network",
    detail: terminal?.detail ?? clip(scrub(`${error.reason}: ${describeCause(error.cause ?? error.message)}`), 300),
    attempts: 1
  })
}

/**
 * Sends one request and reads the whole answer (up to `maxResponseBytes`) within the per-attempt
 * timeout, without following redirects.
 *
 * @internal
 */
export const send = (
  client: HttpClient.HttpClient,
  request: HttpClientRequest.HttpClientRequest,
  options: Pick<Resolved, "maxResponseBytes" | "requestTimeoutMillis">,
  scrub: Scrub
): Effect.Effect<RawResponse, TokenError.TokenError> =>
  client.execute(request).pipe(
    Effect.flatMap((response) =>
      Effect.zipRight(
        Effect.annotateCurrentSpan("http.response.status_code", response.status),
        Effect.map(readBody(response, options.maxResponseBytes), (body) => ({
          status: response.status,
          headers: response.headers,
          body
        }))
      )
    ),
    // The platform's generic span records every response header; a token endpoint's answer is no place
    // for that (a misbehaving server may echo credentials), so the attempt span is the only one.
    Effect.locally(HttpClient.currentTracerDisabledWhen, () => true),
    noRedirects,
    Effect.catchTags({
      RequestError: (error) => Effect.fail(transportError(error, scrub)),
      ResponseError: (error) => Effect.fail(transportError(error, scrub))
    }),
    Effect.scoped,
    Effect.timeoutFail({
      duration: options.requestTimeoutMillis,
      onTimeout: () =>
        new TokenError.TokenTransportError({
          reason: "Timeout",
          detail: `no complete answer within ${Duration.format(Duration.millis(options.requestTimeoutMillis))}`,
          attempts: 1
        })
    }),
    Telemetry.trackRequest(request)
  )

/**
 * Sends one token request and classifies the answer. A token's life is counted from when its request
 * was sent: the server started `expires_in` no earlier, so a slow answer never makes the client think
 * the token lives longer than the server does.
 *
 * @internal
 */
export const attempt = (
  client: HttpClient.HttpClient,
  request: HttpClientRequest.HttpClientRequest,
  options: Resolved,
  params: Params,
  scrub: Scrub
): Effect.Effect<AccessToken.AccessToken, TokenError.TokenError> =>
  Effect.flatMap(Monotonic.millis, (sentAt) =>
    Effect.flatMap(
      send(client, request, options, scrub),
      (response) => classifyNow(response, options, params, scrub, sentAt)
    ))

// `now` is wall time, for an HTTP-date Retry-After; the token's life is on the monotonic time line
const classifyNow = (response: RawResponse, options: Resolved, params: Params, scrub: Scrub, sentAt: number) =>
  Effect.flatMap(Clock.currentTimeMillis, (now) => classify(response, options, params, now, scrub, sentAt))

/**
 * One attempt with DPoP: the request carries a fresh proof; a nonce in any answer is kept for the server's
 * origin (RFC 9449 §8.2), and a `400 use_dpop_nonce` with a `DPoP-Nonce` is retried once at once with a new
 * proof carrying it (§8).
 *
 * @internal
 */
export const attemptDPoP = (
  client: HttpClient.HttpClient,
  options: Resolved,
  endpoint: Endpoint,
  params: Params,
  scrub: Scrub,
  dpop: DPoPContext
): Effect.Effect<AccessToken.AccessToken, TokenError.TokenError> => {
  const once = Effect.flatMap(Monotonic.millis, (sentAt) =>
    Effect.flatMap(
      buildRequest(options, endpoint, params, dpop),
      (request) =>
        Effect.tap(send(client, request, options, scrub), (response) =>
          Option.match(DPoP.nonceFromHeaders(response.headers), {
            onNone: () =>
              Effect.void,
            onSome: (nonce) => dpop.nonces.set(endpoint.tokenUrl, nonce)
          })).pipe(Effect.map((response) =>
            [response, sentAt] as const
          ))
    ))
  return Effect.flatMap(once, ([response, sentAt]) => {
    const demanded = Option.flatMap(parseBody(response), (body) => DPoP.tokenEndpointNonce(response, body))
    return Option.isSome(demanded)
      ? Effect.flatMap(once, ([retried, sentAt]) => classifyNow(retried, options, params, scrub, sentAt)).pipe(
        Effect.withSpan("oauth-cc.token.dpop-nonce")
      )
      : classifyNow(response, options, params, scrub, sentAt)
  })
}

// -----------------------------------------------------------------------------
// retry policy
// -----------------------------------------------------------------------------

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

/**
 * One token fetch: attempts under the retry policy, traced and measured.
 *
 * @internal
 */
export const fetch = (
  client: HttpClient.HttpClient,
  options: Resolved,
  endpoint: Endpoint,
  params: Params,
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
      return (dpop === undefined
        ? Effect.flatMap(
          Effect.zip(buildRequest(options, endpoint, params), attemptTimeout(options.requestTimeoutMillis, deadline)),
          ([request, requestTimeoutMillis]) =>
            attempt(client, request, { ...options, requestTimeoutMillis }, params, scrub)
        )
        : Effect.flatMap(
          attemptTimeout(options.requestTimeoutMillis, deadline),
          (requestTimeoutMillis) =>
            attemptDPoP(client, { ...options, requestTimeoutMillis }, endpoint, params, scrub, dpop)
        )).pipe(
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
            "oauth.client_auth_method": endpoint.authMethod,
            "oauth.client_id": options.clientId,
            "oauth.scope": params.scope.join(" ")
          }
        })
      )
    })
  })

/**
 * A defect inside a fetch as a terminal `TokenTransportError("Unexpected")`. Only the defect's class is
 * kept: its message may quote a server's body or a request.
 *
 * @internal
 */
export const defectAsFailure = <A, R>(
  self: Effect.Effect<A, TokenError.TokenError, R>
): Effect.Effect<A, TokenError.TokenError, R> =>
  Effect.catchAllDefect(self, (defect) =>
    Effect.fail(
      new TokenError.TokenTransportError({
        reason: "Unexpected",
        detail: `unexpected ${
          defectName(defect)
        } inside the token fetch (a defect of the HttpClient, the TokenStore or oauth-cc)`,
        attempts: 1
      })
    ))

const defectName = (defect: unknown): string => {
  if (defect instanceof Error) return /^[A-Za-z0-9_$]{1,40}$/.test(defect.name) ? defect.name : "Error"
  return defect === null ? "null" : typeof defect
}

const outcomeOf = (cause: Cause.Cause<TokenError.TokenError>): string =>
  Option.match(Cause.failureOption(cause), { onNone: () => "interrupted", onSome: (error) => error._tag })

const escapeRegExp = (text: string): string => text.replace(/[.*+?^${}()|[\]\\/-]/g, "\\$&")

/** `text`'s base64 forms: padded and not, standard and URL-safe alphabet. */
const base64Forms = (text: string): ReadonlyArray<string> => {
  const padded = base64Utf8(text)
  const unpadded = padded.replace(/=+$/, "")
  const url = unpadded.replace(/\+/g, "-").replace(/\//g, "_")
  return [padded, unpadded, `${url}${padded.slice(unpadded.length)}`, url]
}

/** One regular expression matching any of `forms`, longest first (so a padded form wins over its prefix). */
const alternation = (forms: ReadonlyArray<string>, flags: string): RegExp =>
  new RegExp(
    Array.from(new Set(forms)).sort((a, b) => b.length - a.length).map(escapeRegExp).join("|"),
    flags
  )

/**
 * A scrubber masking, in text that came back from the server, the secret and the Basic credentials that
 * carry it: the secret raw, form-encoded and percent-encoded, in any letter case; base64 of the secret alone
 * and of `id:secret` (both Basic encodings), padded or not, in the standard or the URL-safe alphabet (all
 * decode trivially). Not stripped from the declarations: the `oauth-cc` CLI of `@oauth-cc/node-adapter`
 * uses it.
 *
 * @since 0.2.0
 */
export const makeScrub = (secret: Redacted.Redacted<string> | undefined, clientId: string): Scrub => {
  if (secret === undefined) return identity
  const raw = Redacted.value(secret)
  if (raw.length < 4) return identity
  const textual = alternation([raw, formEncode(raw), encodeURIComponent(raw)], "gi")
  const encoded = alternation(
    [
      ...base64Forms(`${formEncode(clientId)}:${formEncode(raw)}`),
      ...base64Forms(`${clientId}:${raw}`),
      ...base64Forms(raw)
    ].filter((form) => form.length >= 4),
    "g"
  )
  return (text) => text.replace(encoded, "<redacted>").replace(textual, "<redacted>")
}
