/**
 * A fake OAuth 2.0 authorization server for tests: a token endpoint (client credentials grant) that
 * really checks client authentication, scripted answers and faults, a request journal, opaque or
 * JWT tokens, JWKS and RFC 8414 metadata, and a protected resource that accepts its tokens.
 *
 * It runs as a real HTTP server on `127.0.0.1` (`make`, `layer`, `start`), or in process as an
 * `HttpClient` without sockets (`layerHttpClient`), where token expiry and delays follow Effect's
 * `Clock`, so `TestClock.adjust` drives them. Both modes share one request handler.
 *
 * @see https://www.rfc-editor.org/rfc/rfc6749#section-4.4
 * @since 0.1.0
 */
import * as HttpClient from "@effect/platform/HttpClient"
import * as Context from "effect/Context"
import type * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import * as Layer from "effect/Layer"
import type * as Redacted from "effect/Redacted"
import type * as Scope from "effect/Scope"
import type * as Jose from "jose"
import type * as FakeResponse from "./FakeResponse.js"
import * as internal from "./internal/fakeAuthServer.js"

/**
 * How a client may authenticate at the token endpoint. `client_secret_jwt` / `private_key_jwt`: a
 * `client_assertion` JWT (RFC 7523) signed with the secret (HS256) or the client's key. `"none"`: the
 * `client_id` form field alone (for instance to stand in for `tls_client_auth`, whose TLS this server
 * does not do).
 *
 * @see https://www.rfc-editor.org/rfc/rfc6749#section-2.3.1
 * @see https://www.rfc-editor.org/rfc/rfc7523#section-2.2
 * @since 0.1.0
 * @category models
 */
export type ClientAuthMethod =
  | "client_secret_basic"
  | "client_secret_post"
  | "client_secret_jwt"
  | "private_key_jwt"
  | "none"

/**
 * A registered client.
 *
 * @since 0.1.0
 * @category models
 */
export interface ClientOptions {
  /** The client id. */
  readonly id: string
  /** The client secret, compared in constant time. */
  readonly secret: string | Redacted.Redacted<string>
  /** The scopes the client may request; any scope when absent. Granted when the request names none. */
  readonly scopes?: ReadonlyArray<string> | undefined
  /**
   * The public key that checks `private_key_jwt` assertions (a `CryptoKey`, `KeyObject` or JWK).
   */
  readonly publicKey?: Jose.CryptoKey | Jose.KeyObject | Jose.JWK | undefined
  /** A JWKS that checks `private_key_jwt` assertions (the `kid` picks the key). */
  readonly jwks?: Jose.JSONWebKeySet | undefined
  /**
   * How it may authenticate. Default: `client_secret_basic`, `client_secret_post`, `client_secret_jwt`,
   * and `private_key_jwt` when `publicKey` or `jwks` is given.
   */
  readonly authMethods?: ReadonlyArray<ClientAuthMethod> | undefined
  /**
   * How HTTP Basic credentials are read: `"form"` form-urldecodes id and secret after base64 (RFC 6749
   * §2.3.1); `"raw"` does not, like servers that skip that step. Default: `"form"`.
   */
  readonly basicEncoding?: "form" | "raw" | undefined
}

/**
 * @since 0.1.0
 * @category models
 */
