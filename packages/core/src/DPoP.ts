/**
 * DPoP (RFC 9449): proofs of possession that bind access tokens to a key the client holds, so that a
 * token seen by someone else is useless without the key.
 *
 * `make` reads the private key once (import, public JWK, RFC 7638 thumbprint) into a `Proofer`, whose
 * `proof` signs a new `dpop+jwt` for each request: a fresh `jti`, `htm`, `htu` without query and
 * fragment, `iat` from `Clock`, the server's `nonce` when it asked for one, and `ath` when an access
 * token goes with the request. Only Web Crypto is used (through jose), so this runs on any Web platform;
 * on Node a `KeyObject` is accepted as well.
 *
 * Servers may demand a nonce (RFC 9449 §8, §9): `tokenEndpointNonce` and `resourceNonce` read it from a
 * refusal, `nonceFromHeaders` from any answer, and a `NonceStore` keeps the last one per origin.
 *
 * @see https://www.rfc-editor.org/rfc/rfc9449
 * @since 0.2.0
 */
import type * as HttpClientRequest from "@effect/platform/HttpClientRequest"
import * as Data from "effect/Data"
import type * as Effect from "effect/Effect"
import type * as Option from "effect/Option"
import * as Predicate from "effect/Predicate"
import type * as Redacted from "effect/Redacted"
import type * as Schema from "effect/Schema"
import type { CryptoKey, JWK, KeyObject } from "jose"
import * as internal from "./internal/dpop.js"

/**
 * @since 0.2.0
 * @category type ids
 */
export const TypeId: unique symbol = Symbol.for("@oauth-cc/core/DPoP")

/**
 * @since 0.2.0
 * @category type ids
 */
export type TypeId = typeof TypeId

/**
 * The proof signing algorithms: ES256 (P-256), EdDSA (Ed25519), RS256 and PS256 (RSA, 2048 bits or more).
 *
 * @see https://www.rfc-editor.org/rfc/rfc9449#section-5.1
 * @since 0.2.0
 * @category models
 */
export type Algorithm = "ES256" | "EdDSA" | "RS256" | "PS256"

/**
 * @since 0.2.0
 * @category constants
 */
export const algorithms: ReadonlyArray<Algorithm> = internal.algorithms

/**
 * A Web Crypto key pair, for a private `CryptoKey` made non-extractable (its public half is read from `publicKey`).
 *
 * @since 0.2.0
 * @category models
 */
export interface KeyPair {
  readonly privateKey: CryptoKey
  readonly publicKey: CryptoKey
}

/**
 * The private key: a Node `KeyObject`, a Web Crypto `CryptoKey` (extractable) or `KeyPair`, or a `Redacted`
 * PKCS#8 PEM, JWK object or JWK JSON string. Plain strings and objects are refused, so that the key never
 * shows in `String`, `JSON.stringify` or `util.inspect` of the options.
 *
 * @since 0.2.0
 * @category models
 */
export type Key = KeyObject | CryptoKey | KeyPair | Redacted.Redacted<JWK | string>

/**
 * The DPoP options (`ClientCredentials.Options.dpop`).
 *
 * @since 0.2.0
 * @category models
 */
export interface Options {
  /** The private key whose public half the proofs carry and the tokens get bound to. */
  readonly key: Key
  /**
   * The signing algorithm. Default: the JWK's `alg`, else the key type's usual one (P-256 → ES256,
   * Ed25519 → EdDSA, RSA → RS256), as for client assertions.
   */
  readonly alg?: Algorithm | undefined
}

/**
 * What a proof is for.
 *
 * @since 0.2.0
 * @category models
 */
export interface ProofRequest {
  /** The HTTP method of the request (`htm`). */
  readonly htm: string
  /** The request URL; its query and fragment are dropped (`htu`, RFC 9449 §4.2). */
  readonly htu: string | URL
  /** The server's last `DPoP-Nonce` for this origin, if it gave one. */
  readonly nonce?: string | undefined
  /** The access token sent with the request: the proof then carries its hash (`ath`). */
  readonly accessToken?: string | Redacted.Redacted<string> | undefined
}

/**
 * A DPoP key, read once: the algorithm, the public JWK, its thumbprint, and the signer of proofs.
 *
 * @since 0.2.0
 * @category models
 */
export interface Proofer {
  readonly [TypeId]: TypeId
  /** The signing algorithm. */
  readonly alg: Algorithm
  /** The public JWK carried in every proof's header (no private member). */
  readonly publicJwk: Readonly<JWK>
  /**
   * The RFC 7638 SHA-256 thumbprint of the public JWK, base64url: the `jkt` a bound token's `cnf` names.
   * Part of the token cache key, so that providers with different keys never share a token.
   */
  readonly thumbprint: string
  /**
   * A new proof (a compact JWS, `typ: dpop+jwt`), `Redacted` because whoever holds it may replay it.
   *
   * @see https://www.rfc-editor.org/rfc/rfc9449#section-4.2
   */
  readonly proof: (request: ProofRequest) => Effect.Effect<Redacted.Redacted<string>, DPoPProofError>
}

