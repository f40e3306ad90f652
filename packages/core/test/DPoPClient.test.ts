/**
 * DPoP end to end on the client side (RFC 9449): proofs on token requests (one per attempt, the nonce dance,
 * no downgrade to Bearer), the key's thumbprint in the cache key, `OAUTH_DPOP_KEY`, and `AuthorizedHttpClient`
 * against a resource written here (a `node:http` server) that demands nonces and checks `ath`.
 */
import * as FetchHttpClient from "@effect/platform/FetchHttpClient"
import * as HttpClient from "@effect/platform/HttpClient"
import { assert, describe, it } from "@effect/vitest"
import * as Cause from "effect/Cause"
import * as ConfigProvider from "effect/ConfigProvider"
import * as Effect from "effect/Effect"
import * as Either from "effect/Either"
import * as Exit from "effect/Exit"
import * as Layer from "effect/Layer"
import * as Redacted from "effect/Redacted"
import * as TestClock from "effect/TestClock"
import * as Tracer from "effect/Tracer"
import { calculateJwkThumbprint, compactVerify, decodeJwt, decodeProtectedHeader, importJWK, type JWK } from "jose"
import { createHash, generateKeyPairSync } from "node:crypto"
import { inspect } from "node:util"
import * as AccessToken from "../src/AccessToken.js"
import * as AuthorizedHttpClient from "../src/AuthorizedHttpClient.js"
import * as ClientCredentials from "../src/ClientCredentials.js"
import type * as TokenError from "../src/TokenError.js"
import * as TokenProvider from "../src/TokenProvider.js"
import * as TokenStore from "../src/TokenStore.js"
import { baseOptions, canarySecret, fakeClient, httpServer, type Reply, type Seen, sendJson } from "./utils.js"

const keyA = generateKeyPairSync("ec", { namedCurve: "P-256" })
const keyB = generateKeyPairSync("ed25519")
const jwkA = keyA.privateKey.export({ format: "jwk" }) as JWK
const canaryToken = "tok-CANARY-d9f0"

const dpopToken = (n: number, extra: object = {}) => ({
  access_token: n === 1 ? canaryToken : `tok-${n}`,
  token_type: "DPoP",
  expires_in: 3600,
  ...extra
})

const options = (
  key: ClientCredentials.DPoPOptions["key"] = keyA.privateKey,
  extra: Partial<ClientCredentials.DPoPOptions> = {}
): ClientCredentials.Options => ({
  ...baseOptions,
  tokenUrl: "https://auth.example.test/oauth/token?tenant=t1",
  retry: { jitter: false, baseDelay: "100 millis" },
  dpop: { key, ...extra }
})

const provider = (respond: (request: Seen, n: number) => Reply, opts: ClientCredentials.Options = options()) =>
  Effect.gen(function*() {
    const fake = fakeClient(respond)
    const service = yield* TokenProvider.make(opts).pipe(Effect.provideService(HttpClient.HttpClient, fake.client))
    return { service, seen: fake.seen }
  })

interface Proof {
  readonly header: Record<string, unknown>
  readonly claims: Record<string, unknown>
  readonly signature: string
}

/** Decodes and verifies a proof with the key its header carries. */
const readProof = (proof: string | undefined): Effect.Effect<Proof> =>
  Effect.promise(async () => {
    assert.isString(proof)
    const header = decodeProtectedHeader(proof!) as Record<string, unknown>
    await compactVerify(proof!, await importJWK(header.jwk as JWK, header.alg as string))
    return { header, claims: decodeJwt(proof!) as Record<string, unknown>, signature: proof!.split(".")[2]! }
  })

const sha256 = (text: string) => createHash("sha256").update(text).digest("base64url")

