/**
 * The errors of token acquisition: one closed union, matched with `Effect.catchTag`.
 *
 * Every error says whether it is `retryable`, and its `message` names the cause in one line.
 * No error ever carries the client secret, an access token or the request that held them:
 * transport causes are kept as a one-line description, server bodies are never attached.
 *
 * @since 0.1.0
 */
import * as Data from "effect/Data"
import * as Duration from "effect/Duration"
import * as Predicate from "effect/Predicate"

/**
 * @since 0.1.0
 * @category type ids
 */
export const TypeId: unique symbol = Symbol.for("@oauth-cc/core/TokenError")

/**
 * @since 0.1.0
 * @category type ids
 */
export type TypeId = typeof TypeId

/**
 * The error codes of RFC 6749 §5.2, plus RFC 8707's `invalid_target`.
 *
 * @see https://www.rfc-editor.org/rfc/rfc6749#section-5.2
 * @see https://www.rfc-editor.org/rfc/rfc8707#section-2
 * @since 0.1.0
 * @category models
 */
export type OAuthErrorCode =
  | "invalid_request"
  | "invalid_client"
  | "invalid_grant"
  | "unauthorized_client"
  | "unsupported_grant_type"
  | "invalid_scope"
  | "invalid_target"

/**
 * @since 0.1.0
 * @category models
 */
export const oauthErrorCodes: ReadonlyArray<OAuthErrorCode> = [
  "invalid_request",
  "invalid_client",
  "invalid_grant",
  "unauthorized_client",
  "unsupported_grant_type",
  "invalid_scope",
  "invalid_target"
]

const retryAfterText = (retryAfter: Duration.Duration | undefined): string =>
  retryAfter === undefined ? "" : `, server asked to retry after ${Duration.format(retryAfter)}`

const attemptsText = (attempts: number): string => attempts === 1 ? "1 attempt" : `${attempts} attempts`

/**
 * The authorization server refused the request with an RFC 6749 §5.2 error (`invalid_client`,
 * `invalid_scope`, …). Terminal: retrying the same request gives the same answer.
 *
 * @see https://www.rfc-editor.org/rfc/rfc6749#section-5.2
 * @since 0.1.0
 * @category errors
 */
export class TokenRequestRejected extends Data.TaggedError("TokenRequestRejected")<{
  /** The RFC 6749 §5.2 `error` code; servers may send codes of their own. */
  readonly error: OAuthErrorCode | (string & {})
  /** The server's `error_description`, if any (secrets echoed by the server are masked). */
  readonly errorDescription?: string | undefined
  /** The server's `error_uri`, if any. */
  readonly errorUri?: string | undefined
  /** The HTTP status of the answer. */
  readonly status: number
}> {
  /** @since 0.1.0 */
  readonly [TypeId]: TypeId = TypeId
  /** @since 0.1.0 */
  get retryable(): boolean {
    return false
  }
  /** @since 0.1.0 */
  override get message(): string {
    const description = this.errorDescription ? `: ${this.errorDescription}` : ""
    return `token request rejected with ${this.error} (HTTP ${this.status})${description}`
  }
}

/**
 * The server kept answering 429 Too Many Requests until the retry policy ran out, or asked for a
 * wait longer than the policy allows.
 *
 * @see https://www.rfc-editor.org/rfc/rfc6585#section-4
 * @since 0.1.0
 * @category errors
 */
export class TokenRateLimited extends Data.TaggedError("TokenRateLimited")<{
  /** The last `Retry-After` the server sent, if any. */
  readonly retryAfter?: Duration.Duration | undefined
  /** Token requests made before giving up. */
  readonly attempts: number
}> {
  /** @since 0.1.0 */
  readonly [TypeId]: TypeId = TypeId
  /** @since 0.1.0 */
  get retryable(): boolean {
    return true
  }
  /** @since 0.1.0 */
  override get message(): string {
    return `token endpoint rate limited (HTTP 429) after ${attemptsText(this.attempts)}${
      retryAfterText(this.retryAfter)
    }`
  }
}

/**
 * The server answered 5xx until the retry policy ran out.
 *
 * @since 0.1.0
 * @category errors
 */
export class TokenServerError extends Data.TaggedError("TokenServerError")<{
  /** The HTTP status of the last answer. */
  readonly status: number
  /** Token requests made before giving up. */
  readonly attempts: number
  /** The last `Retry-After` the server sent with a 503, if any. */
  readonly retryAfter?: Duration.Duration | undefined
}> {
  /** @since 0.1.0 */
  readonly [TypeId]: TypeId = TypeId
  /** @since 0.1.0 */
  get retryable(): boolean {
    return true
  }
  /** @since 0.1.0 */
  override get message(): string {
    return `token endpoint server error (HTTP ${this.status}) after ${attemptsText(this.attempts)}${
      retryAfterText(this.retryAfter)
    }`
  }
}

