import * as HttpClient from "@effect/platform/HttpClient"
import { assert, describe, it } from "@effect/vitest"
import * as ConfigProvider from "effect/ConfigProvider"
import * as Effect from "effect/Effect"
import * as Either from "effect/Either"
import * as Fiber from "effect/Fiber"
import * as Redacted from "effect/Redacted"
import * as TestClock from "effect/TestClock"
import * as TestServices from "effect/TestServices"
import { decodeProtectedHeader, type JWK, jwtVerify } from "jose"
import { createPublicKey, generateKeyPairSync, type KeyObject } from "node:crypto"
import { inspect } from "node:util"
import * as ClientAssertion from "../src/ClientAssertion.js"
import * as ClientCredentials from "../src/ClientCredentials.js"
import * as TokenProvider from "../src/TokenProvider.js"
import { canarySecret, fakeClient, type Reply, type Seen, tokenBody } from "./utils.js"

const ec = generateKeyPairSync("ec", { namedCurve: "P-256" })
const rsa = generateKeyPairSync("rsa", { modulusLength: 2048 })
const ed = generateKeyPairSync("ed25519")
const ecJwk = { ...ec.privateKey.export({ format: "jwk" }), kid: "ec-1" } as JWK
const tokenUrl = "https://auth.example.test/oauth/token"

const base = { tokenUrl, clientId: "client-1" } as const

const provide = (options: ClientCredentials.Options, respond: (seen: Seen, n: number) => Reply = (_, n) => ({
  body: tokenBody(n)
})) =>
  Effect.gen(function*() {
    const fake = fakeClient(respond)
    const provider = yield* TokenProvider.make({ retry: { jitter: false }, ...options }).pipe(
      Effect.provideService(HttpClient.HttpClient, fake.client)
    )
    return { provider, seen: fake.seen }
  })

const assertionOf = (seen: Seen) => {
  const form = new URLSearchParams(seen.body)
  return {
    form,
    jwt: form.get("client_assertion")!
  }
}

/**
 * Signing is real async work (WebCrypto), which TestClock does not wait for: wait (in real time,
 * bounded) until the fetch is sleeping on the Clock before moving it.
 */
const untilSleeping = Effect.gen(function*() {
  for (let i = 0; i < 2000 && (yield* TestClock.sleeps()).length === 0; i++) {
    yield* TestServices.provideLive(Effect.sleep("5 millis"))
  }
  assert.isNotEmpty(yield* TestClock.sleeps(), "the fetch never slept")
})

const verify = (jwt: string, key: KeyObject | Uint8Array, audience = tokenUrl) =>
  Effect.promise(() =>
    jwtVerify(jwt, key, {
      issuer: "client-1",
      subject: "client-1",
      audience,
      currentDate: new Date(1000) // TestClock starts at 0
    })
  )

