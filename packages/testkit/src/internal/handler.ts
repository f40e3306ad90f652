import * as Clock from "effect/Clock"
import * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import * as Redacted from "effect/Redacted"
import * as Jose from "jose"
import * as Crypto from "node:crypto"
import * as DPoPVerifier from "../DPoPVerifier.js"
import type * as FakeAuthServer from "../FakeAuthServer.js"
import * as FakeResponse from "../FakeResponse.js"
import { adminPrefix, handleAdmin } from "./admin.js"
import { redactFormValue, redactHeaders, redactPath } from "./journalRedaction.js"

// -----------------------------------------------------------------------------
// the neutral model, shared by the socket server and the in-process client
// -----------------------------------------------------------------------------

/** A request as both transports hand it over. @internal */
export interface IncomingRequest {
  readonly method: string
  /** Path and query. */
  readonly path: string
  /** Lower-cased names. */
  readonly headers: Readonly<Record<string, string>>
  /** Undefined when there was no body. */
  readonly body: Uint8Array | undefined
  /** The body was over `maxBodyBytes` (and `body` holds none of it). */
  readonly bodyTooLarge: boolean
}

/** What the transport must do. @internal */
export type Outcome =
  | {
    readonly _tag: "Respond"
    readonly status: number
    readonly headers: Readonly<Record<string, string>>
    readonly body: string
  }
  | { readonly _tag: "Fault"; readonly fault: FakeResponse.FaultName }

/** RFC 6749 §5.1: token responses must not be cached; every answer says so. */
const noStore = { "cache-control": "no-store", pragma: "no-cache" } as const

/** The body `partialBody` starts to send: a token response cut in half. @internal */
export const partialBody = (() => {
  const full = JSON.stringify({ access_token: "partial-".padEnd(64, "x"), token_type: "Bearer", expires_in: 300 })
  return {
    status: 200,
    headers: { ...noStore, "content-type": "application/json", "content-length": String(Buffer.byteLength(full)) },
    sent: full.slice(0, Math.floor(full.length / 2))
  }
})()

/** The bytes `garbage` sends. @internal */
export const garbageBytes = "\u0000\u0001\u0002 this is not HTTP \u00ff\r\n\r\n"

// -----------------------------------------------------------------------------
// options
// -----------------------------------------------------------------------------

/** @internal */
export const defaultClient = { id: "test-client", secret: "test-secret" } as const

interface Client {
  readonly id: string
  readonly secret: Redacted.Redacted<string>
  readonly secretHash: Buffer
  readonly scopes: ReadonlyArray<string> | undefined
  readonly authMethods: ReadonlyArray<FakeAuthServer.ClientAuthMethod>
  readonly basicEncoding: "form" | "raw"
  readonly publicKey: Jose.CryptoKey | Jose.KeyObject | Jose.JWK | Uint8Array | Jose.JWTVerifyGetKey | undefined
}

const jwtBearer = "urn:ietf:params:oauth:client-assertion-type:jwt-bearer"

const sha256 = (text: string): Buffer => Crypto.createHash("sha256").update(text, "utf8").digest()

const resolveClient = (options: FakeAuthServer.ClientOptions): Client => {
  const secret = Redacted.isRedacted(options.secret) ? options.secret : Redacted.make(options.secret)
  const publicKey = options.jwks !== undefined ? Jose.createLocalJWKSet(options.jwks) : options.publicKey
  return {
    id: options.id,
    secret,
    secretHash: sha256(Redacted.value(secret)),
    scopes: options.scopes,
    authMethods: options.authMethods ?? [
      "client_secret_basic",
      "client_secret_post",
      "client_secret_jwt",
      ...(publicKey === undefined ? [] : ["private_key_jwt" as const])
    ],
    basicEncoding: options.basicEncoding ?? "form",
    publicKey
  }
}

/** @internal */
export interface Urls {
  readonly issuer: string
  readonly tokenUrl: string
  readonly jwksUri: string
  readonly resourceUrl: string
  readonly metadataUrl: string
}

/** @internal */
export const urlsOf = (issuer: string): Urls => ({
  issuer,
  tokenUrl: `${issuer}/token`,
  jwksUri: `${issuer}/jwks`,
  resourceUrl: `${issuer}/resource`,
  metadataUrl: `${issuer}/.well-known/oauth-authorization-server`
})

/** @internal */
export interface SigningKey {
  readonly kid: string
  readonly privateKey: Jose.CryptoKey
  readonly jwk: Jose.JWK
}