/**
 * Why a token request got no complete HTTP answer.
 *
 * - `Timeout`, `Network`: a per-attempt timeout; connection refused or reset, DNS failure, a body cut
 *   short. Retried.
 * - `UntrustedCertificate`: the server's TLS certificate is not trusted (self-signed, unknown CA,
 *   expired, not for this host name). Terminal: retrying meets the same certificate.
 * - `ClientCertificate`: the server refused the client's TLS certificate (mTLS), or none was sent
 *   where one is required. Terminal.
 * - `ProxyAuthentication`: the proxy answered 407 Proxy Authentication Required. Terminal.
 * - `Unexpected`: a defect inside the fetch (the `HttpClient`, the `TokenStore` or oauth-cc itself died).
 *   Terminal; only the defect's class is kept, never its message.
 *
 * @since 0.2.0
 * @category models
 */
export type TransportReason =
  | "Timeout"
  | "Network"
  | "UntrustedCertificate"
  | "ClientCertificate"
  | "ProxyAuthentication"
  | "Unexpected"

/**
 * The token request never got a complete HTTP answer: connection refused or reset, DNS failure,
 * a per-attempt timeout, a body cut short, or a TLS or proxy failure retrying cannot fix (see
 * `TransportReason`).
 *
 * @since 0.1.0
 * @category errors
 */
export class TokenTransportError extends Data.TaggedError("TokenTransportError")<{
  readonly reason: TransportReason
  /** A one-line description of the cause (never the request, which holds credentials). */
  readonly detail: string
  /** Token requests made before giving up. */
  readonly attempts: number
}> {
  /** @since 0.1.0 */
  readonly [TypeId]: TypeId = TypeId
  /** Only `Timeout` and `Network` are retried. @since 0.1.0 */
  get retryable(): boolean {
    return this.reason === "Timeout" || this.reason === "Network"
  }
  /** @since 0.1.0 */
  override get message(): string {
    const what = this.reason === "Timeout" ? "timed out" : "failed"
    return `token request ${what} after ${attemptsText(this.attempts)}: ${this.detail}`
  }
}

/**
 * The server answered, but not with a usable token response: not JSON, no `access_token`, an
 * unsupported `token_type`, a bad `expires_in`, a body over the size cap, a redirect or another
 * unexpected status. Terminal: the server is misconfigured or is not a token endpoint.
 *
 * `DPoPDowngrade`: a DPoP token request (`dpop` set) was answered with a `Bearer` token, which is not
 * bound to the key; accepted only with `dpop.allowBearer`.
 *
 * @see https://www.rfc-editor.org/rfc/rfc6749#section-5.1
 * @see https://www.rfc-editor.org/rfc/rfc9449#section-5
 * @since 0.1.0
 * @category errors
 */
export class TokenResponseInvalid extends Data.TaggedError("TokenResponseInvalid")<{
  readonly reason:
    | "InvalidJson"
    | "NotAnObject"
    | "MissingAccessToken"
    | "InvalidAccessToken"
    | "MissingTokenType"
    | "UnsupportedTokenType"
    | "InvalidExpiresIn"
    | "InvalidScope"
    | "BodyTooLarge"
    | "UnexpectedStatus"
    | "DPoPDowngrade"
  /** The HTTP status of the answer. */
  readonly status: number
  /** What was wrong, in one line; never a value taken from the body. */
  readonly detail: string
}> {
  /** @since 0.1.0 */
  readonly [TypeId]: TypeId = TypeId
  /** @since 0.1.0 */
  get retryable(): boolean {
    return false
  }
  /** @since 0.1.0 */
  override get message(): string {
    return `invalid token response (HTTP ${this.status}, ${this.reason}): ${this.detail}`
  }
}

