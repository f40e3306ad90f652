import * as Either from "effect/Either"
import * as Redacted from "effect/Redacted"
import type { CryptoKey, JWK, KeyObject } from "jose"
import { importJWK, importPKCS8 } from "jose"
import type * as ClientAssertion from "../ClientAssertion.js"

const tagOf = (u: unknown): string | undefined =>
  typeof u === "object" && u !== null ? (u as { [Symbol.toStringTag]?: string })[Symbol.toStringTag] : undefined

/** @internal */
export const isKeyObject = (u: unknown): u is KeyObject & NodeKeyObject => tagOf(u) === "KeyObject"

/** @internal */
export const isCryptoKey = (u: unknown): u is CryptoKey & WebCryptoKey => tagOf(u) === "CryptoKey"

/** The members of a Node.js `KeyObject` read here (no `node:crypto` import: core runs on Web platforms). */
interface NodeKeyObject {
  readonly type: string
  readonly asymmetricKeyType?: string | undefined
  readonly asymmetricKeyDetails?: { readonly modulusLength?: number; readonly namedCurve?: string } | undefined
}

/** The members of a Web Crypto `CryptoKey` read here. */
interface WebCryptoKey {
  readonly type: string
  readonly algorithm: { readonly name: string; readonly namedCurve?: string; readonly modulusLength?: number }
}

/**
 * A private key, read without Node's crypto: what kind it is (to choose and check the algorithm), and how to get
 * what jose signs with (the `KeyObject` or `CryptoKey` as given; a PEM or JWK imported through Web Crypto).
 *
 * @internal
 */
export interface PrivateKey {
  /** `ec`, `rsa`, `rsa-pss`, `ed25519`, or another key type (refused by `algorithmFor`). */
  readonly type: string
  readonly namedCurve?: string | undefined
  readonly modulusLength?: number | undefined
  /** For a `CryptoKey`: the one algorithm it was imported for. */
  readonly only?: ClientAssertion.Algorithm | undefined
  readonly signingKey: (alg: ClientAssertion.Algorithm) => Promise<KeyObject | CryptoKey>
}

const curveNames: Readonly<Record<string, string>> = {
  "1.2.840.10045.3.1.7": "P-256",
  "1.3.132.0.34": "P-384",
  "1.3.132.0.35": "P-521",
  "1.3.132.0.10": "secp256k1",
  prime256v1: "P-256",
  secp384r1: "P-384",
  secp521r1: "P-521"
}

const keyTypes: Readonly<Record<string, string>> = {
  "1.2.840.113549.1.1.1": "rsa",
  "1.2.840.113549.1.1.10": "rsa-pss",
  "1.2.840.10045.2.1": "ec",
  "1.3.101.112": "ed25519",
  "1.3.101.110": "x25519",
  "1.3.101.111": "x448",
  "1.3.101.113": "ed448"
}

interface Der {
  readonly tag: number
  readonly start: number
  readonly end: number
}

const malformed = "is not DER"

const readDer = (bytes: Uint8Array, offset: number): Der => {
  const tag = bytes[offset]
  let length = bytes[offset + 1]
  let start = offset + 2
  if (tag === undefined || length === undefined) throw new Error(malformed)
  if (length & 0x80) {
    const count = length & 0x7f
    if (count === 0 || count > 3) throw new Error(malformed)
    length = 0
    for (let i = 0; i < count; i++) length = length * 256 + (bytes[start++] ?? Number.NaN)
  }
  if (!(start + length <= bytes.length)) throw new Error(malformed)
  return { tag, start, end: start + length }
}

const childrenOf = (bytes: Uint8Array, node: Der): Array<Der> => {
  const children: Array<Der> = []
  for (let at = node.start; at < node.end;) {
    const child = readDer(bytes, at)
    if (child.end > node.end) throw new Error(malformed)
    children.push(child)
    at = child.end
  }
  return children
}

const expect = (node: Der | undefined, tag: number): Der => {
  if (node === undefined || node.tag !== tag) throw new Error(malformed)
  return node
}

const oidOf = (bytes: Uint8Array, node: Der): string => {
  const parts: Array<number> = []
  let value = 0
  for (let i = node.start; i < node.end; i++) {
    value = value * 128 + (bytes[i]! & 0x7f)
    if ((bytes[i]! & 0x80) === 0) {
      if (parts.length === 0) parts.push(value < 80 ? Math.floor(value / 40) : 2, value < 80 ? value % 40 : value - 80)
      else parts.push(value)
      value = 0
    }
  }
  return parts.join(".")
}

/** The bit length of a DER INTEGER (an RSA modulus). */
const bitLength = (bytes: Uint8Array, node: Der): number => {
  let i = node.start
  while (i < node.end && bytes[i] === 0) i++
  return i === node.end ? 0 : (node.end - i - 1) * 8 + (32 - Math.clz32(bytes[i]!))
}

const sequence = 0x30
const integer = 0x02
const octetString = 0x04
const objectId = 0x06

