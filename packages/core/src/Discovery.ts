/**
 * Authorization server metadata (RFC 8414): find the token endpoint and the client authentication
 * methods from the issuer identifier alone.
 *
 * `TokenProvider` does this by itself when `ClientCredentials.Options` has `issuer` instead of
 * `tokenUrl`; this module is for looking at a server's metadata directly.
 *
 * @see https://www.rfc-editor.org/rfc/rfc8414
 * @see https://openid.net/specs/openid-connect-discovery-1_0.html#ProviderConfig
 * @since 0.1.0
 */
import * as HttpClient from "@effect/platform/HttpClient"
import * as Effect from "effect/Effect"
import type * as ClientCredentials from "./ClientCredentials.js"
import * as internal from "./internal/discovery.js"
import { resolve } from "./internal/resolvedOptions.js"
import type * as TokenError from "./TokenError.js"

/**
 * The metadata members this library reads, named as in RFC 8414 §2. Other members are dropped.
 *
 * @see https://www.rfc-editor.org/rfc/rfc8414#section-2
 * @since 0.1.0
 * @category models
 */
export interface Metadata {
  readonly issuer: string
  readonly token_endpoint: string
  /** Absent means `["client_secret_basic"]` (RFC 8414 §2). */
  readonly token_endpoint_auth_methods_supported?: ReadonlyArray<string> | undefined
  readonly token_endpoint_auth_signing_alg_values_supported?: ReadonlyArray<string> | undefined
  readonly jwks_uri?: string | undefined
  readonly scopes_supported?: ReadonlyArray<string> | undefined
  readonly grant_types_supported?: ReadonlyArray<string> | undefined
}

/**
 * The two metadata URLs tried, in order: RFC 8414's (`/.well-known/oauth-authorization-server`
 * inserted between host and path, §3.1), then OpenID Connect's (`/.well-known/openid-configuration`
 * appended to the issuer).
 *
 * @example
 * ```ts
 * import { Discovery } from "@oauth-cc/core"
 *
 * Discovery.metadataUrls("https://auth.example.com/tenant1").map(String)
 * // [ "https://auth.example.com/.well-known/oauth-authorization-server/tenant1",
 * //   "https://auth.example.com/tenant1/.well-known/openid-configuration" ]
 * ```
 *
 * @since 0.1.0
 * @category utils
 */
export const metadataUrls: (issuer: string) => readonly [URL, URL] = internal.metadataUrls

/**
 * Fetches and checks an issuer's metadata: a 404 (or other non-2xx, non-5xx answer) at the RFC 8414
 * URL falls back to the OpenID Connect one; redirects within the issuer's origin are followed (at most
 * 3), a redirect to another origin is `TokenDiscoveryFailed` with reason `RejectedRedirect`; 429, 5xx
 * and transport errors are retried under the
 * `retry` policy; the document's `issuer` must be identical to `issuer` (RFC 8414 §3.3) and its
 * `token_endpoint` must be `https:` (or loopback `http:`, or any `http:` with `allowInsecureHttp`).
 * Invalid options (an issuer that is not an absolute `https:` URL) are a defect.
 *
 * @since 0.1.0
 * @category constructors
 */
export const discover = (
  issuer: string,
  options: Pick<
    ClientCredentials.Options,
    "retry" | "requestTimeout" | "maxResponseBytes" | "allowInsecureHttp"
  > = {}
): Effect.Effect<Metadata, TokenError.TokenDiscoveryFailed, HttpClient.HttpClient> =>
  Effect.flatMap(
    Effect.all([
      HttpClient.HttpClient,
      // only the issuer and the transport options matter here: the client part is a placeholder that
      // needs no credentials. Invalid options given in code are a defect, as with TokenProvider.make.
      Effect.sync(() => resolve({ ...options, issuer, clientId: "discovery", authMethod: "tls_client_auth" }))
    ]),
    ([client, resolved]) => internal.discover(client, issuer, resolved)
  )

/**
 * The client authentication method for a server's `token_endpoint_auth_methods_supported`:
 * `private_key_jwt` when the client has a key, else the first of `client_secret_basic`,
 * `client_secret_post`, `client_secret_jwt` the server lists, when it has a secret.
 *
 * @since 0.1.0
 * @category utils
 */
export const chooseAuthMethod: (
  supported: ReadonlyArray<string> | undefined,
  credentials: { readonly hasKey: boolean; readonly hasSecret: boolean }
) => ClientCredentials.AuthMethod | undefined = internal.chooseAuthMethod