export interface Options {
  /** The clients. Default: one client, `test-client` / `test-secret` (see `defaultClient`). */
  readonly clients?: ReadonlyArray<ClientOptions> | undefined
  /** The lifetime of issued tokens. Default: 5 minutes. */
  readonly tokenTtl?: Duration.DurationInput | undefined
  /** Opaque tokens (32 random bytes, base64url) or JWTs signed with ES256. Default: `"opaque"`. */
  readonly tokenFormat?: "opaque" | "jwt" | undefined
  /** The `aud` of tokens whose request names no `audience` or `resource`. Default: the `resourceUrl`. */
  readonly audience?: string | undefined
  /** The port of the socket server. Default: 0 (any free port). */
  readonly port?: number | undefined
  /**
   * Normal service allows `requests` token requests per `per`; beyond, it answers 429 with
   * `Retry-After` (`retryAfter` seconds, else the time until the window frees a slot).
   * Scripted answers are not limited and do not count.
   */
  readonly rateLimit?: {
    readonly requests: number
    readonly per: Duration.DurationInput
    readonly retryAfter?: number | undefined
  } | undefined
  /** The largest request body read; a larger one gets `413 invalid_request`. Default: 1 MiB. */
  readonly maxBodyBytes?: number | undefined
  /**
   * Serve the admin API under `/__admin/` (scripted answers, clients, revocation, journal, token lifetime as
   * JSON over HTTP, for tests in other languages: see the README). Default: false; `oauth-cc-fake-server`
   * turns it on.
   *
   * @since 0.2.0
   */
  readonly admin?: boolean | undefined
  /**
   * DPoP (RFC 9449). A token request carrying a `DPoP` proof is always checked (signature with the header's
   * `jwk`, `typ`, `alg`, `htm`/`htu`, `iat` within the window, `jti` not replayed, and the current nonce if
   * one is demanded) and its token is bound to the proof's key: `token_type: "DPoP"`, `cnf.jkt` in a JWT.
   * The resource then wants `Authorization: DPoP <token>` with a proof whose `ath` is the token's hash and
   * whose key is the bound one; a bound token sent as `Bearer` is refused.
   *
   * @see https://www.rfc-editor.org/rfc/rfc9449
   * @since 0.2.0
   */
  readonly dpop?: DPoPOptions | undefined
}

/**
 * @since 0.2.0
 * @category models
 */
export interface DPoPOptions {
  /** Refuse token requests without a proof (`400 invalid_dpop_proof`). Default: false (Bearer without a proof). */
  readonly required?: boolean | undefined
  /**
   * Demand a nonce (RFC 9449 §8, §9): the token endpoint answers `400 use_dpop_nonce` and the resource
   * `401` with a `DPoP error="use_dpop_nonce"` challenge, both with `DPoP-Nonce`, until proofs carry it.
   * `true` draws a random nonce; a string is that nonce. Change it any time with `setDPoPNonce`.
   * Default: no nonce.
   */
  readonly nonce?: boolean | string | undefined
  /** How far a proof's `iat` may be from the server's clock. Default: 60 seconds. */
  readonly iatWindow?: Duration.DurationInput | undefined
  /** The proof algorithms accepted. Default: ES256, EdDSA, RS256, PS256. */
  readonly algorithms?: ReadonlyArray<"ES256" | "EdDSA" | "RS256" | "PS256"> | undefined
}

/**
 * The client registered when `clients` is not given.
 *
 * @since 0.1.0
 * @category constants
 */
export const defaultClient: { readonly id: string; readonly secret: string } = internal.defaultClient

/**
 * Which endpoint a request reached.
 *
 * @since 0.1.0
 * @category models
 */
export type Endpoint = "token" | "resource" | "jwks" | "metadata" | "notFound"

/**
 * One request as the server saw it. Secrets never appear: the `Authorization` value is replaced by
 * its scheme and `<redacted>`, and `client_secret` / `client_assertion` form fields by `<redacted>`.
 *
 * @since 0.1.0
 * @category models
 */
export interface RequestRecord {
  /** When the request arrived, epoch millis from the server's clock. */
  readonly time: number
  readonly endpoint: Endpoint
  readonly method: string
  /** Path and query. */
  readonly path: string
  /** Lower-cased names; `authorization` is `"<Scheme> <redacted>"`. */
  readonly headers: Readonly<Record<string, string>>
  /** The parsed form of a token request (repeated fields as arrays); undefined when it was not a form. */
  readonly form: Readonly<Record<string, string | ReadonlyArray<string>>> | undefined
  /** How the client authenticated at the token endpoint (`"multiple"` when it used Basic and the body). */
  readonly clientAuthMethod: ClientAuthMethod | "multiple" | undefined
  /** Token endpoint: the client id presented. Resource: the client id of the token sent, if known. */
  readonly clientId: string | undefined
  /** The status sent, or the fault. */
  readonly outcome: number | FakeResponse.FaultName
  /** What answered: `"token"`, `"oauthError"`, `"rateLimited"`, a fault name, `"resource"`, … */
  readonly response: string
  /** The RFC 6749 §5.2 / RFC 6750 §3.1 `error` code sent, if any. */
  readonly error: string | undefined
  /** The scripted delay before the answer, in millis (0 when none). */
  readonly delayMillis: number
}

