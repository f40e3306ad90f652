import * as HttpClient from "@effect/platform/HttpClient"
import * as HttpClientRequest from "@effect/platform/HttpClientRequest"
import { assert, describe, it } from "@effect/vitest"
import * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import * as Either from "effect/Either"
import * as Fiber from "effect/Fiber"
import * as Option from "effect/Option"
import * as Stream from "effect/Stream"
import * as TestClock from "effect/TestClock"
import { FakeAuthServer, FakeResponse } from "../src/index.js"
import { defaultBasic } from "./utils.js"

const tokenRequest = (server: FakeAuthServer.Service, form: Record<string, string> = {}) =>
  HttpClientRequest.post(server.tokenUrl).pipe(
    HttpClientRequest.setHeader("authorization", defaultBasic),
    HttpClientRequest.bodyUrlParams({ grant_type: "client_credentials", ...form })
  )

/** Sends a token request through the in-process client and reads the body. */
const fetchToken = (form: Record<string, string> = {}) =>
  Effect.gen(function*() {
    const server = yield* FakeAuthServer.FakeAuthServer
    const client = yield* HttpClient.HttpClient
    const response = yield* client.execute(tokenRequest(server, form))
    const text = yield* response.text
    let json: any = undefined
    try {
      json = JSON.parse(text)
    } catch {
      // not JSON
    }
    return { status: response.status, headers: response.headers, text, json }
  })

const resource = (token: string | undefined) =>
  Effect.gen(function*() {
    const server = yield* FakeAuthServer.FakeAuthServer
    const client = yield* HttpClient.HttpClient
    let request = HttpClientRequest.get(`${server.resourceUrl}/x`)
    if (token !== undefined) request = HttpClientRequest.bearerToken(request, token)
    const response = yield* client.execute(request)
    return response.status
  })

const inProcess = <A, E>(effect: Effect.Effect<A, E, FakeAuthServer.FakeAuthServer | HttpClient.HttpClient>) =>
  Effect.provide(effect, FakeAuthServer.layerHttpClient())

