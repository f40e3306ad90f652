/**
 * The server side of DPoP (RFC 9449 §4.3): checks a `DPoP` proof as an authorization server's token
 * endpoint or a protected resource must, and returns the key's thumbprint (`jkt`) to bind or match a
 * token with. The fake server uses it; a consumer can use it in its own test servers.
 *
 * Checked: exactly one `DPoP` header holding one compact JWS; `typ: dpop+jwt`; `alg` in the allow-list
 * (never `none` or a MAC); a public asymmetric `jwk` without private members; the signature with that
 * `jwk`; `jti`, `htm`, `htu`, `iat` present; `htm` and `htu` (without query and fragment) matching the
 * request; `iat` within the window of the `Clock`; the server's nonce when it demands one; `ath` against
 * the presented access token; no `jti` seen before for the same key within the window.
 *
 * @see https://www.rfc-editor.org/rfc/rfc9449#section-4.3
 * @since 0.2.0
 */
import type * as DPoP from "@oauth-cc/core/DPoP"
import * as Data from "effect/Data"
import type * as Duration from "effect/Duration"
import type * as Effect from "effect/Effect"
import type * as Redacted from "effect/Redacted"
import type { JWK } from "jose"
import * as internal from "./internal/dpopVerifier.js"

/**
 * The error codes of RFC 9449 §12.2: a bad proof, or a missing or stale nonce.
 *
 * @see https://www.rfc-editor.org/rfc/rfc9449#section-12.2
 * @since 0.2.0
 * @category models
 */
export type ErrorCode = "invalid_dpop_proof" | "use_dpop_nonce"

/**
 * A proof refused. A token endpoint answers it with `400 {"error": error, "error_description": description}`,
 * a resource with `401` and `WWW-Authenticate: challenge(error)`; both add `DPoP-Nonce: nonce` for
 * `use_dpop_nonce`.
 *
 * @since 0.2.0
 * @category errors
 */
export class DPoPProofRejected extends Data.TaggedError("DPoPProofRejected")<{
  readonly error: ErrorCode
  /** What was wrong, in one line; never a value taken from the proof. */
  readonly description: string
  /** For `use_dpop_nonce`: the nonce the client must use (send it as `DPoP-Nonce`). */
  readonly nonce?: string | undefined
}> {
  /** @since 0.2.0 */
  override get message(): string {
    return `${this.error}: ${this.description}`
  }
}

/**
 * @since 0.2.0
 * @category models
 */
export interface Options {
  /** The accepted `alg` values. Default: ES256, EdDSA, RS256, PS256. */
  readonly algorithms?: ReadonlyArray<DPoP.Algorithm> | undefined
  /** How far `iat` may be from the `Clock`'s now, either way. Default: 60 seconds. */
  readonly iatWindow?: Duration.DurationInput | undefined
  /** How many `jti` the replay cache holds; past it, the oldest go first. Default: 10,000. */
  readonly replayCapacity?: number | undefined
}

/**
 * The request a proof came with.
 *
 * @since 0.2.0
 * @category models
 */
export interface Input {
  /** The `DPoP` header value(s) as received (several values are refused). */
  readonly proof: string | ReadonlyArray<string> | undefined
  /** The request method. */
  readonly method: string
  /** The absolute URL the request was received at. */
  readonly url: string | URL
  /** The access token presented with the proof (resource requests): `ath` must be its hash. */
  readonly accessToken?: string | Redacted.Redacted<string> | undefined
  /** The nonce the server demands now, if any: a proof without it gets `use_dpop_nonce`. */
  readonly nonce?: string | undefined
}

/**
 * An accepted proof.
 *
 * @since 0.2.0
 * @category models
 */
export interface Verified {
  /** The RFC 7638 thumbprint of the proof's key: the `cnf.jkt` to bind, or to compare with the token's. */
  readonly jkt: string
  readonly jti: string
  readonly iat: number
  /** The proof's public key. */
  readonly jwk: JWK
  readonly nonce?: string
}

/**
 * @since 0.2.0
 * @category models
 */
export interface DPoPVerifier {
  /** The accepted algorithms (for the `algs` of a challenge). */
  readonly algorithms: ReadonlyArray<DPoP.Algorithm>
  readonly verify: (input: Input) => Effect.Effect<Verified, DPoPProofRejected>
  /** How many `jti` the replay cache holds now. */
  readonly replayCacheSize: Effect.Effect<number>
}

/**
 * A verifier with its own replay cache; time comes from the `Clock`.
 *
 * @since 0.2.0
 * @category constructors
 */
export const make: (options?: Options) => Effect.Effect<DPoPVerifier> = internal.make

/**
 * The `WWW-Authenticate` value of a resource's refusal: `DPoP error="…", error_description="…", algs="…"`
 * for a refused proof, `DPoP error="invalid_token", algs="…"`, or only `algs` when no proof came.
 *
 * @see https://www.rfc-editor.org/rfc/rfc9449#section-7.1
 * @since 0.2.0
 * @category utils
 */
export const challenge: (
  error: DPoPProofRejected | "invalid_token" | undefined,
  algorithms?: ReadonlyArray<string>
) => string = internal.challenge
