/**
 * The options of the client credentials grant, and the `Config` that reads them from the environment.
 *
 * @see https://www.rfc-editor.org/rfc/rfc6749#section-4.4
 * @since 0.1.0
 */
import type * as Config from "effect/Config"
import * as ConfigError from "effect/ConfigError"
import type * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import type * as Either from "effect/Either"
import type * as Redacted from "effect/Redacted"
import type * as ClientAssertion from "./ClientAssertion.js"
import * as DPoP from "./DPoP.js"
import * as internal from "./internal/clientCredentials.js"
import * as InternalConfig from "./internal/clientCredentialsConfig.js"
import * as InternalScrub from "./internal/scrub.js"
import * as Telemetry from "./internal/telemetry.js"
import type * as TokenError from "./TokenError.js"

/**
 * How the client authenticates at the token endpoint.
 *
 * - `client_secret_basic`: HTTP Basic with the id and secret, form-encoded first (RFC 6749 §2.3.1;
 *   see `basicEncoding`).
 * - `client_secret_post`: `client_id` and `client_secret` in the form body.
 * - `client_secret_jwt`: a JWT signed with the secret (HS256) as `client_assertion` (RFC 7523 §2.2);
 *   the secret itself is never sent.
 * - `private_key_jwt`: a JWT signed with the client's private key (`clientAssertion.key`) as
 *   `client_assertion` (RFC 7523 §2.2, OIDC Core §9).
 * - `tls_client_auth`: mutual TLS (RFC 8705 §2.1); the form carries `client_id`, no secret is sent.
 *   The TLS client certificate is configured on the `HttpClient` (see `@oauth-cc/node-adapter`).
 *
 * When unset: `private_key_jwt` if `clientAssertion.key` is set, else `client_secret_basic`; with
 * `issuer`, the first of `private_key_jwt` (with a key), `client_secret_basic`, `client_secret_post`,
 * `client_secret_jwt` that the server lists in `token_endpoint_auth_methods_supported`.
 *
 * @see https://www.rfc-editor.org/rfc/rfc6749#section-2.3.1
 * @see https://www.rfc-editor.org/rfc/rfc7523#section-2.2
 * @see https://www.rfc-editor.org/rfc/rfc8705#section-2.1
 * @since 0.1.0
 * @category models
 */
export type AuthMethod =
  | "client_secret_basic"
  | "client_secret_post"
  | "client_secret_jwt"
  | "private_key_jwt"
  | "tls_client_auth"

/**
 * @since 0.1.0
 * @category models
 */
export const authMethods: ReadonlyArray<AuthMethod> = internal.authMethods

/**
 * The retry policy for token requests. 429 and 503 wait as long as `Retry-After` says (capped by
 * `maxRetryAfter`); other 5xx, timeouts and transport errors back off exponentially with jitter.
 * 4xx answers are never retried.
 *
 * @since 0.1.0
 * @category models
 */
export interface RetryOptions {
  /** The first backoff delay. Default: 200 millis. */
  readonly baseDelay?: Duration.DurationInput | undefined
  /** The factor each further delay grows by. Default: 2. */
  readonly factor?: number | undefined
  /** The longest backoff delay. Default: 10 seconds. */
  readonly maxDelay?: Duration.DurationInput | undefined
  /** Token requests per fetch, the first included. Default: 5. `1` disables retries. */
  readonly maxAttempts?: number | undefined
  /** The time budget of one fetch, waits included. Default: 30 seconds. */
  readonly maxElapsed?: Duration.DurationInput | undefined
  /** The longest `Retry-After` that is waited out; a longer one fails at once. Default: 30 seconds. */
  readonly maxRetryAfter?: Duration.DurationInput | undefined
  /** Randomise backoff delays (not `Retry-After`) by ±20 % so a fleet does not retry in step. Default: true. */
  readonly jitter?: boolean | undefined
}

