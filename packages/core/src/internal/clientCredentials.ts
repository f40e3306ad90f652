import * as ConfigError from "effect/ConfigError"
import * as Duration from "effect/Duration"
import * as Either from "effect/Either"
import * as Redacted from "effect/Redacted"
import type * as ClientAssertion from "../ClientAssertion.js"
import type * as ClientCredentials from "../ClientCredentials.js"
import type * as DPoP from "../DPoP.js"
import { algorithms } from "./clientAssertion.js"
import { algorithmFor, isCryptoKey, jwkMember, type PrivateKey, readKey } from "./privateKey.js"

/** @internal */
export const authMethods: ReadonlyArray<ClientCredentials.AuthMethod> = [
  "client_secret_basic",
  "client_secret_post",
  "client_secret_jwt",
  "private_key_jwt",
  "tls_client_auth"
]

/** @internal */
export const splitList = (input: string | ReadonlyArray<string> | undefined): ReadonlyArray<string> =>
  input === undefined ? [] : typeof input === "string" ? input.split(/\s+/).filter((s) => s.length > 0) : input

/** RFC 6749 §3.3: scope-token = 1*( %x21 / %x23-5B / %x5D-7E ) */
const scopeToken = /^[\x21\x23-\x5b\x5d-\x7e]+$/

/** Parameters the token request sets itself; `extraParams` cannot name them. @internal */
export const reservedParams: ReadonlySet<string> = new Set([
  "grant_type",
  "scope",
  "audience",
  "resource",
  "client_id",
  "client_secret",
  "client_assertion",
  "client_assertion_type"
])

const loopbackHosts = new Set(["localhost", "127.0.0.1", "[::1]", "::1"])

/** @internal */
export const isLoopback = (url: URL): boolean =>
  loopbackHosts.has(url.hostname) || /^127(\.\d{1,3}){3}$/.test(url.hostname)

const invalid = (path: string, message: string) => Either.left(ConfigError.InvalidData([path], message))

/** @internal */
export const validateUrl = (
  path: string,
  input: string | URL,
  allowInsecureHttp: boolean
): Either.Either<URL, ConfigError.ConfigError> => {
  let url: URL
  try {
    url = new URL(input)
  } catch {
    return invalid(path, "is not a valid absolute URL")
  }
  if (url.username !== "" || url.password !== "") {
    return invalid(path, "must not carry credentials; use clientId and clientSecret")
  }
  if (url.hash !== "") return invalid(path, "must not have a fragment")
  if (url.protocol === "https:") return Either.right(url)
  if (url.protocol === "http:") {
    return isLoopback(url) || allowInsecureHttp
      ? Either.right(url)
      : invalid(path, `must use https (http is allowed only on loopback): ${url.host}`)
  }
  return invalid(path, `must use https, not ${url.protocol}`)
}

/** The issuer as configured: compared character for character with the one the server names. @internal */
export const issuerString = (issuer: string | URL): string => typeof issuer === "string" ? issuer : issuer.href

/**
 * The method used without discovery: the configured one, else `private_key_jwt` with a key, else
 * `client_secret_basic`. `undefined` when the method is chosen from the issuer's metadata.
 *
 * @internal
 */
export const defaultAuthMethod = (options: ClientCredentials.Options): ClientCredentials.AuthMethod | undefined =>
  options.authMethod ?? (options.issuer !== undefined
    ? undefined
    : options.clientAssertion?.key !== undefined || options.clientAssertion?.source !== undefined
    ? "private_key_jwt"
    : "client_secret_basic")

/** The private key and its algorithm, or why they do not work. @internal */
export const assertionKey = (
  assertion: ClientAssertion.Options
): Either.Either<{ readonly key: PrivateKey; readonly alg: ClientAssertion.Algorithm }, ConfigError.ConfigError> => {
  const key = readKey(assertion.key)
  if (Either.isLeft(key)) return invalid("clientAssertion.key", key.left)
  const requested = assertion.alg ?? jwkMember(assertion.key, "alg")
  const alg = algorithmFor(key.right, requested)
  if (Either.isLeft(alg)) {
    return invalid(assertion.alg === undefined ? "clientAssertion.key" : "clientAssertion.alg", alg.left)
  }
  return Either.right({ key: key.right, alg: alg.right })
}

/** The DPoP algorithms (the same four as for client assertions). @internal */
export const dpopAlgorithms: ReadonlyArray<DPoP.Algorithm> = ["ES256", "EdDSA", "RS256", "PS256"]

/**
 * The DPoP key's structure and algorithm, read synchronously (the import itself happens once, in
 * `TokenProvider.make`). A PEM must be PKCS#8: DPoP imports through Web Crypto, which reads no other.
 * Messages never hold key material.
 *
 * @internal
 */