describe("token requests with DPoP", () => {
  it.scoped("every attempt carries a fresh proof: typ, public jwk, htm POST, htu without query, iat from Clock", () =>
    Effect.gen(function*() {
      yield* TestClock.setTime(1_700_000_000_000)
      const { seen, service } = yield* provider((_, n) => n === 1 ? { status: 503 } : { body: dpopToken(n) })
      const fiber = yield* Effect.fork(service.get)
      yield* TestClock.adjust("1 second")
      const token = yield* fiber
      assert.strictEqual(token.tokenType, "DPoP")
      assert.strictEqual(AccessToken.authorizationHeader(token), "DPoP tok-2")
      assert.strictEqual(seen.length, 2)
      const proofs = yield* Effect.forEach(seen, (request) => readProof(request.headers["dpop"]))
      for (const [i, proof] of proofs.entries()) {
        assert.strictEqual(proof.header.typ, "dpop+jwt")
        assert.strictEqual(proof.header.alg, "ES256")
        assert.isUndefined((proof.header.jwk as JWK).d, "no private member in the header")
        assert.strictEqual(proof.claims.htm, "POST")
        assert.strictEqual(proof.claims.htu, "https://auth.example.test/oauth/token")
        assert.strictEqual(proof.claims.iat, 1_700_000_000, `attempt ${i + 1}`)
        assert.isUndefined(proof.claims.ath, "no ath on a token request")
      }
      assert.notStrictEqual(proofs[0]!.claims.jti, proofs[1]!.claims.jti)
      assert.strictEqual(service.dpop?.thumbprint, yield* Effect.promise(() => calculateJwkThumbprint(jwkA)))
    }))

  it.scoped("400 use_dpop_nonce is retried at once with the nonce, which later requests keep", () =>
    Effect.gen(function*() {
      const { seen, service } = yield* provider((_, n) =>
        n === 1
          ? { status: 400, headers: { "dpop-nonce": "nonce-1" }, body: { error: "use_dpop_nonce" } }
          : { body: dpopToken(n), headers: n === 2 ? { "dpop-nonce": "nonce-2" } : {} }
      )
      // no TestClock.adjust: the nonce retry does not wait for the backoff
      yield* service.get
      assert.strictEqual(seen.length, 2)
      const [first, second] = yield* Effect.forEach(seen, (r) => readProof(r.headers["dpop"]))
      assert.isUndefined(first!.claims.nonce)
      assert.strictEqual(second!.claims.nonce, "nonce-1")
      assert.notStrictEqual(first!.claims.jti, second!.claims.jti)
      yield* service.refresh
      assert.strictEqual(seen.length, 3)
      assert.strictEqual((yield* readProof(seen[2]!.headers["dpop"])).claims.nonce, "nonce-2")
    }))

  it.scoped("the nonce retry happens once: a server asking again gets the rejection, not a loop", () =>
    Effect.gen(function*() {
      const { seen, service } = yield* provider((_, n) => ({
        status: 400,
        headers: { "dpop-nonce": `n-${n}` },
        body: { error: "use_dpop_nonce" }
      }))
      const error = yield* Effect.flip(service.get)
      assert.strictEqual(error._tag, "TokenRequestRejected")
      assert.strictEqual((error as TokenError.TokenRequestRejected).error, "use_dpop_nonce")
      assert.strictEqual(seen.length, 2)
    }))

  it.scoped("use_dpop_nonce without a valid DPoP-Nonce is a plain rejection (no retry)", () =>
    Effect.gen(function*() {
      const { seen, service } = yield* provider(() => ({
        status: 400,
        headers: { "dpop-nonce": "bad nonce\"" },
        body: { error: "use_dpop_nonce" }
      }))
      const error = yield* Effect.flip(service.get)
      assert.strictEqual(error._tag, "TokenRequestRejected")
      assert.strictEqual(seen.length, 1)
    }))

  it.scoped("Bearer in answer to a DPoP request is a DPoPDowngrade, unless dpop.allowBearer", () =>
    Effect.gen(function*() {
      const bearer = () => ({ body: { access_token: "tok-b", token_type: "Bearer", expires_in: 60 } })
      const refused = yield* provider(bearer)
      const error = yield* Effect.flip(refused.service.get)
      assert.strictEqual(error._tag, "TokenResponseInvalid")
      assert.strictEqual((error as TokenError.TokenResponseInvalid).reason, "DPoPDowngrade")
      assert.strictEqual(refused.seen.length, 1, "terminal: not retried")
      const allowed = yield* provider(bearer, options(keyA.privateKey, { allowBearer: true }))
      assert.strictEqual((yield* allowed.service.get).tokenType, "Bearer")
    }))

  it.scoped("token_type DPoP without a proof sent is refused", () =>
    Effect.gen(function*() {
      const { seen, service } = yield* provider(() => ({ body: dpopToken(1) }), baseOptions)
      const error = yield* Effect.flip(service.get)
      assert.strictEqual(error._tag, "TokenResponseInvalid")
      assert.strictEqual((error as TokenError.TokenResponseInvalid).reason, "UnsupportedTokenType")
      assert.isUndefined(seen[0]!.headers["dpop"])
    }))

  it.scoped("the key's thumbprint is in the cache key: different keys never share a token through one store", () =>
    Effect.gen(function*() {
      const store = yield* TokenStore.makeMemory()
      const fake = fakeClient((_, n) => ({ body: dpopToken(n) }))
      const make = (opts: ClientCredentials.Options) =>
        TokenProvider.make(opts).pipe(
          Effect.provideService(HttpClient.HttpClient, fake.client),
          Effect.provideService(TokenStore.TokenStore, store)
        )
      const a1 = yield* make(options(keyA.privateKey))
      const a2 = yield* make(options(Redacted.make(jwkA)))
      const b = yield* make(options(keyB.privateKey))
      const plain = yield* make({ ...options(), dpop: undefined, assumeBearer: true })
      const tokenA = yield* a1.get
      assert.strictEqual((yield* a2.get).value, tokenA.value, "the same key (as a JWK) shares the token")
      assert.strictEqual(fake.seen.length, 1)
      const tokenB = yield* b.get
      assert.notStrictEqual(Redacted.value(tokenB.value), Redacted.value(tokenA.value))
      assert.strictEqual(fake.seen.length, 2)
      const error = yield* Effect.flip(plain.get)
      assert.strictEqual(error._tag, "TokenResponseInvalid", "no DPoP token served to a provider without the key")
      assert.strictEqual(fake.seen.length, 3)
    }))
})