/**
 * DPoP (RFC 9449): the key tokens get bound to. With it, every token request carries a proof, the server
 * answers `token_type: "DPoP"`, and `AuthorizedHttpClient` sends `Authorization: DPoP <token>` with a fresh
 * proof per request.
 *
 * @see https://www.rfc-editor.org/rfc/rfc9449
 * @since 0.2.0
 * @category models
 */
export interface DPoPOptions extends DPoP.Options {
  /**
   * Accept a `Bearer` token in answer to a DPoP token request (a server that ignores DPoP). Off by
   * default: such an answer fails with `TokenResponseInvalid` (`DPoPDowngrade`), since a bearer token is
   * not bound to the key and can be replayed by whoever sees it.
   */
  readonly allowBearer?: boolean | undefined
}

/**
 * The options of a client credentials `TokenProvider`.
 *
 * @since 0.1.0
 * @category models
 */
export interface Options {
  /**
   * The token endpoint. Must be `https:`, or `http:` on a loopback host (or with `allowInsecureHttp`).
   * Set exactly one of `tokenUrl` and `issuer`.
   */
  readonly tokenUrl?: string | URL | undefined
  /**
   * The authorization server's issuer identifier, to discover the token endpoint from (RFC 8414
   * `/.well-known/oauth-authorization-server`, else `/.well-known/openid-configuration`). The
   * metadata is fetched on the first token fetch, once per provider, and its `issuer` must be
   * identical to this string (mind a trailing `/`). Set exactly one of `tokenUrl` and `issuer`.
   */
  readonly issuer?: string | URL | undefined
  /** The client identifier. */
  readonly clientId: string
  /**
   * The client secret; required by the `client_secret_*` methods. Either the value, or an `Effect` run on
   * every token request (retries included), so that a rotated secret (a re-mounted Kubernetes secret) is
   * used without a restart; after an `invalid_client` it is run again and, if it gives another secret, the
   * request is made once more before the error is reported. Its failure should be a
   * `TokenCredentialUnavailable` (the node adapter's `OAUTH_CLIENT_SECRET_FILE` gives one).
   */
  readonly clientSecret?:
    | Redacted.Redacted<string>
    | Effect.Effect<Redacted.Redacted<string>, TokenError.TokenError>
    | undefined
  /** How the client authenticates. Default: see `AuthMethod`. */
  readonly authMethod?: AuthMethod | undefined
  /** The JWT assertion of `private_key_jwt` (its key) and `client_secret_jwt` (lifetime, audience). */
  readonly clientAssertion?: ClientAssertion.Options | undefined
  /**
   * How id and secret are put into HTTP Basic: `"form"` form-urlencodes them first, as RFC 6749
   * §2.3.1 requires (oidc-provider insists on it: a raw `%`, `+` or non-ASCII secret is refused);
   * `"raw"` does not (@node-oauth/oauth2-server and other servers that decode Basic with a plain
   * `basic-auth` parser expect that). Only matters for characters outside `A-Za-z0-9-._~`; with such a
   * secret, `client_secret_post` avoids the question. Default: `"form"`.
   */
  readonly basicEncoding?: "form" | "raw" | undefined
  /** The scopes to request: a space-separated string or an array (RFC 6749 §3.3). */
  readonly scope?: string | ReadonlyArray<string> | undefined
  /** The `audience` parameter (Auth0 and others). */
  readonly audience?: string | undefined
  /** Resource indicators (RFC 8707). */
  readonly resource?: string | ReadonlyArray<string> | undefined
  /**
   * More form parameters for the token request. Naming one the request sets itself (`grant_type`, `scope`,
   * `audience`, `resource`, `client_id`, `client_secret`, `client_assertion`, `client_assertion_type`) is
   * rejected by `validate`.
   */
  readonly extraParams?: Readonly<Record<string, string>> | undefined
  /** A token is served until `expiresAt - refreshSkew` (capped at half its lifetime). Default: 60 seconds. */
  readonly refreshSkew?: Duration.DurationInput | undefined
  /**
   * The share of a token's usable life after which one background refresh starts while callers keep
   * getting the current token. `1` disables refresh-ahead. Default: 0.8.
   */
  readonly refreshAhead?: number | undefined
  /** The lifetime assumed when the server sends no `expires_in`. Default: 5 minutes. */
  readonly defaultExpiresIn?: Duration.DurationInput | undefined
  /** Accept a response without `token_type` as `Bearer` instead of failing. Default: false. */
  readonly assumeBearer?: boolean | undefined
  /** The retry policy. */
  readonly retry?: RetryOptions | undefined
  /** The timeout of one token request attempt, body included. Default: 10 seconds. */
  readonly requestTimeout?: Duration.DurationInput | undefined
  /**
   * After a fetch failed for good, calls within this window get the same error without a new request,
   * so a hot loop cannot hammer the server. A 429's `Retry-After` extends it. Default: 1 second.
   */
  readonly failureCooldown?: Duration.DurationInput | undefined
  /** The most parameter sets (`getFor`) whose tokens are kept; least recently used go first. Default: 1000. */
  readonly maxCachedKeys?: number | undefined
  /** The largest token response body read. Default: 1 MiB. */
  readonly maxResponseBytes?: number | undefined
  /** Allow an `http:` token URL (or issuer) on a non-loopback host. Default: false. */
  readonly allowInsecureHttp?: boolean | undefined
  /**
   * Sender-constrained tokens (DPoP, RFC 9449): the private key (`KeyObject`, or `Redacted` PKCS#8 PEM or
   * JWK) and optionally its `alg` (default from the key, as for client assertions). The key is imported once
   * per provider; its thumbprint is part of the cache key.
   */
  readonly dpop?: DPoPOptions | undefined
}

