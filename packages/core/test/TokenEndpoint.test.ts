import * as HttpClient from "@effect/platform/HttpClient"
import { assert, describe, it } from "@effect/vitest"
import * as Effect from "effect/Effect"
import * as Redacted from "effect/Redacted"
import type * as ClientCredentials from "../src/ClientCredentials.js"
import { basicCredentials } from "../src/internal/clientSecretBasic.js"
import { formEncode } from "../src/internal/encoding.js"
import * as TokenProvider from "../src/TokenProvider.js"
import { baseOptions, fakeClient, type Reply, type Seen, tokenBody } from "./utils.js"

const getWith = (reply: Reply, options: Partial<ClientCredentials.Options> = {}) =>
  Effect.gen(function*() {
    const fake = fakeClient(() => reply)
    const provider = yield* TokenProvider.make({ ...baseOptions, retry: { maxAttempts: 1 }, ...options }).pipe(
      Effect.provideService(HttpClient.HttpClient, fake.client)
    )
    const result = yield* Effect.either(provider.get)
    return { result, seen: fake.seen }
  })

const requestOf = (options: Partial<ClientCredentials.Options>) =>
  Effect.map(getWith({ body: tokenBody(1) }, options), ({ seen }) => seen[0]!)

const form = (seen: Seen) => new URLSearchParams(seen.body)

const failureOf = (reply: Reply, options: Partial<ClientCredentials.Options> = {}) =>
  Effect.map(getWith(reply, options), ({ result }) => {
    assert.strictEqual(result._tag, "Left", "expected a failure")
    return (result as any).left
  })

describe("token request (RFC 6749 §4.4.2)", () => {
  it.scoped("is a form-encoded POST with grant_type=client_credentials that accepts JSON", () =>
    Effect.gen(function*() {
      const seen = yield* requestOf({})
      assert.strictEqual(seen.method, "POST")
      assert.strictEqual(seen.url, "https://auth.example.test/oauth/token")
      assert.strictEqual(seen.headers["content-type"], "application/x-www-form-urlencoded")
      assert.strictEqual(seen.headers["accept"], "application/json")
      assert.strictEqual(form(seen).get("grant_type"), "client_credentials")
      assert.isNull(form(seen).get("client_secret"))
    }))

  it.scoped("client_secret_basic form-encodes id and secret before base64 (RFC 6749 §2.3.1)", () =>
    Effect.gen(function*() {
      const secret = "p@ss:w+rd/%&= ü"
      const seen = yield* requestOf({ clientId: "id:1", clientSecret: Redacted.make(secret) })
      const decoded = Buffer.from(seen.headers["authorization"]!.replace(/^Basic /, ""), "base64").toString()
      assert.strictEqual(decoded, "id%3A1:p%40ss%3Aw%2Brd%2F%25%26%3D+%C3%BC")
      const [id, pass] = decoded.split(":").map((s) => decodeURIComponent(s.replace(/\+/g, "%20")))
      assert.strictEqual(id, "id:1")
      assert.strictEqual(pass, secret)
    }))

  it("Basic credentials are the base64 of the UTF-8 bytes (Web platform btoa, no Buffer)", () => {
    for (const [id, secret] of [["client", "s3cret"], ["clïent-ü", "sécrèt-€-😀"], ["a", ""]] as const) {
      const expected = `Basic ${Buffer.from(`${formEncode(id)}:${formEncode(secret)}`).toString("base64")}`
      assert.strictEqual(basicCredentials(id, secret, "form"), expected)
      assert.strictEqual(
        basicCredentials(id, secret, "raw"),
        `Basic ${Buffer.from(`${id}:${secret}`).toString("base64")}`
      )
    }
  })

  it.scoped("basicEncoding: raw puts id and secret into Basic as they are", () =>
    Effect.gen(function*() {
      const seen = yield* requestOf({ clientSecret: Redacted.make("a+b%c"), basicEncoding: "raw" })
      const decoded = Buffer.from(seen.headers["authorization"]!.replace(/^Basic /, ""), "base64").toString()
      assert.strictEqual(decoded, "client-1:a+b%c")
    }))

  it.scoped("client_secret_post sends id and secret in the body, no Authorization header", () =>
    Effect.gen(function*() {
      const seen = yield* requestOf({ authMethod: "client_secret_post" })
      assert.isUndefined(seen.headers["authorization"])
      assert.strictEqual(form(seen).get("client_id"), "client-1")
      assert.strictEqual(form(seen).get("client_secret"), Redacted.value(baseOptions.clientSecret))
    }))

  it.scoped("tls_client_auth sends the client id and no secret", () =>
    Effect.gen(function*() {
      const seen = yield* requestOf({ authMethod: "tls_client_auth", clientSecret: undefined })
      assert.isUndefined(seen.headers["authorization"])
      assert.strictEqual(form(seen).get("client_id"), "client-1")
      assert.isNull(form(seen).get("client_secret"))
    }))

  // (extraParams naming a reserved parameter are rejected by validate: see ClientCredentials.test.ts)
  it.scoped("sends scope (sorted, de-duplicated), audience, every resource and extra params", () =>
    Effect.gen(function*() {
      const seen = yield* requestOf({
        scope: "write read read",
        audience: "https://api.example.test",
        resource: ["https://r2.example.test", "https://r1.example.test"],
        extraParams: { organization: "acme" }
      })
      const f = form(seen)
      assert.strictEqual(f.get("scope"), "read write")
      assert.strictEqual(f.get("audience"), "https://api.example.test")
      assert.deepStrictEqual(f.getAll("resource"), ["https://r1.example.test", "https://r2.example.test"])
      assert.strictEqual(f.get("organization"), "acme")
      assert.deepStrictEqual(f.getAll("grant_type"), ["client_credentials"])
    }))
})