describe("OAUTH_DPOP_KEY", () => {
  const read = (env: Record<string, string>) =>
    Effect.either(
      ClientCredentials.config().pipe(
        Effect.withConfigProvider(ConfigProvider.fromMap(
          new Map(Object.entries({ OAUTH_TOKEN_URL: "https://a.test/token", OAUTH_CLIENT_ID: "c", ...env })),
          { pathDelim: "_" }
        ))
      )
    )
  const pem = keyA.privateKey.export({ format: "pem", type: "pkcs8" }).toString()

  it.effect("a PKCS#8 PEM or a JWK: dpop is set, its alg from the key or OAUTH_DPOP_ALG", () =>
    Effect.gen(function*() {
      const fromPem = yield* read({ OAUTH_CLIENT_SECRET: "x", OAUTH_DPOP_KEY: pem })
      assert.isTrue(Either.isRight(fromPem))
      assert.isTrue(Redacted.isRedacted(Either.getOrThrow(fromPem).dpop?.key))
      const ed = keyB.privateKey.export({ format: "jwk" })
      const fromJwk = yield* read({
        OAUTH_CLIENT_SECRET: "x",
        OAUTH_DPOP_KEY: JSON.stringify(ed),
        OAUTH_DPOP_ALG: "EdDSA"
      })
      assert.strictEqual(Either.getOrThrow(fromJwk).dpop?.alg, "EdDSA")
    }))

  it.effect("a bad key or alg is a ConfigError naming the variable, never echoing the key", () =>
    Effect.gen(function*() {
      const sec1 = keyA.privateKey.export({ format: "pem", type: "sec1" }).toString()
      const publicJwk = JSON.stringify(keyA.publicKey.export({ format: "jwk" }))
      const pss = generateKeyPairSync("rsa-pss", { modulusLength: 2048 }).privateKey.export({
        format: "pem",
        type: "pkcs8"
      }).toString()
      const p384 = JSON.stringify(
        generateKeyPairSync("ec", { namedCurve: "P-384" }).privateKey.export({ format: "jwk" })
      )
      const cases: Array<[Record<string, string>, string]> = [
        [{ OAUTH_DPOP_KEY: `${canarySecret}-not-a-key` }, "OAUTH_DPOP_KEY"],
        [{ OAUTH_DPOP_KEY: sec1 }, "OAUTH_DPOP_KEY"],
        [{ OAUTH_DPOP_KEY: publicJwk }, "OAUTH_DPOP_KEY"],
        [{ OAUTH_DPOP_KEY: p384 }, "OAUTH_DPOP_KEY"],
        [{ OAUTH_DPOP_KEY: pss }, "OAUTH_DPOP_KEY"],
        [{ OAUTH_DPOP_KEY: pem, OAUTH_DPOP_ALG: "EdDSA" }, "OAUTH_DPOP_ALG"],
        [{ OAUTH_DPOP_KEY: pem, OAUTH_DPOP_ALG: "HS256" }, "OAUTH_DPOP_ALG"],
        [{ OAUTH_DPOP_ALG: "ES256" }, "OAUTH_DPOP_KEY"],
        // members that error messages name are shown only when they look like the names they should be
        [{ OAUTH_DPOP_KEY: JSON.stringify({ ...jwkA, alg: `${canarySecret}-in-alg` }) }, "OAUTH_DPOP_KEY"],
        [{ OAUTH_DPOP_KEY: JSON.stringify({ ...jwkA, crv: `${canarySecret}-in-crv` }) }, "OAUTH_DPOP_KEY"],
        [{ OAUTH_DPOP_KEY: JSON.stringify({ ...jwkA, kty: `${canarySecret}-in-kty` }) }, "OAUTH_DPOP_KEY"],
        [{ OAUTH_DPOP_KEY: JSON.stringify({ ...jwkA, kty: "__proto__" }) }, "OAUTH_DPOP_KEY"]
      ]
      for (const [env, variable] of cases) {
        const result = yield* read({ OAUTH_CLIENT_SECRET: "x", ...env })
        assert.isTrue(Either.isLeft(result), variable)
        const text = String(Either.isLeft(result) ? result.left : "")
        assert.include(text, variable)
        assert.notInclude(text, canarySecret)
        assert.notInclude(text, (JSON.parse(p384) as JWK).d!)
        assert.notInclude(text, sec1.split("\n")[1]!)
      }
    }))
})

