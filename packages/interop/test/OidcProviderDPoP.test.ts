import * as FetchHttpClient from "@effect/platform/FetchHttpClient"
import * as HttpClient from "@effect/platform/HttpClient"
import * as HttpClientRequest from "@effect/platform/HttpClientRequest"
import { assert, layer } from "@effect/vitest"
import * as DPoP from "@oauth-cc/core/DPoP"
import * as TokenProvider from "@oauth-cc/core/TokenProvider"
import * as Effect from "effect/Effect"
import * as Layer from "effect/Layer"
import * as Option from "effect/Option"
import * as Redacted from "effect/Redacted"
import { calculateJwkThumbprint, createRemoteJWKSet, decodeProtectedHeader, type JWK, jwtVerify } from "jose"
import { generateKeyPairSync } from "node:crypto"
import { api, clients, type OidcProviderServer, Server } from "../src/OidcProviderServer.js"
import * as OidcProviderServerModule from "../src/OidcProviderServer.js"
import { summary } from "./utils.js"

summary("oidc-provider 9.13.3 (DPoP)")

const basic = `Basic ${Buffer.from(`${clients.dpop.id}:${clients.dpop.secret}`).toString("base64")}`

const keys = {
  ES256: { key: generateKeyPairSync("ec", { namedCurve: "P-256" }).privateKey },
  EdDSA: { key: generateKeyPairSync("ed25519").privateKey },
  RS256: { key: generateKeyPairSync("rsa", { modulusLength: 2048 }).privateKey },
  PS256: { key: generateKeyPairSync("rsa", { modulusLength: 2048 }).privateKey, alg: "PS256" }
} as const satisfies Record<DPoP.Algorithm, DPoP.Options>

/** A client credentials token request with a plain HttpClient: Basic authentication, and the proof if any. */
const tokenRequest = (server: OidcProviderServer, proof: Redacted.Redacted<string> | undefined, id = basic) =>
  Effect.gen(function*() {
    const client = yield* HttpClient.HttpClient
    const response = yield* client.execute(
      HttpClientRequest.post(server.tokenUrl).pipe(
        HttpClientRequest.setHeader("authorization", id),
        proof === undefined ? (r) => r : HttpClientRequest.setHeader("dpop", Redacted.value(proof)),
        HttpClientRequest.bodyUrlParams({ grant_type: "client_credentials" })
      )
    )
    const body = yield* response.json
    return { response, body: body as Record<string, unknown> }
  }).pipe(Effect.orDie)

const proofFor = (proofer: DPoP.Proofer, server: OidcProviderServer, nonce?: string) =>
  proofer.proof({ htm: "POST", htu: server.tokenUrl, nonce }).pipe(Effect.orDie)

/** The access token verified as the server's RFC 9068 JWT, bound to the proofer's key. */
const assertBound = (server: OidcProviderServer, body: Record<string, unknown>, proofer: DPoP.Proofer) =>
  Effect.gen(function*() {
    assert.strictEqual(body.token_type, "DPoP")
    const { payload } = yield* Effect.promise(() =>
      jwtVerify(body.access_token as string, createRemoteJWKSet(new URL(server.jwksUri)), {
        issuer: server.issuer,
        audience: api,
        typ: "at+jwt"
      })
    )
    assert.deepStrictEqual(payload.cnf, { jkt: proofer.thumbprint })
    assert.strictEqual(payload.client_id, clients.dpop.id)
  })

