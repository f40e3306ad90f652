import * as Effect from "effect/Effect"
import * as Either from "effect/Either"
import * as Redacted from "effect/Redacted"
import {
  compactVerify,
  type CryptoKey,
  exportJWK,
  importJWK,
  importPKCS8,
  type JWK,
  type KeyObject,
  SignJWT
} from "jose"
import * as DPoP from "../DPoP.js"

/** @internal */
export const algorithms: ReadonlyArray<DPoP.Algorithm> = ["ES256", "EdDSA", "RS256", "PS256"]

const isAlgorithm = (u: unknown): u is DPoP.Algorithm => algorithms.includes(u as DPoP.Algorithm)

const tagOf = (u: unknown): unknown =>
  typeof u === "object" && u !== null ? (u as { [Symbol.toStringTag]?: unknown })[Symbol.toStringTag] : undefined

const isKeyObject = (u: unknown): u is KeyObject => tagOf(u) === "KeyObject"

const isCryptoKey = (u: unknown): u is CryptoKey => tagOf(u) === "CryptoKey"

const isKeyPair = (u: unknown): u is DPoP.KeyPair =>
  typeof u === "object" && u !== null && isCryptoKey((u as DPoP.KeyPair).privateKey) &&
  isCryptoKey((u as DPoP.KeyPair).publicKey)

/** @internal */
export const keyError = (reason: DPoP.DPoPKeyError["reason"], detail: string) =>
  new DPoP.DPoPKeyError({ reason, detail })

/** The members of a public JWK (RFC 7518 §6), per key type: nothing private is ever copied. */
const publicMembers: Readonly<Record<string, ReadonlyArray<string>>> = {
  EC: ["kty", "crv", "x", "y"],
  OKP: ["kty", "crv", "x"],
  RSA: ["kty", "n", "e"]
}

const privateMembers: Readonly<Record<string, ReadonlyArray<string>>> = {
  EC: ["d"],
  OKP: ["d"],
  RSA: ["d", "p", "q", "dp", "dq", "qi"]
}

const pick = (jwk: Record<string, unknown>, members: ReadonlyArray<string>): JWK =>
  Object.fromEntries(members.filter((name) => typeof jwk[name] === "string").map((name) => [name, jwk[name]])) as JWK

/** A short, printable name for a value read from a key (a curve name), never longer than 16 characters. */
const printable = (u: unknown): string =>
  typeof u === "string" && /^[A-Za-z0-9-]{1,16}$/.test(u) ? u : "an unknown kind"

const modulusBits = (n: string): number => Math.floor(n.replace(/=+$/, "").length * 6 / 8) * 8

/** The algorithms that fit a JWK, or why none does. */
const fitting = (jwk: Record<string, unknown>): Either.Either<ReadonlyArray<DPoP.Algorithm>, DPoP.DPoPKeyError> => {
  switch (jwk.kty) {
    case "EC":
      return jwk.crv === "P-256" ? Either.right(["ES256"]) : Either.left(
        keyError("UnsupportedKey", `is an EC key on ${printable(jwk.crv)}; ES256 needs P-256`)
      )
    case "OKP":
      return jwk.crv === "Ed25519" ? Either.right(["EdDSA"]) : Either.left(
        keyError("UnsupportedKey", `is an OKP key on ${printable(jwk.crv)}; EdDSA needs Ed25519`)
      )
    case "RSA":
      return typeof jwk.n === "string" && modulusBits(jwk.n) >= 2048
        ? Either.right(["RS256", "PS256"])
        : Either.left(keyError("UnsupportedKey", "is an RSA key under 2048 bits"))
    case "oct":
      return Either.left(keyError("UnsupportedKey", "is a symmetric key; DPoP needs a private asymmetric key"))
    default:
      return Either.left(keyError("UnsupportedKey", "is not a P-256, Ed25519 or RSA key"))
  }
}

/**
 * The algorithm for a key: the requested one (checked against the key), else the JWK's `alg`, else the
 * key type's usual one (P-256 → ES256, Ed25519 → EdDSA, RSA → RS256), as for client assertions.
 */
