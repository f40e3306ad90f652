import * as DPoP from "@oauth-cc/core/DPoP"
import * as Clock from "effect/Clock"
import * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import * as Option from "effect/Option"
import * as Redacted from "effect/Redacted"
import { decodeProtectedHeader, EmbeddedJWK, type JWK, jwtVerify } from "jose"
import * as DPoPVerifier from "../DPoPVerifier.js"

/** @internal */
export const defaultAlgorithms: ReadonlyArray<DPoP.Algorithm> = DPoP.algorithms

const compactJws = /^[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+$/

const maxProofLength = 8192

const privateMembers = ["d", "p", "q", "dp", "dq", "qi", "oth", "r", "t", "k"]

const asymmetric = new Set(["EC", "OKP", "RSA"])

const invalid = (description: string) =>
  new DPoPVerifier.DPoPProofRejected({ error: "invalid_dpop_proof", description })

const isObject = (u: unknown): u is Record<string, unknown> => typeof u === "object" && u !== null && !Array.isArray(u)

/** jose's refusal as a description naming what failed (jose's codes and claim names only, never proof values). */
const joseRefusal = (error: unknown): DPoPVerifier.DPoPProofRejected => {
  const { claim, code } = (error ?? {}) as { code?: unknown; claim?: unknown }
  if (code === "ERR_JWS_SIGNATURE_VERIFICATION_FAILED") {
    return invalid("the DPoP proof signature does not verify with its jwk")
  }
  if (code === "ERR_JWT_CLAIM_VALIDATION_FAILED" && typeof claim === "string" && /^[a-z]{1,8}$/.test(claim)) {
    return invalid(`the DPoP proof ${claim} claim is invalid`)
  }
  const known = typeof code === "string" && /^ERR_[A-Z_]{1,40}$/.test(code) ? ` (${code})` : ""
  return invalid(`the DPoP proof cannot be verified with its jwk${known}`)
}

/** The replay cache: `jkt:jti` until the end of the iat window, bounded (oldest entries go first when full). */
const makeReplayCache = (capacity: number) => {
  const seen = new Map<string, number>()
  return {
    has: (key: string, now: number) => {
      const until = seen.get(key)
      return until !== undefined && until >= now
    },
    add: (key: string, until: number, now: number) => {
      if (seen.size >= capacity) {
        for (const [k, u] of seen) if (u < now) seen.delete(k)
      }
      while (seen.size >= capacity) seen.delete(seen.keys().next().value!)
      seen.set(key, until)
    },
    size: () => seen.size
  }
}

/** @internal */
export const make = (options?: DPoPVerifier.Options): Effect.Effect<DPoPVerifier.DPoPVerifier> =>
  Effect.sync(() => {
    const algorithms = [...(options?.algorithms ?? defaultAlgorithms)]
    const windowMillis = Duration.toMillis(Duration.decode(options?.iatWindow ?? "60 seconds"))
    const replay = makeReplayCache(Math.max(1, Math.floor(options?.replayCapacity ?? 10_000)))

    const verify = (input: DPoPVerifier.Input): Effect.Effect<DPoPVerifier.Verified, DPoPVerifier.DPoPProofRejected> =>
      Effect.gen(function*() {
        const values = input.proof === undefined ? [] : typeof input.proof === "string" ? [input.proof] : input.proof
        if (values.length === 0) return yield* invalid("the request has no DPoP header")
        if (values.length > 1) return yield* invalid("the request has more than one DPoP header")
        const proof = values[0]!.trim()
        if (proof.length > maxProofLength || !compactJws.test(proof)) {
          return yield* invalid("the DPoP header is not one compact JWS (or is several, joined)")
        }
        const header = yield* Effect.try({
          try: () => decodeProtectedHeader(proof) as Record<string, unknown>,
          catch: () => invalid("the DPoP proof header is not JSON")
        })
        if (header.typ !== "dpop+jwt") return yield* invalid("the DPoP proof typ is not dpop+jwt")
        if (typeof header.alg !== "string" || !algorithms.includes(header.alg as DPoP.Algorithm)) {
          return yield* invalid(`the DPoP proof alg is not one of ${algorithms.join(", ")}`)
        }
        const jwk = header.jwk
        if (!isObject(jwk) || typeof jwk.kty !== "string" || !asymmetric.has(jwk.kty)) {
          return yield* invalid("the DPoP proof has no public asymmetric jwk")
        }
        if (privateMembers.some((name) => name in jwk)) {
          return yield* invalid("the DPoP proof jwk holds a private key")
        }
        const now = yield* Clock.currentTimeMillis
        const { payload } = yield* Effect.tryPromise({
          try: () => jwtVerify(proof, EmbeddedJWK, { algorithms, typ: "dpop+jwt", currentDate: new Date(now) }),
          catch: joseRefusal
        })
        if (typeof payload.jti !== "string" || payload.jti.length === 0 || payload.jti.length > 256) {
          return yield* invalid("the DPoP proof has no jti")
        }
        if (typeof payload.htm !== "string" || typeof payload.htu !== "string") {
          return yield* invalid("the DPoP proof has no htm or htu")
        }
        if (typeof payload.iat !== "number" || !Number.isFinite(payload.iat)) {
          return yield* invalid("the DPoP proof has no iat")
        }
        if (payload.nonce !== undefined && typeof payload.nonce !== "string") {
          return yield* invalid("the DPoP proof nonce is not a string")
        }
        if (payload.htm !== input.method) return yield* invalid("the DPoP proof htm does not match the method")
        const expected = DPoP.htu(input.url)
        const claimed = DPoP.htu(payload.htu)
        if (Option.isNone(expected) || Option.isNone(claimed) || expected.value !== claimed.value) {
          return yield* invalid("the DPoP proof htu does not match the URL")
        }
        if (Math.abs(now - payload.iat * 1000) > windowMillis) {
          return yield* invalid("the DPoP proof iat is outside the accepted window")
        }
        if (input.nonce !== undefined && payload.nonce !== input.nonce) {
          return yield* new DPoPVerifier.DPoPProofRejected({
            error: "use_dpop_nonce",
            description: payload.nonce === undefined
              ? "the DPoP proof must carry the server's nonce"
              : "the DPoP proof nonce is not the server's current nonce",
            nonce: input.nonce
          })
        }
        if (input.accessToken !== undefined) {
          const token = Redacted.isRedacted(input.accessToken) ? Redacted.value(input.accessToken) : input.accessToken
          if (payload.ath !== (yield* DPoP.ath(token))) {
            return yield* invalid("the DPoP proof ath does not match the access token")
          }
        }
        const jkt = yield* DPoP.jkt(jwk as JWK).pipe(
          Effect.mapError(() => invalid("the DPoP proof jwk has no thumbprint"))
        )
        const key = `${jkt}:${payload.jti}`
        if (replay.has(key, now)) return yield* invalid("the DPoP proof jti was already used")
        replay.add(key, payload.iat * 1000 + windowMillis, now)
        return {
          jkt,
          jti: payload.jti,
          iat: payload.iat,
          jwk: jwk as JWK,
          ...(payload.nonce === undefined ? {} : { nonce: payload.nonce })
        }
      })

    return { algorithms, verify, replayCacheSize: Effect.sync(replay.size) }
  })

const quote = (value: string) => `"${value.replace(/[\\"]/g, (c) => `\\${c}`)}"`

/** @internal */
export const challenge = (
  error: DPoPVerifier.DPoPProofRejected | "invalid_token" | undefined,
  algorithms: ReadonlyArray<string> = defaultAlgorithms
): string => {
  const params = [`algs=${quote(algorithms.join(" "))}`]
  if (error === "invalid_token") params.unshift(`error="invalid_token"`)
  else if (error !== undefined) {
    params.unshift(`error=${quote(error.error)}`, `error_description=${quote(error.description)}`)
  }
  return `DPoP ${params.join(", ")}`
}
