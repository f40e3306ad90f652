/**
 * What the fake token endpoint answers: a token, an RFC 6749 error, a rate limit, a proxy's HTML
 * page, a slow answer, or a broken connection. Give them to `FakeAuthServer.enqueue` / `always`.
 *
 * @since 0.1.0
 */
import * as Duration from "effect/Duration"

/**
 * The faults that break the HTTP exchange itself.
 *
 * - `hang`: the server reads the request and never answers (interrupted when the server stops).
 * - `resetConnection`: the connection is reset (TCP RST) without an answer.
 * - `closeWithoutResponse`: the connection is closed cleanly (FIN) without an answer.
 * - `partialBody`: a 200 whose `Content-Length` promises more bytes than are sent before the connection closes.
 * - `garbage`: bytes that are not HTTP, then the connection closes.
 *
 * @since 0.1.0
 * @category models
 */
export type FaultName = "hang" | "resetConnection" | "closeWithoutResponse" | "partialBody" | "garbage"

/**
 * A successful token response (RFC 6749 §5.1) for the authenticated client. Client authentication,
 * grant type and scope are still checked: a bad request gets its RFC error instead.
 *
 * @since 0.1.0
 * @category models
 */
export interface Token {
  readonly _tag: "Token"
  /** `expires_in` in seconds; the token really expires then. Default: the server's `tokenTtl`. */
  readonly expiresIn?: number | undefined
  /** Send `expires_in` as a JSON string (`"300"`), as some servers do. */
  readonly expiresInAsString?: boolean | undefined
  /** Leave `expires_in` out (the token still expires after `tokenTtl`). */
  readonly omitExpiresIn?: boolean | undefined
  /** The `token_type` sent. Default: `"Bearer"`. */
  readonly tokenType?: string | undefined
  /** The `scope` member sent, instead of the granted scopes (`""` sends an empty string). */
  readonly scope?: string | undefined
  /** More members for the JSON body. */
  readonly extra?: Readonly<Record<string, unknown>> | undefined
}

/**
 * An RFC 6749 §5.2 error response. `invalid_client` is sent with 401, and with
 * `WWW-Authenticate: Basic` when the client used HTTP Basic; the others with 400.
 *
 * @see https://www.rfc-editor.org/rfc/rfc6749#section-5.2
 * @since 0.1.0
 * @category models
 */
export interface OAuthError {
  readonly _tag: "OAuthError"
  readonly code: string
  readonly description?: string | undefined
  readonly uri?: string | undefined
  readonly status?: number | undefined
}

/**
 * A literal HTTP answer: status, headers and body as given.
 *
 * @since 0.1.0
 * @category models
 */
export interface Http {
  readonly _tag: "Http"
  /** The helper that made it, as the journal shows it (`"rateLimited"`, `"serverError"`, …). */
  readonly name: string
  readonly status: number
  readonly headers: Readonly<Record<string, string>>
  readonly body: string
}

/**
 * Waits, then answers with `response` (normal service when absent). The wait uses Effect's `Clock`:
 * `TestClock.adjust` drives it in in-process mode.
 *
 * @since 0.1.0
 * @category models
 */
export interface Delay {
  readonly _tag: "Delay"
  readonly duration: Duration.Duration
  readonly response: FakeResponse | undefined
}

/**
 * @since 0.1.0
 * @category models
 */
export interface Fault {
  readonly _tag: "Fault"
  readonly fault: FaultName
}

/**
 * @since 0.1.0
 * @category models
 */
export type FakeResponse = Token | OAuthError | Http | Delay | Fault

/**
 * A `Retry-After` value: seconds (sent as given), a `Date` (sent as an HTTP-date), or a raw header string.
 *
 * @see https://www.rfc-editor.org/rfc/rfc9110#section-10.2.3
 * @since 0.1.0
 * @category models
 */
export type RetryAfter = number | Date | string

/**
 * Formats a `Retry-After` value: a number of seconds as is, a `Date` as an IMF-fixdate.
 *
 * @since 0.1.0
 * @category utils
 */
export const formatRetryAfter = (retryAfter: RetryAfter): string =>
  retryAfter instanceof Date ? retryAfter.toUTCString() : String(retryAfter)

const withRetryAfter = (
  headers: Record<string, string>,
  retryAfter: RetryAfter | undefined
): Record<string, string> =>
  retryAfter === undefined ? headers : { ...headers, "retry-after": formatRetryAfter(retryAfter) }

/**
 * 429 Too Many Requests with `Retry-After` (RFC 6585 §4) and a JSON body.
 *
 * @example
 * ```ts
 * import { FakeResponse } from "@oauth-cc/testkit"
 *
 * FakeResponse.rateLimited({ retryAfter: 2 })                        // Retry-After: 2
 * FakeResponse.rateLimited({ retryAfter: new Date(Date.now() + 5e3) }) // Retry-After: <HTTP-date>
 * ```
 *
 * @see https://www.rfc-editor.org/rfc/rfc6585#section-4
 * @since 0.1.0
 * @category constructors
 */
export const rateLimited = (options: {
  /** Seconds, an HTTP-date, or a raw header value; no header when absent. */
  readonly retryAfter?: RetryAfter | undefined
  readonly body?: string | undefined
  readonly contentType?: string | undefined
} = {}): Http => ({
  _tag: "Http",
  name: "rateLimited",
  status: 429,
  headers: withRetryAfter({ "content-type": options.contentType ?? "application/json" }, options.retryAfter),
  body: options.body ?? JSON.stringify({ error: "too_many_requests", error_description: "rate limit exceeded" })
})

