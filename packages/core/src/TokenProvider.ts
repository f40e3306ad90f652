/**
 * The token provider: gets client credentials tokens, caches them, and shares one fetch among all
 * concurrent callers.
 *
 * - **Cache**: a token is served from the `TokenStore` (an in-memory `Ref` by default) until
 *   `expiresAt - refreshSkew`, the skew capped at half the token's lifetime. Time comes from `Clock`.
 * - **Single-flight**: any number of concurrent callers on an empty or expired cache cause one token
 *   request and all get its result.
 * - **Refresh-ahead**: once `refreshAhead` (80 %) of a token's usable life has passed, one background
 *   refresh starts; callers keep the current token and never wait while it is valid. When the
 *   refresh fails, the old token is served until it really expires.
 * - **Retry**: 429 and 503 wait as `Retry-After` says; other 5xx, timeouts and network errors back off
 *   exponentially with jitter; 4xx is never retried. After a failure, calls within `failureCooldown`
 *   get the same error without a request.
 * - **Discovery**: with `issuer` instead of `tokenUrl`, the token endpoint (and, unless set, the client
 *   authentication method) comes from the issuer's RFC 8414 metadata, fetched once on the first fetch.
 *
 * @see https://www.rfc-editor.org/rfc/rfc6749#section-4.4
 * @since 0.1.0
 */
import type * as HttpClient from "@effect/platform/HttpClient"
import type * as Config from "effect/Config"
import type * as ConfigError from "effect/ConfigError"
import * as Context from "effect/Context"
import * as Effect from "effect/Effect"
import * as Layer from "effect/Layer"
import type * as Scope from "effect/Scope"
import type * as AccessToken from "./AccessToken.js"
import * as ClientCredentials from "./ClientCredentials.js"
import type * as DPoP from "./DPoP.js"
import * as internal from "./internal/tokenProvider.js"
import type * as TokenError from "./TokenError.js"

/**
 * A parameter set other than the configured one. Missing members fall back to the configured options.
 * Scopes and resources are sorted and de-duplicated, so `"a b"` and `["b", "a", "a"]` share a token.
 *
 * @since 0.1.0
 * @category models
 */
export interface Params {
  readonly scope?: string | ReadonlyArray<string> | undefined
  readonly audience?: string | undefined
  readonly resource?: string | ReadonlyArray<string> | undefined
}

/**
 * @since 0.1.0
 * @category models
 */
export interface Service {
  /** A valid token for the configured parameters, from the cache when it holds one. */
  readonly get: Effect.Effect<AccessToken.AccessToken, TokenError.TokenError>
  /**
   * A valid token for another parameter set, cached under its own key. Keys never share tokens;
   * at most `maxCachedKeys` keys are kept, least recently used first out.
   */
  readonly getFor: (params: Params) => Effect.Effect<AccessToken.AccessToken, TokenError.TokenError>
  /** Fetches a new token now (joining a fetch already under way) and caches it. */
  readonly refresh: Effect.Effect<AccessToken.AccessToken, TokenError.TokenError>
  /**
   * Drops the cached token. Given a token, drops it only if it is still the cached one, so a late
   * `invalidate` never drops a newer token. `params` selects a `getFor` key.
   */
  readonly invalidate: (token?: AccessToken.AccessToken, params?: Params) => Effect.Effect<void>
  /**
   * With `dpop` set: the key, imported once, that signs the proofs of token requests and (in
   * `AuthorizedHttpClient`) of resource requests made with its `DPoP` tokens.
   *
   * @since 0.2.0
   */
  readonly dpop?: DPoP.Proofer | undefined
}

/**
 * @since 0.1.0
 * @category tags
 */
export class TokenProvider extends Context.Tag("@oauth-cc/core/TokenProvider")<TokenProvider, Service>() {}

/**
 * Makes a provider. Its background refreshes live in the `Scope`. A `TokenStore` in the context is
 * used when present, else an in-memory store of `maxCachedKeys` keys. Once the scope has closed, a
 * call that would need a fetch (`get` without a servable token, `getFor`, `refresh`) is interrupted at
 * once, and callers waiting on a fetch are released.
 *
 * Options given in code are checked with `ClientCredentials.validate`; invalid ones are a defect
 * (use `layerConfig` for options from the environment, which fails with a `ConfigError`).
 *
 * @since 0.1.0
 * @category constructors
 */
export const make: (
  options: ClientCredentials.Options
) => Effect.Effect<Service, never, HttpClient.HttpClient | Scope.Scope> = internal.make

/**
 * @example
 * ```ts
 * import { FetchHttpClient } from "@effect/platform"
 * import { TokenProvider } from "@oauth-cc/core"
 * import { Layer, Redacted } from "effect"
 *
 * const TokenProviderLive = TokenProvider.layer({
 *   tokenUrl: "https://auth.example.com/oauth/token",
 *   clientId: "my-service",
 *   clientSecret: Redacted.make(process.env.CLIENT_SECRET!),
 *   scope: ["orders:read"]
 * }).pipe(Layer.provide(FetchHttpClient.layer))
 * ```
 *
 * @since 0.1.0
 * @category layers
 */
export const layer = (options: ClientCredentials.Options): Layer.Layer<TokenProvider, never, HttpClient.HttpClient> =>
  Layer.scoped(TokenProvider, make(options))

/**
 * A provider from a `Config`, usually `ClientCredentials.config()`; fails at layer build with a
 * `ConfigError` naming the variable when the configuration is missing or invalid.
 *
 * @since 0.1.0
 * @category layers
 */
export const layerConfig = (
  config: Config.Config<ClientCredentials.Options>
): Layer.Layer<TokenProvider, ConfigError.ConfigError, HttpClient.HttpClient> =>
  Layer.scoped(TokenProvider, Effect.flatMap(Effect.flatMap(config, ClientCredentials.check), make))

/**
 * The configured token, from the `TokenProvider` in the context.
 *
 * @since 0.1.0
 * @category accessors
 */
export const get: Effect.Effect<AccessToken.AccessToken, TokenError.TokenError, TokenProvider> = Effect.flatMap(
  TokenProvider,
  (provider) => provider.get
)