/**
 * A token the server issued. `value` is `Redacted`.
 *
 * @since 0.1.0
 * @category models
 */
export interface IssuedToken {
  readonly value: Redacted.Redacted<string>
  readonly format: "opaque" | "jwt"
  readonly jti: string
  readonly clientId: string
  readonly scope: ReadonlyArray<string>
  readonly audience: string | ReadonlyArray<string>
  /** Epoch millis (server clock). */
  readonly issuedAt: number
  /** Epoch millis (server clock). */
  readonly expiresAt: number
  readonly revoked: boolean
  /** Forced to expire by `expireAll`. */
  readonly expired: boolean
  /** The RFC 7638 thumbprint of the DPoP key the token is bound to (`cnf.jkt`); undefined for a bearer token. */
  readonly jkt?: string | undefined
}

/**
 * A token as `revoke` takes it: the string, a `Redacted`, or anything with a redacted `value`
 * (`@oauth-cc/core`'s `AccessToken`, an `IssuedToken`).
 *
 * @since 0.1.0
 * @category models
 */
export type TokenInput = string | Redacted.Redacted<string> | { readonly value: Redacted.Redacted<string> }

/**
 * The server, as seen from an Effect test.
 *
 * @since 0.1.0
 * @category models
 */
export interface Service {
  /**
   * `http://127.0.0.1:<port>` (socket mode) or `https://fake-auth-server.localhost` (in-process mode: a name
   * only; no request leaves the process, so it needs neither TLS nor an `http:` exemption).
   */
  readonly issuer: string
  /** `<issuer>/token` */
  readonly tokenUrl: string
  /** `<issuer>/jwks` */
  readonly jwksUri: string
  /** `<issuer>/resource`: any method and sub-path; needs a valid bearer token from this server. */
  readonly resourceUrl: string
  /** `<issuer>/.well-known/oauth-authorization-server` (RFC 8414). */
  readonly metadataUrl: string
  /** The registered clients (secrets redacted). */
  readonly clients: ReadonlyArray<{
    readonly id: string
    readonly secret: Redacted.Redacted<string>
    readonly scopes: ReadonlyArray<string> | undefined
    readonly authMethods: ReadonlyArray<ClientAuthMethod>
    readonly basicEncoding: "form" | "raw"
  }>
  /** An `HttpClient` that sends requests for the issuer's host to this server in process, without sockets. */
  readonly httpClient: HttpClient.HttpClient
  /** The next token requests get these answers, in order, then normal service. */
  readonly enqueue: (...responses: ReadonlyArray<FakeResponse.FakeResponse>) => Effect.Effect<void>
  /** Every token request gets this answer (after the queue) until `reset`. */
  readonly always: (response: FakeResponse.FakeResponse) => Effect.Effect<void>
  /** Back to normal service: empties the queue and forgets `always`. Journal and tokens are kept. */
  readonly reset: Effect.Effect<void>
  /** Every request so far, oldest first. */
  readonly requests: Effect.Effect<ReadonlyArray<RequestRecord>>
  /** The token endpoint requests so far. */
  readonly tokenRequests: Effect.Effect<ReadonlyArray<RequestRecord>>
  /** Empties the journal and resets the counters (tokens are kept). */
  readonly clearRequests: Effect.Effect<void>
  readonly tokenRequestCount: Effect.Effect<number>
  readonly resourceRequestCount: Effect.Effect<number>
  /** Resource requests without an `Authorization` header. */
  readonly unauthenticatedResourceRequests: Effect.Effect<number>
  readonly resource401Count: Effect.Effect<number>
  /** Token requests being answered right now. */
  readonly tokenRequestsInFlight: Effect.Effect<number>
  /** The most token requests that were ever in flight at once. */
  readonly maxTokenRequestsInFlight: Effect.Effect<number>
  /** Completes once the token endpoint has received `n` requests in all. */
  readonly awaitTokenRequests: (n: number) => Effect.Effect<void>
  /** Completes once `n` token requests are in flight at the same time. */
  readonly awaitTokenRequestsInFlight: (n: number) => Effect.Effect<void>
  /** The tokens issued so far, oldest first. */
  readonly issued: Effect.Effect<ReadonlyArray<IssuedToken>>
  /** Revokes a token: the resource rejects it from now on. False when this server did not issue it. */
  readonly revoke: (token: TokenInput) => Effect.Effect<boolean>
  /** Makes every token issued so far expired. */
  readonly expireAll: Effect.Effect<void>
  /**
   * The DPoP nonce demanded from now on by the token endpoint and the resource; `undefined` stops demanding
   * one. Proofs carrying an older nonce get `use_dpop_nonce` with the new one (a rotation).
   *
   * @since 0.2.0
   */
  readonly setDPoPNonce: (nonce: string | undefined) => Effect.Effect<void>
}