/**
 * 503 Service Unavailable, with `Retry-After` when given.
 *
 * @see https://www.rfc-editor.org/rfc/rfc9110#section-15.6.4
 * @since 0.1.0
 * @category constructors
 */
export const unavailable = (options: {
  readonly retryAfter?: RetryAfter | undefined
  readonly body?: string | undefined
  readonly contentType?: string | undefined
} = {}): Http => ({
  _tag: "Http",
  name: "unavailable",
  status: 503,
  headers: withRetryAfter({ "content-type": options.contentType ?? "text/plain" }, options.retryAfter),
  body: options.body ?? "Service Unavailable"
})

/**
 * A 5xx answer (500 by default), for instance the HTML page of a proxy in front of the server.
 *
 * @example
 * ```ts
 * import { FakeResponse } from "@oauth-cc/testkit"
 *
 * FakeResponse.serverError({ status: 502, body: "<html><body>Bad Gateway</body></html>", contentType: "text/html" })
 * ```
 *
 * @since 0.1.0
 * @category constructors
 */
export const serverError = (options: {
  readonly status?: number | undefined
  readonly body?: string | undefined
  readonly contentType?: string | undefined
} = {}): Http => ({
  _tag: "Http",
  name: "serverError",
  status: options.status ?? 500,
  headers: { "content-type": options.contentType ?? "text/plain" },
  body: options.body ?? "Internal Server Error"
})

/**
 * An RFC 6749 §5.2 error: `{"error": code, "error_description": …}`. The status is 401 for
 * `invalid_client` (with `WWW-Authenticate: Basic` when the client used Basic), else 400.
 *
 * @see https://www.rfc-editor.org/rfc/rfc6749#section-5.2
 * @since 0.1.0
 * @category constructors
 */
export const oauthError = (code: string, options: {
  readonly description?: string | undefined
  readonly uri?: string | undefined
  readonly status?: number | undefined
} = {}): OAuthError => ({
  _tag: "OAuthError",
  code,
  description: options.description,
  uri: options.uri,
  status: options.status
})

/**
 * A body that is not a usable token response (`"not json"`, `"{}"`, `"[1]"`, …), with status 200
 * and `Content-Type: application/json` unless told otherwise.
 *
 * @since 0.1.0
 * @category constructors
 */
export const malformed = (body: string, options: {
  readonly status?: number | undefined
  readonly contentType?: string | undefined
} = {}): Http => ({
  _tag: "Http",
  name: "malformed",
  status: options.status ?? 200,
  headers: { "content-type": options.contentType ?? "application/json" },
  body
})

/**
 * Any HTTP answer, as given (`Cache-Control: no-store` is still added).
 *
 * @since 0.1.0
 * @category constructors
 */
export const raw = (options: {
  readonly status: number
  readonly headers?: Readonly<Record<string, string>> | undefined
  readonly body?: string | undefined
}): Http => ({
  _tag: "Http",
  name: "raw",
  status: options.status,
  headers: options.headers ?? {},
  body: options.body ?? ""
})

/**
 * A token response shaped as told; normal service is `token()`.
 *
 * @example
 * ```ts
 * import { FakeResponse } from "@oauth-cc/testkit"
 *
 * FakeResponse.token({ expiresIn: 1 })               // a token that lives one second
 * FakeResponse.token({ expiresInAsString: true })    // "expires_in": "300"
 * FakeResponse.token({ omitExpiresIn: true })        // no expires_in member
 * FakeResponse.token({ tokenType: "mac" })           // a token type the client should refuse
 * ```
 *
 * @since 0.1.0
 * @category constructors
 */
export const token = (options: Omit<Token, "_tag"> = {}): Token => ({ _tag: "Token", ...options })

/**
 * Waits `duration` (Effect's `Clock`), then answers with `response`, normal service by default.
 *
 * @since 0.1.0
 * @category constructors
 */
export const delay = (duration: Duration.DurationInput, response?: FakeResponse): Delay => ({
  _tag: "Delay",
  duration: Duration.decode(duration),
  response
})

/**
 * Never answers. In in-process mode the request never completes (it can be interrupted); in socket
 * mode the connection stays open until the client gives up or the server stops.
 *
 * @since 0.1.0
 * @category constructors
 */
export const hang = (): Fault => ({ _tag: "Fault", fault: "hang" })

/**
 * Resets the connection (TCP RST). In-process: a `RequestError` with reason `"Transport"`.
 *
 * @since 0.1.0
 * @category constructors
 */
export const resetConnection = (): Fault => ({ _tag: "Fault", fault: "resetConnection" })

/**
 * Closes the connection without answering. In-process: a `RequestError` with reason `"Transport"`.
 *
 * @since 0.1.0
 * @category constructors
 */
export const closeWithoutResponse = (): Fault => ({ _tag: "Fault", fault: "closeWithoutResponse" })

/**
 * Sends a 200 with a `Content-Length` larger than the bytes that follow, then closes the connection.
 * In-process: a response whose body stream fails.
 *
 * @since 0.1.0
 * @category constructors
 */
export const partialBody = (): Fault => ({ _tag: "Fault", fault: "partialBody" })

/**
 * Sends bytes that are not HTTP, then closes. In-process: a `RequestError` with reason `"Transport"`.
 *
 * @since 0.1.0
 * @category constructors
 */
export const garbage = (): Fault => ({ _tag: "Fault", fault: "garbage" })