/** One ES256 key pair per server. @internal */
export const makeSigningKey: Effect.Effect<SigningKey> = Effect.promise(async () => {
  const { privateKey, publicKey } = await Jose.generateKeyPair("ES256", { extractable: true })
  const kid = Crypto.randomBytes(8).toString("hex")
  const jwk = { ...(await Jose.exportJWK(publicKey)), kid, alg: "ES256", use: "sig" }
  return { kid, privateKey, jwk }
})

// -----------------------------------------------------------------------------
// the state and the handler
// -----------------------------------------------------------------------------

const json = (status: number, body: unknown, headers: Record<string, string> = {}): Outcome => ({
  _tag: "Respond",
  status,
  headers: { ...noStore, "content-type": "application/json", ...headers },
  body: JSON.stringify(body)
})

interface MutableToken {
  readonly value: string
  readonly format: "opaque" | "jwt"
  readonly jti: string
  readonly clientId: string
  readonly scope: ReadonlyArray<string>
  readonly audience: string | ReadonlyArray<string>
  readonly issuedAt: number
  readonly expiresAt: number
  revoked: boolean
  expired: boolean
  /** The DPoP key's thumbprint the token is bound to (`cnf.jkt`). */
  readonly jkt: string | undefined
}

/** An RFC 6749 §5.2 error found while checking a token request. */
interface Rejection {
  readonly code: string
  readonly description: string
  readonly status?: number
}

interface TokenRequest {
  readonly form: Record<string, string | ReadonlyArray<string>> | undefined
  readonly authMethod: FakeAuthServer.ClientAuthMethod | "multiple" | undefined
  readonly usedBasic: boolean
  readonly clientId: string | undefined
  readonly result:
    | { readonly _tag: "Rejected"; readonly rejection: Rejection }
    | {
      readonly _tag: "Accepted"
      readonly client: Client
      readonly scope: ReadonlyArray<string>
      readonly audience: string | ReadonlyArray<string>
      /** RFC 8693: the `issued_token_type` of a token exchange's answer. */
      readonly issuedTokenType?: string | undefined
    }
}

const tokenExchangeGrant = "urn:ietf:params:oauth:grant-type:token-exchange"
const accessTokenType = "urn:ietf:params:oauth:token-type:access_token"
/** The types a token exchange may ask for: the fake server issues access tokens, which are JWTs. */
const issuableTypes: ReadonlySet<string> = new Set([accessTokenType, "urn:ietf:params:oauth:token-type:jwt"])

/** RFC 6749 §3.3 */
const scopeToken = /^[\x21\x23-\x5b\x5d-\x7e]+$/

const formDecode = (text: string): string | undefined => {
  try {
    return decodeURIComponent(text.replace(/\+/g, " "))
  } catch {
    return undefined
  }
}

const base64 = /^[A-Za-z0-9+/]*={0,2}$/

const fatalUtf8 = new TextDecoder("utf-8", { fatal: true })

/** @internal */
export class ServerState {
  /** By id: registering and looking up a client is O(1), so thousands of clients cost no quadratic copies. */
  private readonly clientsById = new Map<string, Client>()
  ttlMillis: number
  readonly tokenFormat: "opaque" | "jwt"
  readonly maxBodyBytes: number
  readonly rateLimit:
    | { readonly requests: number; readonly perMillis: number; readonly retryAfter?: number }
    | undefined

  queue: Array<FakeResponse.FakeResponse> = []
  alwaysResponse: FakeResponse.FakeResponse | undefined = undefined
  journal: Array<FakeAuthServer.RequestRecord> = []
  tokenRequestCount = 0
  resourceRequestCount = 0
  unauthenticatedResourceRequests = 0
  resource401Count = 0
  inFlight = 0
  maxInFlight = 0
  readonly tokens = new Map<string, MutableToken>()
  readonly issuedList: Array<MutableToken> = []
  private window: Array<number> = []
  private readonly waiters = new Set<() => boolean>()
  /** Checks proofs (signature, htm/htu, iat window, jti replay) with the server's clock. */
  readonly dpopVerifier: DPoPVerifier.DPoPVerifier
  readonly dpopRequired: boolean
  /** The nonce demanded now, if any (`setDPoPNonce` changes it). */
  dpopNonce: string | undefined

