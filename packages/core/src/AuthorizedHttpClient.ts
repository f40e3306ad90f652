/**
 * An `HttpClient` middleware that puts `Authorization: <type> <token>` on every request, from a
 * `TokenProvider`.
 *
 * When the resource server answers 401, the token that was sent (not a newer one) is invalidated, a
 * fresh token is fetched (single-flight: 100 requests failing together cause one token request), and
 * the request is sent once more, when its body can be replayed (not a stream). A second 401 is
 * returned as it is. A request is never sent without a token: when none can be had, the caller gets
 * the `TokenError`. A token is only sent over TLS (or to loopback): a request to another `http:` URL fails
 * with a `RequestError` before anything is sent, unless `allowInsecureHttp` is set.
 *
 * Redirects: use the `followRedirects` option, never `HttpClient.followRedirects` around the authorized
 * client or around the client given to `authorize`. Outside, every hop is authorized again, whatever its
 * origin; inside, the hops are invisible to this middleware, so the TLS check sees only the first URL. Either
 * way the token goes wherever the redirects point. With the option, each hop is checked, and the token goes
 * only to the first request's origin.
 *
 * **DPoP** (a provider with `dpop`, whose token comes back with `tokenType: "DPoP"`): the request goes with
 * `Authorization: DPoP <token>` and a fresh `DPoP` proof signed for it (`htm`, `htu` of the URL really sent,
 * `ath` of the token, a new `jti`, the origin's last `DPoP-Nonce`). A 401 with a `DPoP error="use_dpop_nonce"`
 * challenge and a `DPoP-Nonce` is sent once more with the nonce, keeping the token; any other 401 is handled
 * as above. The proof never shows in errors or spans.
 *
 * @see https://www.rfc-editor.org/rfc/rfc6750#section-5.3
 * @see https://www.rfc-editor.org/rfc/rfc9449#section-7.1
 * @see https://www.rfc-editor.org/rfc/rfc9449#section-9
 * @see https://www.rfc-editor.org/rfc/rfc6750#section-2.1
 * @see https://www.rfc-editor.org/rfc/rfc6750#section-3
 * @since 0.1.0
 */
import * as HttpClient from "@effect/platform/HttpClient"
import type * as HttpClientError from "@effect/platform/HttpClientError"
import * as Context from "effect/Context"
import * as Effect from "effect/Effect"
import * as Layer from "effect/Layer"
import * as internal from "./internal/authorizedHttpClient.js"
import type * as TokenError from "./TokenError.js"
import * as TokenProvider from "./TokenProvider.js"

/**
 * @since 0.1.0
 * @category models
 */
export interface Options {
  /** Invalidate the sent token, get a fresh one and replay the request once on a 401. Default: true. */
  readonly retryOn401?: boolean | undefined
  /**
   * Authorize with a token for this parameter set (`TokenProvider.getFor`) instead of the configured one,
   * e.g. one audience per downstream API.
   */
  readonly params?: TokenProvider.Params | undefined
  /**
   * Send the token over plain `http:` to hosts that are not loopback. Off by default: a request to such
   * a URL fails with a `RequestError` (`InvalidUrl`) before anything is sent, and before a token is
   * fetched when the URL is absolute (RFC 6750 §5.3: bearer tokens only over TLS). Loopback
   * (127.0.0.0/8, `[::1]`, `localhost`) is always allowed; `*.localhost` is not (Node resolves it through DNS). Default: false.
   *
   * @see https://www.rfc-editor.org/rfc/rfc6750#section-5.3
   * @since 0.2.0
   */
  readonly allowInsecureHttp?: boolean | undefined
  /**
   * Follow up to this many redirects (301, 302, 303, 307, 308) here, where each hop is checked: a hop to
   * `http:` on a host that is not loopback fails with `RequestError` (`InvalidUrl`) before it is sent (unless
   * `allowInsecureHttp`); the token (and a DPoP proof) goes only to hops on the origin of the first request,
   * and never again once a hop has left it; a hop to another origin is sent without `Authorization`, as
   * `fetch` does. 303, and 301/302 of a POST, become a GET without body; a 307/308 of a streamed body is
   * returned as it is, as is the last redirect once the limit is reached. Default: 0 (a 3xx is returned).
   *
   * Do not wrap the authorized client, or the client given to `authorize`, in `HttpClient.followRedirects`:
   * that sends the token wherever the redirects point (to another origin, or over plain `http:`).
   *
   * @see https://www.rfc-editor.org/rfc/rfc9110#section-15.4
   * @since 0.2.0
   */
  readonly followRedirects?: number | undefined
}

/**
 * An `HttpClient` whose requests carry a token, failing with `TokenError` when none can be had.
 *
 * @since 0.1.0
 * @category models
 */
export type Client = HttpClient.HttpClient.With<HttpClientError.HttpClientError | TokenError.TokenError>

/**
 * @since 0.1.0
 * @category tags
 */
export class AuthorizedHttpClient extends Context.Tag("@oauth-cc/core/AuthorizedHttpClient")<
  AuthorizedHttpClient,
  Client
>() {}

/**
 * Authorizes every request of a client. With a provider given, the result needs nothing more; without,
 * it reads `TokenProvider` from the context of each request.
 *
 * @example
 * ```ts
 * import { HttpClient } from "@effect/platform"
 * import { AuthorizedHttpClient, TokenProvider } from "@oauth-cc/core"
 * import { Effect } from "effect"
 *
 * const program = Effect.gen(function*() {
 *   const provider = yield* TokenProvider.TokenProvider
 *   const client = (yield* HttpClient.HttpClient).pipe(AuthorizedHttpClient.authorize(provider))
 *   return yield* client.get("https://api.example.com/orders")
 * })
 * ```
 *
 * @since 0.1.0
 * @category middleware
 */
export const authorize: {
  (
    provider: TokenProvider.Service,
    options?: Options
  ): <E, R>(
    self: HttpClient.HttpClient.With<E, R>
  ) => HttpClient.HttpClient.With<E | TokenError.TokenError | HttpClientError.RequestError, R>
  <E, R>(
    self: HttpClient.HttpClient.With<E, R>
  ): HttpClient.HttpClient.With<
    E | TokenError.TokenError | HttpClientError.RequestError,
    R | TokenProvider.TokenProvider
  >
  <E, R>(
    self: HttpClient.HttpClient.With<E, R>,
    provider: TokenProvider.Service,
    options?: Options
  ): HttpClient.HttpClient.With<E | TokenError.TokenError | HttpClientError.RequestError, R>
} = internal.authorize as any

/**
 * The authorized client over the `HttpClient` and `TokenProvider` in the context.
 *
 * @since 0.1.0
 * @category constructors
 */
export const make = (
  options?: Options
): Effect.Effect<Client, never, HttpClient.HttpClient | TokenProvider.TokenProvider> =>
  Effect.map(
    Effect.all([HttpClient.HttpClient, TokenProvider.TokenProvider]),
    ([client, provider]) => internal.authorizeWith(client, provider, options)
  )

/**
 * @since 0.1.0
 * @category layers
 */
export const layer = (
  options?: Options
): Layer.Layer<AuthorizedHttpClient, never, HttpClient.HttpClient | TokenProvider.TokenProvider> =>
  Layer.effect(AuthorizedHttpClient, make(options))
