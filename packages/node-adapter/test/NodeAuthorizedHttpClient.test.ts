import * as HttpClientRequest from "@effect/platform/HttpClientRequest"
import { assert, describe, it } from "@effect/vitest"
import { AuthorizedHttpClient, TokenProvider } from "@oauth-cc/core"
import { FakeAuthServer, FakeResponse } from "@oauth-cc/testkit"
import * as Effect from "effect/Effect"
import * as Redacted from "effect/Redacted"
import * as Stream from "effect/Stream"
import * as NodeAuthorizedHttpClient from "../src/NodeAuthorizedHttpClient.js"
import { startProxy } from "./fixtures/proxy.js"
import { startServer } from "./fixtures/server.js"

const clientOptions = (server: FakeAuthServer.Service) => ({
  tokenUrl: server.tokenUrl,
  clientId: FakeAuthServer.defaultClient.id,
  clientSecret: Redacted.make(FakeAuthServer.defaultClient.secret),
  proxy: false as const
})

/** Runs `f` with the authorized client of a fresh Node layer against `server`. */
const withClient = <A, E>(
  server: FakeAuthServer.Service,
  f: (client: AuthorizedHttpClient.Client, provider: TokenProvider.Service) => Effect.Effect<A, E>
) =>
  Effect.gen(function*() {
    const client = yield* AuthorizedHttpClient.AuthorizedHttpClient
    const provider = yield* TokenProvider.TokenProvider
    return yield* f(client, provider)
  }).pipe(Effect.provide(NodeAuthorizedHttpClient.layer(clientOptions(server))))

/** A resource that answers 401 to the first `failures` requests, then 200; its journal keeps bodies. */
const flakyResource = (failures: number) =>
  startServer({
    handle: (_, n) =>
      n <= failures
        ? {
          status: 401,
          headers: { "www-authenticate": "Bearer error=\"invalid_token\"" },
          body: { error: "invalid_token" }
        }
        : { body: { ok: true } }
  })