describe("private_key_jwt (RFC 7523 §2.2)", () => {
  it.scoped("sends client_id, client_assertion_type and an ES256 assertion; no secret, no Basic", () =>
    Effect.gen(function*() {
      const { provider, seen } = yield* provide({
        ...base,
        authMethod: "private_key_jwt",
        clientAssertion: { key: Redacted.make(ecJwk) }
      })
      yield* provider.get
      const { form, jwt } = assertionOf(seen[0]!)
      assert.isUndefined(seen[0]!.headers["authorization"])
      assert.strictEqual(form.get("client_id"), "client-1")
      assert.strictEqual(form.get("client_assertion_type"), ClientAssertion.assertionType)
      assert.isNull(form.get("client_secret"))
      const { payload, protectedHeader } = yield* verify(jwt, ec.publicKey)
      assert.deepStrictEqual(protectedHeader, { alg: "ES256", typ: "client-authentication+jwt", kid: "ec-1" })
      assert.strictEqual(payload.iat, 0)
      assert.strictEqual(payload.nbf, 0)
      assert.strictEqual(payload.exp, 60)
      assert.match(String(payload.jti), /^[0-9a-f-]{36}$/)
    }))

  it.scoped("is the default method when a key is configured", () =>
    Effect.gen(function*() {
      const { provider, seen } = yield* provide({ ...base, clientAssertion: { key: ec.privateKey } })
      yield* provider.get
      assert.strictEqual(assertionOf(seen[0]!).form.get("client_assertion_type"), ClientAssertion.assertionType)
    }))

  it.scoped("signs a fresh assertion (new jti, iat from Clock) for every attempt, retries included", () =>
    Effect.gen(function*() {
      const { provider, seen } = yield* provide(
        { ...base, clientAssertion: { key: ec.privateKey, lifetime: "2 minutes" } },
        (_, n) => n === 1 ? { status: 429, headers: { "retry-after": "7" } } : { body: tokenBody(n) }
      )
      const fiber = yield* Effect.fork(provider.get)
      yield* untilSleeping
      yield* TestClock.adjust("7 seconds")
      yield* Fiber.join(fiber)
      yield* provider.refresh
      assert.strictEqual(seen.length, 3)
      const payloads = yield* Effect.forEach(
        seen,
        (s) =>
          Effect.promise(() =>
            jwtVerify(assertionOf(s).jwt, ec.publicKey, { audience: tokenUrl, currentDate: new Date(8000) })
          )
      )
      assert.deepStrictEqual(payloads.map((p) => [p.payload.iat, p.payload.exp]), [[0, 120], [7, 127], [7, 127]])
      assert.strictEqual(new Set(payloads.map((p) => p.payload.jti)).size, 3)
    }))

  const keys: ReadonlyArray<[string, ClientAssertion.Key, KeyObject, ClientAssertion.Algorithm | undefined, string]> = [
    [
      "a PKCS#8 PEM (RSA)",
      Redacted.make(rsa.privateKey.export({ format: "pem", type: "pkcs8" }) as string),
      rsa.publicKey,
      undefined,
      "RS256"
    ],
    [
      "a PKCS#1 PEM (RSA) with PS256",
      Redacted.make(rsa.privateKey.export({ format: "pem", type: "pkcs1" }) as string),
      rsa.publicKey,
      "PS256",
      "PS256"
    ],
    [
      "a SEC1 PEM (EC)",
      Redacted.make(ec.privateKey.export({ format: "pem", type: "sec1" }) as string),
      ec.publicKey,
      undefined,
      "ES256"
    ],
    ["a JWK as JSON text", Redacted.make(JSON.stringify(ecJwk)), ec.publicKey, undefined, "ES256"],
    ["an Ed25519 KeyObject", ed.privateKey, ed.publicKey, undefined, "EdDSA"]
  ]
  for (const [name, key, publicKey, alg, expected] of keys) {
    it.scoped(`signs with ${name} (${expected})`, () =>
      Effect.gen(function*() {
        const { provider, seen } = yield* provide({ ...base, clientAssertion: { key, alg } })
        yield* provider.get
        const jwt = assertionOf(seen[0]!).jwt
        assert.strictEqual(decodeProtectedHeader(jwt).alg, expected)
        yield* verify(jwt, publicKey)
      }))
  }

  it.scoped("header adds JOSE header parameters (Entra's x5t#S256) but cannot replace alg or kid", () =>
    Effect.gen(function*() {
      const { provider, seen } = yield* provide({
        ...base,
        clientAssertion: { key: Redacted.make(ecJwk), header: { "x5t#S256": "thumb", alg: "none", kid: "evil" } }
      })
      yield* provider.get
      const { protectedHeader } = yield* verify(assertionOf(seen[0]!).jwt, ec.publicKey)
      assert.deepStrictEqual(protectedHeader, {
        "x5t#S256": "thumb",
        alg: "ES256",
        typ: "client-authentication+jwt",
        kid: "ec-1"
      })
    }))

  it.scoped("audience: token_endpoint, or a string of one's own", () =>
    Effect.gen(function*() {
      for (
        const [audience, expected] of [["token_endpoint", tokenUrl], [
          "https://aud.example.test",
          "https://aud.example.test"
        ]]
      ) {
        const { provider, seen } = yield* provide({
          ...base,
          clientAssertion: { key: ec.privateKey, audience, kid: "k" }
        })
        yield* provider.get
        const { protectedHeader } = yield* verify(assertionOf(seen[0]!).jwt, ec.publicKey, expected)
        assert.strictEqual(protectedHeader.kid, "k")
      }
    }))
})

describe("client_secret_jwt (RFC 7523 §2.2)", () => {
  it.scoped("signs an HS256 assertion with the secret, which is never sent", () =>
    Effect.gen(function*() {
      const { provider, seen } = yield* provide({
        ...base,
        authMethod: "client_secret_jwt",
        clientSecret: Redacted.make(canarySecret)
      })
      yield* provider.get
      const { form, jwt } = assertionOf(seen[0]!)
      assert.notInclude(seen[0]!.body, canarySecret)
      assert.isUndefined(seen[0]!.headers["authorization"])
      assert.strictEqual(form.get("client_assertion_type"), ClientAssertion.assertionType)
      const { protectedHeader } = yield* verify(jwt, new TextEncoder().encode(canarySecret))
      assert.strictEqual(protectedHeader.alg, "HS256")
    }))
})

