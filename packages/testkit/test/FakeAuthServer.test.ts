import { assert, describe, it } from "@effect/vitest"
import * as Effect from "effect/Effect"
import * as Fiber from "effect/Fiber"
import * as Redacted from "effect/Redacted"
import * as Jose from "jose"
import { FakeAuthServer, FakeResponse } from "../src/index.js"
import {
  answer,
  basic,
  defaultBasic,
  formType,
  portOf,
  rawExchange,
  rawTokenRequest,
  requestToken,
  send
} from "./utils.js"

describe("FakeAuthServer (socket mode)", () => {
  it.scoped("listens on 127.0.0.1 and issues an opaque Bearer token with Cache-Control: no-store", () =>
    Effect.gen(function*() {
      const server = yield* FakeAuthServer.make()
      assert.match(server.issuer, /^http:\/\/127\.0\.0\.1:\d+$/)
      assert.strictEqual(server.tokenUrl, `${server.issuer}/token`)
      const res = yield* requestToken(server.tokenUrl)
      assert.strictEqual(res.status, 200)
      assert.strictEqual(res.headers.get("cache-control"), "no-store")
      assert.strictEqual(res.headers.get("pragma"), "no-cache")
      assert.strictEqual(res.json.token_type, "Bearer")
      assert.strictEqual(res.json.expires_in, 300)
      assert.match(res.json.access_token, /^[A-Za-z0-9_-]{43}$/)
      const issued = yield* server.issued
      assert.strictEqual(issued.length, 1)
      assert.strictEqual(Redacted.value(issued[0]!.value), res.json.access_token)
      assert.strictEqual(issued[0]!.expiresAt - issued[0]!.issuedAt, 300_000)
      assert.strictEqual(yield* server.tokenRequestCount, 1)
    }))

  it.scoped("accepts client_secret_post and records the method, redacting the secret", () =>
    Effect.gen(function*() {
      const server = yield* FakeAuthServer.make()
      const res = yield* requestToken(
        server.tokenUrl,
        "grant_type=client_credentials&client_id=test-client&client_secret=test-secret",
        { ...formType }
      )
      assert.strictEqual(res.status, 200)
      const [entry] = yield* server.requests
      assert.strictEqual(entry!.clientAuthMethod, "client_secret_post")
      assert.strictEqual(entry!.clientId, "test-client")
      assert.deepStrictEqual(entry!.form, {
        grant_type: "client_credentials",
        client_id: "test-client",
        client_secret: "<redacted>"
      })
      assert.isFalse(JSON.stringify(yield* server.requests).includes("test-secret"))
    }))

  it.scoped("journal: Authorization value redacted with its scheme kept, outcome and time recorded", () =>
    Effect.gen(function*() {
      const server = yield* FakeAuthServer.make()
      const before = Date.now()
      yield* requestToken(server.tokenUrl, "grant_type=client_credentials&scope=a")
      const [entry] = yield* server.requests
      assert.strictEqual(entry!.headers.authorization, "Basic <redacted>")
      assert.strictEqual(entry!.clientAuthMethod, "client_secret_basic")
      assert.strictEqual(entry!.outcome, 200)
      assert.strictEqual(entry!.response, "token")
      assert.strictEqual(entry!.endpoint, "token")
      assert.strictEqual(entry!.method, "POST")
      assert.strictEqual(entry!.path, "/token")
      assert.isAtLeast(entry!.time, before - 1000)
      assert.isFalse(JSON.stringify(entry).includes(defaultBasic.slice(6)))
    }))

  describe("client authentication", () => {
    const clients: FakeAuthServer.Options = {
      clients: [
        { id: "svc", secret: "p@ss w:rd+", scopes: ["read", "write"] },
        { id: "raw", secret: "p@ss+", basicEncoding: "raw" },
        { id: "post-only", secret: "x", authMethods: ["client_secret_post"] }
      ]
    }

    it.scoped("decodes form-encoded Basic credentials (RFC 6749 §2.3.1)", () =>
      Effect.gen(function*() {
        const server = yield* FakeAuthServer.make(clients)
        const ok = yield* requestToken(server.tokenUrl, "grant_type=client_credentials", {
          ...formType,
          authorization: basic("svc", "p@ss w:rd+")
        })
        assert.strictEqual(ok.status, 200)
        assert.strictEqual(ok.json.scope, "read write")
        // the same secret not form-encoded is wrong for a "form" client
        const bad = yield* requestToken(server.tokenUrl, "grant_type=client_credentials", {
          ...formType,
          authorization: basic("svc", "p@ss w:rd+", false)
        })
        assert.strictEqual(bad.status, 401)
        assert.strictEqual(bad.json.error, "invalid_client")
        assert.strictEqual(bad.headers.get("www-authenticate"), `Basic realm="fake-auth-server"`)
      }))

    it.scoped("basicEncoding: raw takes Basic credentials as they are", () =>
      Effect.gen(function*() {
        const server = yield* FakeAuthServer.make(clients)
        const ok = yield* requestToken(server.tokenUrl, "grant_type=client_credentials", {
          ...formType,
          authorization: basic("raw", "p@ss+", false)
        })
        assert.strictEqual(ok.status, 200)
        const bad = yield* requestToken(server.tokenUrl, "grant_type=client_credentials", {
          ...formType,
          authorization: basic("raw", "p@ss+", true)
        })
        assert.strictEqual(bad.json.error, "invalid_client")
      }))

    it.scoped("rejects: wrong secret, unknown client, no credentials, a method the client may not use", () =>
      Effect.gen(function*() {
        const server = yield* FakeAuthServer.make(clients)
        const wrongPost = yield* requestToken(
          server.tokenUrl,
          "grant_type=client_credentials&client_id=svc&client_secret=nope",
          { ...formType }
        )
        assert.strictEqual(wrongPost.status, 401)
        assert.strictEqual(wrongPost.json.error, "invalid_client")
        assert.isNull(wrongPost.headers.get("www-authenticate"))
        const unknown = yield* requestToken(server.tokenUrl, "grant_type=client_credentials", {
          ...formType,
          authorization: basic("who", "x")
        })
        assert.strictEqual(unknown.json.error, "invalid_client")
        const none = yield* requestToken(server.tokenUrl, "grant_type=client_credentials", { ...formType })
        assert.strictEqual(none.status, 401)
        assert.strictEqual(none.json.error, "invalid_client")
        const notAllowed = yield* requestToken(server.tokenUrl, "grant_type=client_credentials", {
          ...formType,
          authorization: basic("post-only", "x")
        })
        assert.strictEqual(notAllowed.json.error, "invalid_client")
        assert.deepStrictEqual((yield* server.requests).map((r) => r.error), Array(4).fill("invalid_client"))
      }))

    it.scoped("both Basic and client_secret in the body → invalid_request", () =>
      Effect.gen(function*() {
        const server = yield* FakeAuthServer.make()
        const res = yield* requestToken(server.tokenUrl, "grant_type=client_credentials&client_secret=test-secret")
        assert.strictEqual(res.status, 400)
        assert.strictEqual(res.json.error, "invalid_request")
        assert.strictEqual((yield* server.requests)[0]!.clientAuthMethod, "multiple")
      }))

    it.scoped("scope outside the allow-list → invalid_scope; unknown grant → unsupported_grant_type", () =>
      Effect.gen(function*() {
        const server = yield* FakeAuthServer.make(clients)
        const auth = { ...formType, authorization: basic("svc", "p@ss w:rd+") }
        const scope = yield* requestToken(server.tokenUrl, "grant_type=client_credentials&scope=read%20admin", auth)
        assert.strictEqual(scope.status, 400)
        assert.strictEqual(scope.json.error, "invalid_scope")
        const grant = yield* requestToken(server.tokenUrl, "grant_type=password", auth)
        assert.strictEqual(grant.json.error, "unsupported_grant_type")
        const narrow = yield* requestToken(server.tokenUrl, "grant_type=client_credentials&scope=read", auth)
        assert.strictEqual(narrow.json.scope, "read")
      }))
  })

  describe("client assertions (RFC 7523)", () => {
    const jwtBearer = "urn:ietf:params:oauth:client-assertion-type:jwt-bearer"
    const assertionBody = (assertion: string, extra = "") =>
      `grant_type=client_credentials&client_assertion_type=${
        encodeURIComponent(jwtBearer)
      }&client_assertion=${assertion}${extra}`

    it.scoped("private_key_jwt: verified with the client's key; a replayed jti, a wrong audience or key are invalid_client", () =>
      Effect.gen(function*() {
        const { privateKey, publicKey } = yield* Effect.promise(() => Jose.generateKeyPair("ES256"))
        const other = yield* Effect.promise(() => Jose.generateKeyPair("ES256"))
        const server = yield* FakeAuthServer.make({ clients: [{ id: "svc", secret: "s", publicKey }] })
        const sign = (key: Jose.CryptoKey, aud: string, jti: string) =>
          Effect.promise(() =>
            new Jose.SignJWT({}).setProtectedHeader({ alg: "ES256" }).setIssuer("svc").setSubject("svc")
              .setAudience(aud).setIssuedAt().setExpirationTime("1 minute").setJti(jti).sign(key)
          )
        const good = yield* sign(privateKey, server.tokenUrl, "a")
        const ok = yield* requestToken(server.tokenUrl, assertionBody(good), { ...formType })
        assert.strictEqual(ok.status, 200)
        const entry = (yield* server.requests)[0]!
        assert.strictEqual(entry.clientAuthMethod, "private_key_jwt")
        assert.strictEqual(entry.clientId, "svc")
        assert.strictEqual((entry.form as any).client_assertion, "<redacted>")
        const replay = yield* requestToken(server.tokenUrl, assertionBody(good), { ...formType })
        assert.strictEqual(replay.json.error, "invalid_client")
        const issuerAud = yield* sign(privateKey, server.issuer, "b")
        assert.strictEqual(
          (yield* requestToken(server.tokenUrl, assertionBody(issuerAud), { ...formType })).status,
          200
        )
        const wrongAud = yield* sign(privateKey, "https://elsewhere", "c")
        assert.strictEqual(
          (yield* requestToken(server.tokenUrl, assertionBody(wrongAud), { ...formType })).json.error,
          "invalid_client"
        )
        const wrongKey = yield* sign(other.privateKey, server.tokenUrl, "d")
        assert.strictEqual(
          (yield* requestToken(server.tokenUrl, assertionBody(wrongKey), { ...formType })).json.error,
          "invalid_client"
        )
        const withBasic = yield* requestToken(
          server.tokenUrl,
          assertionBody(yield* sign(privateKey, server.tokenUrl, "e"))
        )
        assert.strictEqual(withBasic.json.error, "invalid_request")
        const badType = yield* requestToken(server.tokenUrl, `grant_type=client_credentials&client_assertion=${good}`, {
          ...formType
        })
        assert.strictEqual(badType.json.error, "invalid_request")
        const notJwt = yield* requestToken(server.tokenUrl, assertionBody("abc"), { ...formType })
        assert.strictEqual(notJwt.json.error, "invalid_client")
      }))

    it.scoped("client_secret_jwt: HS256 with the client secret", () =>
      Effect.gen(function*() {
        const server = yield* FakeAuthServer.make()
        const sign = (secret: string) =>
          Effect.promise(() =>
            new Jose.SignJWT({}).setProtectedHeader({ alg: "HS256" }).setIssuer("test-client").setSubject("test-client")
              .setAudience(server.tokenUrl).setIssuedAt().setExpirationTime("1 minute").setJti(secret)
              .sign(new TextEncoder().encode(secret))
          )
        const ok = yield* requestToken(server.tokenUrl, assertionBody(yield* sign("test-secret")), { ...formType })
        assert.strictEqual(ok.status, 200)
        assert.strictEqual((yield* server.requests)[0]!.clientAuthMethod, "client_secret_jwt")
        const bad = yield* requestToken(server.tokenUrl, assertionBody(yield* sign("wrong")), { ...formType })
        assert.strictEqual(bad.json.error, "invalid_client")
      }))
  })

  describe("bad requests get an RFC 6749 error, never a crash", () => {
    it.scoped("missing body, JSON body, 10 MB body, malformed Authorization, GET, repeated parameter", () =>
      Effect.gen(function*() {
        const server = yield* FakeAuthServer.make()
        const post = (init: RequestInit) => Effect.map(send(server.tokenUrl, { method: "POST", ...init }), answer)
        const missing = yield* post({ headers: { authorization: defaultBasic } })
        assert.strictEqual(missing.json.error, "invalid_request")
        const asJson = yield* post({
          headers: { authorization: defaultBasic, "content-type": "application/json" },
          body: JSON.stringify({ grant_type: "client_credentials" })
        })
        assert.strictEqual(asJson.json.error, "invalid_request")
        const huge = yield* post({ headers: { ...formType }, body: "a=".padEnd(10 * 1024 * 1024, "x") })
        assert.strictEqual(huge.status, 413)
        assert.strictEqual(huge.json.error, "invalid_request")
        for (const authorization of ["Basic", "Basic !!!!", "Basic " + Buffer.from("nocolon").toString("base64")]) {
          const bad = yield* post({ headers: { ...formType, authorization }, body: "grant_type=client_credentials" })
          assert.strictEqual(bad.status, 400, authorization)
          assert.strictEqual(bad.json.error, "invalid_request")
        }
        const bearer = yield* post({
          headers: { ...formType, authorization: "Bearer abc" },
          body: "grant_type=client_credentials"
        })
        assert.strictEqual(bearer.json.error, "invalid_client")
        const get = answer(yield* send(server.tokenUrl))
        assert.strictEqual(get.status, 405)
        assert.strictEqual(get.json.error, "invalid_request")
        const repeated = yield* requestToken(server.tokenUrl, "grant_type=client_credentials&scope=a&scope=b")
        assert.strictEqual(repeated.json.error, "invalid_request")
        // still serving
        assert.strictEqual((yield* requestToken(server.tokenUrl)).status, 200)
        for (const entry of yield* server.requests) assert.isDefined(entry.outcome)
      }))
  })

  describe("scripting", () => {
    it.scoped("enqueue answers the next requests in order, then normal service", () =>
      Effect.gen(function*() {
        const server = yield* FakeAuthServer.make()
        const date = new Date("2030-01-01T00:00:00Z")
        yield* server.enqueue(
          FakeResponse.rateLimited({ retryAfter: 2 }),
          FakeResponse.rateLimited({ retryAfter: date }),
          FakeResponse.unavailable({ retryAfter: 5 }),
          FakeResponse.serverError({ status: 502, body: "<html>Bad Gateway</html>", contentType: "text/html" }),
          FakeResponse.oauthError("invalid_client", { description: "nope" }),
          FakeResponse.malformed("not json"),
          FakeResponse.token({ expiresInAsString: true, scope: "x y" }),
          FakeResponse.token({ omitExpiresIn: true, tokenType: "mac" })
        )
        const r1 = yield* requestToken(server.tokenUrl)
        assert.strictEqual(r1.status, 429)
        assert.strictEqual(r1.headers.get("retry-after"), "2")
        assert.strictEqual(r1.headers.get("cache-control"), "no-store")
        const r2 = yield* requestToken(server.tokenUrl)
        assert.strictEqual(r2.headers.get("retry-after"), "Tue, 01 Jan 2030 00:00:00 GMT")
        const r3 = yield* requestToken(server.tokenUrl)
        assert.strictEqual(r3.status, 503)
        assert.strictEqual(r3.headers.get("retry-after"), "5")
        const r4 = yield* requestToken(server.tokenUrl)
        assert.strictEqual(r4.status, 502)
        assert.strictEqual(r4.headers.get("content-type"), "text/html")
        assert.strictEqual(r4.text, "<html>Bad Gateway</html>")
        const r5 = yield* requestToken(server.tokenUrl)
        assert.strictEqual(r5.status, 401)
        assert.strictEqual(r5.headers.get("www-authenticate"), `Basic realm="fake-auth-server"`)
        assert.deepStrictEqual(r5.json, { error: "invalid_client", error_description: "nope" })
        const r6 = yield* requestToken(server.tokenUrl)
        assert.strictEqual(r6.status, 200)
        assert.strictEqual(r6.text, "not json")
        const r7 = yield* requestToken(server.tokenUrl)
        assert.strictEqual(r7.json.expires_in, "300")
        assert.strictEqual(r7.json.scope, "x y")
        const r8 = yield* requestToken(server.tokenUrl)
        assert.isUndefined(r8.json.expires_in)
        assert.strictEqual(r8.json.token_type, "mac")
        const r9 = yield* requestToken(server.tokenUrl)
        assert.strictEqual(r9.status, 200)
        assert.strictEqual(r9.json.expires_in, 300)
        assert.deepStrictEqual(
          (yield* server.requests).map((r) => r.response),
          [
            "rateLimited",
            "rateLimited",
            "unavailable",
            "serverError",
            "oauthError",
            "malformed",
            "token",
            "token",
            "token"
          ]
        )
        assert.deepStrictEqual((yield* server.requests).map((r) => r.outcome), [
          429,
          429,
          503,
          502,
          401,
          200,
          200,
          200,
          200
        ])
      }))

    it.scoped("a scripted token still checks client authentication", () =>
      Effect.gen(function*() {
        const server = yield* FakeAuthServer.make()
        yield* server.enqueue(FakeResponse.token({ expiresIn: 1 }))
        const res = yield* requestToken(server.tokenUrl, "grant_type=client_credentials", {
          ...formType,
          authorization: basic("test-client", "wrong")
        })
        assert.strictEqual(res.json.error, "invalid_client")
      }))

    it.scoped("always answers every request until reset", () =>
      Effect.gen(function*() {
        const server = yield* FakeAuthServer.make()
        yield* server.always(FakeResponse.unavailable())
        assert.strictEqual((yield* requestToken(server.tokenUrl)).status, 503)
        assert.strictEqual((yield* requestToken(server.tokenUrl)).status, 503)
        yield* server.reset
        assert.strictEqual((yield* requestToken(server.tokenUrl)).status, 200)
        assert.strictEqual(yield* server.tokenRequestCount, 3)
        yield* server.clearRequests
        assert.strictEqual(yield* server.tokenRequestCount, 0)
        assert.strictEqual((yield* server.requests).length, 0)
      }))

    it.scoped("delay holds the answer (wall clock in socket mode)", () =>
      Effect.gen(function*() {
        const server = yield* FakeAuthServer.make()
        yield* server.enqueue(FakeResponse.delay("150 millis"))
        const start = Date.now()
        const res = yield* requestToken(server.tokenUrl)
        assert.strictEqual(res.status, 200)
        assert.isAtLeast(Date.now() - start, 140)
        assert.strictEqual((yield* server.requests)[0]!.delayMillis, 150)
      }))

    it.scoped("rateLimit: N requests per window, then 429 with Retry-After", () =>
      Effect.gen(function*() {
        const server = yield* FakeAuthServer.make({ rateLimit: { requests: 2, per: "1 minute" } })
        assert.strictEqual((yield* requestToken(server.tokenUrl)).status, 200)
        assert.strictEqual((yield* requestToken(server.tokenUrl)).status, 200)
        const limited = yield* requestToken(server.tokenUrl)
        assert.strictEqual(limited.status, 429)
        const retryAfter = Number(limited.headers.get("retry-after"))
        assert.isTrue(retryAfter >= 59 && retryAfter <= 60, String(retryAfter))
        const fixed = yield* FakeAuthServer.make({ rateLimit: { requests: 0, per: "1 second", retryAfter: 7 } })
        assert.strictEqual((yield* requestToken(fixed.tokenUrl)).headers.get("retry-after"), "7")
      }))
  })

  describe("faults over the wire", () => {
    it.scoped("resetConnection: the client sees ECONNRESET and no bytes", () =>
      Effect.gen(function*() {
        const server = yield* FakeAuthServer.make()
        yield* server.enqueue(FakeResponse.resetConnection())
        const wire = yield* rawExchange(portOf(server.issuer), rawTokenRequest(portOf(server.issuer)))
        assert.strictEqual(wire.ended, "error")
        assert.strictEqual(wire.code, "ECONNRESET")
        assert.strictEqual(wire.bytes.length, 0)
        yield* server.enqueue(FakeResponse.resetConnection())
        const viaFetch = yield* send(server.tokenUrl, { method: "POST", body: "grant_type=client_credentials" })
        assert.isTrue("error" in viaFetch)
        assert.strictEqual((yield* server.requests).at(-1)!.outcome, "resetConnection")
      }))

    it.scoped("closeWithoutResponse: a clean close with no bytes", () =>
      Effect.gen(function*() {
        const server = yield* FakeAuthServer.make()
        yield* server.enqueue(FakeResponse.closeWithoutResponse())
        const wire = yield* rawExchange(portOf(server.issuer), rawTokenRequest(portOf(server.issuer)))
        assert.strictEqual(wire.ended, "end")
        assert.strictEqual(wire.bytes.length, 0)
        yield* server.enqueue(FakeResponse.closeWithoutResponse())
        const viaFetch = yield* send(server.tokenUrl, { method: "POST", body: "grant_type=client_credentials" })
        assert.isTrue("error" in viaFetch)
      }))

    it.scoped("garbage: bytes that are not HTTP, then close", () =>
      Effect.gen(function*() {
        const server = yield* FakeAuthServer.make()
        yield* server.enqueue(FakeResponse.garbage())
        const wire = yield* rawExchange(portOf(server.issuer), rawTokenRequest(portOf(server.issuer)))
        assert.isAbove(wire.bytes.length, 0)
        assert.isFalse(wire.bytes.toString("latin1").startsWith("HTTP/"))
        yield* server.enqueue(FakeResponse.garbage())
        const viaFetch = yield* send(server.tokenUrl, { method: "POST", body: "grant_type=client_credentials" })
        assert.isTrue("error" in viaFetch)
        // llhttp's parse error; Node 24's fetch no longer sets its code (HPE_INVALID_CONSTANT) on the cause
        assert.match("cause" in viaFetch ? String(viaFetch.cause) : "", /does not match the HTTP\/1\.1 protocol/)
      }))

    it.scoped("partialBody: Content-Length promises more than is sent before the close", () =>
      Effect.gen(function*() {
        const server = yield* FakeAuthServer.make()
        yield* server.enqueue(FakeResponse.partialBody())
        const wire = yield* rawExchange(portOf(server.issuer), rawTokenRequest(portOf(server.issuer)))
        const text = wire.bytes.toString("utf8")
        const [head, body] = text.split("\r\n\r\n") as [string, string]
        assert.match(head, /^HTTP\/1\.1 200 OK/)
        const length = Number(/content-length: (\d+)/i.exec(head)![1])
        assert.isAbove(body.length, 0)
        assert.isBelow(body.length, length)
        yield* server.enqueue(FakeResponse.partialBody())
        const viaFetch = yield* send(server.tokenUrl, { method: "POST", body: "grant_type=client_credentials" })
        assert.isTrue("error" in viaFetch)
      }))

    it.scoped("hang: no answer; in flight until the client gives up", () =>
      Effect.gen(function*() {
        const server = yield* FakeAuthServer.make()
        yield* server.always(FakeResponse.hang())
        const aborted = yield* send(server.tokenUrl, {
          method: "POST",
          body: "grant_type=client_credentials",
          signal: AbortSignal.timeout(150)
        })
        assert.isTrue("error" in aborted)
        assert.strictEqual(yield* server.maxTokenRequestsInFlight, 1)
        assert.strictEqual((yield* server.requests)[0]!.outcome, "hang")
        // the server notices the closed connection
        yield* Effect.promise(async () => {
          for (let i = 0; i < 100 && (await Effect.runPromise(server.tokenRequestsInFlight)) > 0; i++) {
            await new Promise((r) => setTimeout(r, 10))
          }
        })
        assert.strictEqual(yield* server.tokenRequestsInFlight, 0)
      }))

    it.scoped("in-flight token requests are counted and awaitable", () =>
      Effect.gen(function*() {
        const server = yield* FakeAuthServer.make()
        yield* server.always(FakeResponse.delay("200 millis"))
        const requests = Effect.all([requestToken(server.tokenUrl), requestToken(server.tokenUrl)], {
          concurrency: "unbounded"
        })
        const fiber = yield* Effect.fork(requests)
        yield* server.awaitTokenRequestsInFlight(2)
        assert.strictEqual(yield* server.tokenRequestsInFlight, 2)
        yield* server.awaitTokenRequests(2)
        const [a, b] = yield* Fiber.join(fiber)
        assert.strictEqual(a.status, 200)
        assert.strictEqual(b.status, 200)
        assert.strictEqual(yield* server.maxTokenRequestsInFlight, 2)
        assert.strictEqual(yield* server.tokenRequestsInFlight, 0)
      }))
  })

  describe("tokens and the protected resource", () => {
    it.scoped("the resource echoes method, path, client id and scopes for a valid token", () =>
      Effect.gen(function*() {
        const server = yield* FakeAuthServer.make()
        const token = (yield* requestToken(server.tokenUrl, "grant_type=client_credentials&scope=a%20b")).json
        const res = answer(
          yield* send(`${server.resourceUrl}/orders/7?x=1`, {
            method: "PUT",
            headers: { authorization: `Bearer ${token.access_token}` }
          })
        )
        assert.strictEqual(res.status, 200)
        assert.deepStrictEqual(res.json, {
          method: "PUT",
          path: "/resource/orders/7?x=1",
          clientId: "test-client",
          scope: ["a", "b"]
        })
        assert.strictEqual(res.headers.get("cache-control"), "no-store")
        const entry = (yield* server.requests).at(-1)!
        assert.strictEqual(entry.endpoint, "resource")
        assert.strictEqual(entry.clientId, "test-client")
        assert.strictEqual(entry.headers.authorization, "Bearer <redacted>")
        assert.strictEqual(yield* server.resourceRequestCount, 1)
      }))

    it.scoped("401 invalid_token for unknown, revoked and expired tokens; counts tokenless requests", () =>
      Effect.gen(function*() {
        const server = yield* FakeAuthServer.make()
        const get = (authorization?: string) =>
          Effect.map(send(server.resourceUrl, authorization ? { headers: { authorization } } : {}), answer)
        const none = yield* get()
        assert.strictEqual(none.status, 401)
        assert.strictEqual(none.headers.get("www-authenticate"), `Bearer realm="fake-auth-server"`)
        const unknown = yield* get("Bearer nope")
        assert.strictEqual(unknown.status, 401)
        assert.match(
          unknown.headers.get("www-authenticate")!,
          /^Bearer realm="fake-auth-server", error="invalid_token"/
        )
        const t1 = (yield* requestToken(server.tokenUrl)).json.access_token as string
        const t2 = (yield* requestToken(server.tokenUrl)).json.access_token as string
        assert.strictEqual((yield* get(`Bearer ${t1}`)).status, 200)
        assert.isTrue(yield* server.revoke(t1))
        assert.isFalse(yield* server.revoke("not-ours"))
        assert.strictEqual((yield* get(`Bearer ${t1}`)).status, 401)
        assert.strictEqual((yield* get(`Bearer ${t2}`)).status, 200)
        yield* server.expireAll
        assert.strictEqual((yield* get(`Bearer ${t2}`)).status, 401)
        assert.deepStrictEqual((yield* server.issued).map((t) => [t.revoked, t.expired]), [[true, true], [false, true]])
        assert.strictEqual(yield* server.unauthenticatedResourceRequests, 1)
        assert.strictEqual(yield* server.resource401Count, 4)
        assert.strictEqual(yield* server.resourceRequestCount, 6)
      }))

    it.scoped("a short tokenTtl expires tokens on the wall clock", () =>
      Effect.gen(function*() {
        const server = yield* FakeAuthServer.make()
        yield* server.enqueue(FakeResponse.token({ expiresIn: 0.1 }))
        const token = (yield* requestToken(server.tokenUrl)).json.access_token as string
        const auth = { headers: { authorization: `Bearer ${token}` } }
        assert.strictEqual(answer(yield* send(server.resourceUrl, auth)).status, 200)
        yield* Effect.promise(() => new Promise((r) => setTimeout(r, 150)))
        assert.strictEqual(answer(yield* send(server.resourceUrl, auth)).status, 401)
      }))

    it.scoped("JWT tokens: ES256, typ at+jwt, the RFC 9068 claims, verifiable with the JWKS; metadata per RFC 8414", () =>
      Effect.gen(function*() {
        const server = yield* FakeAuthServer.make({ tokenFormat: "jwt", audience: "https://api.example" })
        const res = yield* requestToken(server.tokenUrl, "grant_type=client_credentials&scope=read")
        const jwt = res.json.access_token as string
        const jwks = Jose.createRemoteJWKSet(new URL(server.jwksUri))
        const { payload, protectedHeader } = yield* Effect.promise(() =>
          Jose.jwtVerify(jwt, jwks, { issuer: server.issuer, audience: "https://api.example", typ: "at+jwt" })
        )
        assert.strictEqual(protectedHeader.alg, "ES256")
        assert.isString(protectedHeader.kid)
        assert.strictEqual(payload.sub, "test-client")
        assert.strictEqual(payload.client_id, "test-client")
        assert.strictEqual(payload.scope, "read")
        assert.strictEqual(payload.exp! - payload.iat!, 300)
        assert.isString(payload.jti)
        const metadata = answer(yield* send(server.metadataUrl)).json
        assert.strictEqual(metadata.issuer, server.issuer)
        assert.strictEqual(metadata.token_endpoint, server.tokenUrl)
        assert.strictEqual(metadata.jwks_uri, server.jwksUri)
        assert.deepStrictEqual(metadata.grant_types_supported, ["client_credentials"])
        assert.deepStrictEqual(metadata.token_endpoint_auth_methods_supported, [
          "client_secret_basic",
          "client_secret_post",
          "client_secret_jwt"
        ])
        assert.deepStrictEqual(metadata.token_endpoint_auth_signing_alg_values_supported, ["HS256"])
        const audience = yield* requestToken(server.tokenUrl, "grant_type=client_credentials&audience=urn:other")
        assert.strictEqual(Jose.decodeJwt(audience.json.access_token).aud, "urn:other")
        assert.strictEqual(answer(yield* send(`${server.issuer}/nope`)).status, 404)
      }))
  })
})