export const dpopKey = (
  dpop: DPoP.Options
): Either.Either<DPoP.Algorithm, ConfigError.ConfigError> => {
  if (typeof dpop !== "object" || dpop === null) return invalid("dpop.key", "is required with dpop")
  if (dpop.alg !== undefined && !dpopAlgorithms.includes(dpop.alg)) {
    return invalid("dpop.alg", `must be one of ${dpopAlgorithms.join(", ")}`)
  }
  const given: unknown = dpop.key
  const pair = typeof given === "object" && given !== null && isCryptoKey((given as DPoP.KeyPair).privateKey)
  const key = readKey(pair ? (given as DPoP.KeyPair).privateKey : given)
  if (Either.isLeft(key)) return invalid("dpop.key", key.left)
  if (!pair && isCryptoKey(given) && !(given as { readonly extractable?: boolean }).extractable) {
    return invalid(
      "dpop.key",
      "is a non-extractable CryptoKey; give the CryptoKeyPair so that the public key can be read"
    )
  }
  if (key.right.type === "rsa-pss") {
    // Web Crypto exports no JWK of an RSASSA-PSS-only key, which the proofs' header needs
    return invalid("dpop.key", "is an RSA-PSS (RSASSA-PSS OID) key; use a plain RSA key, which signs PS256 too")
  }
  if (Redacted.isRedacted(given)) {
    const value: unknown = Redacted.value(given)
    if (typeof value === "string" && /^\s*-----BEGIN (?:RSA|EC) PRIVATE KEY/.test(value)) {
      return invalid("dpop.key", "is a PKCS#1 or SEC1 PEM; convert it to PKCS#8 (openssl pkcs8 -topk8 -nocrypt)")
    }
  }
  const alg = algorithmFor(key.right, dpop.alg ?? jwkMember(given, "alg"))
  if (Either.isLeft(alg)) return invalid(dpop.alg === undefined ? "dpop.key" : "dpop.alg", alg.left)
  return Either.right(alg.right)
}

/** @internal */
export const validate = (
  options: ClientCredentials.Options
): Either.Either<ClientCredentials.Options, ConfigError.ConfigError> => {
  const insecure = options.allowInsecureHttp === true
  if ((options.tokenUrl === undefined) === (options.issuer === undefined)) {
    return invalid("tokenUrl", "set exactly one of tokenUrl (the token endpoint) and issuer (to discover it)")
  }
  if (options.tokenUrl !== undefined) {
    const url = validateUrl("tokenUrl", options.tokenUrl, insecure)
    if (Either.isLeft(url)) return Either.left(url.left)
  }
  if (options.issuer !== undefined) {
    const url = validateUrl("issuer", options.issuer, insecure)
    if (Either.isLeft(url)) return Either.left(url.left)
    if (url.right.search !== "") return invalid("issuer", "must not have a query (RFC 8414 §2)")
  }
  if (options.clientId.trim().length === 0) return invalid("clientId", "must not be empty")
  if (options.authMethod !== undefined && !authMethods.includes(options.authMethod)) {
    return invalid("authMethod", `must be one of ${authMethods.join(", ")}`)
  }
  const method = defaultAuthMethod(options)
  const assertion = options.clientAssertion
  if (method?.startsWith("client_secret_") && options.clientSecret === undefined) {
    return invalid("clientSecret", `is required by ${method}`)
  }
  if (method === "private_key_jwt" && assertion?.key === undefined && assertion?.source === undefined) {
    return invalid("clientAssertion.key", "is required by private_key_jwt")
  }
  if (assertion?.key !== undefined && assertion.source !== undefined) {
    return invalid("clientAssertion.source", "and clientAssertion.key are exclusive")
  }
  if (
    method === undefined && options.clientSecret === undefined && assertion?.key === undefined &&
    assertion?.source === undefined
  ) {
    return invalid("clientSecret", "or clientAssertion.key is required (or set authMethod)")
  }
  if (assertion?.key !== undefined) {
    const key = assertionKey(assertion)
    if (Either.isLeft(key)) return Either.left(key.left)
  }
  if (assertion?.alg !== undefined && !algorithms.includes(assertion.alg)) {
    return invalid("clientAssertion.alg", `must be one of ${algorithms.join(", ")}`)
  }
  if (assertion?.audience === "issuer" && options.issuer === undefined) {
    return invalid("clientAssertion.audience", "is \"issuer\", but no issuer is configured")
  }
  if (assertion?.lifetime !== undefined) {
    const seconds = Duration.toSeconds(Duration.decode(assertion.lifetime))
    if (!(seconds >= 1 && seconds <= 3600)) return invalid("clientAssertion.lifetime", "must be 1 second to 1 hour")
  }
  for (const scope of splitList(options.scope)) {
    if (!scopeToken.test(scope)) return invalid("scope", "contains a character RFC 6749 §3.3 does not allow")
  }
  for (const resource of splitList(options.resource)) {
    try {
      if (new URL(resource).hash !== "") return invalid("resource", "must not have a fragment (RFC 8707)")
    } catch {
      return invalid("resource", "must be an absolute URI (RFC 8707)")
    }
  }
  for (const key of Object.keys(options.extraParams ?? {})) {
    if (reservedParams.has(key)) {
      return invalid("extraParams", `must not set ${key}: the token request sets it (use the option of that name)`)
    }
  }
  if (options.refreshAhead !== undefined && !(options.refreshAhead > 0 && options.refreshAhead <= 1)) {
    return invalid("refreshAhead", "must be in (0, 1]")
  }
  if (options.maxCachedKeys !== undefined && !(Number.isInteger(options.maxCachedKeys) && options.maxCachedKeys > 0)) {
    return invalid("maxCachedKeys", "must be a positive integer")
  }
  if (options.dpop !== undefined) {
    const dpop = dpopKey(options.dpop)
    if (Either.isLeft(dpop)) return Either.left(dpop.left)
  }
  const attempts = options.retry?.maxAttempts
  if (attempts !== undefined && !(Number.isInteger(attempts) && attempts >= 1)) {
    return invalid("retry.maxAttempts", "must be an integer ≥ 1")
  }
  return Either.right(options)
}
/** Sorted and de-duplicated, so that equal sets give equal cache keys. @internal */
export const normalizeList = (list: ReadonlyArray<string>): ReadonlyArray<string> => Array.from(new Set(list)).sort()