/**
 * Checks options: exactly one of `tokenUrl` and `issuer`, parseable, `https:` (or loopback `http:`),
 * without credentials or a fragment (an issuer without a query either); a non-empty client id; a
 * secret or a readable private key where the method needs one, and an algorithm that fits the key;
 * valid scope tokens.
 *
 * @since 0.1.0
 * @category validation
 */
export const validate: (options: Options) => Either.Either<Options, ConfigError.ConfigError> = internal.validate

/**
 * A `Config` reading the options from `<prefix>_TOKEN_URL` or `<prefix>_ISSUER` (one of them),
 * `<prefix>_CLIENT_ID`, `<prefix>_CLIENT_SECRET` (redacted), `<prefix>_SCOPE` (space separated),
 * `<prefix>_AUDIENCE`, `<prefix>_RESOURCE` (space separated), `<prefix>_AUTH_METHOD`, and for
 * `private_key_jwt` `<prefix>_CLIENT_ASSERTION_KEY` (redacted: a PEM or a JWK's JSON),
 * `<prefix>_CLIENT_ASSERTION_ALG`, `<prefix>_CLIENT_ASSERTION_KID`, `<prefix>_CLIENT_ASSERTION_AUDIENCE`,
 * and for DPoP `<prefix>_DPOP_KEY` (redacted: a PKCS#8 PEM or a JWK's JSON) and `<prefix>_DPOP_ALG`, validated with `validate`. `overrides` supplies the options that have no variable (retry policy, skew, …).
 * With `files` (a platform's file reader), also `<prefix>_CLIENT_SECRET_FILE` (the secret read from the file on
 * every request; exclusive with `<prefix>_CLIENT_SECRET`) and `<prefix>_CLIENT_ASSERTION_FILE` (a pre-made JWT
 * read on every request, sent as `clientAssertion.source`; exclusive with `<prefix>_CLIENT_ASSERTION_KEY`).
 *
 * @example
 * ```ts
 * import { ClientCredentials, TokenProvider } from "@oauth-cc/core"
 *
 * // OAUTH_TOKEN_URL, OAUTH_CLIENT_ID, OAUTH_CLIENT_SECRET, …
 * const TokenProviderLive = TokenProvider.layerConfig(ClientCredentials.config())
 * ```
 *
 * @since 0.1.0
 * @category config
 */