describe("assertion options", () => {
  const invalid: ReadonlyArray<[string, Partial<ClientCredentials.Options>, string]> = [
    ["private_key_jwt without a key", { authMethod: "private_key_jwt" }, "clientAssertion.key"],
    ["a plain (unredacted) PEM string", { clientAssertion: { key: "-----BEGIN PRIVATE KEY-----" as any } }, "Redacted"],
    ["a public key", { clientAssertion: { key: ec.publicKey } }, "private key"],
    ["a public JWK", {
      clientAssertion: { key: Redacted.make(createPublicKey(ec.privateKey).export({ format: "jwk" }) as JWK) }
    }, "public JWK"],
    ["garbage", {
      clientAssertion: { key: Redacted.make("-----BEGIN PRIVATE KEY-----\nAAAA\n-----END PRIVATE KEY-----") }
    }, "cannot be read"],
    ["an alg that does not fit the key", { clientAssertion: { key: rsa.privateKey, alg: "ES256" } }, "does not fit"],
    [
      "a 1024-bit RSA key",
      { clientAssertion: { key: generateKeyPairSync("rsa", { modulusLength: 1024 }).privateKey } },
      "2048"
    ],
    [
      "a P-384 key",
      { clientAssertion: { key: generateKeyPairSync("ec", { namedCurve: "P-384" }).privateKey } },
      "P-256"
    ],
    ["audience issuer without an issuer", { clientAssertion: { key: ec.privateKey, audience: "issuer" } }, "issuer"],
    ["a lifetime of 2 hours", { clientAssertion: { key: ec.privateKey, lifetime: "2 hours" } }, "lifetime"],
    ["client_secret_jwt without a secret", { authMethod: "client_secret_jwt" }, "clientSecret"]
  ]
  for (const [name, options, expected] of invalid) {
    it(`refuses ${name}`, () => {
      const result = ClientCredentials.validate({ ...base, ...options })
      assert.isTrue(Either.isLeft(result))
      if (Either.isLeft(result)) assert.include(String(result.left), expected)
    })
  }

  it("the key never shows in String, JSON.stringify or util.inspect of the options", () => {
    const pem = rsa.privateKey.export({ format: "pem", type: "pkcs8" }) as string
    const secretPart = pem.split("\n")[3]!
    for (const key of [Redacted.make(ecJwk), Redacted.make(pem), ec.privateKey] as const) {
      const options: ClientCredentials.Options = { ...base, clientAssertion: { key } }
      for (
        const text of [String(options.clientAssertion?.key), JSON.stringify(options), inspect(options, { depth: 10 })]
      ) {
        assert.notInclude(text, ecJwk.d!)
        assert.notInclude(text, secretPart)
      }
    }
  })

  it.effect("reads OAUTH_CLIENT_ASSERTION_KEY (PEM or JWK JSON), _ALG, _KID and _AUDIENCE", () =>
    Effect.gen(function*() {
      const vars: ReadonlyArray<[string, string]> = [
        ["OAUTH_TOKEN_URL", tokenUrl],
        ["OAUTH_CLIENT_ID", "client-1"],
        ["OAUTH_CLIENT_ASSERTION_KEY", JSON.stringify(ecJwk)]
      ]
      const env = (more: ReadonlyArray<[string, string]>) =>
        ConfigProvider.fromMap(new Map([...vars, ...more]), { pathDelim: "_" })
      const options = yield* Effect.withConfigProvider(
        ClientCredentials.config(),
        env([["OAUTH_CLIENT_ASSERTION_KID", "from-env"], ["OAUTH_CLIENT_ASSERTION_AUDIENCE", "token_endpoint"]])
      )
      assert.isTrue(Redacted.isRedacted(options.clientAssertion?.key))
      assert.notInclude(inspect(options, { depth: 10 }), ecJwk.d!)
      const { provider, seen } = yield* provide(options)
      yield* provider.get
      const { protectedHeader } = yield* verify(assertionOf(seen[0]!).jwt, ec.publicKey)
      assert.strictEqual(protectedHeader.kid, "from-env")
      const bad = yield* Effect.either(Effect.withConfigProvider(
        ClientCredentials.config(),
        env([["OAUTH_CLIENT_ASSERTION_ALG", "RS256"]])
      ))
      assert.isTrue(Either.isLeft(bad))
      if (Either.isLeft(bad)) assert.include(String(bad.left), "does not fit")
    }).pipe(Effect.scoped))
})

