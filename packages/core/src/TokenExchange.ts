/**
 * OAuth 2.0 Token Exchange (RFC 8693): trades a subject token (a workload identity token, a user's token)
 * at a security token service for a token of this service, served by the same cache as client credentials
 * tokens: single-flight, refresh-ahead, stale-on-error, cooldown, and the `TokenStore` in the context.
 *
 * `make` returns a `TokenProvider.Service`, so `AuthorizedHttpClient.authorize` and everything else written
 * for a `TokenProvider` works with an exchanged token. The client authenticates as for client credentials
 * (the same options and methods).
 *
 * - **Subject token**: an `Effect` read on every `get`; its SHA-256 (never the token) is part of the cache
 *   key, so a new subject token (a rotated projected service-account token) gets a new exchange, and the
 *   same one is served from the cache. Keep it cheap: it runs on every call.
 * - **Issued type**: `issued_token_type` is required (RFC 8693 §2.2.1). Without `requestedTokenType` the
 *   issued token must be an access token; with it, the issued type must be the one requested. Otherwise
 *   the answer is a `TokenResponseInvalid` (`UnsupportedTokenType`).
 * - **`token_type: N_A`** (RFC 8693 §2.2.1: the issued token is not an access token) is accepted only
 *   when a type other than `access_token` was requested; the token then has `tokenType: "N_A"`. Such a
 *   token is for passing on (as another exchange's subject token, a client assertion), not for an
 *   `Authorization` header: do not give that provider to `AuthorizedHttpClient`.
 * - **Secrets**: the subject and actor tokens are `Redacted`, sent only in the request's form, and masked
 *   (with the client secret) in any error text the server sends back; no log or span carries them.
 *
 * @see https://www.rfc-editor.org/rfc/rfc8693
 * @since 0.2.0
 */
import type * as HttpClient from "@effect/platform/HttpClient"
import type * as Effect from "effect/Effect"
import * as Layer from "effect/Layer"
import type * as Redacted from "effect/Redacted"
import type * as Scope from "effect/Scope"
import type * as ClientCredentials from "./ClientCredentials.js"
import * as internal from "./internal/tokenExchange.js"
import type * as TokenError from "./TokenError.js"
import * as TokenProvider from "./TokenProvider.js"

/**
 * The `grant_type` of a token exchange request.
 *
 * @see https://www.rfc-editor.org/rfc/rfc8693#section-2.1
 * @since 0.2.0
 * @category constants
 */
export const grantType: "urn:ietf:params:oauth:grant-type:token-exchange" = internal.grantType

/**
 * The token type identifiers of RFC 8693 §3, for `subjectTokenType`, `actorTokenType` and
 * `requestedTokenType`. Any other absolute URI may be used too.
 *
 * @see https://www.rfc-editor.org/rfc/rfc8693#section-3
 * @since 0.2.0
 * @category constants
 */
export const TokenType: {
  /** An OAuth 2.0 access token. */
  readonly accessToken: "urn:ietf:params:oauth:token-type:access_token"
  /** An OAuth 2.0 refresh token. */
  readonly refreshToken: "urn:ietf:params:oauth:token-type:refresh_token"
  /** An OpenID Connect ID token. */
  readonly idToken: "urn:ietf:params:oauth:token-type:id_token"
  /** A base64url-encoded SAML 1.1 assertion. */
  readonly saml1: "urn:ietf:params:oauth:token-type:saml1"
  /** A base64url-encoded SAML 2.0 assertion. */
  readonly saml2: "urn:ietf:params:oauth:token-type:saml2"
  /** A JWT (a Kubernetes projected service-account token, a CI OIDC token). */
  readonly jwt: "urn:ietf:params:oauth:token-type:jwt"
} = internal.TokenType

/**
 * The options of a token exchange: those of client credentials for the security token service, the client's
 * authentication and the cache (`scope`, `audience`, `resource` and `extraParams` are sent as in RFC 8693
 * §2.1), plus the tokens exchanged. DPoP is not supported here.
 *
 * @since 0.2.0
 * @category models
 */
export interface Options extends Omit<ClientCredentials.Options, "dpop"> {
  /**
   * The subject token, read on every `get` (RFC 8693 `subject_token`). A failure is the call's failure; a
   * defect (a rejected `Effect.promise`) fails it with a `TokenTransportError` (`Unexpected`).
   */
  readonly subjectToken: Effect.Effect<Redacted.Redacted<string>, TokenError.TokenError>
  /** Its type (`subject_token_type`), e.g. `TokenType.jwt`. */
  readonly subjectTokenType: string
  /** The actor token, for delegation (`actor_token`), read on every `get` like the subject token. */
  readonly actorToken?: Effect.Effect<Redacted.Redacted<string>, TokenError.TokenError> | undefined
  /** The actor token's type (`actor_token_type`); `TokenType.jwt` when not set. */
  readonly actorTokenType?: string | undefined
  /**
   * The type asked for (`requested_token_type`); when not set, none is sent and the issued token must be an
   * access token.
   */
  readonly requestedTokenType?: string | undefined
}

/**
 * Makes a token exchange provider. Its background refreshes live in the `Scope`; a `TokenStore` in the
 * context is used when present, else an in-memory store of `maxCachedKeys` keys. Invalid options are a
 * defect, as for `TokenProvider.make`.
 *
 * @example
 * ```ts
 * import { FetchHttpClient, HttpClient } from "@effect/platform"
 * import { AuthorizedHttpClient, TokenExchange } from "@oauth-cc/core"
 * import { Effect, Redacted } from "effect"
 * import { readFile } from "node:fs/promises"
 *
 * const program = Effect.gen(function*() {
 *   const provider = yield* TokenExchange.make({
 *     tokenUrl: "https://sts.example.com/oauth/token",
 *     clientId: "my-service",
 *     clientSecret: Redacted.make(process.env.CLIENT_SECRET!),
 *     audience: "https://orders.example.com",
 *     subjectToken: Effect.promise(() => readFile("/var/run/secrets/tokens/sa-token", "utf8")).pipe(
 *       Effect.map((text) => Redacted.make(text.trim()))
 *     ),
 *     subjectTokenType: TokenExchange.TokenType.jwt
 *   })
 *   const client = (yield* HttpClient.HttpClient).pipe(AuthorizedHttpClient.authorize(provider))
 *   return yield* client.get("https://orders.example.com/v1/orders")
 * }).pipe(Effect.scoped, Effect.provide(FetchHttpClient.layer))
 * ```
 *
 * @see https://www.rfc-editor.org/rfc/rfc8693#section-2
 * @since 0.2.0
 * @category constructors
 */
export const make: (
  options: Options
) => Effect.Effect<TokenProvider.Service, never, HttpClient.HttpClient | Scope.Scope> = internal.make

/**
 * A `TokenProvider` layer whose tokens come from a token exchange.
 *
 * @since 0.2.0
 * @category layers
 */
export const layer = (options: Options): Layer.Layer<TokenProvider.TokenProvider, never, HttpClient.HttpClient> =>
  Layer.scoped(TokenProvider.TokenProvider, make(options))