export const config: {
  (
    prefix?: string,
    overrides?: Partial<Options> & { readonly clientSecret?: Redacted.Redacted<string> | undefined }
  ): Config.Config<Options & { readonly clientSecret?: Redacted.Redacted<string> | undefined }>
  (prefix: string, overrides: Partial<Options>, files: FileSources): Config.Config<Options>
} = InternalConfig.config as any

/**
 * How a platform reads a credential file, for `config`'s `<prefix>_CLIENT_SECRET_FILE` and
 * `<prefix>_CLIENT_ASSERTION_FILE`: an `Effect` run on every token request (so a rotated file is read
 * again), failing with a `TokenCredentialUnavailable`. Core reads no file itself; `@oauth-cc/node-adapter`
 * gives one.
 *
 * @since 0.2.0
 * @category config
 */
export interface FileSources {
  readonly readFile: (
    path: string,
    credential: "client_secret" | "client_assertion"
  ) => Effect.Effect<Redacted.Redacted<string>, TokenError.TokenError>
}

/**
 * Masks a client secret in text: the secret raw, form- and URI-encoded, and inside the Basic credentials
 * that carry it (base64 of `id:secret` in either `basicEncoding`). Core masks every text a server sends back
 * with it; a program that prints server text (the `oauth-cc` CLI) can do the same.
 *
 * @since 0.2.0
 * @category models
 */
export type Scrub = (text: string) => string

/**
 * The `Scrub` for a client's secret; the identity when there is no secret or it is shorter than 4
 * characters (masking it would garble ordinary text).
 *
 * @example
 * import * as ClientCredentials from "@oauth-cc/core/ClientCredentials"
 * import * as Redacted from "effect/Redacted"
 *
 * const scrub = ClientCredentials.makeScrub(Redacted.make("s3cr3t-value"), "my-client")
 * console.log(scrub("invalid secret s3cr3t-value")) // invalid secret <redacted>
 *
 * @since 0.2.0
 * @category constructors
 */
export const makeScrub: (secret: Redacted.Redacted<string> | undefined, clientId: string) => Scrub =
  InternalScrub.makeScrub

/**
 * The checks `validate` cannot make synchronously: the DPoP key is imported and signs a proof that its public
 * half verifies (a JWK whose private and public parts do not match passes `validate`). The layers built from
 * a `Config` run it, so a bad `OAUTH_DPOP_KEY` fails the layer with a `ConfigError`; `TokenProvider.make`
 * given such options in code dies, like other invalid options.
 *
 * @since 0.2.0
 * @category validation
 */
export const check = <A extends Options>(options: A): Effect.Effect<A, ConfigError.ConfigError> =>
  options.dpop === undefined ? Effect.succeed(options) : DPoP.make(options.dpop).pipe(
    Effect.as(options),
    Effect.mapError((error) => ConfigError.InvalidData(["DPOP_KEY"], `OAUTH_DPOP_KEY (dpop.key): ${error.message}`))
  )

/**
 * A URL as oauth-cc shows it (in spans' `url.full`, and in what the `oauth-cc` CLI prints): without
 * credentials or fragment, each query parameter keeping its name while its value becomes `REDACTED` (a query
 * may carry a signature or a key).
 *
 * @example
 * import * as ClientCredentials from "@oauth-cc/core/ClientCredentials"
 *
 * console.log(ClientCredentials.redactUrl(new URL("https://u:p@auth.example.com/token?sig=abc#x")))
 * // https://auth.example.com/token?sig=REDACTED
 *
 * @since 0.2.0
 * @category utils
 */
export const redactUrl: (url: URL) => string = Telemetry.safeUrl