/**
 * @since 0.1.0
 * @category tags
 */
export class FakeAuthServer extends Context.Tag("@oauth-cc/testkit/FakeAuthServer")<FakeAuthServer, Service>() {}

/**
 * Starts a real HTTP server on `127.0.0.1` (port 0 unless `options.port`). When the scope closes, the
 * server stops, every open connection is destroyed and requests in flight are interrupted.
 * Token expiry and delays use the wall clock.
 *
 * @since 0.1.0
 * @category constructors
 */
export const make: (options?: Options) => Effect.Effect<Service, never, Scope.Scope> = internal.make

/**
 * The server without sockets: reach it through its `httpClient`. Token expiry and scripted delays read
 * the `Clock` of the fiber that sends the request, so `TestClock` drives them.
 *
 * @since 0.1.0
 * @category constructors
 */
export const makeInProcess: (options?: Options) => Effect.Effect<Service> = internal.makeInProcess

/**
 * A socket server as a layer.
 *
 * @example
 * ```ts
 * import { FetchHttpClient } from "@effect/platform"
 * import { TokenProvider } from "@oauth-cc/core"
 * import { FakeAuthServer } from "@oauth-cc/testkit"
 * import { Effect, Layer, Redacted } from "effect"
 *
 * const TokenProviderTest = Layer.unwrapEffect(Effect.map(FakeAuthServer.FakeAuthServer, (server) =>
 *   TokenProvider.layer({
 *     tokenUrl: server.tokenUrl,
 *     clientId: FakeAuthServer.defaultClient.id,
 *     clientSecret: Redacted.make(FakeAuthServer.defaultClient.secret)
 *   })
 * )).pipe(Layer.provideMerge(FakeAuthServer.layer()), Layer.provide(FetchHttpClient.layer))
 * ```
 *
 * @since 0.1.0
 * @category layers
 */
export const layer = (options?: Options): Layer.Layer<FakeAuthServer> => Layer.scoped(FakeAuthServer, make(options))

/**
 * An in-process server and the `HttpClient` that reaches it, without sockets. Expiry and delays
 * follow Effect's `Clock`: in `it.effect`, `TestClock.adjust` expires tokens instantly.
 * Requests for any other host fail with a `RequestError` (nothing leaves the process).
 *
 * @since 0.1.0
 * @category layers
 */
export const layerHttpClient = (options?: Options): Layer.Layer<FakeAuthServer | HttpClient.HttpClient> =>
  Layer.effectContext(
    Effect.map(
      makeInProcess(options),
      (server) => Context.make(FakeAuthServer, server).pipe(Context.add(HttpClient.HttpClient, server.httpClient))
    )
  )

/**
 * The server for tests that do not use Effect (vitest, jest, `node:test`): the same properties, the
 * methods as promises, and `close()`.
 *
 * @since 0.1.0
 * @category models
 */