  constructor(
    readonly urls: Urls,
    readonly options: FakeAuthServer.Options,
    readonly key: SigningKey
  ) {
    for (const client of (options.clients ?? [defaultClient]).map(resolveClient)) {
      this.clientsById.delete(client.id)
      this.clientsById.set(client.id, client)
    }
    this.ttlMillis = Duration.toMillis(Duration.decode(options.tokenTtl ?? "5 minutes"))
    this.tokenFormat = options.tokenFormat ?? "opaque"
    this.maxBodyBytes = options.maxBodyBytes ?? 1024 * 1024
    this.rateLimit = options.rateLimit === undefined ? undefined : {
      requests: options.rateLimit.requests,
      perMillis: Duration.toMillis(Duration.decode(options.rateLimit.per)),
      ...(options.rateLimit.retryAfter === undefined ? {} : { retryAfter: options.rateLimit.retryAfter })
    }
    const dpop = options.dpop ?? {}
    this.dpopVerifier = Effect.runSync(DPoPVerifier.make({
      ...(dpop.iatWindow === undefined ? {} : { iatWindow: dpop.iatWindow }),
      ...(dpop.algorithms === undefined ? {} : { algorithms: dpop.algorithms })
    }))
    this.dpopRequired = dpop.required === true
    this.dpopNonce = dpop.nonce === true
      ? Crypto.randomBytes(16).toString("base64url")
      : typeof dpop.nonce === "string"
      ? dpop.nonce
      : undefined
  }

  /** The `DPoP-Nonce` header every answer carries while a nonce is demanded (RFC 9449 §8.2). */
  private nonceHeaders(): Record<string, string> {
    return this.dpopNonce === undefined ? {} : { "dpop-nonce": this.dpopNonce }
  }

  // --- waiting -----------------------------------------------------------------

  /** Calls `done` once `condition` holds (now or after a later change); the result cancels the wait. */
  waitFor(condition: () => boolean, done: () => void): () => void {
    if (condition()) {
      done()
      return () => {}
    }
    const waiter = () => {
      if (!condition()) return false
      done()
      return true
    }
    this.waiters.add(waiter)
    return () => this.waiters.delete(waiter)
  }

  private notify(): void {
    for (const waiter of this.waiters) {
      if (waiter()) this.waiters.delete(waiter)
    }
  }

  // --- tokens --------------------------------------------------------------------

  issuedTokens(): ReadonlyArray<FakeAuthServer.IssuedToken> {
    return this.issuedList.map((t) => ({
      value: Redacted.make(t.value),
      format: t.format,
      jti: t.jti,
      clientId: t.clientId,
      scope: t.scope,
      audience: t.audience,
      issuedAt: t.issuedAt,
      expiresAt: t.expiresAt,
      revoked: t.revoked,
      expired: t.expired,
      ...(t.jkt === undefined ? {} : { jkt: t.jkt })
    }))
  }

  /** The clients, in registration order (a replaced client moves to the end). */
  get clients(): ReadonlyArray<Client> {
    return Array.from(this.clientsById.values())
  }

  /** Adds a client, or replaces the one with the same id. */
  registerClient(options: FakeAuthServer.ClientOptions): void {
    const client = resolveClient(options)
    this.clientsById.delete(client.id)
    this.clientsById.set(client.id, client)
  }

  /** The client of this id, if any. */
  client(id: string | undefined): Client | undefined {
    return id === undefined ? undefined : this.clientsById.get(id)
  }

  revoke(input: FakeAuthServer.TokenInput): boolean {
    const value = typeof input === "string"
      ? input
      : Redacted.isRedacted(input)
      ? Redacted.value(input)
      : Redacted.value(input.value)
    const token = this.tokens.get(value)
    if (token === undefined) return false
    token.revoked = true
    return true
  }

  expireAll(): void {
    for (const token of this.issuedList) token.expired = true
  }

  clearRequests(): void {
    this.journal = []
    this.tokenRequestCount = 0
    this.resourceRequestCount = 0
    this.unauthenticatedResourceRequests = 0
    this.resource401Count = 0
    this.maxInFlight = this.inFlight
  }

  private issue(
    client: Client,
    scope: ReadonlyArray<string>,
    audience: string | ReadonlyArray<string>,
    now: number,
    ttlMillis: number,
    jkt: string | undefined
  ): Effect.Effect<MutableToken> {
    const jti = Crypto.randomUUID()
    const base = { format: this.tokenFormat, jti, clientId: client.id, scope, audience, issuedAt: now }
    const expiresAt = now + ttlMillis
    const value: Effect.Effect<string> = this.tokenFormat === "opaque"
      ? Effect.sync(() => Crypto.randomBytes(32).toString("base64url"))
      : Effect.promise(() => {
        const claims: Jose.JWTPayload = { client_id: client.id }
        if (scope.length > 0) claims.scope = scope.join(" ")
        if (jkt !== undefined) claims.cnf = { jkt }
        return new Jose.SignJWT(claims)
          .setProtectedHeader({ alg: "ES256", kid: this.key.kid, typ: "at+jwt" })
          .setIssuer(this.urls.issuer)
          .setSubject(client.id)
          .setAudience(typeof audience === "string" ? audience : [...audience])
          .setIssuedAt(Math.floor(now / 1000))
          .setExpirationTime(Math.floor(expiresAt / 1000))
          .setJti(jti)
          .sign(this.key.privateKey)
      })
    return Effect.map(value, (value) => {
      const token: MutableToken = { ...base, value, expiresAt, revoked: false, expired: false, jkt }
      this.tokens.set(value, token)
      this.issuedList.push(token)
      return token
    })
  }