describe("token response decoding (RFC 6749 §5.1)", () => {
  it.scoped("token_type is case-insensitive and expires_in may be a numeric string", () =>
    Effect.gen(function*() {
      const { result } = yield* getWith({
        body: { access_token: "abc", token_type: "bEaReR", expires_in: "120", scope: "x y", extra: { a: 1 } }
      })
      assert.strictEqual(result._tag, "Right")
      if (result._tag === "Right") {
        assert.strictEqual(result.right.tokenType, "Bearer")
        assert.strictEqual(result.right.expiresAt - result.right.issuedAt, 120_000)
        assert.deepStrictEqual(result.right.scope, ["x", "y"])
      }
    }))

  it.scoped("the granted scope defaults to the requested one when the server omits it", () =>
    Effect.gen(function*() {
      const { result } = yield* getWith({ body: tokenBody(1) }, { scope: "b a" })
      assert.deepStrictEqual(result._tag === "Right" && result.right.scope, ["a", "b"])
    }))

  it.scoped("a form-encoded answer (legacy servers) is accepted", () =>
    Effect.gen(function*() {
      const { result } = yield* getWith({
        headers: { "content-type": "application/x-www-form-urlencoded" },
        body: "access_token=abc&token_type=bearer&expires_in=60"
      })
      assert.strictEqual(result._tag, "Right")
    }))

  const invalid: ReadonlyArray<[string, Reply, string, Partial<ClientCredentials.Options>?]> = [
    ["not JSON", { body: "<html>hello</html>", headers: { "content-type": "text/html" } }, "InvalidJson"],
    ["a JSON array", { body: [1, 2] }, "NotAnObject"],
    ["no access_token", { body: { token_type: "Bearer", expires_in: 10 } }, "MissingAccessToken"],
    ["a numeric access_token", { body: { access_token: 5, token_type: "Bearer" } }, "MissingAccessToken"],
    ["an empty access_token", { body: { access_token: "", token_type: "Bearer" } }, "InvalidAccessToken"],
    [
      "a token with a newline",
      { body: { access_token: "a\r\nX-Evil: 1", token_type: "Bearer" } },
      "InvalidAccessToken"
    ],
    ["no token_type", { body: { access_token: "a", expires_in: 10 } }, "MissingTokenType"],
    ["token_type mac", { body: { access_token: "a", token_type: "mac" } }, "UnsupportedTokenType"],
    ["expires_in 0", { body: tokenBody(1, { expires_in: 0 }) }, "InvalidExpiresIn"],
    ["expires_in negative", { body: tokenBody(1, { expires_in: -5 }) }, "InvalidExpiresIn"],
    [
      "expires_in a tiny fraction (found by the fuzz)",
      { body: tokenBody(1, { expires_in: 1e-259 }) },
      "InvalidExpiresIn"
    ],
    ["expires_in half a second", { body: tokenBody(1, { expires_in: "0.5" }) }, "InvalidExpiresIn"],
    ["expires_in huge", { body: tokenBody(1, { expires_in: 1e12 }) }, "InvalidExpiresIn"],
    ["expires_in not a number", { body: tokenBody(1, { expires_in: "soon" }) }, "InvalidExpiresIn"],
    ...["0x10", " 1e3 ", "1e3", " 300", "300 ", "+300", "300.0", "", "0b11", "3_600", "\u0663\u0660\u0660"].map((
      raw
    ): [string, Reply, string] => [
      `expires_in ${JSON.stringify(raw)} (decimal digits only)`,
      { body: tokenBody(1, { expires_in: raw }) },
      "InvalidExpiresIn"
    ]),
    ["scope not a string", { body: tokenBody(1, { scope: ["a"] }) }, "InvalidScope"],
    ["a 302 redirect", { status: 302, headers: { location: "https://evil.example.test/" } }, "UnexpectedStatus"],
    ["a 404 HTML page", { status: 404, body: "<html>not found</html>" }, "UnexpectedStatus"],
    ["a body over the cap", { body: tokenBody(1, { pad: "x".repeat(5000) }) }, "BodyTooLarge", {
      maxResponseBytes: 4096
    }]
  ]
  for (const [name, reply, reason, options] of invalid) {
    it.scoped(`${name} → TokenResponseInvalid(${reason})`, () =>
      Effect.gen(function*() {
        const error = yield* failureOf(reply, options)
        assert.strictEqual(error._tag, "TokenResponseInvalid")
        assert.strictEqual(error.reason, reason)
        assert.isFalse(error.retryable)
      }))
  }

  it.scoped("assumeBearer accepts a response without token_type", () =>
    Effect.gen(function*() {
      const { result } = yield* getWith({ body: { access_token: "a" } }, { assumeBearer: true })
      assert.strictEqual(result._tag === "Right" && result.right.tokenType, "Bearer")
    }))

  it.scoped("a 200 carrying {error} is a rejection, not a token", () =>
    Effect.gen(function*() {
      const error = yield* failureOf({ body: { error: "invalid_grant", error_description: "expired" } })
      assert.strictEqual(error._tag, "TokenRequestRejected")
      assert.strictEqual(error.error, "invalid_grant")
      assert.strictEqual(error.status, 200)
    }))

  it.scoped("unknown error codes are kept as they are", () =>
    Effect.gen(function*() {
      const error = yield* failureOf({ status: 400, body: { error: "consent_required" } })
      assert.strictEqual(error.error, "consent_required")
    }))

  it.scoped("a 401 without an RFC body is an invalid_client rejection", () =>
    Effect.gen(function*() {
      const error = yield* failureOf({ status: 401, body: "" })
      assert.strictEqual(error._tag, "TokenRequestRejected")
      assert.strictEqual(error.error, "invalid_client")
    }))

  it.scoped("a server echoing the Basic header (base64 of id:secret) has it masked, in either encoding", () =>
    Effect.gen(function*() {
      for (const basicEncoding of ["form", "raw"] as const) {
        const fake = fakeClient((seen) => ({
          status: 400,
          body: { error: "invalid_request", error_description: `bad header ${seen.headers["authorization"]}` }
        }))
        const provider = yield* TokenProvider.make({ ...baseOptions, basicEncoding }).pipe(
          Effect.provideService(HttpClient.HttpClient, fake.client)
        )
        const error = yield* Effect.flip(provider.get)
        const basic = fake.seen[0]!.headers["authorization"]!.slice(6)
        assert.notInclude(error.message, basic)
        assert.include(error.message, "bad header Basic <redacted>")
      }
    }))

  it.scoped("a server echoing the secret in error_description has it masked", () =>
    Effect.gen(function*() {
      const secret = Redacted.value(baseOptions.clientSecret)
      const error = yield* failureOf({
        status: 400,
        body: { error: "invalid_request", error_description: `bad ${secret}` }
      })
      assert.strictEqual(error.errorDescription, "bad <redacted>")
      assert.notInclude(error.message, secret)
    }))
})
