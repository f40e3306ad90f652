/**
 * The fake server's DPoP (RFC 9449): its token endpoint checks proofs and binds tokens (`cnf.jkt`), demands
 * nonces when told to, and its resource checks proof, `ath` and binding. Driven end to end by core's DPoP client,
 * and by hand-made proofs for each refusal.
 */
import * as HttpClient from "@effect/platform/HttpClient"
import * as HttpClientRequest from "@effect/platform/HttpClientRequest"
import type * as HttpClientResponse from "@effect/platform/HttpClientResponse"
import { assert, describe, it } from "@effect/vitest"
import * as AuthorizedHttpClient from "@oauth-cc/core/AuthorizedHttpClient"
import * as DPoP from "@oauth-cc/core/DPoP"
import * as TokenProvider from "@oauth-cc/core/TokenProvider"
import * as Effect from "effect/Effect"
import * as Redacted from "effect/Redacted"
import * as TestClock from "effect/TestClock"
import * as Jose from "jose"
import { generateKeyPairSync } from "node:crypto"
import { inspect } from "node:util"
import { FakeAuthServer } from "../src/index.js"

const key = generateKeyPairSync("ec", { namedCurve: "P-256" }).privateKey
const otherKey = generateKeyPairSync("ed25519").privateKey
const client = FakeAuthServer.defaultClient

const setup = (options: FakeAuthServer.Options) =>
  Effect.gen(function*() {
    const server = yield* FakeAuthServer.makeInProcess(options)
    const provider = yield* TokenProvider.make({
      tokenUrl: server.tokenUrl,
      clientId: client.id,
      clientSecret: Redacted.make(client.secret),
      dpop: { key }
    }).pipe(Effect.provideService(HttpClient.HttpClient, server.httpClient))
    const authorized = AuthorizedHttpClient.authorize(server.httpClient, provider)
    const proofer = yield* DPoP.make({ key })
    return { server, provider, authorized, proofer }
  })

/** A token request with the given proof header (or none). */
const tokenRequest = (server: FakeAuthServer.Service, proof: string | undefined) =>
  HttpClientRequest.post(server.tokenUrl).pipe(
    HttpClientRequest.basicAuth(client.id, client.secret),
    HttpClientRequest.bodyUrlParams({ grant_type: "client_credentials" }),
    proof === undefined ? (r) => r : HttpClientRequest.setHeader("dpop", proof),
    server.httpClient.execute,
    Effect.flatMap((response) => Effect.map(response.json, (body) => ({ response, body: body as any })))
  )

const resourceRequest = (
  server: FakeAuthServer.Service,
  authorization: string,
  proof: string | undefined
): Effect.Effect<HttpClientResponse.HttpClientResponse, unknown> =>
  HttpClientRequest.get(`${server.resourceUrl}/x`).pipe(
    HttpClientRequest.setHeader("authorization", authorization),
    proof === undefined ? (r) => r : HttpClientRequest.setHeader("dpop", proof),
    server.httpClient.execute
  )

const proofOf = (proofer: DPoP.Proofer, request: DPoP.ProofRequest) =>
  Effect.map(proofer.proof(request), Redacted.value)