  // --- the handler ---------------------------------------------------------------

  /** Answers one request. Reads time from `Clock`; scripted delays sleep on it. */
  handle(request: IncomingRequest): Effect.Effect<Outcome> {
    return Effect.suspend(() => {
      const pathname = request.path.split("?")[0]!
      if (this.options.admin === true && pathname.startsWith(adminPrefix)) return handleAdmin(this, request)
      if (pathname === "/token") return this.handleToken(request)
      if (pathname === "/resource" || pathname.startsWith("/resource/")) return this.handleResource(request)
      return Effect.map(Clock.currentTimeMillis, (now) => {
        if (pathname === "/jwks" && request.method === "GET") {
          return this.record(now, request, "jwks", json(200, { keys: [this.key.jwk] }), { response: "jwks" })
        }
        if (pathname === "/.well-known/oauth-authorization-server" && request.method === "GET") {
          return this.record(now, request, "metadata", json(200, this.metadata()), { response: "metadata" })
        }
        return this.record(now, request, "notFound", json(404, { error: "not_found" }), { response: "notFound" })
      })
    })
  }

  metadata(): Record<string, unknown> {
    const methods = new Set(this.clients.flatMap((c) => c.authMethods))
    const scopes = this.clients.every((c) => c.scopes !== undefined)
      ? Array.from(new Set(this.clients.flatMap((c) => c.scopes ?? [])))
      : undefined
    return {
      issuer: this.urls.issuer,
      token_endpoint: this.urls.tokenUrl,
      jwks_uri: this.urls.jwksUri,
      grant_types_supported: ["client_credentials"],
      response_types_supported: [],
      token_endpoint_auth_methods_supported: Array.from(methods),
      ...(methods.has("client_secret_jwt") || methods.has("private_key_jwt")
        ? {
          token_endpoint_auth_signing_alg_values_supported: [
            ...(methods.has("client_secret_jwt") ? ["HS256"] : []),
            ...(methods.has("private_key_jwt") ? ["RS256", "PS256", "ES256", "EdDSA"] : [])
          ]
        }
        : {}),
      ...(scopes === undefined ? {} : { scopes_supported: scopes })
    }
  }

  private record(
    now: number,
    request: IncomingRequest,
    endpoint: FakeAuthServer.Endpoint,
    outcome: Outcome,
    fields: {
      readonly response: string
      readonly form?: Record<string, string | ReadonlyArray<string>> | undefined
      readonly clientAuthMethod?: FakeAuthServer.ClientAuthMethod | "multiple" | undefined
      readonly clientId?: string | undefined
      readonly error?: string | undefined
      readonly delayMillis?: number
    }
  ): Outcome {
    this.journal.push({
      time: now,
      endpoint,
      method: request.method,
      path: redactPath(request.path),
      headers: redactHeaders(request.headers),
      form: fields.form,
      clientAuthMethod: fields.clientAuthMethod,
      clientId: fields.clientId,
      outcome: outcome._tag === "Respond" ? outcome.status : outcome.fault,
      response: fields.response,
      error: fields.error,
      delayMillis: fields.delayMillis ?? 0
    })
    this.notify()
    return outcome
  }

  // --- the protected resource --------------------------------------------------------

