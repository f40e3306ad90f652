import type * as Effect from "effect/Effect"
import type * as ClientAssertion from "../ClientAssertion.js"
import type * as ClientCredentials from "../ClientCredentials.js"
import type * as TokenError from "../TokenError.js"
import * as AssertionSource from "./assertionSource.js"
import * as ClientSecretBasic from "./clientSecretBasic.js"
import * as ClientSecretJwt from "./clientSecretJwt.js"
import * as ClientSecretPost from "./clientSecretPost.js"
import type { CredentialSource } from "./credentialSource.js"
import type { PrivateKey } from "./privateKey.js"
import * as PrivateKeyJwt from "./privateKeyJwt.js"
import * as TlsClientAuth from "./tlsClientAuth.js"

/**
 * Where a token request goes: the token endpoint, and the issuer when it is known (configured or discovered),
 * which a signed assertion names as its audience.
 *
 * @internal
 */
export interface Target {
  readonly tokenUrl: URL
  readonly issuer: string | undefined
}

/**
 * What client authentication adds to a token request: form parameters and headers.
 *
 * @internal
 */
export interface Credentials {
  readonly form: ReadonlyArray<readonly [string, string]>
  readonly headers: Readonly<Record<string, string>>
}

/**
 * A client authentication method as a strategy (oauth4webapi's `ClientAuth`), chosen once: given where the
 * request goes, the credentials it carries. Evaluated once per attempt, so a JWT method signs a fresh
 * assertion each time, and a credential read from a source (a rotated secret, a projected token) may fail
 * with a `TokenError`.
 *
 * @see https://www.rfc-editor.org/rfc/rfc6749#section-2.3
 * @internal
 */
export interface ClientAuth {
  readonly method: ClientCredentials.AuthMethod
  readonly credentials: (target: Target) => Effect.Effect<Credentials, TokenError.TokenError>
  /**
   * For a credential read from a source: reads it again, `true` when it changed since the last request (a
   * rotated secret), so that an `invalid_client` is worth one more request.
   */
  readonly rotated?: Effect.Effect<boolean, TokenError.TokenError> | undefined
}

/** The credentials the options configure, as `resolve` settles them. @internal */
export interface ClientAuthOptions {
  readonly clientId: string
  readonly clientSecret: CredentialSource | undefined
  readonly basicEncoding: "form" | "raw"
  readonly assertion: {
    readonly key: PrivateKey | undefined
    readonly alg: ClientAssertion.Algorithm | undefined
    readonly kid: string | undefined
    readonly header: Readonly<Record<string, string>>
    readonly lifetimeSeconds: number
    readonly audience: string | undefined
    /** A pre-made assertion read on every request (`clientAssertion.source`), sent instead of one we sign. */
    readonly source: CredentialSource | undefined
  }
}

/**
 * The strategy for `method` with the configured credentials; `undefined` when they do not allow it (a secret
 * method without a secret, `private_key_jwt` without a key or an assertion source).
 *
 * @internal
 */
export const clientAuthFor = (
  method: ClientCredentials.AuthMethod,
  options: ClientAuthOptions
): ClientAuth | undefined => {
  const { assertion, clientId, clientSecret } = options
  switch (method) {
    case "client_secret_basic":
      return clientSecret === undefined
        ? undefined
        : ClientSecretBasic.make(clientId, clientSecret, options.basicEncoding)
    case "client_secret_post":
      return clientSecret === undefined ? undefined : ClientSecretPost.make(clientId, clientSecret)
    case "client_secret_jwt":
      return clientSecret === undefined ? undefined : ClientSecretJwt.make(clientId, clientSecret, assertion)
    case "private_key_jwt": {
      if (assertion.source !== undefined) return AssertionSource.make(clientId, assertion.source)
      const { alg, key } = assertion
      return key === undefined || alg === undefined
        ? undefined
        : PrivateKeyJwt.make(clientId, { ...assertion, key, alg })
    }
    case "tls_client_auth":
      return TlsClientAuth.make(clientId)
  }
}