describe("TokenProvider.layerConfig with a DPoP key Web Crypto refuses", () => {
  it.effect("a JWK whose private part does not match its public part fails the layer with a ConfigError", () =>
    Effect.gen(function*() {
      const other = generateKeyPairSync("ec", { namedCurve: "P-256" }).privateKey.export({ format: "jwk" }) as JWK
      // passes validate (a well-formed P-256 private JWK), but d belongs to another key
      const mismatched = JSON.stringify({ ...jwkA, d: other.d })
      const env = new Map(Object.entries({
        OAUTH_TOKEN_URL: "https://a.test/token",
        OAUTH_CLIENT_ID: "c",
        OAUTH_CLIENT_SECRET: "x",
        OAUTH_DPOP_KEY: mismatched
      }))
      assert.isTrue(
        Either.isRight(ClientCredentials.validate({ ...options(), dpop: { key: Redacted.make(mismatched) } }))
      )
      const exit = yield* Effect.exit(
        Effect.scoped(Layer.build(TokenProvider.layerConfig(ClientCredentials.config()))).pipe(
          Effect.provideService(HttpClient.HttpClient, fakeClient(() => ({ status: 500 })).client),
          Effect.withConfigProvider(ConfigProvider.fromMap(env, { pathDelim: "_" }))
        )
      )
      assert.isTrue(Exit.isFailure(exit))
      if (Exit.isFailure(exit)) {
        assert.isFalse(Cause.isDie(exit.cause), Cause.pretty(exit.cause))
        const text = Cause.pretty(exit.cause)
        assert.include(text, "OAUTH_DPOP_KEY")
        assert.notInclude(text, other.d!)
        assert.notInclude(text, jwkA.d!)
      }
    }))
})