  private handleResource(request: IncomingRequest): Effect.Effect<Outcome> {
    return Effect.gen(this, function*() {
      const now = yield* Clock.currentTimeMillis
      this.resourceRequestCount++
      const authorization = request.headers.authorization
      const challenge = (error?: string, description?: string) => {
        this.resource401Count++
        const params = [`realm="fake-auth-server"`]
        if (error !== undefined) params.push(`error="${error}"`)
        if (description !== undefined) params.push(`error_description="${description}"`)
        return json(401, error === undefined ? { error: "unauthorized" } : { error, error_description: description }, {
          "www-authenticate": `Bearer ${params.join(", ")}`
        })
      }
      if (authorization === undefined) {
        // RFC 6750 §3.1: a request without credentials gets a challenge without an error code
        this.unauthenticatedResourceRequests++
        return this.record(now, request, "resource", challenge(), { response: "resource" })
      }
      const match = /^(Bearer|DPoP) +([\x21-\x7e]+)\s*$/i.exec(authorization)
      const token = match === null ? undefined : this.tokens.get(match[2]!)
      const bound = token?.jkt !== undefined
      const reject = (description: string) =>
        this.record(
          now,
          request,
          "resource",
          bound || match?.[1]!.toLowerCase() === "dpop"
            ? this.dpopChallenge("invalid_token", description)
            : challenge("invalid_token", description),
          { response: "resource", clientId: token?.clientId, error: "invalid_token" }
        )
      if (match === null) return reject("expected a Bearer or DPoP token")
      if (token === undefined) return reject("unknown token")
      if (token.revoked) return reject("the token was revoked")
      if (token.expired || now >= token.expiresAt) return reject("the token expired")
      const dpopScheme = match[1]!.toLowerCase() === "dpop"
      // RFC 9449 §7.2: a bound token is only good with a proof of its key; a bearer one never with DPoP
      if (bound && !dpopScheme) return reject("the token is DPoP-bound: send it as DPoP with a proof")
      if (!bound && dpopScheme) return reject("the token is not DPoP-bound")
      if (bound) {
        const verified = yield* Effect.either(this.dpopVerifier.verify({
          proof: request.headers["dpop"],
          method: request.method,
          url: `${this.urls.issuer}${request.path}`,
          accessToken: match[2]!,
          nonce: this.dpopNonce
        }))
        if (verified._tag === "Left") {
          const error = verified.left
          this.resource401Count++
          return this.record(now, request, "resource", this.dpopChallenge(error.error, error.description, error), {
            response: "resource",
            clientId: token.clientId,
            error: error.error
          })
        }
        if (verified.right.jkt !== token.jkt) return reject("the proof's key is not the one the token is bound to")
      }
      const body = { method: request.method, path: request.path, clientId: token.clientId, scope: token.scope }
      return this.record(now, request, "resource", json(200, body), { response: "resource", clientId: token.clientId })
    })
  }

  /** A 401 with a `DPoP` challenge (RFC 9449 §7.1), and the nonce when one is demanded. */
  private dpopChallenge(
    code: string,
    description: string,
    error?: DPoPVerifier.DPoPProofRejected
  ): Outcome {
    if (error === undefined) this.resource401Count++
    return json(401, { error: code, error_description: description }, {
      "www-authenticate": DPoPVerifier.challenge(
        error ?? (code === "invalid_token" ? "invalid_token" : undefined),
        this.dpopVerifier.algorithms
      ),
      ...this.nonceHeaders()
    })
  }

  /**
   * The proof of a token request, if it has one (or must): `Left` is the 400 to answer (RFC 9449 §5, §8),
   * `Right` the key's thumbprint to bind the token to, or undefined for a request without a proof.
   */
  private checkTokenProof(request: IncomingRequest): Effect.Effect<string | undefined, Outcome> {
    const proof = request.headers["dpop"]
    if (proof === undefined && !this.dpopRequired) return Effect.succeed(undefined)
    return this.dpopVerifier.verify({
      proof,
      method: request.method,
      url: `${this.urls.issuer}${request.path}`,
      nonce: this.dpopNonce
    }).pipe(
      Effect.map((verified) => verified.jkt),
      Effect.mapError((error) =>
        json(400, { error: error.error, error_description: error.description }, this.nonceHeaders())
      )
    )
  }

  // --- the token endpoint ----------------------------------------------------------

  private handleToken(request: IncomingRequest): Effect.Effect<Outcome> {
    const enter = Effect.sync(() => {
      this.tokenRequestCount++
      this.inFlight++
      this.maxInFlight = Math.max(this.maxInFlight, this.inFlight)
      this.notify()
    })
    const exit = Effect.sync(() => {
      this.inFlight--
      this.notify()
    })
    return Effect.acquireUseRelease(enter, () => this.answerToken(request), () => exit)
  }