const choose = (
  fits: ReadonlyArray<DPoP.Algorithm>,
  requested: unknown,
  jwkAlg: unknown
): Either.Either<DPoP.Algorithm, DPoP.DPoPKeyError> => {
  const wanted = requested ?? (jwkAlg === "Ed25519" ? "EdDSA" : jwkAlg)
  if (wanted === undefined) return Either.right(fits[0]!)
  if (!isAlgorithm(wanted)) {
    return Either.left(
      keyError("UnsupportedAlgorithm", `${printable(wanted)} is not one of ${algorithms.join(", ")}`)
    )
  }
  return fits.includes(wanted)
    ? Either.right(wanted)
    : Either.left(keyError("AlgorithmMismatch", `${wanted} does not fit the key (use ${fits.join(" or ")})`))
}

/** The key settled: its algorithm, its public JWK, and what jose signs with. @internal */
export interface Resolved {
  readonly signingKey: CryptoKey
  readonly alg: DPoP.Algorithm
  readonly publicJwk: JWK
}

const errorName = (error: unknown): string => {
  const code = (error as { code?: unknown } | null)?.code ?? (error as { name?: unknown } | null)?.name
  return typeof code === "string" && /^[A-Za-z0-9_]{1,40}$/.test(code) ? ` (${code})` : ""
}

const fromJwk = (jwk: Record<string, unknown>, requested: unknown): Effect.Effect<Resolved, DPoP.DPoPKeyError> =>
  Effect.gen(function*() {
    const fits = yield* fitting(jwk)
    const alg = yield* choose(fits, requested, jwk.alg)
    const kty = jwk.kty as string
    if (typeof jwk.d !== "string") {
      return yield* keyError("InvalidKey", "is a public JWK; a private one (with \"d\") is needed")
    }
    const privateJwk = { ...pick(jwk, [...publicMembers[kty]!, ...privateMembers[kty]!]), ext: false }
    const signingKey = yield* Effect.tryPromise({
      try: () => importJWK(privateJwk, alg) as Promise<CryptoKey>,
      catch: (error) => keyError("InvalidKey", `cannot be imported as a private JWK${errorName(error)}`)
    })
    return { signingKey, alg, publicJwk: pick(jwk, publicMembers[kty]!) }
  })

const cryptoKeyAlgorithm = (key: CryptoKey): Either.Either<DPoP.Algorithm, DPoP.DPoPKeyError> => {
  const algorithm = key.algorithm as { name: string; namedCurve?: string; hash?: { name?: string } }
  const sha256 = algorithm.hash?.name === "SHA-256"
  switch (algorithm.name) {
    case "ECDSA":
      if (algorithm.namedCurve === "P-256") return Either.right("ES256")
      break
    case "Ed25519":
      return Either.right("EdDSA")
    case "RSASSA-PKCS1-v1_5":
      if (sha256) return Either.right("RS256")
      break
    case "RSA-PSS":
      if (sha256) return Either.right("PS256")
      break
  }
  return Either.left(
    keyError("UnsupportedKey", "is a CryptoKey for none of ES256 (P-256), EdDSA (Ed25519), RS256 or PS256 (SHA-256)")
  )
}

const fromCryptoKey = (
  key: CryptoKey,
  publicKey: CryptoKey | undefined,
  requested: unknown
): Effect.Effect<Resolved, DPoP.DPoPKeyError> =>
  Effect.gen(function*() {
    if (key.type !== "private" || !key.usages.includes("sign")) {
      return yield* keyError("InvalidKey", "must be a private CryptoKey usable to sign")
    }
    const own = yield* cryptoKeyAlgorithm(key)
    if (requested !== undefined && !isAlgorithm(requested)) {
      return yield* keyError("UnsupportedAlgorithm", `${printable(requested)} is not one of ${algorithms.join(", ")}`)
    }
    if (requested !== undefined && requested !== own) {
      return yield* keyError("AlgorithmMismatch", `${requested} does not fit a CryptoKey made for ${own}`)
    }
    const source = publicKey ?? (key.extractable ? key : undefined)
    if (source === undefined) {
      return yield* keyError(
        "InvalidKey",
        "is a non-extractable CryptoKey; give the CryptoKeyPair so that the public key can be read"
      )
    }
    const exported = yield* Effect.tryPromise({
      try: () => exportJWK(source),
      catch: (error) => keyError("InvalidKey", `cannot export the public key${errorName(error)}`)
    })
    yield* fitting(exported)
    return { signingKey: key, alg: own, publicJwk: pick(exported, publicMembers[exported.kty as string]!) }
  })

