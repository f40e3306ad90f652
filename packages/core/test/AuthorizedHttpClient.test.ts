import * as HttpClient from "@effect/platform/HttpClient"
import * as HttpClientRequest from "@effect/platform/HttpClientRequest"
import type * as HttpClientResponse from "@effect/platform/HttpClientResponse"
import { assert, describe, it } from "@effect/vitest"
import * as Context from "effect/Context"
import * as Effect from "effect/Effect"
import * as Layer from "effect/Layer"
import * as Stream from "effect/Stream"
import { inspect } from "node:util"
import * as AuthorizedHttpClient from "../src/AuthorizedHttpClient.js"
import { makeRefusalBudget } from "../src/internal/tokenRefusals.js"
import * as TokenProvider from "../src/TokenProvider.js"
import { baseOptions, fakeClient, type Reply, type Seen, tokenBody } from "./utils.js"

/** A token endpoint and a resource behind one fake client; the resource accepts `valid` tokens only. */
const world = (resource: (seen: Seen, valid: Set<string>) => Reply = defaultResource) => {
  const valid = new Set<string>()
  let tokens = 0
  const fake = fakeClient((seen) => {
    if (seen.url.endsWith("/oauth/token")) {
      tokens++
      const token = `tok-${tokens}`
      valid.add(token)
      return { body: tokenBody(tokens) }
    }
    // the resource answers asynchronously, so concurrent requests are all sent before any answer
    return Effect.as(Effect.yieldNow(), resource(seen, valid))
  })
  return {
    fake,
    valid,
    tokenRequests: () => tokens,
    resourceRequests: () => fake.seen.filter((s) => s.url.includes("/api"))
  }
}

const defaultResource = (seen: Seen, valid: Set<string>): Reply => {
  const token = seen.headers["authorization"]?.replace(/^Bearer /, "")
  return token !== undefined && valid.has(token)
    ? { body: { ok: true, body: seen.body } }
    : { status: 401, headers: { "www-authenticate": "Bearer error=\"invalid_token\"" } }
}

const clientFor = (w: ReturnType<typeof world>, options?: AuthorizedHttpClient.Options) =>
  Layer.build(
    AuthorizedHttpClient.layer(options).pipe(
      Layer.provide(TokenProvider.layer(baseOptions)),
      Layer.provide(Layer.succeed(HttpClient.HttpClient, w.fake.client))
    )
  ).pipe(Effect.map(Context.get(AuthorizedHttpClient.AuthorizedHttpClient)))

