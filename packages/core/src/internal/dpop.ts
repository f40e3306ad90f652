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
import { base64url, calculateJwkThumbprint, type JWK, SignJWT } from "jose"
import * as DPoP from "../DPoP.js"
import { algorithms as keyAlgorithms, keyError, resolve, selfCheck } from "./dpopKey.js"

/** @internal */
export const TypeId: DPoP.TypeId = Symbol.for("@oauth-cc/core/DPoP") as DPoP.TypeId

/** @internal */
export const algorithms: ReadonlyArray<DPoP.Algorithm> = keyAlgorithms

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
