import * as HttpClient from "@effect/platform/HttpClient"
import { assert, describe, it } from "@effect/vitest"
import * as Effect from "effect/Effect"
import * as Exit from "effect/Exit"
import * as Redacted from "effect/Redacted"
import * as TestClock from "effect/TestClock"
import * as ClientCredentials from "../src/ClientCredentials.js"
import * as TokenError from "../src/TokenError.js"
import * as TokenProvider from "../src/TokenProvider.js"
import { fakeClient, type Seen, tokenBody } from "./utils.js"

const options = { tokenUrl: "https://auth.example.test/oauth/token", clientId: "client-1" } as const

/** A source over a mutable value, counting its reads. */
const mutableSource = (initial: string) => {
  const state = { value: initial, reads: 0 }
  const source = Effect.sync(() => {
    state.reads++
    return Redacted.make(state.value)
  })
  return { state, source }
}

const form = (seen: Seen) => new URLSearchParams(seen.body)

describe("clientSecret as an Effect", () => {
  it.scoped("is run on every fetch: a rotated secret is sent without a new provider", () =>
    Effect.gen(function*() {
      const { source, state } = mutableSource("secret-one")
      const fake = fakeClient((_, n) => ({ body: tokenBody(n) }))
      const provider = yield* TokenProvider.make({ ...options, clientSecret: source, authMethod: "client_secret_post" })
        .pipe(Effect.provideService(HttpClient.HttpClient, fake.client))
      yield* provider.get
      state.value = "secret-two"
      yield* provider.refresh
      assert.deepStrictEqual(fake.seen.map((seen) => form(seen).get("client_secret")), ["secret-one", "secret-two"])
      assert.strictEqual(state.reads, 2)
    }))

  it.scoped("client_secret_basic and client_secret_jwt read it on every fetch too", () =>
    Effect.gen(function*() {
      for (const authMethod of ["client_secret_basic", "client_secret_jwt"] as const) {
        const { source, state } = mutableSource("secret-one")
        const fake = fakeClient((_, n) => ({ body: tokenBody(n) }))
        const provider = yield* TokenProvider.make({ ...options, clientSecret: source, authMethod }).pipe(
          Effect.provideService(HttpClient.HttpClient, fake.client)
        )
        yield* provider.get
        state.value = "secret-two"
        yield* provider.refresh
        assert.strictEqual(state.reads, 2, authMethod)
        const credentials = fake.seen.map((seen) => seen.headers.authorization ?? form(seen).get("client_assertion"))
        assert.notStrictEqual(credentials[0], credentials[1], authMethod)
        if (authMethod === "client_secret_basic") {
          assert.strictEqual(credentials[1], `Basic ${Buffer.from("client-1:secret-two").toString("base64")}`)
        }
      }
    }))

  it.scoped("a failing source is a typed TokenCredentialUnavailable and no request is sent", () =>
    Effect.gen(function*() {
      const fake = fakeClient((_, n) => ({ body: tokenBody(n) }))
      const failing = Effect.fail(
        new TokenError.TokenCredentialUnavailable({ credential: "client_secret", detail: "/run/secret: ENOENT" })
      )
      const provider = yield* TokenProvider.make({ ...options, clientSecret: failing }).pipe(
        Effect.provideService(HttpClient.HttpClient, fake.client)
      )
      const exit = yield* Effect.exit(provider.get)
      assert.isTrue(Exit.isFailure(exit) && exit.cause._tag === "Fail", "a failure, not a defect")
      const error = yield* Effect.flip(provider.refresh)
      assert.strictEqual(error._tag, "TokenCredentialUnavailable")
      assert.isFalse(error.retryable)
      assert.strictEqual(TokenError.exitCode(error), 12)
      assert.include(error.message, "client secret could not be read: /run/secret: ENOENT")
      assert.strictEqual(fake.seen.length, 0)
    }))

  it.scoped("after invalid_client a changed source is read and the fetch made once more", () =>
    Effect.gen(function*() {
      const { source, state } = mutableSource("old-secret")
      const fake = fakeClient((seen, n) => {
        // the secret is rotated on disk while the first request is in flight
        state.value = "new-secret"
        return form(seen).get("client_secret") === "new-secret"
          ? { body: tokenBody(n) }
          : { status: 401, body: { error: "invalid_client" } }
      })
      const provider = yield* TokenProvider.make({ ...options, clientSecret: source, authMethod: "client_secret_post" })
        .pipe(Effect.provideService(HttpClient.HttpClient, fake.client))
      const token = yield* provider.get
      assert.strictEqual(Redacted.value(token.value), "tok-2")
      assert.deepStrictEqual(fake.seen.map((seen) => form(seen).get("client_secret")), ["old-secret", "new-secret"])
    }))

  it.scoped("after invalid_client an unchanged source is read once more and the error reported, not retried", () =>
    Effect.gen(function*() {
      const { source, state } = mutableSource("wrong-secret")
      const fake = fakeClient(() => ({ status: 401, body: { error: "invalid_client" } }))
      const provider = yield* TokenProvider.make({ ...options, clientSecret: source }).pipe(
        Effect.provideService(HttpClient.HttpClient, fake.client)
      )
      const error = yield* Effect.flip(provider.get)
      assert.strictEqual(error._tag, "TokenRequestRejected")
      assert.strictEqual(fake.seen.length, 1)
      assert.strictEqual(state.reads, 2)
    }))

  it.scoped("a rotated secret echoed by the server is masked in the error, like the first one", () =>
    Effect.gen(function*() {
      const { source, state } = mutableSource("first-S3CRET")
      const fake = fakeClient((seen) => ({
        status: 400,
        body: { error: "invalid_request", error_description: `got ${form(seen).get("client_secret")}` }
      }))
      const provider = yield* TokenProvider.make({ ...options, clientSecret: source, authMethod: "client_secret_post" })
        .pipe(Effect.provideService(HttpClient.HttpClient, fake.client))
      const first = yield* Effect.flip(provider.get)
      state.value = "rotated-S3CRET"
      yield* TestClock.adjust("2 seconds") // past the failure cooldown
      const second = yield* Effect.flip(provider.refresh)
      assert.strictEqual(fake.seen.length, 2)
      assert.strictEqual(first.message.includes("first-S3CRET"), false)
      assert.include(second.message, "got <redacted>")
      assert.notInclude(second.message, "rotated-S3CRET")
    }))
})