layer(Layer.mergeAll(OidcProviderServerModule.layer, FetchHttpClient.layer), {
  excludeTestServices: true,
  timeout: "30 seconds"
})("oidc-provider 9.13.3: DPoP without nonces", (it) => {
  for (const [alg, options] of Object.entries(keys)) {
    it.scoped(`${alg}: a DPoP-bound JWT access token whose cnf.jkt is our thumbprint`, () =>
      Effect.gen(function*() {
        const server = yield* Server
        const proofer = yield* DPoP.make(options)
        assert.strictEqual(proofer.alg, alg)
        const proof = yield* proofFor(proofer, server)
        const header = decodeProtectedHeader(Redacted.value(proof))
        assert.strictEqual(yield* Effect.promise(() => calculateJwkThumbprint(header.jwk as JWK)), proofer.thumbprint)
        const { body, response } = yield* tokenRequest(server, proof)
        assert.strictEqual(response.status, 200, JSON.stringify(body))
        yield* assertBound(server, body, proofer)
      }))
  }

  it.scoped("htu: a proof made for the URL with a query and a fragment is accepted (both are dropped)", () =>
    Effect.gen(function*() {
      const server = yield* Server
      const proofer = yield* DPoP.make(keys.ES256)
      const proof = yield* proofer.proof({ htm: "POST", htu: `${server.tokenUrl}?x=1#frag` })
      const { body, response } = yield* tokenRequest(server, proof)
      assert.strictEqual(response.status, 200, JSON.stringify(body))
      yield* assertBound(server, body, proofer)
    }))

  it.scoped("the server enforces the binding: no proof, a replayed proof, a proof for another URL are refused", () =>
    Effect.gen(function*() {
      const server = yield* Server
      const proofer = yield* DPoP.make(keys.ES256)
      const none = yield* tokenRequest(server, undefined)
      assert.strictEqual(none.response.status, 400)
      // oidc-provider hides the cause of an invalid_grant ("DPoP proof JWT not provided" in its log)
      assert.deepStrictEqual(none.body, { error: "invalid_grant", error_description: "grant request is invalid" })
      const proof = yield* proofFor(proofer, server)
      assert.strictEqual((yield* tokenRequest(server, proof)).response.status, 200)
      const replayed = yield* tokenRequest(server, proof)
      assert.strictEqual(replayed.response.status, 400)
      assert.deepStrictEqual(replayed.body, {
        error: "invalid_grant",
        error_description: "grant request is invalid"
      })
      // a fresh proof (new jti) for the same request is accepted again
      assert.strictEqual((yield* tokenRequest(server, yield* proofFor(proofer, server))).response.status, 200)
      const elsewhere = yield* tokenRequest(
        server,
        yield* proofer.proof({ htm: "POST", htu: `${server.issuer}/other` })
      )
      assert.strictEqual(elsewhere.response.status, 400)
      assert.strictEqual(elsewhere.body.error, "invalid_dpop_proof")
    }))

  it.scoped("a Bearer client that sends a proof gets a DPoP token too (binding follows the proof)", () =>
    Effect.gen(function*() {
      const server = yield* Server
      const proofer = yield* DPoP.make(keys.EdDSA)
      const other = `Basic ${Buffer.from(`${clients.basic.id}:${clients.basic.secret}`).toString("base64")}`
      const { body, response } = yield* tokenRequest(server, yield* proofFor(proofer, server), other)
      assert.strictEqual(response.status, 200, JSON.stringify(body))
      assert.strictEqual(body.token_type, "DPoP")
    }))
})