const pkcs8Candidates: ReadonlyArray<DPoP.Algorithm> = ["ES256", "EdDSA", "RS256"]

const fromPem = (pem: string, requested: unknown): Effect.Effect<Resolved, DPoP.DPoPKeyError> =>
  Effect.gen(function*() {
    if (pem.startsWith("-----BEGIN ENCRYPTED")) {
      return yield* keyError("InvalidKey", "is an encrypted PEM; decrypt it first")
    }
    if (pem.startsWith("-----BEGIN RSA PRIVATE KEY") || pem.startsWith("-----BEGIN EC PRIVATE KEY")) {
      return yield* keyError(
        "InvalidKey",
        "is a PKCS#1 or SEC1 PEM, which Web Crypto cannot read; convert it to PKCS#8 (openssl pkcs8 -topk8 -nocrypt)"
      )
    }
    if (!pem.startsWith("-----BEGIN PRIVATE KEY")) {
      return yield* keyError("InvalidKey", "is neither a PKCS#8 PEM private key nor a JWK")
    }
    for (const alg of pkcs8Candidates) {
      const jwk = yield* Effect.promise(() =>
        importPKCS8(pem, alg, { extractable: true }).then(exportJWK).catch(() => undefined)
      )
      if (jwk !== undefined) return yield* fromJwk(jwk, requested)
    }
    return yield* keyError("InvalidKey", "cannot be read as a PKCS#8 P-256, Ed25519 or RSA private key")
  })

/** @internal */
export const resolve = (key: unknown, requested: unknown): Effect.Effect<Resolved, DPoP.DPoPKeyError> =>
  Effect.suspend(() => {
    if (isKeyObject(key)) {
      if (key.type !== "private") return keyError("InvalidKey", "must be a private key, not a public or secret one")
      return Effect.tryPromise({
        try: () => exportJWK(key),
        catch: (error) => keyError("UnsupportedKey", `is a KeyObject that cannot be read as a JWK${errorName(error)}`)
      }).pipe(Effect.flatMap((jwk) => fromJwk(jwk, requested)))
    }
    if (isCryptoKey(key)) return fromCryptoKey(key, undefined, requested)
    if (isKeyPair(key)) return fromCryptoKey(key.privateKey, key.publicKey, requested)
    if (!Redacted.isRedacted(key)) {
      return keyError(
        "InvalidKey",
        "must be a KeyObject, a CryptoKey or Redacted (a PEM string or a JWK), so that it never shows in logs"
      )
    }
    const value: unknown = Redacted.value(key)
    if (typeof value === "string") {
      const text = value.trim()
      if (!text.startsWith("{")) return fromPem(text, requested)
      return Effect.try({
        try: () => JSON.parse(text) as unknown,
        catch: () => keyError("InvalidKey", "is neither a PEM private key nor a JWK (invalid JSON)")
      }).pipe(Effect.flatMap((jwk) =>
        typeof jwk === "object" && jwk !== null && !Array.isArray(jwk)
          ? fromJwk(jwk as Record<string, unknown>, requested)
          : keyError("InvalidKey", "is JSON but not a JWK object")
      ))
    }
    if (typeof value === "object" && value !== null && !Array.isArray(value)) {
      return fromJwk(value as Record<string, unknown>, requested)
    }
    return keyError("InvalidKey", "is neither a PEM private key nor a JWK")
  })

/** Signs once and verifies with the public JWK, so that a private key that does not match its public part fails here. */
export const selfCheck = (resolved: Resolved): Effect.Effect<void, DPoP.DPoPKeyError> =>
  Effect.tryPromise({
    try: async () => {
      const jws = await new SignJWT({}).setProtectedHeader({ alg: resolved.alg }).sign(resolved.signingKey)
      await compactVerify(jws, await importJWK(resolved.publicJwk, resolved.alg))
    },
    catch: () => keyError("InvalidKey", "does not sign verifiably: its private and public parts do not match")
  })
