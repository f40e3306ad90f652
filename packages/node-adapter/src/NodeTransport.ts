/**
 * The connection side of the Node layers: an undici `Dispatcher` with proxy support, mutual TLS and
 * keep-alive, and the @effect/platform-node `HttpClient` over it.
 *
 * - **Proxy**: by default `HTTPS_PROXY` / `HTTP_PROXY` / `NO_PROXY` (lower case first, as curl and
 *   undici do) are read through `Config`, so a `ConfigProvider` can supply them; `https:` URLs go
 *   through `HTTPS_PROXY` (else `HTTP_PROXY`) with a CONNECT tunnel, `http:` URLs through
 *   `HTTP_PROXY`, hosts listed in `NO_PROXY` directly. `proxy: false` disables proxies. Loopback
 *   destinations (`localhost`, `127.0.0.0/8`, `[::1]`) are always reached directly, whatever the variables or
 *   the `proxy` option say: `http:` to loopback carries credentials and tokens in clear, which is safe only
 *   while the bytes stay on the machine (Go's `net/http` never proxies `localhost` either).
 * - **Mutual TLS**: `tls` (`cert`, `key`, `ca`, `passphrase`) is presented to every TLS server,
 *   through a proxy tunnel too (RFC 8705 `tls_client_auth`).
 * - **Keep-alive**: connections are reused and bounded per origin.
 *
 * @see https://www.rfc-editor.org/rfc/rfc8705#section-2
 * @see https://www.rfc-editor.org/rfc/rfc9110#section-9.3.6
 * @since 0.1.0
 */
import type * as HttpClient from "@effect/platform/HttpClient"
import type * as ConfigError from "effect/ConfigError"
import type * as Duration from "effect/Duration"
import type * as Effect from "effect/Effect"
import type * as Layer from "effect/Layer"
import type * as Scope from "effect/Scope"
import type * as Undici from "undici"
import * as internal from "./internal/nodeTransport.js"

/**
 * Proxy settings. A string or `URL` sends every request through that proxy, except requests to loopback
 * (`localhost`, `127.0.0.0/8`, `[::1]`), which never go through a proxy.
 *
 * @since 0.1.0
 * @category models
 */
export type ProxyOptions = "env" | false | string | URL | {
  /** The proxy for `http:` URLs (and `https:` ones when `httpsProxy` is not set). */
  readonly httpProxy?: string | URL | undefined
  /** The proxy for `https:` URLs. */
  readonly httpsProxy?: string | URL | undefined
  /** Hosts reached directly: comma or space separated, `host`, `.domain`, `host:port` or `*`. */
  readonly noProxy?: string | undefined
}

/**
 * The client certificate (RFC 8705) and the trusted CAs. PEM strings or buffers, as `node:tls` takes them.
 *
 * @see https://www.rfc-editor.org/rfc/rfc8705#section-2.1
 * @since 0.1.0
 * @category models
 */
export interface TlsOptions {
  /** The client certificate chain (PEM). */
  readonly cert?: string | Buffer | ReadonlyArray<string | Buffer> | undefined
  /** The private key of the client certificate (PEM). */
  readonly key?: string | Buffer | ReadonlyArray<string | Buffer> | undefined
  /** The CAs to trust instead of Node's default ones (PEM). */
  readonly ca?: string | Buffer | ReadonlyArray<string | Buffer> | undefined
  /** The passphrase of an encrypted `key`. */
  readonly passphrase?: string | undefined
}

/**
 * Connection reuse. `false` closes every connection after its request.
 *
 * @since 0.1.0
 * @category models
 */
export type KeepAliveOptions = false | {
  /**
   * How long an idle connection is kept when the server sends no `Keep-Alive: timeout` hint. Default:
   * 4 seconds, under the 5 seconds Node servers close idle sockets after, so a reused socket is not
   * one the server is closing.
   */
  readonly idleTimeout?: Duration.DurationInput | undefined
  /** The longest idle time a server's `Keep-Alive: timeout` hint is trusted for. Default: 60 seconds. */
  readonly maxIdleTimeout?: Duration.DurationInput | undefined
  /** The most connections per origin; requests beyond them queue. Default: 64. */
  readonly connections?: number | undefined
}

/**
 * The connection options of the Node layers.
 *
 * @since 0.1.0
 * @category models
 */
export interface Options {
  /** Proxy settings. Default: `"env"`, from `HTTPS_PROXY` / `HTTP_PROXY` / `NO_PROXY`. */
  readonly proxy?: ProxyOptions | undefined
  /** Mutual TLS: the client certificate, and the CAs to trust. */
  readonly tls?: TlsOptions | undefined
  /** Connection reuse. Default: on, see `KeepAliveOptions`. */
  readonly keepAlive?: KeepAliveOptions | undefined
  /**
   * How long opening a connection may take: TCP and TLS, and through a proxy the CONNECT tunnel too (a proxy
   * that never answers would otherwise hold a request for undici's 300 s headers timeout). Default: 10 seconds.
   *
   * @since 0.2.0
   */
  readonly connectTimeout?: Duration.DurationInput | undefined
}

/**
 * The proxy settings found in the environment (through `Config`): `https_proxy` / `HTTPS_PROXY`,
 * `http_proxy` / `HTTP_PROXY`, `no_proxy` / `NO_PROXY`. Proxy URLs must be `http:` or `https:`.
 *
 * @since 0.1.0
 * @category config
 */
export const proxyFromEnv: Effect.Effect<
  {
    readonly httpProxy: string | undefined
    readonly httpsProxy: string | undefined
    readonly noProxy: string | undefined
  },
  ConfigError.ConfigError
> = internal.proxyFromEnv

/**
 * Makes the undici dispatcher; it is destroyed when the scope closes. Fails with a `ConfigError` when
 * a proxy variable holds no valid URL.
 *
 * @since 0.1.0
 * @category constructors
 */
export const makeDispatcher: (
  options?: Options
) => Effect.Effect<Undici.Dispatcher, ConfigError.ConfigError, Scope.Scope> = internal.makeDispatcher

/**
 * An `HttpClient` (@effect/platform-node's undici client) over a dispatcher made with `makeDispatcher`.
 *
 * @example
 * ```ts
 * import { NodeTransport } from "@oauth-cc/node-adapter"
 *
 * const HttpClientLive = NodeTransport.layer({ proxy: "http://proxy.internal:3128", keepAlive: { connections: 16 } })
 * ```
 *
 * @since 0.1.0
 * @category layers
 */
export const layer: (options?: Options) => Layer.Layer<HttpClient.HttpClient, ConfigError.ConfigError> = internal.layer
