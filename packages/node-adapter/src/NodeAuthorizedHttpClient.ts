/**
 * An authorized `HttpClient` (core's `AuthorizedHttpClient`) and its `TokenProvider`, over one undici
 * dispatcher with proxy, mutual TLS and keep-alive (see `NodeTransport`).
 *
 * A 401 from the resource server invalidates the token that was sent, fetches a fresh one (one
 * request however many callers failed together) and replays the request once when its body is in
 * memory; a request is never sent without a token.
 *
 * @see https://www.rfc-editor.org/rfc/rfc6750#section-3
 * @since 0.1.0
 */
import type * as AuthorizedHttpClient from "@oauth-cc/core/AuthorizedHttpClient"
import type * as TokenProvider from "@oauth-cc/core/TokenProvider"
import type * as Config from "effect/Config"
import type * as ConfigError from "effect/ConfigError"
import * as Effect from "effect/Effect"
import type * as Layer from "effect/Layer"
import * as internal from "./internal/nodeLayers.js"
import type * as NodeTokenProvider from "./NodeTokenProvider.js"
import type * as NodeTransport from "./NodeTransport.js"

/**
 * @since 0.1.0
 * @category models
 */
export interface Options extends NodeTokenProvider.Options, AuthorizedHttpClient.Options {}

/**
 * @example
 * ```ts
 * import { AuthorizedHttpClient } from "@oauth-cc/core"
 * import { NodeAuthorizedHttpClient } from "@oauth-cc/node-adapter"
 * import { Effect } from "effect"
 *
 * const program = Effect.gen(function*() {
 *   const client = yield* AuthorizedHttpClient.AuthorizedHttpClient
 *   const response = yield* client.get("https://api.example.com/users")
 *   return yield* response.json
 * })
 *
 * // reads OAUTH_TOKEN_URL, OAUTH_CLIENT_ID, OAUTH_CLIENT_SECRET
 * export const main = () => program.pipe(Effect.provide(NodeAuthorizedHttpClient.layerConfig()), Effect.runPromise)
 * ```
 *
 * @since 0.1.0
 * @category layers
 */
export const layer = (
  options: Options
): Layer.Layer<AuthorizedHttpClient.AuthorizedHttpClient | TokenProvider.TokenProvider, ConfigError.ConfigError> =>
  internal.authorizedLayer(Effect.succeed(options))

/**
 * The authorized client from a `Config`, by default `ClientCredentials.config()`; `options` adds what
 * the `Config` does not read (`tls`, `proxy`, `keepAlive`, `retryOn401`).
 *
 * @since 0.1.0
 * @category layers
 */
export const layerConfig = (
  config: Config.Config<NodeTokenProvider.Options> = internal.defaultConfig(),
  options: NodeTransport.Options & AuthorizedHttpClient.Options = {}
): Layer.Layer<AuthorizedHttpClient.AuthorizedHttpClient | TokenProvider.TokenProvider, ConfigError.ConfigError> =>
  internal.authorizedLayer(internal.fromConfig(config, options))