/**
 * A DPoP key that cannot be used. `detail` says why in one line; it never holds key material.
 *
 * - `InvalidKey`: not a private key, unreadable, public only, or a private part not matching the public one.
 * - `UnsupportedKey`: a key type or size DPoP cannot use here (P-384, RSA under 2048 bits, a secret key, …).
 * - `UnsupportedAlgorithm`: an `alg` outside ES256, EdDSA, RS256, PS256.
 * - `AlgorithmMismatch`: an `alg` that does not fit the key (ES256 with an RSA key, …).
 *
 * @since 0.2.0
 * @category errors
 */
export class DPoPKeyError extends Data.TaggedError("DPoPKeyError")<{
  readonly reason: "InvalidKey" | "UnsupportedKey" | "UnsupportedAlgorithm" | "AlgorithmMismatch"
  readonly detail: string
}> {
  /** @since 0.2.0 */
  readonly [TypeId]: TypeId = TypeId
  /** @since 0.2.0 */
  override get message(): string {
    return `DPoP key ${this.detail}`
  }
}

/**
 * A proof that cannot be made for the request given: a method that is not a token, a URL that is not
 * absolute http(s), a nonce outside RFC 9449 §8's syntax.
 *
 * @since 0.2.0
 * @category errors
 */
export class DPoPProofError extends Data.TaggedError("DPoPProofError")<{
  readonly reason: "InvalidMethod" | "InvalidUrl" | "InvalidNonce"
  readonly detail: string
}> {
  /** @since 0.2.0 */
  readonly [TypeId]: TypeId = TypeId
  /** @since 0.2.0 */
  override get message(): string {
    return `DPoP proof not made: ${this.detail}`
  }
}

/**
 * @since 0.2.0
 * @category guards
 */
export const isDPoPError = (u: unknown): u is DPoPKeyError | DPoPProofError =>
  Predicate.hasProperty(u, TypeId) && (u instanceof DPoPKeyError || u instanceof DPoPProofError)

/**
 * Reads the key once: imports it, checks that it signs verifiably with the chosen algorithm, and
 * computes its public JWK and thumbprint.
 *
 * @example
 * ```ts
 * import * as DPoP from "@oauth-cc/core/DPoP"
 * import * as Effect from "effect/Effect"
 * import * as Redacted from "effect/Redacted"
 *
 * const program = Effect.gen(function*() {
 *   const proofer = yield* DPoP.make({ key: Redacted.make(process.env.OAUTH_DPOP_KEY!) })
 *   const proof = yield* proofer.proof({ htm: "POST", htu: "https://auth.example.com/token" })
 *   // send Redacted.value(proof) in the `DPoP` header
 * })
 * ```
 *
 * @see https://www.rfc-editor.org/rfc/rfc9449#section-4
 * @since 0.2.0
 * @category constructors
 */
export const make: (options: Options) => Effect.Effect<Proofer, DPoPKeyError> = internal.make

/**
 * @since 0.2.0
 * @category guards
 */
export const isProofer: (u: unknown) => u is Proofer = internal.isProofer

/**
 * The RFC 7638 SHA-256 thumbprint of a public JWK, base64url (the `jkt` of RFC 9449 §6.1).
 *
 * @see https://www.rfc-editor.org/rfc/rfc7638
 * @see https://www.rfc-editor.org/rfc/rfc9449#section-6.1
 * @since 0.2.0
 * @category utils
 */
export const jkt: (jwk: JWK) => Effect.Effect<string, DPoPKeyError> = internal.jkt

/**
 * The `ath` of an access token: base64url SHA-256 of its ASCII bytes.
 *
 * @see https://www.rfc-editor.org/rfc/rfc9449#section-4.2
 * @since 0.2.0
 * @category utils
 */
export const ath: (accessToken: string | Redacted.Redacted<string>) => Effect.Effect<string> = internal.ath

/**
 * The `htu` of a URL: absolute http(s), without query and fragment, normalised as the WHATWG URL parser
 * does (RFC 9449 §4.3 asks for RFC 3986 §6 normalisation before comparing). `None` for anything else.
 *
 * @see https://www.rfc-editor.org/rfc/rfc9449#section-4.2
 * @since 0.2.0
 * @category utils
 */
export const htu: (url: string | URL) => Option.Option<string> = internal.htu

/**
 * A server-provided nonce: `1*NQCHAR` (RFC 9449 §8), at most 2048 characters.
 *
 * @see https://www.rfc-editor.org/rfc/rfc9449#section-8
 * @since 0.2.0
 * @category schemas
 */
export const Nonce: Schema.brand<Schema.filter<Schema.filter<typeof Schema.String>>, "@oauth-cc/core/DPoP/Nonce"> =
  internal.Nonce

/**
 * @since 0.2.0
 * @category models
 */
export type Nonce = Schema.Schema.Type<typeof Nonce>