const derLength = (length: number): Array<number> =>
  length < 0x80 ? [length] : length < 0x100 ? [0x81, length] : length < 0x10000 ?
    [0x82, length >> 8, length & 0xff] :
    [0x83, length >> 16, (length >> 8) & 0xff, length & 0xff]

const der = (tag: number, ...contents: ReadonlyArray<Uint8Array>): Uint8Array => {
  const size = contents.reduce((sum, part) => sum + part.length, 0)
  const out = new Uint8Array([tag, ...derLength(size)].length + size)
  out.set([tag, ...derLength(size)])
  let at = out.length - size
  for (const part of contents) {
    out.set(part, at)
    at += part.length
  }
  return out
}

/** AlgorithmIdentifiers of PKCS#8 (RFC 5958) for keys given as PKCS#1 (RSA) or SEC1 (EC P-256). */
const rsaEncryption = Uint8Array.of(0x30, 0x0d, 0x06, 0x09, 0x2a, 0x86, 0x48, 0x86, 0xf7, 0x0d, 0x01, 0x01, 0x01, 5, 0)
const ecP256 = Uint8Array.of(
  0x30,
  0x13,
  0x06,
  0x07,
  0x2a,
  0x86,
  0x48,
  0xce,
  0x3d,
  0x02,
  0x01,
  0x06,
  0x08,
  0x2a,
  0x86,
  0x48,
  0xce,
  0x3d,
  0x03,
  0x01,
  0x07
)

const pkcs8 = (algorithm: Uint8Array, privateKey: Uint8Array): Uint8Array =>
  der(sequence, Uint8Array.of(integer, 1, 0), algorithm, der(octetString, privateKey))

const toBase64 = (bytes: Uint8Array): string => {
  let binary = ""
  for (const byte of bytes) binary += String.fromCharCode(byte)
  return btoa(binary)
}

const toPem = (bytes: Uint8Array): string =>
  `-----BEGIN PRIVATE KEY-----\n${toBase64(bytes).replace(/.{64}/g, "$&\n")}\n-----END PRIVATE KEY-----`

const fromBase64 = (text: string): Uint8Array => Uint8Array.from(atob(text), (c) => c.charCodeAt(0))

const base64UrlBytes = (text: unknown): number =>
  typeof text === "string" ? Math.floor(text.replace(/=+$/, "").length * 3 / 4) : 0

/** Imports on first use, once per algorithm (a failure is kept: the same key fails the same way). */
const importing = (load: (alg: ClientAssertion.Algorithm) => Promise<CryptoKey>) => {
  const cache = new Map<ClientAssertion.Algorithm, Promise<CryptoKey>>()
  return (alg: ClientAssertion.Algorithm): Promise<CryptoKey> => {
    let key = cache.get(alg)
    if (key === undefined) {
      key = load(alg)
      cache.set(alg, key)
    }
    return key
  }
}

/** A PKCS#8, PKCS#1 (RSA) or SEC1 (EC) PEM, read as DER; throws on anything else. */
const readPem = (text: string): PrivateKey => {
  const match = /^-----BEGIN (PRIVATE KEY|RSA PRIVATE KEY|EC PRIVATE KEY)-----([\s\S]*?)-----END \1-----\s*$/.exec(text)
  if (match === null) throw new Error("is not a PKCS#8, PKCS#1 or SEC1 PEM")
  const bytes = fromBase64(match[2]!.replace(/\s+/g, ""))
  const top = readDer(bytes, 0)
  if (top.end !== bytes.length) throw new Error(malformed)
  const fields = childrenOf(bytes, expect(top, sequence))
  let info: Uint8Array
  let type: string
  let namedCurve: string | undefined
  let modulusLength: number | undefined
  if (match[1] === "RSA PRIVATE KEY") {
    type = "rsa"
    modulusLength = bitLength(bytes, expect(fields[1], integer))
    info = pkcs8(rsaEncryption, bytes)
  } else if (match[1] === "EC PRIVATE KEY") {
    type = "ec"
    expect(fields[1], octetString)
    const parameters = fields.find((field) => field.tag === 0xa0)
    const curve = parameters && oidOf(bytes, expect(childrenOf(bytes, parameters)[0], objectId))
    namedCurve = curve === undefined ? undefined : curveNames[curve] ?? curve
    info = pkcs8(ecP256, bytes)
  } else {
    expect(fields[0], integer)
    const algorithm = childrenOf(bytes, expect(fields[1], sequence))
    const oid = oidOf(bytes, expect(algorithm[0], objectId))
    const inner = expect(fields[2], octetString)
    type = keyTypes[oid] ?? oid
    if (type === "ec") {
      const curve = oidOf(bytes, expect(algorithm[1], objectId))
      namedCurve = curveNames[curve] ?? curve
    }
    if (type === "rsa" || type === "rsa-pss") {
      const rsa = childrenOf(bytes, expect(readDer(bytes, inner.start), sequence))
      modulusLength = bitLength(bytes, expect(rsa[1], integer))
    }
    info = bytes
  }
  const pem = toPem(info)
  return { type, namedCurve, modulusLength, signingKey: importing((alg) => importPKCS8(pem, alg)) }
}