  private answerToken(request: IncomingRequest): Effect.Effect<Outcome> {
    return Effect.gen(this, function*() {
      const now = yield* Clock.currentTimeMillis
      const parsed = yield* this.checkTokenRequest(request, now)
      // a refused proof is answered before any scripted answer, which stays queued
      const proof = yield* Effect.either(this.checkTokenProof(request))
      if (proof._tag === "Left") {
        const error = (JSON.parse(proof.left._tag === "Respond" ? proof.left.body : "{}") as { error?: string }).error
        return this.record(now, request, "token", proof.left, {
          form: parsed.form,
          clientAuthMethod: parsed.authMethod,
          clientId: parsed.clientId,
          response: "oauthError",
          error
        })
      }
      const jkt = proof.right
      let response: FakeResponse.FakeResponse | undefined = this.queue.shift() ?? this.alwaysResponse
      let limited = false
      if (response === undefined) {
        response = FakeResponse.token()
        limited = this.rateLimited(now)
      }
      let delayMillis = 0
      while (response._tag === "Delay") {
        delayMillis += Duration.toMillis(response.duration)
        response = response.response ?? FakeResponse.token()
      }
      const fields = {
        form: parsed.form,
        clientAuthMethod: parsed.authMethod,
        clientId: parsed.clientId,
        delayMillis
      }
      let outcome: Outcome
      let name: string
      let error: string | undefined
      if (limited) {
        const retryAfter = this.rateLimit!.retryAfter ??
          Math.max(1, Math.ceil((this.window[0]! + this.rateLimit!.perMillis - now) / 1000))
        const http = FakeResponse.rateLimited({ retryAfter })
        outcome = { _tag: "Respond", status: http.status, headers: { ...noStore, ...http.headers }, body: http.body }
        name = "rateLimited"
      } else {
        switch (response._tag) {
          case "Fault": {
            outcome = { _tag: "Fault", fault: response.fault }
            name = response.fault
            break
          }
          case "Http": {
            outcome = {
              _tag: "Respond",
              status: response.status,
              headers: { ...noStore, ...response.headers },
              body: response.body
            }
            name = response.name
            break
          }
          case "OAuthError": {
            outcome = this.oauthError(response, parsed.usedBasic)
            name = "oauthError"
            error = response.code
            break
          }
          case "Token": {
            if (parsed.result._tag === "Rejected") {
              const r = parsed.result.rejection
              outcome = this.oauthError(
                FakeResponse.oauthError(r.code, { description: r.description, status: r.status }),
                parsed.usedBasic
              )
              name = "oauthError"
              error = r.code
            } else {
              const { audience, client, issuedTokenType, scope } = parsed.result
              const ttl = response.expiresIn === undefined ? this.ttlMillis : response.expiresIn * 1000
              const token = yield* this.issue(client, scope, audience, now, ttl, jkt)
              const body = this.tokenBody(token, response, ttl)
              const issued = issuedTokenType === undefined ? {} : { issued_token_type: issuedTokenType }
              outcome = json(200, { ...issued, ...body }, this.nonceHeaders())
              name = "token"
            }
            break
          }
        }
      }
      this.record(now, request, "token", outcome, { ...fields, response: name, error })
      if (delayMillis > 0) yield* Effect.sleep(Duration.millis(delayMillis))
      // a hung request stays in flight until the client gives up or the server stops
      if (outcome._tag === "Fault" && outcome.fault === "hang") return yield* Effect.never
      return outcome
    })
  }

  private rateLimited(now: number): boolean {
    if (this.rateLimit === undefined) return false
    this.window = this.window.filter((t) => t > now - this.rateLimit!.perMillis)
    if (this.window.length >= this.rateLimit.requests) return true
    this.window.push(now)
    return false
  }

  private tokenBody(token: MutableToken, shape: FakeResponse.Token, ttlMillis: number): Record<string, unknown> {
    const body: Record<string, unknown> = {
      access_token: token.value,
      token_type: shape.tokenType ?? (token.jkt === undefined ? "Bearer" : "DPoP")
    }
    const expiresIn = Math.round(ttlMillis / 1000)
    if (shape.omitExpiresIn !== true) body.expires_in = shape.expiresInAsString === true ? String(expiresIn) : expiresIn
    if (shape.scope !== undefined) body.scope = shape.scope
    else if (token.scope.length > 0) body.scope = token.scope.join(" ")
    return { ...body, ...shape.extra }
  }

  private oauthError(error: FakeResponse.OAuthError, usedBasic: boolean): Outcome {
    const status = error.status ?? (error.code === "invalid_client" ? 401 : 400)
    const headers: Record<string, string> = {}
    if (error.code === "invalid_client" && usedBasic) headers["www-authenticate"] = `Basic realm="fake-auth-server"`
    const body: Record<string, string> = { error: error.code }
    if (error.description !== undefined) body.error_description = error.description
    if (error.uri !== undefined) body.error_uri = error.uri
    return json(status, body, headers)
  }

  private readonly seenAssertions = new Set<string>()