describe("clientAssertion.source", () => {
  it.scoped("sends the source's JWT as client_assertion (jwt-bearer), private_key_jwt, no secret, read per fetch", () =>
    Effect.gen(function*() {
      const { source, state } = mutableSource("eyJhbGciOiJSUzI1NiJ9.first.sig")
      const fake = fakeClient((_, n) => ({ body: tokenBody(n) }))
      const provider = yield* TokenProvider.make({ ...options, clientAssertion: { source } }).pipe(
        Effect.provideService(HttpClient.HttpClient, fake.client)
      )
      yield* provider.get
      state.value = "eyJhbGciOiJSUzI1NiJ9.second.sig"
      yield* provider.refresh
      assert.deepStrictEqual(
        fake.seen.map((seen) => form(seen).get("client_assertion")),
        ["eyJhbGciOiJSUzI1NiJ9.first.sig", "eyJhbGciOiJSUzI1NiJ9.second.sig"]
      )
      for (const seen of fake.seen) {
        assert.strictEqual(
          form(seen).get("client_assertion_type"),
          "urn:ietf:params:oauth:client-assertion-type:jwt-bearer"
        )
        assert.strictEqual(form(seen).get("client_id"), "client-1")
        assert.isNull(form(seen).get("client_secret"))
        assert.isUndefined(seen.headers.authorization)
      }
    }))

  it.effect("is exclusive with clientAssertion.key, and satisfies private_key_jwt", () =>
    Effect.sync(() => {
      const source = Effect.succeed(Redacted.make("eyJ.a.b"))
      const both = ClientCredentials.validate({
        ...options,
        clientAssertion: { source, key: Redacted.make("-----BEGIN") }
      })
      assert.isTrue(both._tag === "Left" && String(both.left).includes("clientAssertion.source"))
      const only = ClientCredentials.validate({
        ...options,
        authMethod: "private_key_jwt",
        clientAssertion: { source }
      })
      assert.strictEqual(only._tag, "Right")
    }))
})
