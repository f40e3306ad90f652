/**
 * A `TokenProvider` over @effect/platform-node's undici `HttpClient`, with proxy, mutual TLS and
 * keep-alive (see `NodeTransport`): nothing else to provide.
 *
 * @see https://www.rfc-editor.org/rfc/rfc6749#section-4.4
 * @since 0.1.0
 */
import type * as ClientCredentials from "@oauth-cc/core/ClientCredentials"
import type * as TokenProvider from "@oauth-cc/core/TokenProvider"
import type * as Config from "effect/Config"
import type * as ConfigError from "effect/ConfigError"
import * as Effect from "effect/Effect"
import type * as Layer from "effect/Layer"
import * as internal from "./internal/nodeLayers.js"
import type * as NodeTransport from "./NodeTransport.js"

/**
 * The grant's options and the connection's. With `tls` holding a client certificate and none of
 * `clientSecret`, `clientAssertion.key` and `authMethod` set, `authMethod` is `"tls_client_auth"` (RFC 8705 §2.1: the client
 * id goes in the form, no secret is sent).
 *
 * @see https://www.rfc-editor.org/rfc/rfc8705#section-2.1
 * @since 0.1.0
 * @category models
 */
export interface Options extends ClientCredentials.Options, NodeTransport.Options {}

/**
 * @example
 * ```ts
 * import { NodeTokenProvider } from "@oauth-cc/node-adapter"
 * import { TokenProvider } from "@oauth-cc/core"
 * import { Effect, Redacted } from "effect"
 *
 * const TokenProviderLive = NodeTokenProvider.layer({
 *   tokenUrl: "https://auth.example.com/oauth/token",
 *   clientId: "my-service",
 *   clientSecret: Redacted.make(process.env.CLIENT_SECRET!)
 * })
 *
 * export const main = () => Effect.runPromise(TokenProvider.get.pipe(Effect.provide(TokenProviderLive)))
 * ```
 *
 * @since 0.1.0
 * @category layers
 */
export const layer = (options: Options): Layer.Layer<TokenProvider.TokenProvider, ConfigError.ConfigError> =>
  internal.providerLayer(Effect.succeed(options))

/**
 * A provider from a `Config`, by default `ClientCredentials.config()` (`OAUTH_TOKEN_URL`,
 * `OAUTH_CLIENT_ID`, `OAUTH_CLIENT_SECRET`, …). `transport` adds connection options (`tls`, `proxy`,
 * `keepAlive`) the `Config` does not read. Fails at layer build with a `ConfigError` naming the
 * variable when the configuration is missing or invalid.
 *
 * @since 0.1.0
 * @category layers
 */
export const layerConfig = (
  config: Config.Config<Options> = internal.defaultConfig(),
  transport: NodeTransport.Options = {}
): Layer.Layer<TokenProvider.TokenProvider, ConfigError.ConfigError> =>
  internal.providerLayer(internal.fromConfig(config, transport))