describe("NodeAuthorizedHttpClient", () => {
  it.scoped("a token revoked on the server is recovered with one token request, never unauthenticated", () =>
    Effect.gen(function*() {
      const server = yield* FakeAuthServer.make()
      const statuses = yield* withClient(server, (client) =>
        Effect.gen(function*() {
          const first = yield* client.get(server.resourceUrl)
          const [issued] = yield* server.issued
          assert.isTrue(yield* server.revoke(issued!))
          const second = yield* client.get(`${server.resourceUrl}/again`)
          return [first.status, second.status, ((yield* second.json) as { path: string }).path]
        }))
      assert.deepStrictEqual(statuses, [200, 200, "/resource/again"])
      assert.strictEqual(yield* server.tokenRequestCount, 2)
      assert.strictEqual(yield* server.resourceRequestCount, 3)
      assert.strictEqual(yield* server.resource401Count, 1)
      assert.strictEqual(yield* server.unauthenticatedResourceRequests, 0)
    }))

  it.scoped("100 requests failing together with 401 cause one token request", () =>
    Effect.gen(function*() {
      const server = yield* FakeAuthServer.make()
      const statuses = yield* withClient(server, (client, provider) =>
        Effect.gen(function*() {
          const token = yield* provider.get
          yield* server.revoke(token)
          return yield* Effect.forEach(
            Array.from({ length: 100 }, (_, i) => i),
            (i) => Effect.map(client.get(`${server.resourceUrl}/${i}`), (response) => response.status),
            { concurrency: "unbounded" }
          )
        }))
      assert.deepStrictEqual(new Set(statuses), new Set([200]))
      assert.strictEqual(yield* server.tokenRequestCount, 2)
      assert.strictEqual(yield* server.resource401Count, 100)
      assert.strictEqual(yield* server.unauthenticatedResourceRequests, 0)
    }))

  it.scoped("when no token can be had the caller gets the TokenError and nothing is sent", () =>
    Effect.gen(function*() {
      const server = yield* FakeAuthServer.make()
      yield* server.always(FakeResponse.oauthError("invalid_client", { description: "unknown client" }))
      const error = yield* withClient(server, (client) => Effect.flip(client.get(server.resourceUrl)))
      assert.strictEqual(error._tag, "TokenRequestRejected")
      assert.strictEqual(yield* server.resourceRequestCount, 0)
    }))

  it.scoped("a POST body in memory is replayed once with the fresh token", () =>
    Effect.gen(function*() {
      const server = yield* FakeAuthServer.make()
      const resource = yield* flakyResource(1)
      const status = yield* withClient(server, (client) =>
        Effect.map(
          client.execute(
            HttpClientRequest.post(`${resource.url}/orders`).pipe(
              HttpClientRequest.bodyText(JSON.stringify({ item: "book" }), "application/json")
            )
          ),
          (response) => response.status
        ))
      assert.strictEqual(status, 200)
      assert.deepStrictEqual(resource.seen.map((s) => [s.method, s.body]), [
        ["POST", "{\"item\":\"book\"}"],
        ["POST", "{\"item\":\"book\"}"]
      ])
      const [first, second] = resource.seen.map((s) => s.headers.authorization)
      assert.match(first!, /^Bearer /)
      assert.match(second!, /^Bearer /)
      assert.notStrictEqual(first, second)
      assert.strictEqual(yield* server.tokenRequestCount, 2)
    }))

  it.scoped("a second 401 is returned to the caller as it is", () =>
    Effect.gen(function*() {
      const server = yield* FakeAuthServer.make()
      const resource = yield* flakyResource(10)
      const status = yield* withClient(server, (client) => Effect.map(client.get(resource.url), (r) => r.status))
      assert.strictEqual(status, 401)
      assert.strictEqual(resource.seen.length, 2)
      assert.strictEqual(yield* server.tokenRequestCount, 2)
    }))

  it.scoped("a streamed body is not replayed: the 401 is returned after one request", () =>
    Effect.gen(function*() {
      const server = yield* FakeAuthServer.make()
      const resource = yield* flakyResource(1)
      const chunks = ["part-1;", "part-2"].map((s) => new TextEncoder().encode(s))
      const status = yield* withClient(server, (client) =>
        Effect.map(
          client.execute(
            HttpClientRequest.post(`${resource.url}/upload`).pipe(
              HttpClientRequest.bodyStream(Stream.fromIterable(chunks), { contentType: "text/plain" })
            )
          ),
          (response) => response.status
        ))
      assert.strictEqual(status, 401)
      assert.deepStrictEqual(resource.seen.map((s) => s.body), ["part-1;part-2"])
    }))

  it.scoped("retryOn401: false returns the first 401 without a new token", () =>
    Effect.gen(function*() {
      const server = yield* FakeAuthServer.make()
      const resource = yield* flakyResource(1)
      const status = yield* Effect.gen(function*() {
        const client = yield* AuthorizedHttpClient.AuthorizedHttpClient
        return (yield* client.get(resource.url)).status
      }).pipe(Effect.provide(NodeAuthorizedHttpClient.layer({ ...clientOptions(server), retryOn401: false })))
      assert.strictEqual(status, 401)
      assert.strictEqual(resource.seen.length, 1)
      assert.strictEqual(yield* server.tokenRequestCount, 1)
    }))
  it.scoped("the layer passes allowInsecureHttp and params to the authorized client", () =>
    Effect.gen(function*() {
      const server = yield* FakeAuthServer.make()
      const api = yield* startServer({ handle: () => ({ body: { ok: true } }) })
      const proxy = yield* startProxy
      const remote = `http://api.example.test:${new URL(api.url).port}/users`
      const options = {
        ...clientOptions(server),
        proxy: proxy.url,
        params: { audience: "https://api.example.test" }
      }
      const run = (allowInsecureHttp: boolean) =>
        Effect.gen(function*() {
          const client = yield* AuthorizedHttpClient.AuthorizedHttpClient
          return yield* Effect.either(Effect.map(client.get(remote), (response) => response.status))
        }).pipe(Effect.provide(NodeAuthorizedHttpClient.layer({ ...options, allowInsecureHttp })))
      // Off: refused before a token is fetched or a byte is sent.
      const refused = yield* run(false)
      assert.isTrue(refused._tag === "Left" && refused.left._tag === "RequestError")
      if (refused._tag === "Left" && refused.left._tag === "RequestError") {
        assert.strictEqual(refused.left.reason, "InvalidUrl")
      }
      assert.strictEqual(yield* server.tokenRequestCount, 0)
      assert.strictEqual(api.seen.length, 0)
      // On: the request goes out with a token fetched for the layer's params.
      const allowed = yield* run(true)
      assert.isTrue(allowed._tag === "Right" && allowed.right === 200, String(allowed))
      assert.strictEqual(api.seen.length, 1)
      assert.match(String(api.seen[0]!.headers.authorization), /^Bearer /)
      const [request] = yield* server.tokenRequests
      assert.strictEqual(request!.form?.audience, "https://api.example.test")
      assert.include(proxy.seen.map((seen) => seen.target), `api.example.test:${new URL(api.url).port}`)
    }))
})