describe("keys without Node's crypto (Web Crypto)", () => {
  const pem = (key: KeyObject, type: "pkcs8" | "pkcs1" | "sec1") =>
    Redacted.make(key.export({ format: "pem", type }) as string)

  it.scoped("a Web Crypto CryptoKey (not extractable) signs ES256", () =>
    Effect.gen(function*() {
      const pair = yield* Effect.promise(() =>
        crypto.subtle.generateKey({ name: "ECDSA", namedCurve: "P-256" }, false, ["sign", "verify"])
      )
      const { provider, seen } = yield* provide({ ...base, clientAssertion: { key: pair.privateKey } })
      yield* provider.get
      const jwt = assertionOf(seen[0]!).jwt
      assert.strictEqual(decodeProtectedHeader(jwt).alg, "ES256")
      yield* Effect.promise(() =>
        jwtVerify(jwt, pair.publicKey, { issuer: "client-1", audience: tokenUrl, currentDate: new Date(1000) })
      )
    }))

  it("a CryptoKey is held to the one algorithm it was imported for, and must be private", () =>
    Effect.gen(function*() {
      const rsaKeys = yield* Effect.promise(() =>
        crypto.subtle.generateKey(
          {
            name: "RSASSA-PKCS1-v1_5",
            modulusLength: 2048,
            publicExponent: new Uint8Array([1, 0, 1]),
            hash: "SHA-256"
          },
          false,
          ["sign", "verify"]
        )
      )
      const wrongAlg = ClientCredentials.validate({
        ...base,
        clientAssertion: { key: rsaKeys.privateKey, alg: "PS256" }
      })
      assert.isTrue(Either.isLeft(wrongAlg))
      if (Either.isLeft(wrongAlg)) assert.include(String(wrongAlg.left), "does not fit")
      const publicKey = ClientCredentials.validate({ ...base, clientAssertion: { key: rsaKeys.publicKey } })
      assert.isTrue(Either.isLeft(publicKey))
      if (Either.isLeft(publicKey)) assert.include(String(publicKey.left), "private key")
    }).pipe(Effect.runPromise))

  const refused: ReadonlyArray<[string, Redacted.Redacted<string>, string]> = [
    [
      "a PKCS#8 PEM of a P-384 key",
      pem(generateKeyPairSync("ec", { namedCurve: "P-384" }).privateKey, "pkcs8"),
      "P-256"
    ],
    ["a SEC1 PEM of a P-384 key", pem(generateKeyPairSync("ec", { namedCurve: "P-384" }).privateKey, "sec1"), "P-256"],
    [
      "a PKCS#1 PEM of a 1024-bit RSA key",
      pem(generateKeyPairSync("rsa", { modulusLength: 1024 }).privateKey, "pkcs1"),
      "2048"
    ],
    [
      "a PKCS#8 PEM of a 1024-bit RSA key",
      pem(generateKeyPairSync("rsa", { modulusLength: 1024 }).privateKey, "pkcs8"),
      "2048"
    ],
    ["a PKCS#8 PEM of an X25519 key", pem(generateKeyPairSync("x25519").privateKey, "pkcs8"), "x25519"],
    [
      "a PEM cut short",
      Redacted.make(
        (rsa.privateKey.export({ format: "pem", type: "pkcs8" }) as string).split("\n").slice(0, 5).join("\n") +
          "\n-----END PRIVATE KEY-----"
      ),
      "cannot be read"
    ],
    [
      "a PEM with mismatched labels",
      Redacted.make("-----BEGIN PRIVATE KEY-----\nMAA=\n-----END EC PRIVATE KEY-----"),
      "cannot"
    ],
    [
      "a PEM that is not base64",
      Redacted.make("-----BEGIN PRIVATE KEY-----\n!!!!\n-----END PRIVATE KEY-----"),
      "cannot"
    ]
  ]
  for (const [name, key, expected] of refused) {
    it(`refuses ${name} when the options are validated (read as DER, no Node crypto)`, () => {
      const result = ClientCredentials.validate({ ...base, clientAssertion: { key } })
      assert.isTrue(Either.isLeft(result))
      if (Either.isLeft(result)) {
        assert.include(String(result.left), expected)
        assert.notInclude(String(result.left), Redacted.value(key).split("\n")[1]!)
      }
    })
  }

  it.scoped("signs with a PEM and a JWK on every attempt without importing the key again per request", () =>
    Effect.gen(function*() {
      const key = Redacted.make(ec.privateKey.export({ format: "pem", type: "sec1" }) as string)
      const { provider, seen } = yield* provide({ ...base, clientAssertion: { key } })
      yield* provider.get
      yield* provider.refresh
      assert.strictEqual(seen.length, 2)
      const [first, second] = seen.map((s) => assertionOf(s).jwt)
      yield* verify(first!, ec.publicKey)
      yield* verify(second!, ec.publicKey)
      assert.notStrictEqual(first, second)
    }))
})