/**
 * Authorization server metadata discovery (`issuer` instead of `tokenUrl`) failed, so no token
 * request could be made.
 *
 * - `Unreachable`: no complete answer (network, timeout, 429, 5xx) until the retry policy ran out.
 * - `NotFound`: neither `/.well-known/oauth-authorization-server` (RFC 8414) nor
 *   `/.well-known/openid-configuration` answered with a document.
 * - `InvalidMetadata`: the document is not JSON, or lacks `issuer` or `token_endpoint`.
 * - `IssuerMismatch`: the document's `issuer` is not identical to the configured one (RFC 8414 §3.3).
 * - `RejectedRedirect`: a metadata URL redirected to another origin, or more than 3 times in a row
 *   (redirects within the issuer's origin are followed).
 * - `InsecureTokenEndpoint`: the `token_endpoint` is not `https:` (or loopback `http:`).
 * - `NoSupportedAuthMethod`: no method in `token_endpoint_auth_methods_supported` fits the
 *   configured credentials, and no `authMethod` was set.
 *
 * The metadata is fetched again on the next token fetch (after `failureCooldown`).
 *
 * @see https://www.rfc-editor.org/rfc/rfc8414#section-3
 * @since 0.1.0
 * @category errors
 */
export class TokenDiscoveryFailed extends Data.TaggedError("TokenDiscoveryFailed")<{
  readonly reason:
    | "Unreachable"
    | "NotFound"
    | "InvalidMetadata"
    | "IssuerMismatch"
    | "RejectedRedirect"
    | "InsecureTokenEndpoint"
    | "NoSupportedAuthMethod"
  /** The configured issuer. */
  readonly issuer: string
  /** What was wrong, in one line. */
  readonly detail: string
  /** Metadata requests made before giving up. */
  readonly attempts: number
  /** The last `Retry-After` the server sent, if any. */
  readonly retryAfter?: Duration.Duration | undefined
}> {
  /** @since 0.1.0 */
  readonly [TypeId]: TypeId = TypeId
  /** @since 0.1.0 */
  get retryable(): boolean {
    return this.reason === "Unreachable"
  }
  /** @since 0.1.0 */
  override get message(): string {
    return `discovery of ${this.issuer} failed (${this.reason}) after ${attemptsText(this.attempts)}: ${this.detail}`
  }
}

/**
 * A credential read from a source on every fetch (`clientSecret` given as an `Effect`, `clientAssertion.source`,
 * or a file: `OAUTH_CLIENT_SECRET_FILE`, `OAUTH_CLIENT_ASSERTION_FILE`) could not be read: the file is missing,
 * unreadable or empty. No request was sent. Terminal for this fetch; the next fetch reads the source again
 * (after `failureCooldown`). `detail` names the source (a path), never its content.
 *
 * @since 0.2.0
 * @category errors
 */
export class TokenCredentialUnavailable extends Data.TaggedError("TokenCredentialUnavailable")<{
  /** Which credential: the client secret or the client assertion. */
  readonly credential: "client_secret" | "client_assertion"
  /** What failed, in one line (the source, never the credential). */
  readonly detail: string
}> {
  /** @since 0.2.0 */
  readonly [TypeId]: TypeId = TypeId
  /** @since 0.2.0 */
  get retryable(): boolean {
    return false
  }
  /** @since 0.2.0 */
  override get message(): string {
    return `the ${
      this.credential === "client_secret" ? "client secret" : "client assertion"
    } could not be read: ${this.detail}`
  }
}

/**
 * Every error `TokenProvider` can fail with.
 *
 * @since 0.1.0
 * @category models
 */
export type TokenError =
  | TokenRequestRejected
  | TokenRateLimited
  | TokenServerError
  | TokenTransportError
  | TokenResponseInvalid
  | TokenDiscoveryFailed
  | TokenCredentialUnavailable

/**
 * @since 0.1.0
 * @category refinements
 */
export const isTokenError = (u: unknown): u is TokenError => Predicate.hasProperty(u, TypeId)

/**
 * A process exit code for each error, as `oauth-cc` 0.1 used them.
 *
 * @deprecated Exit codes belong to a command, not to the library: the `oauth-cc` CLI of
 * `@oauth-cc/node-adapter` keeps its own table, one meaning per code, in its README (it also exits 8 for a
 * failed discovery, but 10 when the resource gave no answer, 11 for a refused `http:` URL, 124 on `--timeout`).
 * A program of your own should map the `_tag`s it cares about itself. To be removed in 1.0.
 * @since 0.1.0
 * @category models
 */
export const exitCode = (error: TokenError): number => {
  switch (error._tag) {
    case "TokenRequestRejected":
      return 3
    case "TokenRateLimited":
      return 4
    case "TokenServerError":
      return 5
    case "TokenTransportError":
      return 6
    case "TokenResponseInvalid":
      return 7
    case "TokenDiscoveryFailed":
      return 8
    case "TokenCredentialUnavailable":
      return 12
  }
}
