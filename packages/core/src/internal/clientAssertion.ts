import * as Clock from "effect/Clock"
import * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import * as Either from "effect/Either"
import * as Redacted from "effect/Redacted"
import type { JWK } from "jose"
import { SignJWT } from "jose"
import { createPrivateKey, type KeyObject, randomUUID } from "node:crypto"
import type * as ClientAssertion from "../ClientAssertion.js"

/** @internal */
export const assertionType = "urn:ietf:params:oauth:client-assertion-type:jwt-bearer"

/** @internal */
export const algorithms: ReadonlyArray<ClientAssertion.Algorithm> = ["ES256", "RS256", "PS256", "EdDSA"]

/** @internal */
export const isKeyObject = (u: unknown): u is KeyObject =>
  typeof u === "object" && u !== null && (u as { [Symbol.toStringTag]?: unknown })[Symbol.toStringTag] === "KeyObject"

const describe = (error: unknown): string => {
  const code = (error as { code?: unknown } | null)?.code
  return typeof code === "string" ? ` (${code})` : ""
}

/**
 * Reads the configured key into a private `KeyObject`: a `KeyObject`, or a `Redacted` PEM (PKCS#8,
 * PKCS#1 or SEC1), JWK object or JWK JSON string. The message of a failure never holds key material.
 *
 * @internal
 */
export const toKeyObject = (key: unknown): Either.Either<KeyObject, string> => {
  if (isKeyObject(key)) {
    return key.type === "private" ? Either.right(key) : Either.left("must be a private key, not a public or secret one")
  }
  if (!Redacted.isRedacted(key)) {
    return Either.left("must be a KeyObject or Redacted (a PEM string or a JWK), so that it never shows in logs")
  }
  const value: unknown = Redacted.value(key)
  try {
    if (typeof value === "string") {
      const text = value.trim()
      if (text.startsWith("{")) return toKeyObject(Redacted.make(JSON.parse(text) as JWK))
      if (!text.startsWith("-----BEGIN")) return Either.left("is neither a PEM private key nor a JWK")
      if (text.startsWith("-----BEGIN ENCRYPTED")) return Either.left("is an encrypted PEM; decrypt it first")
      return toKeyObject(createPrivateKey({ key: text, format: "pem" }))
    }
    if (typeof value === "object" && value !== null) {
      if (!("d" in value)) return Either.left("is a public JWK; a private one (with \"d\") is needed")
      return toKeyObject(createPrivateKey({ key: value as JWK as any, format: "jwk" }))
    }
  } catch (error) {
    return Either.left(`cannot be read as a private key${describe(error)}`)
  }
  return Either.left("is neither a PEM private key nor a JWK")
}

/** The `alg` or `kid` of a JWK given as the key, if any. @internal */
export const jwkMember = (key: unknown, member: "alg" | "kid"): string | undefined => {
  if (!Redacted.isRedacted(key)) return undefined
  let value: unknown = Redacted.value(key)
  if (typeof value === "string" && value.trim().startsWith("{")) {
    try {
      value = JSON.parse(value)
    } catch {
      return undefined
    }
  }
  const found = typeof value === "object" && value !== null ? (value as Record<string, unknown>)[member] : undefined
  return typeof found === "string" ? found : undefined
}

/**
 * The signing algorithm for a key: the configured one (checked against the key), else the JWK's
 * `alg`, else the key type's usual one (P-256 → ES256, RSA → RS256, RSA-PSS → PS256, Ed25519 → EdDSA).
 *
 * @internal
 */
export const algorithmFor = (
  key: KeyObject,
  requested: string | undefined
): Either.Either<ClientAssertion.Algorithm, string> => {
  const type = key.asymmetricKeyType
  const details = key.asymmetricKeyDetails ?? {}
  let fits: ReadonlyArray<ClientAssertion.Algorithm>
  switch (type) {
    case "ec":
      if (details.namedCurve !== "prime256v1") {
        return Either.left(`is an EC key on ${details.namedCurve}; ES256 needs P-256`)
      }
      fits = ["ES256"]
      break
    case "rsa":
    case "rsa-pss":
      if ((details.modulusLength ?? 0) < 2048) return Either.left("is an RSA key under 2048 bits")
      fits = type === "rsa" ? ["RS256", "PS256"] : ["PS256"]
      break
    case "ed25519":
      fits = ["EdDSA"]
      break
    default:
      return Either.left(`is a ${type} key; use P-256, RSA (2048 bits or more) or Ed25519`)
  }
  if (requested === undefined) return Either.right(fits[0]!)
  return fits.includes(requested as ClientAssertion.Algorithm)
    ? Either.right(requested as ClientAssertion.Algorithm)
    : Either.left(`${requested} does not fit a ${type} key (use ${fits.join(" or ")})`)
}

/** What is signed, and with what. @internal */
export interface Signer {
  readonly key: KeyObject | Uint8Array
  readonly alg: ClientAssertion.Algorithm | "HS256"
  readonly kid: string | undefined
  readonly header: Readonly<Record<string, string>>
  readonly lifetimeSeconds: number
}

const reservedHeader = new Set(["alg", "kid", "typ", "crit", "b64"])

/**
 * A client assertion (RFC 7523 §3, OIDC Core §9): `iss` = `sub` = the client id, `aud`, `iat` and
 * `nbf` now (from `Clock`), `exp` after the lifetime, and a fresh random `jti`.
 *
 * @internal
 */
export const sign = (signer: Signer, clientId: string, audience: string): Effect.Effect<string> =>
  Effect.flatMap(Clock.currentTimeMillis, (now) => {
    const iat = Math.floor(now / 1000)
    const header = Object.fromEntries(Object.entries(signer.header).filter(([name]) => !reservedHeader.has(name)))
    const jwt = new SignJWT({ jti: randomUUID() })
      .setProtectedHeader({ ...header, alg: signer.alg, ...(signer.kid === undefined ? {} : { kid: signer.kid }) })
      .setIssuer(clientId)
      .setSubject(clientId)
      .setAudience(audience)
      .setIssuedAt(iat)
      .setNotBefore(iat)
      .setExpirationTime(iat + signer.lifetimeSeconds)
    // The key was checked against the algorithm when the options were validated: a failure here is a bug.
    return Effect.promise(() => jwt.sign(signer.key))
  })

/** @internal */
export const lifetimeSeconds = (lifetime: Duration.DurationInput | undefined): number =>
  Math.max(1, Math.round(Duration.toSeconds(Duration.decode(lifetime ?? "60 seconds"))))