describe("AuthorizedHttpClient", () => {
  it.scoped("sets Authorization: Bearer <token> and reuses the cached token", () =>
    Effect.gen(function*() {
      const w = world()
      const client = yield* clientFor(w)
      for (let i = 0; i < 5; i++) {
        const response = yield* client.get("https://api.example.test/api/orders")
        assert.strictEqual(response.status, 200)
      }
      assert.strictEqual(w.tokenRequests(), 1)
      assert.isTrue(w.resourceRequests().every((s) => s.headers["authorization"] === "Bearer tok-1"))
    }))

  it.scoped("authorize works data-first, data-last, and with the provider from the context", () =>
    Effect.gen(function*() {
      const w = world()
      const provider = yield* TokenProvider.make(baseOptions).pipe(
        Effect.provideService(HttpClient.HttpClient, w.fake.client)
      )
      const a = AuthorizedHttpClient.authorize(w.fake.client, provider)
      const b = w.fake.client.pipe(AuthorizedHttpClient.authorize(provider))
      const c = AuthorizedHttpClient.authorize(w.fake.client)
      assert.strictEqual((yield* a.get("https://x.test/api/a")).status, 200)
      assert.strictEqual((yield* b.get("https://x.test/api/b")).status, 200)
      assert.strictEqual(
        (yield* Effect.provideService(c.get("https://x.test/api/c"), TokenProvider.TokenProvider, provider)).status,
        200
      )
      assert.strictEqual(w.tokenRequests(), 1)
    }))

  it.scoped("on 401 invalidates the sent token, fetches one new token, and replays the request once", () =>
    Effect.gen(function*() {
      const w = world()
      const client = yield* clientFor(w)
      yield* client.get("https://x.test/api/warm")
      w.valid.clear() // the server revoked every token
      const responses = yield* Effect.all(
        Array.from(
          { length: 100 },
          (_, i) =>
            client.execute(
              HttpClientRequest.post(`https://x.test/api/${i}`).pipe(HttpClientRequest.bodyText(`body-${i}`))
            )
        ),
        { concurrency: "unbounded" }
      )
      assert.isTrue(responses.every((r) => r.status === 200))
      assert.strictEqual(w.tokenRequests(), 2) // single-flight: one new token for 100 failed requests
      for (let i = 0; i < 100; i++) {
        const sent = w.resourceRequests().filter((s) => s.url.endsWith(`/api/${i}`))
        assert.deepStrictEqual(sent.map((s) => [s.headers["authorization"], s.body]), [
          ["Bearer tok-1", `body-${i}`],
          ["Bearer tok-2", `body-${i}`]
        ])
      }
    }))

  it.scoped("a second 401 is returned to the caller as it is", () =>
    Effect.gen(function*() {
      const w = world(() => ({ status: 401 }))
      const client = yield* clientFor(w)
      const response = yield* client.get("https://x.test/api/never")
      assert.strictEqual(response.status, 401)
      assert.strictEqual(w.resourceRequests().length, 2)
      assert.strictEqual(w.tokenRequests(), 2)
    }))

  it.scoped("a streamed body is not replayed", () =>
    Effect.gen(function*() {
      const w = world(() => ({ status: 401 }))
      const client = yield* clientFor(w)
      const response = yield* client.execute(
        HttpClientRequest.post("https://x.test/api/upload").pipe(
          HttpClientRequest.bodyStream(Stream.make(new TextEncoder().encode("chunk")))
        )
      )
      assert.strictEqual(response.status, 401)
      assert.strictEqual(w.resourceRequests().length, 1)
    }))

  it.scoped("a 401 on a streamed body still drops the refused token, so the next request gets a fresh one", () =>
    Effect.gen(function*() {
      const w = world()
      const client = yield* clientFor(w)
      const upload = client.execute(
        HttpClientRequest.post("https://x.test/api/upload").pipe(
          HttpClientRequest.bodyStream(Stream.make(new TextEncoder().encode("chunk")))
        )
      )
      assert.strictEqual((yield* upload).status, 200)
      w.valid.clear()
      assert.strictEqual((yield* upload).status, 401) // not replayable: the 401 is returned
      assert.strictEqual((yield* upload).status, 200) // but the refused token was dropped
      assert.strictEqual(w.tokenRequests(), 2)
    }))

  it.scoped("responses and errors never carry the request that held the token", () =>
    Effect.gen(function*() {
      const w = world()
      const client = yield* clientFor(w)
      const response = yield* client.get("https://x.test/api/a")
      assert.strictEqual(response.status, 200)
      assert.isUndefined(response.request.headers["authorization"])
      for (const text of [inspect(response, { depth: 10 }), JSON.stringify(response)]) assert.notInclude(text, "tok-1")
      const body = yield* response.json
      assert.deepStrictEqual(body, { ok: true, body: "" })
      // errors, raised outside (filterStatusOk on the authorized client) and inside (on the wrapped client)
      const broken = world(() => ({ status: 500 }))
      const provider = yield* TokenProvider.make(baseOptions).pipe(
        Effect.provideService(HttpClient.HttpClient, broken.fake.client)
      )
      const outside = AuthorizedHttpClient.authorize(broken.fake.client, provider).pipe(HttpClient.filterStatusOk)
      const inside = AuthorizedHttpClient.authorize(HttpClient.filterStatusOk(broken.fake.client), provider)
      for (const attempt of [outside.get("https://x.test/api/b"), inside.get("https://x.test/api/c")]) {
        const error = yield* Effect.flip(attempt)
        assert.strictEqual(error._tag, "ResponseError")
        for (const text of [inspect(error, { depth: 10 }), JSON.stringify(error), String(error)]) {
          assert.notMatch(text, /tok-\d/)
        }
      }
    }))

  it.scoped("the body readers' errors never carry the request that held the token", () =>
    Effect.gen(function*() {
      const w = world(() => ({ status: 200, headers: { "content-type": "text/html" }, body: "<html>" }))
      const client = yield* clientFor(w)
      const readers = [
        (r: HttpClientResponse.HttpClientResponse) => r.json,
        (r: HttpClientResponse.HttpClientResponse) => r.formData
      ]
      for (const read of readers) {
        const error = yield* Effect.flip(read(yield* client.get("https://x.test/api/page")))
        assert.strictEqual(error._tag, "ResponseError")
        assert.isUndefined(error.request.headers["authorization"])
        for (const text of [inspect(error, { depth: 10 }), JSON.stringify(error), String(error)]) {
          assert.notMatch(text, /tok-\d/)
        }
      }
    }))

  describe("bearer tokens only over TLS (RFC 6750 §5.3)", () => {
    const refused = [
      "http://api.example.test/orders",
      "http://10.0.0.1/orders",
      "http://127.0.0.1.nip.io/orders",
      "http://localhost.example.com/orders",
      "HTTP://API.EXAMPLE.TEST/orders",
      "http://[::ffff:7f00:1]/orders",
      "ws://api.example.test/orders"
    ]
    const allowed = [
      "https://api.example.test/api/a",
      "http://127.0.0.1:8080/api/b",
      "http://127.9.8.7/api/c",
      "http://localhost:9000/api/d",
      "http://[::1]:9000/api/e"
    ]

    it.scoped("a non-loopback http: URL fails with RequestError(InvalidUrl): no token fetched, nothing sent", () =>
      Effect.gen(function*() {
        const w = world()
        const client = yield* clientFor(w)
        for (const url of refused) {
          const error = yield* Effect.flip(client.get(url))
          assert.strictEqual(error._tag, "RequestError", url)
          assert.strictEqual(error._tag === "RequestError" && error.reason, "InvalidUrl", url)
          assert.include(error.message, "RFC 6750")
        }
        assert.strictEqual(w.fake.seen.length, 0, "no token request, no resource request")
        for (const url of allowed) assert.strictEqual((yield* client.get(url)).status, 200, url)
      }))

    it.scoped("the URL the wrapped client really sends to is checked (prependUrl inside): the token never leaves", () =>
      Effect.gen(function*() {
        const w = world()
        const provider = yield* TokenProvider.make(baseOptions).pipe(
          Effect.provideService(HttpClient.HttpClient, w.fake.client)
        )
        const inner = w.fake.client.pipe(HttpClient.mapRequest(HttpClientRequest.prependUrl("http://api.example.test")))
        const client = AuthorizedHttpClient.authorize(inner, provider)
        const error = yield* Effect.flip(client.get("/api/orders"))
        assert.strictEqual(error._tag, "RequestError")
        assert.strictEqual(w.resourceRequests().length, 0)
        if (error._tag === "RequestError") assert.isUndefined(error.request.headers["authorization"])
      }))

    it.scoped("allowInsecureHttp sends the token over plain http", () =>
      Effect.gen(function*() {
        const w = world()
        const client = yield* clientFor(w, { allowInsecureHttp: true })
        assert.strictEqual((yield* client.get("http://api.example.test/api/x")).status, 200)
        assert.strictEqual(w.resourceRequests()[0]!.headers["authorization"], "Bearer tok-1")
      }))
  })

  it("the refusal budget: one drop per window, doubling in a row up to 30 s, starting over after a quiet window", () => {
    const budget = makeRefusalBudget()
    const taken = [0, 500, 999, 1000, 2999, 3000, 6999, 7000, 40_000, 40_999, 41_000].filter(budget.take)
    // windows: 1 s from 0, 2 s from 1000, 4 s from 3000, 8 s from 7000; 40,000 is past 2 × 8 s: 1 s again
    assert.deepStrictEqual(taken, [0, 1000, 3000, 7000, 40_000, 41_000])
  })

  it.scoped("a token the resource accepted before and now refuses (revoked) is dropped at once, every time", () =>
    Effect.gen(function*() {
      const w = world()
      const client = yield* clientFor(w)
      for (let round = 1; round <= 4; round++) {
        assert.strictEqual((yield* client.get(`https://x.test/api/${round}`)).status, 200)
        w.valid.clear() // revoked
        assert.strictEqual((yield* client.get(`https://x.test/api/${round}b`)).status, 200)
      }
      assert.strictEqual(w.tokenRequests(), 5)
    }))

  it.scoped("retryOn401: false returns the first 401", () =>
    Effect.gen(function*() {
      const w = world(() => ({ status: 401 }))
      const client = yield* clientFor(w, { retryOn401: false })
      assert.strictEqual((yield* client.get("https://x.test/api/x")).status, 401)
      assert.strictEqual(w.resourceRequests().length, 1)
    }))

  it.scoped("params authorizes with a token for another parameter set, and 401 handling uses that key", () =>
    Effect.gen(function*() {
      const w = world()
      const provider = yield* TokenProvider.make(baseOptions).pipe(
        Effect.provideService(HttpClient.HttpClient, w.fake.client)
      )
      const billing = AuthorizedHttpClient.authorize(w.fake.client, provider, {
        params: { audience: "https://billing.test" }
      })
      assert.strictEqual((yield* billing.get("https://x.test/api/a")).status, 200)
      const tokenRequests = w.fake.seen.filter((s) => s.url.endsWith("/oauth/token"))
      assert.strictEqual(new URLSearchParams(tokenRequests[0]!.body).get("audience"), "https://billing.test")
      w.valid.clear()
      assert.strictEqual((yield* billing.get("https://x.test/api/b")).status, 200)
      assert.strictEqual(w.tokenRequests(), 2)
      // the default key was never touched
      yield* provider.get
      assert.strictEqual(w.tokenRequests(), 3)
    }))

  it.scoped("never sends a request without a token: the caller gets the TokenError", () =>
    Effect.gen(function*() {
      let resource = 0
      const fake = fakeClient((seen) => {
        if (seen.url.endsWith("/oauth/token")) return { status: 401, body: { error: "invalid_client" } }
        resource++
        return { status: 200 }
      })
      const provider = yield* TokenProvider.make(baseOptions).pipe(
        Effect.provideService(HttpClient.HttpClient, fake.client)
      )
      const client = AuthorizedHttpClient.authorize(fake.client, provider)
      const error = yield* Effect.flip(client.get("https://x.test/api/x"))
      assert.strictEqual(error._tag, "TokenRequestRejected")
      assert.strictEqual(resource, 0)
    }))
})