describe("ClientCredentials.validate with dpop", () => {
  it.effect("a non-extractable CryptoKey alone is refused (its public half cannot be read); its key pair is fine", () =>
    Effect.gen(function*() {
      const pair = yield* Effect.promise(() =>
        crypto.subtle.generateKey({ name: "ECDSA", namedCurve: "P-256" }, false, ["sign", "verify"])
      )
      const alone = ClientCredentials.validate({ ...baseOptions, dpop: { key: pair.privateKey } })
      assert.isTrue(Either.isLeft(alone))
      assert.include(String(Either.isLeft(alone) ? alone.left : ""), "dpop.key")
      assert.isTrue(Either.isRight(ClientCredentials.validate({ ...baseOptions, dpop: { key: pair } })))
    }))
})

/** The resource side: a token endpoint and an API in one `node:http` server written for the test. */
const world = (
  api: (request: { readonly proof: Proof; readonly authorization: string; n: number }) => {
    readonly status: number
    readonly headers?: Record<string, string>
  }
) =>
  Effect.gen(function*() {
    let tokens = 0
    const proofs: Array<Proof> = []
    let calls = 0
    const server = yield* httpServer((request, response) => {
      if (request.url === "/token") {
        tokens++
        return sendJson(response, 200, JSON.stringify(dpopToken(tokens)))
      }
      calls++
      const n = calls
      readProof(request.headers["dpop"] as string).pipe(
        Effect.map((proof) => {
          proofs.push(proof)
          const answer = api({ proof, authorization: request.headers.authorization ?? "", n })
          if (answer.status === 0) return void response.socket?.destroy()
          response.writeHead(answer.status, answer.headers ?? {})
          response.end("{}")
        }),
        Effect.catchAllDefect(() =>
          Effect.sync(() => {
            response.writeHead(400)
            response.end("no proof")
          })
        ),
        Effect.runFork
      )
    })
    const client = yield* HttpClient.HttpClient
    const service = yield* TokenProvider.make({ ...options(), tokenUrl: `${server.url}/token` })
    return {
      authorized: AuthorizedHttpClient.authorize(client, service),
      url: server.url,
      tokens: () => tokens,
      proofs
    }
  }).pipe(Effect.provide(FetchHttpClient.layer))

