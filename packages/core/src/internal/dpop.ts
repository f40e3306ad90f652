import * as Headers from "@effect/platform/Headers"
import * as HttpClientRequest from "@effect/platform/HttpClientRequest"
import * as UrlParams from "@effect/platform/UrlParams"
import * as Clock from "effect/Clock"
import * as Effect from "effect/Effect"
import * as Either from "effect/Either"
import * as FiberRef from "effect/FiberRef"
import * as Inspectable from "effect/Inspectable"
import * as Option from "effect/Option"
import * as Redacted from "effect/Redacted"
import * as Schema from "effect/Schema"
import {
  base64url,
  calculateJwkThumbprint,
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
export const TypeId: DPoP.TypeId = Symbol.for("@oauth-cc/core/DPoP") as DPoP.TypeId

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

const keyError = (reason: DPoP.DPoPKeyError["reason"], detail: string) => new DPoP.DPoPKeyError({ reason, detail })

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

interface Resolved {
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

const resolve = (key: unknown, requested: unknown): Effect.Effect<Resolved, DPoP.DPoPKeyError> =>
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
const selfCheck = (resolved: Resolved): Effect.Effect<void, DPoP.DPoPKeyError> =>
  Effect.tryPromise({
    try: async () => {
      const jws = await new SignJWT({}).setProtectedHeader({ alg: resolved.alg }).sign(resolved.signingKey)
      await compactVerify(jws, await importJWK(resolved.publicJwk, resolved.alg))
    },
    catch: () => keyError("InvalidKey", "does not sign verifiably: its private and public parts do not match")
  })

/** @internal */
export const jkt = (jwk: JWK): Effect.Effect<string, DPoP.DPoPKeyError> =>
  Effect.tryPromise({
    try: () => calculateJwkThumbprint(jwk, "sha256"),
    catch: () => keyError("InvalidKey", "has no RFC 7638 thumbprint (missing required members)")
  })

const encoder = new TextEncoder()

/** @internal */
export const ath = (accessToken: string | Redacted.Redacted<string>): Effect.Effect<string> =>
  Effect.promise(() =>
    crypto.subtle.digest(
      "SHA-256",
      encoder.encode(Redacted.isRedacted(accessToken) ? Redacted.value(accessToken) : accessToken)
    )
  ).pipe(Effect.map((digest) => base64url.encode(new Uint8Array(digest))))

/** @internal */
export const htu = (url: string | URL): Option.Option<string> => {
  let parsed: URL
  try {
    parsed = new URL(url)
  } catch {
    return Option.none()
  }
  if (parsed.protocol !== "https:" && parsed.protocol !== "http:") return Option.none()
  parsed.search = ""
  parsed.hash = ""
  return Option.some(parsed.href)
}

const methodToken = /^[!#$%&'*+.^_`|~0-9A-Za-z-]+$/

/** RFC 9449 §8: `nonce = 1*NQCHAR`, NQCHAR = %x21 / %x23-5B / %x5D-7E. */
const nqchars = /^[\x21\x23-\x5B\x5D-\x7E]+$/

/** @internal */
export const Nonce = Schema.String.pipe(
  Schema.maxLength(2048),
  Schema.pattern(nqchars),
  Schema.brand("@oauth-cc/core/DPoP/Nonce")
)

const decodeNonce = Schema.decodeUnknownOption(Nonce)

const proofError = (reason: DPoP.DPoPProofError["reason"], detail: string) =>
  new DPoP.DPoPProofError({ reason, detail })

const ProoferProto = {
  ...Inspectable.BaseProto,
  [TypeId]: TypeId,
  toJSON(this: DPoP.Proofer) {
    return { _id: "DPoP.Proofer", alg: this.alg, thumbprint: this.thumbprint }
  }
}

/** @internal */
export const make = (options: DPoP.Options): Effect.Effect<DPoP.Proofer, DPoP.DPoPKeyError> =>
  Effect.gen(function*() {
    if (typeof options !== "object" || options === null) {
      return yield* keyError("InvalidKey", "is missing: the DPoP options need a key")
    }
    const resolved = yield* resolve(options.key, options.alg)
    yield* selfCheck(resolved)
    const thumbprint = yield* jkt(resolved.publicJwk)
    const { alg, publicJwk, signingKey } = resolved
    const header = { typ: "dpop+jwt", alg, jwk: publicJwk }
    const proof = (request: DPoP.ProofRequest): Effect.Effect<Redacted.Redacted<string>, DPoP.DPoPProofError> =>
      Effect.gen(function*() {
        if (typeof request.htm !== "string" || !methodToken.test(request.htm)) {
          return yield* proofError("InvalidMethod", "htm must be an HTTP method token")
        }
        const target = htu(request.htu)
        if (Option.isNone(target)) {
          return yield* proofError("InvalidUrl", "htu must be an absolute http(s) URL")
        }
        if (request.nonce !== undefined && Option.isNone(decodeNonce(request.nonce))) {
          return yield* proofError("InvalidNonce", "the nonce is not 1*NQCHAR (RFC 9449 §8)")
        }
        const now = yield* Clock.currentTimeMillis
        const claims: Record<string, unknown> = {
          jti: crypto.randomUUID(),
          htm: request.htm,
          htu: target.value,
          iat: Math.floor(now / 1000)
        }
        if (request.nonce !== undefined) claims.nonce = request.nonce
        if (request.accessToken !== undefined) claims.ath = yield* ath(request.accessToken)
        // The key was imported and checked against the algorithm by `make`: a failure here is a bug.
        const jws = yield* Effect.promise(() => new SignJWT(claims).setProtectedHeader(header).sign(signingKey))
        return Redacted.make(jws)
      })
    const proofer: DPoP.Proofer = Object.assign(Object.create(ProoferProto), {
      alg,
      publicJwk: Object.freeze({ ...publicJwk }),
      thumbprint,
      proof
    })
    return proofer
  })

/** @internal */
export const isProofer = (u: unknown): u is DPoP.Proofer => typeof u === "object" && u !== null && TypeId in u

/** @internal */
export const nonceFromHeaders = (headers: DPoP.HeaderRecord): Option.Option<DPoP.Nonce> =>
  decodeNonce(headers["dpop-nonce"])

/** @internal */
export const originOf = (url: string | URL): Option.Option<string> => {
  try {
    const origin = new URL(url).origin
    return origin === "null" ? Option.none() : Option.some(origin)
  } catch {
    return Option.none()
  }
}

/** @internal */
export const makeNonceStore = (options?: { readonly capacity?: number | undefined }): DPoP.NonceStore => {
  const capacity = Math.max(1, Math.floor(options?.capacity ?? 256))
  const nonces = new Map<string, DPoP.Nonce>()
  return {
    get: (url) =>
      Effect.sync(() =>
        Option.flatMap(originOf(url), (origin) => {
          const nonce = nonces.get(origin)
          if (nonce === undefined) return Option.none()
          nonces.delete(origin)
          nonces.set(origin, nonce)
          return Option.some(nonce)
        })
      ),
    set: (url, nonce) =>
      Effect.sync(() => {
        if (Option.isNone(decodeNonce(nonce))) return
        Option.map(originOf(url), (origin) => {
          nonces.delete(origin)
          nonces.set(origin, nonce)
          if (nonces.size > capacity) nonces.delete(nonces.keys().next().value!)
        })
      }),
    size: Effect.sync(() => nonces.size)
  }
}

const tokenChar = /[!#$%&'*+.^_`|~0-9A-Za-z-]/
const token68 = /^([A-Za-z0-9\-._~+/]+=*)[ \t]*(?:,|$)/

/**
 * Parses a `WWW-Authenticate` value into its challenges (RFC 9110 §11.6.1): `scheme [ token68 / #auth-param ]`,
 * comma-separated, parameter names lower-cased, values as tokens or quoted strings. A malformed part ends the
 * parse; the challenges read before it are kept. Values over 16 KiB are not parsed.
 *
 * @internal
 */
export const parseChallenges = (value: string): Array<DPoP.Challenge> => {
  const challenges: Array<{ scheme: string; params: Record<string, string>; token68?: string }> = []
  if (value.length > 16_384) return challenges
  let i = 0
  const skip = (chars: string) => {
    while (i < value.length && chars.includes(value[i]!)) i++
  }
  const token = (): string => {
    const start = i
    while (i < value.length && tokenChar.test(value[i]!)) i++
    return value.slice(start, i)
  }
  const quoted = (): string | undefined => {
    let out = ""
    i++
    while (i < value.length) {
      const c = value[i++]!
      if (c === "\"") return out
      out += c === "\\" && i < value.length ? value[i++] : c
    }
    return undefined
  }
  while (i < value.length) {
    skip(" \t,")
    const name = token()
    if (name === "") break
    const current = challenges[challenges.length - 1]
    const afterName = i
    skip(" \t")
    if (current !== undefined && value[i] === "=") {
      i++
      skip(" \t")
      const param = value[i] === "\"" ? quoted() : token()
      if (param === undefined || param === "") break
      current.params[name.toLowerCase()] = param
      continue
    }
    i = afterName
    const challenge: { scheme: string; params: Record<string, string>; token68?: string } = { scheme: name, params: {} }
    challenges.push(challenge)
    skip(" \t")
    const t68 = token68.exec(value.slice(i))
    if (t68 !== null) {
      challenge.token68 = t68[1]!
      i += t68[1]!.length
    }
  }
  return challenges
}

/** @internal */
export const dpopChallenge = (headers: DPoP.HeaderRecord): Option.Option<DPoP.Challenge> => {
  const value = headers["www-authenticate"]
  if (value === undefined) return Option.none()
  return Option.fromNullable(parseChallenges(value).find((c) => c.scheme.toLowerCase() === "dpop"))
}

/** @internal */
export const UseDPoPNonceBody = Schema.Struct({ error: Schema.Literal("use_dpop_nonce") })

const isUseDPoPNonceBody = Schema.is(UseDPoPNonceBody)

/** @internal */
export const tokenEndpointNonce = (
  response: { readonly status: number; readonly headers: DPoP.HeaderRecord },
  body: unknown
): Option.Option<DPoP.Nonce> =>
  response.status === 400 && isUseDPoPNonceBody(body) ? nonceFromHeaders(response.headers) : Option.none()

/** @internal */
export const resourceNonce = (
  response: { readonly status: number; readonly headers: DPoP.HeaderRecord }
): Option.Option<DPoP.Nonce> =>
  response.status === 401 &&
    Option.exists(dpopChallenge(response.headers), (c) => c.params.error === "use_dpop_nonce")
    ? nonceFromHeaders(response.headers)
    : Option.none()

/** @internal */
export const setProof = (
  request: HttpClientRequest.HttpClientRequest,
  options: {
    readonly proofer: DPoP.Proofer
    readonly nonces?: DPoP.NonceStore | undefined
    readonly accessToken?: string | Redacted.Redacted<string> | undefined
  }
): Effect.Effect<HttpClientRequest.HttpClientRequest, DPoP.DPoPProofError> =>
  Effect.gen(function*() {
    const url = UrlParams.makeUrl(request.url, request.urlParams, request.hash)
    if (Either.isLeft(url)) return yield* proofError("InvalidUrl", "htu must be an absolute http(s) URL")
    const nonce = options.nonces === undefined ? Option.none() : yield* options.nonces.get(url.right)
    const proof = yield* options.proofer.proof({
      htm: request.method,
      htu: url.right,
      nonce: Option.getOrUndefined(nonce),
      accessToken: options.accessToken
    })
    return HttpClientRequest.setHeader(request, "dpop", Redacted.value(proof))
  })

/** @internal */
export const withRedactedProofHeader = <A, E, R>(self: Effect.Effect<A, E, R>): Effect.Effect<A, E, R> =>
  Effect.flatMap(
    FiberRef.get(Headers.currentRedactedNames),
    (names) =>
      names.some((name) => typeof name === "string" && name.toLowerCase() === "dpop")
        ? self
        : Effect.locally(self, Headers.currentRedactedNames, [...names, "dpop"])
  )