  /**
   * RFC 7523 §3: `iss` = `sub` = the client id, `aud` the token endpoint or the issuer, unexpired at
   * `now` (the handler's clock), signed with the client's secret (HS*) or key; a `jti` is accepted once.
   * Returns why it failed, if it did.
   */
  private verifyAssertion(
    client: Client,
    assertion: string,
    alg: string | undefined,
    now: number
  ): Effect.Effect<string | undefined> {
    return Effect.promise(async () => {
      const hmac = alg?.startsWith("HS") === true
      const key = hmac ? new TextEncoder().encode(Redacted.value(client.secret)) : client.publicKey
      if (key === undefined) return "the client has no public key for private_key_jwt"
      try {
        const options: Jose.JWTVerifyOptions = {
          issuer: client.id,
          subject: client.id,
          audience: [this.urls.tokenUrl, this.urls.issuer],
          currentDate: new Date(now),
          requiredClaims: ["exp"],
          algorithms: hmac
            ? ["HS256", "HS384", "HS512"]
            : ["RS256", "RS384", "RS512", "PS256", "ES256", "ES384", "EdDSA"]
        }
        const { payload } = typeof key === "function"
          ? await Jose.jwtVerify(assertion, key, options)
          : await Jose.jwtVerify(assertion, key, options)
        if (payload.jti !== undefined) {
          if (this.seenAssertions.has(payload.jti)) return "the client_assertion was replayed (jti already used)"
          this.seenAssertions.add(payload.jti)
        }
        return undefined
      } catch (error) {
        return `the client_assertion is invalid: ${(error as { code?: string }).code ?? "verification failed"}`
      }
    })
  }