describe("FakeAuthServer (in-process mode)", () => {
  it.effect("serves tokens without sockets, on a .localhost issuer", () =>
    inProcess(Effect.gen(function*() {
      const server = yield* FakeAuthServer.FakeAuthServer
      assert.strictEqual(server.issuer, "https://fake-auth-server.localhost")
      const res = yield* fetchToken({ scope: "a" })
      assert.strictEqual(res.status, 200)
      assert.strictEqual(res.headers["cache-control"], "no-store")
      assert.strictEqual(res.json.scope, "a")
      assert.strictEqual(yield* resource(res.json.access_token), 200)
      assert.strictEqual(yield* FakeAuthServer.tokenRequestCount, 1)
      const [entry] = yield* FakeAuthServer.requests
      assert.strictEqual(entry!.headers.authorization, "Basic <redacted>")
      assert.strictEqual(entry!.clientAuthMethod, "client_secret_basic")
      assert.strictEqual(entry!.time, 0) // TestClock
    })))

  it.effect("TestClock.adjust expires a token", () =>
    inProcess(Effect.gen(function*() {
      const token = (yield* fetchToken()).json.access_token as string
      assert.strictEqual(yield* resource(token), 200)
      yield* TestClock.adjust("299 seconds")
      assert.strictEqual(yield* resource(token), 200)
      yield* TestClock.adjust("1 second")
      assert.strictEqual(yield* resource(token), 401)
      const [issued] = yield* FakeAuthServer.issued
      assert.deepStrictEqual([issued!.issuedAt, issued!.expiresAt], [0, 300_000])
    })))

  it.effect("delay sleeps on Effect's Clock", () =>
    inProcess(Effect.gen(function*() {
      yield* FakeAuthServer.enqueue(FakeResponse.delay("5 seconds", FakeResponse.unavailable()))
      const fiber = yield* Effect.fork(fetchToken().pipe(Effect.either))
      yield* FakeAuthServer.FakeAuthServer.pipe(Effect.flatMap((server) => server.awaitTokenRequests(1)))
      yield* TestClock.adjust("4 seconds")
      assert.isTrue(Option.isNone(yield* Fiber.poll(fiber)))
      yield* TestClock.adjust("1 second")
      const result = yield* Fiber.join(fiber)
      assert.isTrue(Either.isRight(result) && result.right.status === 503)
    })))

  it.effect("hang never completes, is in flight, and can be interrupted (or timed out)", () =>
    inProcess(Effect.gen(function*() {
      const server = yield* FakeAuthServer.FakeAuthServer
      yield* server.always(FakeResponse.hang())
      const fiber = yield* Effect.fork(fetchToken())
      yield* server.awaitTokenRequests(1)
      assert.strictEqual(yield* server.tokenRequestsInFlight, 1)
      yield* TestClock.adjust("1 hour")
      assert.isTrue(Option.isNone(yield* Fiber.poll(fiber)))
      yield* Fiber.interrupt(fiber)
      assert.strictEqual(yield* server.tokenRequestsInFlight, 0)
      const timedOut = yield* Effect.fork(fetchToken().pipe(Effect.timeout("10 seconds"), Effect.either))
      yield* TestClock.adjust("10 seconds")
      const result = yield* Fiber.join(timedOut)
      assert.isTrue(Either.isLeft(result) && result.left._tag === "TimeoutException")
      assert.deepStrictEqual((yield* server.requests).map((r) => r.outcome), ["hang", "hang"])
    })))

  for (const fault of ["resetConnection", "closeWithoutResponse", "garbage"] as const) {
    it.effect(`${fault} fails with a RequestError (Transport)`, () =>
      inProcess(Effect.gen(function*() {
        yield* FakeAuthServer.enqueue(FakeResponse[fault]())
        const error = yield* Effect.flip(fetchToken())
        assert.strictEqual(error._tag, "RequestError")
        assert.strictEqual(error._tag === "RequestError" ? error.reason : "", "Transport")
        assert.strictEqual((yield* FakeAuthServer.requests)[0]!.outcome, fault)
        assert.strictEqual((yield* fetchToken()).status, 200)
      })))
  }

  it.effect("partialBody gives a 200 whose body stream fails", () =>
    inProcess(Effect.gen(function*() {
      const server = yield* FakeAuthServer.FakeAuthServer
      const client = yield* HttpClient.HttpClient
      yield* server.enqueue(FakeResponse.partialBody())
      const response = yield* client.execute(tokenRequest(server))
      assert.strictEqual(response.status, 200)
      assert.isAbove(Number(response.headers["content-length"]), 0)
      const error = yield* Effect.flip(response.text)
      assert.strictEqual(error._tag, "ResponseError")
    })))

  it.effect("every scripted answer goes over the in-process client as it would over a socket", () =>
    inProcess(Effect.gen(function*() {
      yield* FakeAuthServer.enqueue(
        FakeResponse.rateLimited({ retryAfter: 3 }),
        FakeResponse.oauthError("invalid_scope", { description: "no" }),
        FakeResponse.serverError({ status: 500, body: "<html/>", contentType: "text/html" })
      )
      const client = yield* HttpClient.HttpClient
      const server = yield* FakeAuthServer.FakeAuthServer
      const r1 = yield* client.execute(tokenRequest(server))
      assert.strictEqual(r1.status, 429)
      assert.strictEqual(r1.headers["retry-after"], "3")
      const r2 = yield* fetchToken()
      assert.deepStrictEqual([r2.status, r2.json], [400, { error: "invalid_scope", error_description: "no" }])
      const r3 = yield* client.execute(tokenRequest(server))
      assert.strictEqual(r3.status, 500)
      assert.strictEqual(yield* r3.text, "<html/>")
    })))

  it.effect("rateLimit windows follow the TestClock", () =>
    Effect.gen(function*() {
      const client = yield* HttpClient.HttpClient
      const server = yield* FakeAuthServer.FakeAuthServer
      const status = Effect.map(client.execute(tokenRequest(server)), (r) => r.status)
      assert.deepStrictEqual(yield* Effect.all([status, status, status]), [200, 200, 429])
      yield* TestClock.adjust(Duration.seconds(1))
      assert.strictEqual(yield* status, 200)
    }).pipe(Effect.provide(FakeAuthServer.layerHttpClient({ rateLimit: { requests: 2, per: "1 second" } }))))

  it.effect("checks the body whatever its encoding: JSON is invalid_request, streams and raw text are read", () =>
    inProcess(Effect.gen(function*() {
      const client = yield* HttpClient.HttpClient
      const server = yield* FakeAuthServer.FakeAuthServer
      const asJson = yield* client.execute(
        HttpClientRequest.post(server.tokenUrl).pipe(
          HttpClientRequest.setHeader("authorization", defaultBasic),
          HttpClientRequest.bodyUnsafeJson({ grant_type: "client_credentials" })
        )
      )
      assert.strictEqual(asJson.status, 400)
      const streamed = yield* client.execute(
        HttpClientRequest.post(server.tokenUrl).pipe(
          HttpClientRequest.setHeader("authorization", defaultBasic),
          HttpClientRequest.bodyStream(
            Stream.make(new TextEncoder().encode("grant_type=client_")).pipe(
              Stream.concat(Stream.make(new TextEncoder().encode("credentials")))
            ),
            { contentType: "application/x-www-form-urlencoded" }
          )
        )
      )
      assert.strictEqual(streamed.status, 200)
      const tooLarge = yield* client.execute(
        HttpClientRequest.post(server.tokenUrl).pipe(
          HttpClientRequest.bodyText("a=".padEnd(2 * 1024 * 1024, "x"), "application/x-www-form-urlencoded")
        )
      )
      assert.strictEqual(tooLarge.status, 413)
    })))

  it.effect("requests for other hosts fail without leaving the process", () =>
    inProcess(Effect.gen(function*() {
      const client = yield* HttpClient.HttpClient
      const error = yield* Effect.flip(client.get("https://example.com/"))
      assert.strictEqual(error._tag, "RequestError")
      assert.strictEqual(yield* FakeAuthServer.tokenRequestCount, 0)
    })))

  it.scoped("a socket server's httpClient shares its state and its wall clock", () =>
    Effect.gen(function*() {
      const server = yield* FakeAuthServer.make()
      const response = yield* server.httpClient.execute(tokenRequest(server))
      const json = (yield* response.json) as any
      const viaSocket = yield* Effect.promise(() =>
        fetch(server.resourceUrl, { headers: { authorization: `Bearer ${json.access_token}` } })
      )
      assert.strictEqual(viaSocket.status, 200)
      assert.strictEqual(yield* server.tokenRequestCount, 1)
    }))
})