/**
 * A key member (`alg`, `kty`, `crv`) as an error message may show it: the short names those members have, else
 * a placeholder. A value of any other shape may be key material pasted in the wrong member.
 */
const shown = (value: unknown): string =>
  typeof value === "string" && /^[A-Za-z0-9+-]{1,16}$/.test(value) ? value : "an unrecognised value"

const readJwk = (jwk: JWK): PrivateKey => {
  const signingKey = importing((alg) => importJWK({ ...jwk, alg }, alg) as Promise<CryptoKey>)
  switch (jwk.kty) {
    case "EC":
      return { type: "ec", namedCurve: jwk.crv, signingKey }
    case "RSA":
      return { type: "rsa", modulusLength: base64UrlBytes(jwk.n) * 8, signingKey }
    case "OKP":
      return { type: jwk.crv === "Ed25519" ? "ed25519" : String(jwk.crv), signingKey }
    default:
      return { type: String(jwk.kty), signingKey }
  }
}

const webCryptoKey = (key: WebCryptoKey): Omit<PrivateKey, "signingKey"> => {
  const { modulusLength, name, namedCurve } = key.algorithm
  switch (name) {
    case "ECDSA":
      return { type: "ec", namedCurve, only: "ES256" }
    case "RSASSA-PKCS1-v1_5":
      return { type: "rsa", modulusLength, only: "RS256" }
    case "RSA-PSS":
      return { type: "rsa-pss", modulusLength, only: "PS256" }
    case "Ed25519":
      return { type: "ed25519", only: "EdDSA" }
    default:
      return { type: name }
  }
}

/** The error's code, if it has one, for a message that holds no key material. @internal */
export const describe = (error: unknown): string => {
  const code = (error as { code?: unknown } | null)?.code
  return typeof code === "string" ? ` (${code})` : ""
}

/**
 * Reads the configured key: a `KeyObject` (Node) or `CryptoKey` (Web Crypto), or a `Redacted` PEM (PKCS#8,
 * PKCS#1 or SEC1), JWK object or JWK JSON string. Only its structure is read here (synchronously, with no Node
 * builtin); Web Crypto imports it when the first assertion is signed. The message of a failure never holds key
 * material.
 *
 * @internal
 */
export const readKey = (key: unknown): Either.Either<PrivateKey, string> => {
  if (isKeyObject(key)) {
    if (key.type !== "private") return Either.left("must be a private key, not a public or secret one")
    const details = key.asymmetricKeyDetails ?? {}
    return Either.right({
      type: String(key.asymmetricKeyType),
      namedCurve: details.namedCurve === undefined ? undefined : curveNames[details.namedCurve] ?? details.namedCurve,
      modulusLength: details.modulusLength,
      signingKey: () => Promise.resolve(key)
    })
  }
  if (isCryptoKey(key)) {
    if (key.type !== "private") return Either.left("must be a private key, not a public or secret one")
    return Either.right({ ...webCryptoKey(key), signingKey: () => Promise.resolve(key) })
  }
  if (!Redacted.isRedacted(key)) {
    return Either.left(
      "must be a KeyObject, a CryptoKey or Redacted (a PEM string or a JWK), so that it never shows in logs"
    )
  }
  const value: unknown = Redacted.value(key)
  try {
    if (typeof value === "string") {
      const text = value.trim()
      if (text.startsWith("{")) return readKey(Redacted.make(JSON.parse(text) as JWK))
      if (!text.startsWith("-----BEGIN")) return Either.left("is neither a PEM private key nor a JWK")
      if (text.startsWith("-----BEGIN ENCRYPTED")) return Either.left("is an encrypted PEM; decrypt it first")
      return Either.right(readPem(text))
    }
    if (typeof value === "object" && value !== null) {
      if (!("d" in value)) return Either.left("is a public JWK; a private one (with \"d\") is needed")
      return Either.right(readJwk(value as JWK))
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
  key: PrivateKey,
  requested: string | undefined
): Either.Either<ClientAssertion.Algorithm, string> => {
  const type = key.type
  let fits: ReadonlyArray<ClientAssertion.Algorithm>
  switch (type) {
    case "ec":
      if (key.namedCurve !== "P-256") return Either.left(`is an EC key on ${shown(key.namedCurve)}; ES256 needs P-256`)
      fits = ["ES256"]
      break
    case "rsa":
    case "rsa-pss":
      if ((key.modulusLength ?? 0) < 2048) return Either.left("is an RSA key under 2048 bits")
      fits = type === "rsa" ? ["RS256", "PS256"] : ["PS256"]
      break
    case "ed25519":
      fits = ["EdDSA"]
      break
    default:
      return Either.left(`is a key of type ${shown(type)}; use P-256, RSA (2048 bits or more) or Ed25519`)
  }
  if (key.only !== undefined) fits = fits.filter((alg) => alg === key.only)
  if (requested === undefined) return Either.right(fits[0]!)
  return fits.includes(requested as ClientAssertion.Algorithm)
    ? Either.right(requested as ClientAssertion.Algorithm)
    : Either.left(`the algorithm ${shown(requested)} does not fit a key of type ${type} (use ${fits.join(" or ")})`)
}