export interface Handle {
  readonly issuer: string
  readonly tokenUrl: string
  readonly jwksUri: string
  readonly resourceUrl: string
  readonly metadataUrl: string
  readonly port: number
  readonly clients: Service["clients"]
  /** The Effect service behind the handle. */
  readonly service: Service
  readonly enqueue: (...responses: ReadonlyArray<FakeResponse.FakeResponse>) => Promise<void>
  readonly always: (response: FakeResponse.FakeResponse) => Promise<void>
  readonly reset: () => Promise<void>
  readonly requests: () => Promise<ReadonlyArray<RequestRecord>>
  readonly tokenRequests: () => Promise<ReadonlyArray<RequestRecord>>
  readonly clearRequests: () => Promise<void>
  readonly tokenRequestCount: () => Promise<number>
  readonly resourceRequestCount: () => Promise<number>
  readonly unauthenticatedResourceRequests: () => Promise<number>
  readonly resource401Count: () => Promise<number>
  readonly tokenRequestsInFlight: () => Promise<number>
  readonly maxTokenRequestsInFlight: () => Promise<number>
  readonly awaitTokenRequests: (n: number) => Promise<void>
  readonly awaitTokenRequestsInFlight: (n: number) => Promise<void>
  readonly issued: () => Promise<ReadonlyArray<IssuedToken>>
  readonly revoke: (token: TokenInput) => Promise<boolean>
  readonly expireAll: () => Promise<void>
  /** @since 0.2.0 */
  readonly setDPoPNonce: (nonce: string | undefined) => Promise<void>
  /** Stops the server, destroys open connections. Idempotent. */
  readonly close: () => Promise<void>
}

/**
 * Starts a socket server for a test without Effect.
 *
 * @example
 * ```ts
 * import { FakeAuthServer, FakeResponse } from "@oauth-cc/testkit"
 *
 * // In a test framework: start in beforeAll, close in afterAll (see the README for vitest and jest).
 * const server = await FakeAuthServer.start()
 * try {
 *   await server.enqueue(FakeResponse.rateLimited({ retryAfter: 1 }))
 *   // … run the code under test against server.tokenUrl, then check what it sent:
 *   console.log(await server.tokenRequestCount())
 * } finally {
 *   await server.close()
 * }
 * ```
 *
 * @since 0.1.0
 * @category constructors
 */
export const start: (options?: Options) => Promise<Handle> = internal.start

/**
 * @since 0.1.0
 * @category accessors
 */
export const enqueue = (
  ...responses: ReadonlyArray<FakeResponse.FakeResponse>
): Effect.Effect<void, never, FakeAuthServer> =>
  Effect.flatMap(FakeAuthServer, (server) => server.enqueue(...responses))

/**
 * @since 0.1.0
 * @category accessors
 */
export const always = (response: FakeResponse.FakeResponse): Effect.Effect<void, never, FakeAuthServer> =>
  Effect.flatMap(FakeAuthServer, (server) => server.always(response))

/**
 * @since 0.1.0
 * @category accessors
 */
export const reset: Effect.Effect<void, never, FakeAuthServer> = Effect.flatMap(
  FakeAuthServer,
  (server) => server.reset
)

/**
 * @since 0.1.0
 * @category accessors
 */
export const requests: Effect.Effect<ReadonlyArray<RequestRecord>, never, FakeAuthServer> = Effect.flatMap(
  FakeAuthServer,
  (server) => server.requests
)

/**
 * @since 0.1.0
 * @category accessors
 */
export const tokenRequestCount: Effect.Effect<number, never, FakeAuthServer> = Effect.flatMap(
  FakeAuthServer,
  (server) => server.tokenRequestCount
)

/**
 * @since 0.1.0
 * @category accessors
 */
export const issued: Effect.Effect<ReadonlyArray<IssuedToken>, never, FakeAuthServer> = Effect.flatMap(
  FakeAuthServer,
  (server) => server.issued
)

/**
 * @since 0.1.0
 * @category accessors
 */
export const revoke = (token: TokenInput): Effect.Effect<boolean, never, FakeAuthServer> =>
  Effect.flatMap(FakeAuthServer, (server) => server.revoke(token))

/**
 * @since 0.1.0
 * @category accessors
 */
export const expireAll: Effect.Effect<void, never, FakeAuthServer> = Effect.flatMap(
  FakeAuthServer,
  (server) => server.expireAll
)