describe("FakeAuthServer with DPoP", () => {
  it.scoped("end to end with core: nonce dance on both endpoints, a DPoP token bound to the key", () =>
    Effect.gen(function*() {
      const { authorized, proofer, provider, server } = yield* setup({ dpop: { nonce: true, required: true } })
      const token = yield* provider.get
      assert.strictEqual(token.tokenType, "DPoP")
      const response = yield* authorized.get(`${server.resourceUrl}/orders?page=2`)
      assert.strictEqual(response.status, 200)
      const journal = yield* server.requests
      assert.deepStrictEqual(
        journal.map((r) => [r.endpoint, r.outcome, r.error]),
        [
          ["token", 400, "use_dpop_nonce"],
          ["token", 200, undefined],
          ["resource", 401, "use_dpop_nonce"],
          ["resource", 200, undefined]
        ]
      )
      const [issued] = yield* server.issued
      assert.strictEqual(issued!.jkt, proofer.thumbprint)
      assert.strictEqual(yield* server.tokenRequestCount, 2)
      // the journal keeps no proof and no token
      for (const record of journal) {
        if (record.headers["dpop"] !== undefined) assert.strictEqual(record.headers["dpop"], "<redacted>")
      }
      assert.notInclude(inspect(journal, { depth: 10 }), Redacted.value(token.value))
    }))

  it.scoped("a nonce rotated with setDPoPNonce is picked up on the next requests", () =>
    Effect.gen(function*() {
      const { authorized, provider, server } = yield* setup({ dpop: { nonce: "n-1" } })
      yield* authorized.get(server.resourceUrl)
      yield* server.setDPoPNonce("n-2")
      yield* server.clearRequests
      assert.strictEqual((yield* authorized.get(server.resourceUrl)).status, 200)
      assert.strictEqual((yield* provider.refresh).tokenType, "DPoP")
      assert.deepStrictEqual(
        (yield* server.requests).map((r) => [r.endpoint, r.outcome]),
        [["resource", 401], ["resource", 200], ["token", 400], ["token", 200]]
      )
    }))

  it.effect("the admin API sets and clears the demanded nonce (PUT /__admin/dpop-nonce)", () =>
    Effect.gen(function*() {
      const server = yield* FakeAuthServer.makeInProcess({ admin: true })
      const proofer = yield* DPoP.make({ key })
      const put = (body: string) =>
        HttpClientRequest.put(`${server.issuer}/__admin/dpop-nonce`).pipe(
          HttpClientRequest.bodyText(body, "application/json"),
          server.httpClient.execute,
          Effect.flatMap((response) => Effect.map(response.json, (json) => ({ status: response.status, json })))
        )
      assert.deepStrictEqual(yield* put(JSON.stringify({ nonce: "adm-1" })), { status: 200, json: { demanded: true } })
      const refused = yield* tokenRequest(server, yield* proofOf(proofer, { htm: "POST", htu: server.tokenUrl }))
      assert.strictEqual(refused.response.status, 400)
      assert.strictEqual(refused.body.error, "use_dpop_nonce")
      assert.strictEqual(refused.response.headers["dpop-nonce"], "adm-1")
      const withNonce = yield* proofOf(proofer, { htm: "POST", htu: server.tokenUrl, nonce: "adm-1" })
      assert.strictEqual((yield* tokenRequest(server, withNonce)).response.status, 200)
      assert.strictEqual((yield* put(JSON.stringify({ nonce: "two words" }))).status, 400, "not 1*NQCHAR")
      assert.deepStrictEqual(yield* put(JSON.stringify({ nonce: null })), { status: 200, json: { demanded: false } })
      const free = yield* tokenRequest(server, yield* proofOf(proofer, { htm: "POST", htu: server.tokenUrl }))
      assert.strictEqual(free.response.status, 200)
    }))

  it.scoped("JWT tokens carry cnf.jkt", () =>
    Effect.gen(function*() {
      const { proofer, provider } = yield* setup({ tokenFormat: "jwt" })
      const token = yield* provider.get
      assert.deepStrictEqual(Jose.decodeJwt(Redacted.value(token.value)).cnf, { jkt: proofer.thumbprint })
    }))

  it.effect("the token endpoint refuses bad proofs with 400 invalid_dpop_proof", () =>
    Effect.gen(function*() {
      const { proofer, server } = yield* FakeAuthServer.makeInProcess({ dpop: { required: true } }).pipe(
        Effect.zip(DPoP.make({ key })),
        Effect.map(([server, proofer]) => ({ server, proofer }))
      )
      const good = yield* proofOf(proofer, { htm: "POST", htu: server.tokenUrl })
      const [header, payload, signature] = good.split(".")
      const cases: Array<[string, string | undefined]> = [
        ["no proof", undefined],
        ["wrong htu", yield* proofOf(proofer, { htm: "POST", htu: `${server.issuer}/other` })],
        ["wrong htm", yield* proofOf(proofer, { htm: "GET", htu: server.tokenUrl })],
        ["bad signature", `${header}.${payload}.${signature!.slice(0, -4)}AAAA`],
        ["two proofs", `${good}, ${good}`]
      ]
      for (const [what, proof] of cases) {
        const { body, response } = yield* tokenRequest(server, proof)
        assert.strictEqual(response.status, 400, what)
        assert.strictEqual(body.error, "invalid_dpop_proof", what)
      }
      // the good proof once, then its replay
      const first = yield* tokenRequest(server, good)
      assert.strictEqual(first.response.status, 200)
      assert.strictEqual(first.body.token_type, "DPoP")
      const replay = yield* tokenRequest(server, good)
      assert.strictEqual(replay.response.status, 400)
      assert.match(replay.body.error_description, /jti/)
      // a proof older than the iat window
      const old = yield* proofOf(proofer, { htm: "POST", htu: server.tokenUrl })
      yield* TestClock.adjust("61 seconds")
      const stale = yield* tokenRequest(server, old)
      assert.strictEqual(stale.response.status, 400)
      assert.match(stale.body.error_description, /iat/)
    }))

  it.effect("without a proof the token is Bearer (unless required); a downgrade is caught by core", () =>
    Effect.gen(function*() {
      const server = yield* FakeAuthServer.makeInProcess()
      const plain = yield* tokenRequest(server, undefined)
      assert.strictEqual(plain.body.token_type, "Bearer")
      assert.isUndefined((yield* server.issued)[0]!.jkt)
    }))

  it.effect("the resource checks the scheme, the proof, ath and the binding", () =>
    Effect.gen(function*() {
      const server = yield* FakeAuthServer.makeInProcess()
      const proofer = yield* DPoP.make({ key })
      const other = yield* DPoP.make({ key: otherKey })
      const issued = yield* tokenRequest(server, yield* proofOf(proofer, { htm: "POST", htu: server.tokenUrl }))
      const token: string = issued.body.access_token
      const url = `${server.resourceUrl}/x`
      const check = (authorization: string, proof: string | undefined, status: number, error: string | undefined) =>
        Effect.gen(function*() {
          const response = yield* resourceRequest(server, authorization, proof)
          assert.strictEqual(response.status, status, `${authorization.split(" ")[0]} ${error}`)
          if (error !== undefined) {
            assert.match(response.headers["www-authenticate"] ?? "", new RegExp(`^DPoP .*error="${error}"`))
          }
        })
      yield* check(`Bearer ${token}`, undefined, 401, "invalid_token")
      yield* check(`DPoP ${token}`, undefined, 401, "invalid_dpop_proof")
      yield* check(`DPoP ${token}`, yield* proofOf(proofer, { htm: "GET", htu: url }), 401, "invalid_dpop_proof")
      yield* check(
        `DPoP ${token}`,
        yield* proofOf(proofer, { htm: "GET", htu: url, accessToken: "another-token" }),
        401,
        "invalid_dpop_proof"
      )
      yield* check(
        `DPoP ${token}`,
        yield* proofOf(other, { htm: "GET", htu: url, accessToken: token }),
        401,
        "invalid_token"
      )
      yield* check(
        `DPoP ${token}`,
        yield* proofOf(proofer, { htm: "GET", htu: url, accessToken: token }),
        200,
        undefined
      )
      // a bearer token is not accepted as DPoP
      const bearer: string = (yield* tokenRequest(server, undefined)).body.access_token
      yield* check(
        `DPoP ${bearer}`,
        yield* proofOf(proofer, { htm: "GET", htu: url, accessToken: bearer }),
        401,
        "invalid_token"
      )
      const okBearer = yield* resourceRequest(server, `Bearer ${bearer}`, undefined)
      assert.strictEqual(okBearer.status, 200)
    }))
})
