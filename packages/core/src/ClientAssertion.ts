/**
 * Client authentication with a signed JWT instead of a secret on the wire: `private_key_jwt`
 * (RFC 7523 §2.2, OIDC Core §9) signs with the client's private key, `client_secret_jwt` with the
 * client secret (HS256).
 *
 * A new assertion, with a fresh random `jti`, is signed for every token request attempt, retries
 * included: servers such as oidc-provider reject a replayed `jti`.
 *
 * Since 0.3.0 the assertions follow draft-ietf-oauth-rfc7523bis (written after the 2025 audience-injection
 * advisories): the JOSE header carries `typ: client-authentication+jwt`, and `aud` is the authorization
 * server's issuer identifier whenever it is known (`issuer` configured, hence checked against the discovered
 * metadata). Set `audience: "token_endpoint"` for a server that still wants the token endpoint URL.
 *
 * @see https://www.rfc-editor.org/rfc/rfc7523#section-2.2
 * @see https://datatracker.ietf.org/doc/draft-ietf-oauth-rfc7523bis/
 * @see https://openid.net/specs/openid-connect-core-1_0.html#ClientAuthentication
 * @since 0.1.0
 */
import type * as Duration from "effect/Duration"
import type * as Effect from "effect/Effect"
import type * as Redacted from "effect/Redacted"
import type { CryptoKey, JWK, KeyObject } from "jose"
import * as internal from "./internal/clientAssertion.js"
import type * as TokenError from "./TokenError.js"

/**
 * The signing algorithms of `private_key_jwt`: ES256 (P-256), RS256 and PS256 (RSA, 2048 bits or
 * more), EdDSA (Ed25519). `client_secret_jwt` always uses HS256.
 *
 * @since 0.1.0
 * @category models
 */
export type Algorithm = "ES256" | "RS256" | "PS256" | "EdDSA"

/**
 * @since 0.1.0
 * @category models
 */
export const algorithms: ReadonlyArray<Algorithm> = internal.algorithms

/**
 * The private key: a Node.js `KeyObject`, a Web Crypto `CryptoKey` (a private signing key; since 0.2.0),
 * or a `Redacted` PEM (PKCS#8, PKCS#1 or SEC1; not encrypted), JWK object or JWK JSON string. Plain
 * strings and objects are refused, so that the key never shows in `String`, `JSON.stringify` or
 * `util.inspect` of the options. A PEM or JWK is imported with Web Crypto: no Node.js builtin is needed.
 *
 * @since 0.1.0
 * @category models
 */
export type Key = KeyObject | CryptoKey | Redacted.Redacted<string | JWK>

/**
 * The assertion options (`ClientCredentials.Options.clientAssertion`).
 *
 * @since 0.1.0
 * @category models
 */
export interface Options {
  /** The private key; required by `private_key_jwt`, unused by `client_secret_jwt`. */
  readonly key?: Key | undefined
  /**
   * The signing algorithm. Default: the JWK's `alg`, else the key type's usual one (P-256 → ES256,
   * RSA → RS256, RSA-PSS → PS256, Ed25519 → EdDSA).
   */
  readonly alg?: Algorithm | undefined
  /** The `kid` header, naming the key in the client's JWKS. Default: the JWK's `kid`, if any. */
  readonly kid?: string | undefined
  /**
   * More JOSE header parameters, such as Microsoft Entra ID's `x5t#S256` (the base64url SHA-256
   * thumbprint of the certificate registered for the client). They cannot replace `alg`, `kid` or `typ`.
   */
  readonly header?: Readonly<Record<string, string>> | undefined
  /** How long an assertion is valid (`exp - iat`). Default: 60 seconds. */
  readonly lifetime?: Duration.DurationInput | undefined
  /**
   * The `aud` claim: `"issuer"` (the configured issuer), `"token_endpoint"` (the token endpoint URL,
   * which Okta requires, and the audience before RFC 7523bis), or any other string as it is. Default:
   * the issuer when `issuer` is configured (RFC 7523bis: the issuer identifier is the audience), else
   * the token endpoint URL (no issuer is known).
   */
  readonly audience?: "issuer" | "token_endpoint" | (string & {}) | undefined
  /**
   * A pre-made assertion instead of one we sign: run on every token request, its JWT is sent as
   * `client_assertion` (type `urn:ietf:params:oauth:client-assertion-type:jwt-bearer`) with `private_key_jwt`,
   * and no secret is sent. Workload identity federation gives such JWTs in a file that is rotated while the
   * process runs: a Kubernetes projected service account token, Azure workload identity
   * (`AZURE_FEDERATED_TOKEN_FILE`), a CI OIDC token. `@oauth-cc/node-adapter` reads it from
   * `OAUTH_CLIENT_ASSERTION_FILE`. Exclusive with `key`; `alg`, `kid`, `header`, `lifetime` and `audience`
   * do not apply. A failure should be a `TokenCredentialUnavailable`.
   *
   * @since 0.2.0
   */
  readonly source?: Effect.Effect<Redacted.Redacted<string>, TokenError.TokenError> | undefined
}

/**
 * The JOSE header `typ` of the assertions oauth-cc signs.
 *
 * @see https://datatracker.ietf.org/doc/draft-ietf-oauth-rfc7523bis/
 * @since 0.2.0
 * @category constants
 */
export const assertionTyp: "client-authentication+jwt" = internal.assertionTyp

/**
 * The `client_assertion_type` of a JWT assertion.
 *
 * @see https://www.rfc-editor.org/rfc/rfc7523#section-2.2
 * @since 0.1.0
 * @category constants
 */
export const assertionType: "urn:ietf:params:oauth:client-assertion-type:jwt-bearer" = internal.assertionType