layer(Layer.mergeAll(OidcProviderServerModule.layerWithDPoPNonces, FetchHttpClient.layer), {
  excludeTestServices: true,
  timeout: "30 seconds"
})("oidc-provider 9.13.3: DPoP with nonces required", (it) => {
  it.scoped("use_dpop_nonce, one retry with the nonce, and the kept nonce serves the next request at once", () =>
    Effect.gen(function*() {
      const server = yield* Server
      const proofer = yield* DPoP.make(keys.ES256)
      const nonces = DPoP.makeNonceStore()
      const before = server.tokenRequests()

      const first = yield* tokenRequest(server, yield* proofFor(proofer, server))
      assert.strictEqual(first.response.status, 400)
      assert.strictEqual(first.body.error, "use_dpop_nonce")
      const nonce = DPoP.tokenEndpointNonce(first.response, first.body)
      assert.isTrue(Option.isSome(nonce), "a valid DPoP-Nonce came with use_dpop_nonce")
      yield* nonces.set(server.tokenUrl, Option.getOrThrow(nonce))

      const kept = Option.getOrThrow(yield* nonces.get(server.tokenUrl))
      const second = yield* tokenRequest(server, yield* proofFor(proofer, server, kept))
      assert.strictEqual(second.response.status, 200, JSON.stringify(second.body))
      yield* assertBound(server, second.body, proofer)
      Option.map(DPoP.nonceFromHeaders(second.response.headers), (fresh) => nonces.set(server.tokenUrl, fresh))

      const next = Option.getOrThrow(yield* nonces.get(server.tokenUrl))
      const third = yield* tokenRequest(server, yield* proofFor(proofer, server, next))
      assert.strictEqual(third.response.status, 200, JSON.stringify(third.body))
      assert.strictEqual(server.tokenRequests() - before, 3)
    }))

  it.scoped("as the wiring will do it: DPoP.setProof with a NonceStore, one retry on use_dpop_nonce", () =>
    Effect.gen(function*() {
      const server = yield* Server
      const client = yield* HttpClient.HttpClient
      const proofer = yield* DPoP.make(keys.EdDSA)
      const nonces = DPoP.makeNonceStore()
      const request = HttpClientRequest.post(server.tokenUrl).pipe(
        HttpClientRequest.setHeader("authorization", basic),
        HttpClientRequest.bodyUrlParams({ grant_type: "client_credentials" })
      )
      const send = Effect.gen(function*() {
        const response = yield* client.execute(yield* DPoP.setProof(request, { proofer, nonces }))
        const body = (yield* response.json) as Record<string, unknown>
        yield* Option.match(DPoP.nonceFromHeaders(response.headers), {
          onNone: () => Effect.void,
          onSome: (nonce) => nonces.set(server.tokenUrl, nonce)
        })
        return { response, body }
      }).pipe(DPoP.withRedactedProofHeader, Effect.orDie)
      const before = server.tokenRequests()
      const first = yield* send
      assert.isTrue(Option.isSome(DPoP.tokenEndpointNonce(first.response, first.body)))
      const second = yield* send
      assert.strictEqual(second.response.status, 200, JSON.stringify(second.body))
      yield* assertBound(server, second.body, proofer)
      const third = yield* send
      assert.strictEqual(third.response.status, 200, JSON.stringify(third.body))
      assert.strictEqual(server.tokenRequests() - before, 3)
      assert.strictEqual(yield* nonces.size, 1)
    }))

  it.scoped("TokenProvider with dpop: the nonce dance at once, a bound token, the kept nonce on refresh", () =>
    Effect.gen(function*() {
      const server = yield* Server
      const provider = yield* TokenProvider.make({
        tokenUrl: server.tokenUrl,
        clientId: clients.dpop.id,
        clientSecret: Redacted.make(clients.dpop.secret),
        dpop: keys.ES256
      })
      const before = server.tokenRequests()
      const token = yield* provider.get
      assert.strictEqual(token.tokenType, "DPoP")
      assert.strictEqual(server.tokenRequests() - before, 2, "use_dpop_nonce, then the retry with the nonce")
      const proofer = provider.dpop!
      yield* assertBound(server, { token_type: token.tokenType, access_token: Redacted.value(token.value) }, proofer)
      const fresh = yield* provider.refresh
      assert.strictEqual(fresh.tokenType, "DPoP")
      assert.strictEqual(server.tokenRequests() - before, 3, "the kept nonce served the refresh at once")
    }))

  it.scoped("a nonce the server never issued gets use_dpop_nonce again, with a valid nonce to use", () =>
    Effect.gen(function*() {
      const server = yield* Server
      const proofer = yield* DPoP.make(keys.PS256)
      const { body, response } = yield* tokenRequest(server, yield* proofFor(proofer, server, "made-up-nonce"))
      assert.strictEqual(response.status, 400)
      assert.strictEqual(body.error, "use_dpop_nonce")
      const nonce = Option.getOrThrow(DPoP.tokenEndpointNonce(response, body))
      const retried = yield* tokenRequest(server, yield* proofFor(proofer, server, nonce))
      assert.strictEqual(retried.response.status, 200, JSON.stringify(retried.body))
      yield* assertBound(server, retried.body, proofer)
    }))
})