  /**
   * Checks a token request as RFC 6749 says: method, body, form, client authentication (§2.3.1,
   * never two methods at once), grant type (§4.4.2), scope (§3.3).
   */
  private checkTokenRequest(request: IncomingRequest, now: number): Effect.Effect<TokenRequest> {
    return Effect.gen(this, function*() {
      let form: Record<string, string | ReadonlyArray<string>> | undefined = undefined
      let authMethod: TokenRequest["authMethod"]
      let usedBasic = false
      let clientId: string | undefined
      const reject = (code: string, description: string, status?: number): TokenRequest => ({
        form,
        authMethod,
        usedBasic,
        clientId,
        result: {
          _tag: "Rejected",
          rejection: status === undefined ? { code, description } : { code, description, status }
        }
      })
      if (request.method !== "POST") return reject("invalid_request", "the token endpoint accepts POST only", 405)
      if (request.bodyTooLarge) return reject("invalid_request", "the request body is too large", 413)
      const contentType = (request.headers["content-type"] ?? "").split(";")[0]!.trim().toLowerCase()
      if (request.body === undefined || request.body.length === 0) {
        return reject("invalid_request", "the request body is missing")
      }
      if (contentType !== "application/x-www-form-urlencoded") {
        return reject("invalid_request", "the body must be application/x-www-form-urlencoded")
      }
      let text: string
      try {
        text = fatalUtf8.decode(request.body)
      } catch {
        return reject("invalid_request", "the body is not UTF-8")
      }
      const params = new URLSearchParams(text)
      const fields: Record<string, Array<string>> = {}
      for (const [key, value] of params) (fields[key] ??= []).push(redactFormValue(key, value))
      form = Object.fromEntries(Object.entries(fields).map(([k, v]) => [k, v.length === 1 ? v[0]! : v]))
      for (const [key, values] of Object.entries(fields)) {
        // RFC 6749 §3.2: parameters must not repeat; RFC 8707 allows several `resource`
        if (values.length > 1 && key !== "resource") {
          return reject("invalid_request", `the parameter ${key} is repeated`)
        }
      }

      // client authentication
      const authorization = request.headers.authorization
      let basic: { readonly id: string; readonly secret: string } | undefined
      if (authorization !== undefined) {
        const match = /^(\S+)(?: +(\S*))?\s*$/.exec(authorization)
        if (match === null) return reject("invalid_request", "the Authorization header is malformed")
        if (match[1]!.toLowerCase() !== "basic") {
          return reject("invalid_client", "the Authorization scheme is not supported; use Basic", 401)
        }
        usedBasic = true
        authMethod = "client_secret_basic"
        const encoded = match[2] ?? ""
        if (encoded.length === 0 || !base64.test(encoded)) {
          return reject("invalid_request", "the Basic credentials are not base64")
        }
        const decoded = Buffer.from(encoded, "base64").toString("utf8")
        const colon = decoded.indexOf(":")
        if (colon < 0) return reject("invalid_request", "the Basic credentials have no colon")
        basic = { id: decoded.slice(0, colon), secret: decoded.slice(colon + 1) }
      }
      const postSecret = params.get("client_secret") ?? undefined
      const postId = params.get("client_id") ?? undefined
      const assertion = params.get("client_assertion") ?? undefined
      const assertionType = params.get("client_assertion_type") ?? undefined
      const presented = [basic !== undefined, postSecret !== undefined, assertion !== undefined].filter((b) => b)
      if (presented.length > 1) {
        authMethod = "multiple"
        return reject("invalid_request", "the client used more than one authentication method")
      }
      let claims: Jose.JWTPayload | undefined
      let assertionAlg: string | undefined
      if (assertion !== undefined) {
        if (assertionType !== jwtBearer) return reject("invalid_request", `client_assertion_type must be ${jwtBearer}`)
        try {
          claims = Jose.decodeJwt(assertion)
          assertionAlg = Jose.decodeProtectedHeader(assertion).alg
        } catch {
          return reject("invalid_client", "client_assertion is not a JWT", 401)
        }
        authMethod = assertionAlg?.startsWith("HS") ? "client_secret_jwt" : "private_key_jwt"
      } else if (basic === undefined) {
        authMethod = postSecret !== undefined
          ? "client_secret_post"
          : postId !== undefined
          ? "none"
          : undefined
      }

      let client: Client | undefined
      let secret: string | undefined
      if (basic !== undefined) {
        const formId = formDecode(basic.id)
        // a form-encoding client is named by the decoded id, a raw one by the id as sent
        const byForm = this.client(formId)
        const byRaw = this.client(basic.id)
        client = byForm?.basicEncoding === "form" ? byForm : byRaw?.basicEncoding === "raw" ? byRaw : undefined
        clientId = client?.id ?? formId ?? basic.id
        if (client !== undefined) {
          secret = client.basicEncoding === "form" ? formDecode(basic.secret) : basic.secret
          if (secret === undefined) return reject("invalid_request", "the Basic credentials are not form-encoded")
        }
        if (postId !== undefined && postId !== clientId) {
          return reject("invalid_request", "client_id does not match the Basic credentials")
        }
      } else if (claims !== undefined) {
        clientId = typeof claims.iss === "string" ? claims.iss : undefined
        if (postId !== undefined && postId !== clientId) {
          return reject("invalid_client", "client_id does not match the client_assertion issuer", 401)
        }
        client = this.client(clientId)
      } else {
        clientId = postId
        client = this.client(postId)
        secret = postSecret
      }

      const grantType = params.get("grant_type")
      if (grantType === null) return reject("invalid_request", "grant_type is missing")

      if (authMethod === undefined) return reject("invalid_client", "client authentication is required", 401)
      if (client === undefined) return reject("invalid_client", "unknown client", 401)
      if (!client.authMethods.includes(authMethod as FakeAuthServer.ClientAuthMethod)) {
        return reject("invalid_client", `the client may not use ${authMethod}`, 401)
      }
      if (assertion !== undefined) {
        const failure = yield* this.verifyAssertion(client, assertion, assertionAlg, now)
        if (failure !== undefined) return reject("invalid_client", failure, 401)
      } else if (authMethod !== "none") {
        const ok = Crypto.timingSafeEqual(sha256(secret ?? ""), client.secretHash)
        if (!ok) return reject("invalid_client", "client authentication failed", 401)
      }

      let issuedTokenType: string | undefined
      if (grantType === tokenExchangeGrant) {
        // RFC 8693 §2.1: any non-empty subject token of a stated type is accepted (the fake trusts every STS)
        const subject = params.getAll("subject_token")
        if (subject.length !== 1 || subject[0] === "" || (params.get("subject_token_type") ?? "") === "") {
          return reject("invalid_request", "a token exchange needs one subject_token and its subject_token_type")
        }
        issuedTokenType = params.get("requested_token_type") ?? accessTokenType
        if (!issuableTypes.has(issuedTokenType)) {
          return reject("invalid_request", "requested_token_type is not one this server issues")
        }
      } else if (grantType !== "client_credentials") {
        return reject("unsupported_grant_type", `${grantType} is not supported`)
      }

      const requested = (params.get("scope") ?? "").split(" ").filter((s) => s.length > 0)
      for (const scope of requested) {
        if (!scopeToken.test(scope)) return reject("invalid_scope", "a scope has characters RFC 6749 §3.3 forbids")
        if (client.scopes !== undefined && !client.scopes.includes(scope)) {
          return reject("invalid_scope", `the client may not request ${scope}`)
        }
      }
      const scope = requested.length > 0 ? requested : client.scopes ?? []
      const resources = params.getAll("resource")
      const audience = params.get("audience") ??
        (resources.length === 1 ? resources[0]! : resources.length > 1 ? resources : undefined) ??
        this.options.audience ?? this.urls.resourceUrl
      return {
        form,
        authMethod,
        usedBasic,
        clientId,
        result: { _tag: "Accepted", client, scope, audience, issuedTokenType }
      } as TokenRequest
    })
  }
}