/**
 * Response headers by lower-case name, as `@effect/platform`'s `Headers` holds them.
 *
 * @since 0.2.0
 * @category models
 */
export type HeaderRecord = Readonly<Record<string, string | undefined>>

/**
 * The valid `DPoP-Nonce` of an answer, if any. Any answer may carry one (RFC 9449 §8.2): keep it.
 *
 * @see https://www.rfc-editor.org/rfc/rfc9449#section-8
 * @since 0.2.0
 * @category nonces
 */
export const nonceFromHeaders: (headers: HeaderRecord) => Option.Option<Nonce> = internal.nonceFromHeaders

/**
 * The nonce to retry a token request with: `Some` only for a `400` whose body (parsed JSON) is
 * `{"error":"use_dpop_nonce"}` and which carries a valid `DPoP-Nonce`.
 *
 * @see https://www.rfc-editor.org/rfc/rfc9449#section-8
 * @since 0.2.0
 * @category nonces
 */
export const tokenEndpointNonce: (
  response: { readonly status: number; readonly headers: HeaderRecord },
  body: unknown
) => Option.Option<Nonce> = internal.tokenEndpointNonce

/**
 * The nonce to retry a resource request with: `Some` only for a `401` with a `WWW-Authenticate` DPoP
 * challenge whose `error` is `use_dpop_nonce`, and a valid `DPoP-Nonce`.
 *
 * @see https://www.rfc-editor.org/rfc/rfc9449#section-9
 * @since 0.2.0
 * @category nonces
 */
export const resourceNonce: (
  response: { readonly status: number; readonly headers: HeaderRecord }
) => Option.Option<Nonce> = internal.resourceNonce

/**
 * One challenge of a `WWW-Authenticate` header: the scheme, its parameters (names lower-cased), or a token68.
 *
 * @since 0.2.0
 * @category models
 */
export interface Challenge {
  readonly scheme: string
  readonly params: Readonly<Record<string, string>>
  readonly token68?: string
}

/**
 * Parses a `WWW-Authenticate` value into its challenges (RFC 9110 §11.6.1).
 *
 * @see https://www.rfc-editor.org/rfc/rfc9110#section-11.6.1
 * @since 0.2.0
 * @category nonces
 */
export const parseChallenges: (value: string) => ReadonlyArray<Challenge> = internal.parseChallenges

/**
 * The `DPoP` challenge of an answer's `WWW-Authenticate` (its `error`, `error_description`, `algs`), if any.
 *
 * @see https://www.rfc-editor.org/rfc/rfc9449#section-7.1
 * @since 0.2.0
 * @category nonces
 */
export const dpopChallenge: (headers: HeaderRecord) => Option.Option<Challenge> = internal.dpopChallenge

/**
 * The last nonce each server origin gave, bounded: past `capacity` origins the least recently used is dropped.
 *
 * @since 0.2.0
 * @category models
 */
export interface NonceStore {
  /** The nonce kept for the origin of `url` (a URL or an origin). */
  readonly get: (url: string | URL) => Effect.Effect<Option.Option<Nonce>>
  /** Keeps `nonce` for the origin of `url`, replacing the previous one; an invalid nonce or URL is ignored. */
  readonly set: (url: string | URL, nonce: Nonce) => Effect.Effect<void>
  /** How many origins have a nonce. */
  readonly size: Effect.Effect<number>
}

/**
 * A fresh nonce store in memory (default capacity: 256 origins).
 *
 * @since 0.2.0
 * @category constructors
 */
export const makeNonceStore: (options?: { readonly capacity?: number | undefined }) => NonceStore =
  internal.makeNonceStore

/**
 * Sets a fresh proof on a request as its `DPoP` header: `htm` is the request's method, `htu` its full
 * URL (query and fragment dropped), `nonce` the one `nonces` keeps for its origin, and `ath` the hash of
 * `accessToken` when one goes with the request (`Authorization: DPoP <token>`, set by the caller).
 * Call it once per attempt: every proof has a new `jti`.
 *
 * @see https://www.rfc-editor.org/rfc/rfc9449#section-4.1
 * @since 0.2.0
 * @category requests
 */
export const setProof: (
  request: HttpClientRequest.HttpClientRequest,
  options: {
    readonly proofer: Proofer
    readonly nonces?: NonceStore | undefined
    readonly accessToken?: string | Redacted.Redacted<string> | undefined
  }
) => Effect.Effect<HttpClientRequest.HttpClientRequest, DPoPProofError> = internal.setProof

/**
 * Runs an effect with `dpop` among the header names `@effect/platform` redacts when a request or its
 * headers are rendered (logs, spans, errors): a proof can be replayed within its window, so it is shown
 * as `<redacted>` like the `Authorization` header.
 *
 * @since 0.2.0
 * @category requests
 */
export const withRedactedProofHeader: <A, E, R>(self: Effect.Effect<A, E, R>) => Effect.Effect<A, E, R> =
  internal.withRedactedProofHeader