describe("AuthorizedHttpClient with a DPoP token", () => {
  it.scopedLive("Authorization: DPoP and a fresh proof per request with ath, htm, htu without query", () =>
    Effect.gen(function*() {
      const w = yield* world(({ authorization }) => ({ status: authorization === `DPoP ${canaryToken}` ? 200 : 403 }))
      for (let i = 0; i < 3; i++) {
        const response = yield* w.authorized.get(`${w.url}/api/items?page=${i}#frag`)
        assert.strictEqual(response.status, 200)
      }
      assert.strictEqual(w.proofs.length, 3)
      assert.strictEqual(new Set(w.proofs.map((p) => p.claims.jti)).size, 3)
      for (const proof of w.proofs) {
        assert.strictEqual(proof.claims.ath, sha256(canaryToken))
        assert.strictEqual(proof.claims.htm, "GET")
        assert.strictEqual(proof.claims.htu, `${w.url}/api/items`)
      }
      assert.strictEqual(w.tokens(), 1)
    }))

  it.scopedLive("a 401 use_dpop_nonce is replayed once with the nonce, keeping the token; the nonce is kept", () =>
    Effect.gen(function*() {
      const w = yield* world(({ proof }) =>
        proof.claims.nonce === "rs-1"
          ? { status: 200 }
          : {
            status: 401,
            headers: { "www-authenticate": "DPoP error=\"use_dpop_nonce\", algs=\"ES256\"", "dpop-nonce": "rs-1" }
          }
      )
      const response = yield* w.authorized.post(`${w.url}/api/orders`)
      assert.strictEqual(response.status, 200)
      assert.strictEqual(w.proofs.length, 2)
      assert.strictEqual(w.proofs[1]!.claims.htm, "POST")
      assert.strictEqual(w.tokens(), 1, "the token was not dropped")
      yield* w.authorized.get(`${w.url}/api/orders`)
      assert.strictEqual(w.proofs.length, 3, "the next request carries the nonce at once")
      assert.strictEqual(w.proofs[2]!.claims.nonce, "rs-1")
    }))

  it.scopedLive("a resource asking for a nonce every time gets one replay, then its 401 like today", () =>
    Effect.gen(function*() {
      const w = yield* world(({ n }) => ({
        status: 401,
        headers: { "www-authenticate": "DPoP error=\"use_dpop_nonce\"", "dpop-nonce": `rs-${n}` }
      }))
      const response = yield* w.authorized.get(`${w.url}/api/x`)
      assert.strictEqual(response.status, 401)
      // the replay, then the 401 path of today: the token is dropped once and the request replayed with a new one
      assert.strictEqual(w.proofs.length, 3)
      assert.strictEqual(w.tokens(), 2)
    }))

  it.scopedLive("a 401 invalid_token drops the token and replays with a fresh one, as with Bearer", () =>
    Effect.gen(function*() {
      const w = yield* world(({ authorization }) =>
        authorization === `DPoP ${canaryToken}`
          ? { status: 401, headers: { "www-authenticate": "DPoP error=\"invalid_token\"" } }
          : { status: 200 }
      )
      const response = yield* w.authorized.get(`${w.url}/api/x`)
      assert.strictEqual(response.status, 200)
      assert.strictEqual(w.tokens(), 2)
      assert.strictEqual(w.proofs[1]!.claims.ath, sha256("tok-2"))
    }))

  it.scopedLive("no token and no proof in errors, their renderings, or spans", () =>
    Effect.gen(function*() {
      const attributes: Array<string> = []
      const tracer = Tracer.make({
        span: (name, parent, context, links, startTime, kind) => ({
          _tag: "Span",
          name,
          spanId: Math.random().toString(16).slice(2),
          traceId: "t",
          parent,
          context,
          status: { _tag: "Started", startTime },
          attributes: new Map(),
          links,
          sampled: true,
          kind,
          end: () => {},
          attribute: (k, v) => void attributes.push(`${k}=${inspect(v)}`),
          event: () => {},
          addLinks: () => {}
        }),
        context: (f) => f()
      })
      const w = yield* world(({ n }) => ({ status: n === 1 ? 200 : 0 }))
      yield* w.authorized.get(`${w.url}/api/ok`).pipe(Effect.withTracer(tracer))
      // a transport failure after the resource got the proof: it cuts the connection
      const exit = yield* w.authorized.get(`${w.url}/api/down`).pipe(Effect.withTracer(tracer), Effect.exit)
      assert.isTrue(Exit.isFailure(exit))
      const cause = Exit.isFailure(exit) ? exit.cause : Cause.empty
      const error = Cause.squash(cause)
      const signatures = w.proofs.map((p) => p.signature)
      assert.isAbove(signatures.length, 0)
      const texts = [
        String(error),
        JSON.stringify(error),
        inspect(error, { depth: 10 }),
        Cause.pretty(cause),
        ...attributes
      ]
      for (const text of texts) {
        assert.notInclude(text, canaryToken)
        for (const signature of signatures) assert.notInclude(text, signature)
      }
      assert.isTrue(attributes.some((a) => a.includes("http.request.header.dpop")), "the span had the header, redacted")
    }))
})
