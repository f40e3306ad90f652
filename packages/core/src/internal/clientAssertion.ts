import * as Clock from "effect/Clock"
import * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import { SignJWT } from "jose"
import type * as ClientAssertion from "../ClientAssertion.js"
import type { ClientAuth, Target } from "./clientAuth.js"
import { describe, type PrivateKey } from "./privateKey.js"

/** @internal */
export const assertionType = "urn:ietf:params:oauth:client-assertion-type:jwt-bearer"

/**
 * The JOSE `typ` of the assertions we sign (draft-ietf-oauth-rfc7523bis): it tells a server's JWT validation that
 * this token is a client authentication assertion, so no other JWT the client signs can be replayed as one.
 *
 * @internal
 */
export const assertionTyp = "client-authentication+jwt"

/** @internal */
export const algorithms: ReadonlyArray<ClientAssertion.Algorithm> = ["ES256", "RS256", "PS256", "EdDSA"]

/** What is signed, and with what. @internal */
export interface Signer {
  readonly key: PrivateKey | Uint8Array
  readonly alg: ClientAssertion.Algorithm | "HS256"
  readonly kid: string | undefined
  readonly header: Readonly<Record<string, string>>
  readonly lifetimeSeconds: number
}

const reservedHeader = new Set(["alg", "kid", "typ", "crit", "b64"])

/**
 * A client assertion (RFC 7523 §3, OIDC Core §9, draft-ietf-oauth-rfc7523bis): `iss` = `sub` = the client id,
 * `aud`, `iat` and `nbf` now (from `Clock`), `exp` after the lifetime, a fresh random `jti`, and the JOSE header
 * `typ: client-authentication+jwt`.
 *
 * @internal
 */
export const sign = (signer: Signer, clientId: string, audience: string): Effect.Effect<string> =>
  Effect.flatMap(Clock.currentTimeMillis, (now) => {
    const iat = Math.floor(now / 1000)
    const header = Object.fromEntries(Object.entries(signer.header).filter(([name]) => !reservedHeader.has(name)))
    const jwt = new SignJWT({ jti: crypto.randomUUID() })
      .setProtectedHeader({
        ...header,
        alg: signer.alg,
        typ: assertionTyp,
        ...(signer.kid === undefined ? {} : { kid: signer.kid })
      })
      .setIssuer(clientId)
      .setSubject(clientId)
      .setAudience(audience)
      .setIssuedAt(iat)
      .setNotBefore(iat)
      .setExpirationTime(iat + signer.lifetimeSeconds)
    const key = signer.key
    // The key's structure was checked against the algorithm when the options were validated; Web Crypto refusing
    // it here (a PEM or JWK whose numbers do not form a key) is a defect whose message names no key material.
    return Effect.tryPromise({
      try: async () =>
        jwt.sign(key instanceof Uint8Array ? key : await key.signingKey(signer.alg as ClientAssertion.Algorithm)),
      catch: (error) =>
        new Error(`clientAssertion.key cannot sign ${signer.alg}${describe(error)}: ${(error as Error)?.name}`)
    }).pipe(Effect.orDie)
  })

/** @internal */
export const lifetimeSeconds = (lifetime: Duration.DurationInput | undefined): number =>
  Math.max(1, Math.round(Duration.toSeconds(Duration.decode(lifetime ?? "60 seconds"))))

/**
 * The `aud` of a client assertion (`ClientAssertion.Options.audience`): `"token_endpoint"` the token endpoint URL;
 * `"issuer"` or unset the issuer when it is known (configured, and checked against the discovered metadata),
 * else the token endpoint URL; any other string as it is. RFC 7523bis makes the issuer the one audience: an
 * assertion whose `aud` is an endpoint URL can be redirected to another server that lists that URL.
 *
 * @internal
 */
export const audienceFor = (audience: string | undefined, target: Target): string => {
  if (audience === "token_endpoint") return target.tokenUrl.href
  if (audience === "issuer" || audience === undefined) return target.issuer ?? target.tokenUrl.href
  return audience
}

/**
 * The client authentication of the JWT methods (RFC 7523 §2.2): `client_id`, `client_assertion_type` and a
 * freshly signed `client_assertion`; nothing in the headers.
 *
 * @internal
 */
export const assertionAuth = (
  method: "client_secret_jwt" | "private_key_jwt",
  clientId: string,
  signer: Signer,
  audience: string | undefined
): ClientAuth => ({
  method,
  credentials: (target) =>
    Effect.map(sign(signer, clientId, audienceFor(audience, target)), (assertion) => ({
      form: [["client_id", clientId], ["client_assertion_type", assertionType], ["client_assertion", assertion]],
      headers: {}
    }))
})
