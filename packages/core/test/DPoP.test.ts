import * as Headers from "@effect/platform/Headers"
import * as HttpClientRequest from "@effect/platform/HttpClientRequest"
import { assert, describe, it } from "@effect/vitest"
import * as Cause from "effect/Cause"
import * as Effect from "effect/Effect"
import * as Exit from "effect/Exit"
import * as FiberRef from "effect/FiberRef"
import * as Inspectable from "effect/Inspectable"
import * as Logger from "effect/Logger"
import * as Option from "effect/Option"
import * as Redacted from "effect/Redacted"
import * as TestClock from "effect/TestClock"
import { calculateJwkThumbprint, decodeProtectedHeader, EmbeddedJWK, type JWK, jwtVerify } from "jose"
import { generateKeyPairSync, type KeyObject, webcrypto } from "node:crypto"
import { readFileSync } from "node:fs"
import { inspect } from "node:util"
import { afterEach, vi } from "vitest"
import * as DPoP from "../src/DPoP.js"

const ec = generateKeyPairSync("ec", { namedCurve: "P-256" })
const ed = generateKeyPairSync("ed25519")
const rsa = generateKeyPairSync("rsa", { modulusLength: 2048 })
const jwkOf = (key: KeyObject) => key.export({ format: "jwk" }) as JWK

const privateNames = ["d", "p", "q", "dp", "dq", "qi", "k"]

const decode = (part: string) => JSON.parse(Buffer.from(part, "base64url").toString("utf8"))

const verify = (proof: Redacted.Redacted<string>, alg: string) =>
  Effect.promise(() =>
    jwtVerify(Redacted.value(proof), EmbeddedJWK, { typ: "dpop+jwt", algorithms: [alg], currentDate: new Date(0) })
  )

const failure = <A, E>(effect: Effect.Effect<A, E>) =>
  Effect.map(Effect.exit(effect), (exit) => {
    assert.isTrue(Exit.isFailure(exit), "expected a failure")
    const error = Cause.failureOption((exit as Exit.Failure<A, E>).cause)
    assert.isTrue(Option.isSome(error), "expected a typed failure, not a defect")
    return Option.getOrThrow(error)
  })

const keys = [
  { alg: "ES256", options: { key: ec.privateKey } },
  { alg: "EdDSA", options: { key: ed.privateKey } },
  { alg: "RS256", options: { key: rsa.privateKey } },
  { alg: "PS256", options: { key: rsa.privateKey, alg: "PS256" } }
] as const

describe("DPoP proofs", () => {
  for (const { alg, options } of keys) {
    it.effect(`${alg}: a dpop+jwt that verifies with its embedded public jwk, and nothing private in it`, () =>
      Effect.gen(function*() {
        const proofer = yield* DPoP.make(options)
        assert.strictEqual(proofer.alg, alg)
        const proof = yield* proofer.proof({ htm: "POST", htu: "https://as.example.test/token" })
        const { payload, protectedHeader } = yield* verify(proof, alg)
        assert.strictEqual(protectedHeader.typ, "dpop+jwt")
        assert.strictEqual(protectedHeader.alg, alg)
        const jwk = protectedHeader.jwk!
        for (const name of privateNames) assert.notProperty(jwk, name)
        assert.deepStrictEqual(Object.keys(payload).sort(), ["htm", "htu", "iat", "jti"])
        assert.strictEqual(payload.htm, "POST")
        assert.strictEqual(payload.htu, "https://as.example.test/token")
        assert.match(payload.jti!, /^[0-9a-f-]{36}$/)
        assert.strictEqual(proofer.thumbprint, yield* Effect.promise(() => calculateJwkThumbprint(jwk, "sha256")))
        assert.strictEqual(proofer.thumbprint, yield* DPoP.jkt(jwk))
        // the raw header text holds none of the private values either
        const header = Buffer.from(Redacted.value(proof).split(".")[0]!, "base64url").toString("utf8")
        const secret = jwkOf(options.key)
        for (const name of privateNames) {
          const value = (secret as Record<string, unknown>)[name]
          if (typeof value === "string") assert.notInclude(header, value, name)
        }
      }))
  }

  it.effect("htu drops the query and the fragment; htm is kept as given", () =>
    Effect.gen(function*() {
      const proofer = yield* DPoP.make({ key: ec.privateKey })
      const proof = yield* proofer.proof({
        htm: "GET",
        htu: new URL("https://rs.example.test:8443/api/items?id=1&x=%20#frag")
      })
      const payload = decode(Redacted.value(proof).split(".")[1]!)
      assert.strictEqual(payload.htu, "https://rs.example.test:8443/api/items")
      assert.strictEqual(payload.htm, "GET")
      assert.deepStrictEqual(
        DPoP.htu("HTTPS://RS.example.test:443/a/./b/../c?q#f"),
        Option.some("https://rs.example.test/a/c")
      )
      assert.deepStrictEqual(DPoP.htu("ftp://rs.example.test/x"), Option.none())
      assert.deepStrictEqual(DPoP.htu("/relative"), Option.none())
    }))

  it.effect("a fresh jti for every proof", () =>
    Effect.gen(function*() {
      const proofer = yield* DPoP.make({ key: ed.privateKey })
      const jtis = new Set<string>()
      for (let i = 0; i < 200; i++) {
        const proof = yield* proofer.proof({ htm: "POST", htu: "https://as.example.test/token" })
        jtis.add(decode(Redacted.value(proof).split(".")[1]!).jti)
      }
      assert.strictEqual(jtis.size, 200)
    }))

  it.effect("ath of RFC 9449 §7.1's example token, and in the proof when a token goes with the request", () =>
    Effect.gen(function*() {
      const token = "Kz~8mXK1EalYznwH-LC-1fBAo.4Ljp~zsPE_NeO.gxU"
      const expected = "fUHyO2r2Z3DZ53EsNrWBb0xWXoaNy59IiKCAqksmQEo"
      assert.strictEqual(yield* DPoP.ath(token), expected)
      assert.strictEqual(yield* DPoP.ath(Redacted.make(token)), expected)
      const proofer = yield* DPoP.make({ key: ec.privateKey })
      const proof = yield* proofer.proof({
        htm: "GET",
        htu: "https://resource.example.org/protectedresource",
        accessToken: Redacted.make(token),
        nonce: "eyJ7S_zG.eyJH0-Z.HX4w-7v"
      })
      const { payload } = yield* verify(proof, "ES256")
      assert.strictEqual(payload.ath, expected)
      assert.strictEqual(payload.nonce, "eyJ7S_zG.eyJH0-Z.HX4w-7v")
    }))

  it.effect("iat comes from the Clock (TestClock), in seconds", () =>
    Effect.gen(function*() {
      const proofer = yield* DPoP.make({ key: ec.privateKey })
      const iat = () =>
        proofer.proof({ htm: "POST", htu: "https://as.example.test/token" }).pipe(
          Effect.map((proof) => decode(Redacted.value(proof).split(".")[1]!).iat as number)
        )
      yield* TestClock.setTime(1_700_000_000_999)
      assert.strictEqual(yield* iat(), 1_700_000_000)
      yield* TestClock.adjust("90 seconds")
      assert.strictEqual(yield* iat(), 1_700_000_090)
    }))

  describe("the key is read once", () => {
    afterEach(() => void vi.restoreAllMocks())

    it.effect("1,000 proofs import no key (Web Crypto importKey is never called after make)", () =>
      Effect.gen(function*() {
        for (const { options } of keys) {
          const importKey = vi.spyOn(globalThis.crypto.subtle, "importKey")
          const proofer = yield* DPoP.make(options)
          const atMake = importKey.mock.calls.length
          const started = performance.now()
          for (let i = 0; i < 1000; i++) {
            yield* proofer.proof({ htm: "GET", htu: "https://rs.example.test/x", accessToken: "t" })
          }
          const perProof = (performance.now() - started) / 1000
          assert.isAbove(atMake, 0, "make imports the key")
          assert.strictEqual(importKey.mock.calls.length - atMake, 0, "no import per proof")
          console.log(`DPoP ${proofer.alg}: ${perProof.toFixed(3)} ms per proof (1,000 proofs with ath)`)
          importKey.mockRestore()
        }
      }))
  })
})

describe("DPoP keys", () => {
  const ecJwk = jwkOf(ec.privateKey)

  it.effect("every form of the same key gives the same thumbprint", () =>
    Effect.gen(function*() {
      const pem = ec.privateKey.export({ format: "pem", type: "pkcs8" }) as string
      const extractable = yield* Effect.promise(() =>
        webcrypto.subtle.importKey("jwk", ecJwk, { name: "ECDSA", namedCurve: "P-256" }, true, ["sign"])
      )
      const pair = {
        privateKey: yield* Effect.promise(() =>
          webcrypto.subtle.importKey("jwk", ecJwk, { name: "ECDSA", namedCurve: "P-256" }, false, ["sign"])
        ),
        publicKey: yield* Effect.promise(() =>
          webcrypto.subtle.importKey(
            "jwk",
            { kty: "EC", crv: "P-256", x: ecJwk.x!, y: ecJwk.y! },
            { name: "ECDSA", namedCurve: "P-256" },
            true,
            ["verify"]
          )
        )
      }
      const forms: ReadonlyArray<DPoP.Key> = [
        ec.privateKey,
        Redacted.make(ecJwk),
        Redacted.make(JSON.stringify(ecJwk)),
        Redacted.make(`\n${pem}`),
        extractable as DPoP.Key,
        pair as DPoP.Key
      ]
      const thumbprints = new Set<string>()
      for (const key of forms) {
        const proofer = yield* DPoP.make({ key })
        const proof = yield* proofer.proof({ htm: "POST", htu: "https://as.example.test/token" })
        yield* verify(proof, "ES256")
        thumbprints.add(proofer.thumbprint)
      }
      assert.deepStrictEqual([...thumbprints], [yield* DPoP.jkt({ kty: "EC", crv: "P-256", x: ecJwk.x!, y: ecJwk.y! })])
    }))

  it.effect("PKCS#8 PEMs of Ed25519 and RSA keys (RSA defaults to RS256, as client assertions do)", () =>
    Effect.gen(function*() {
      const edPem = ed.privateKey.export({ format: "pem", type: "pkcs8" }) as string
      const rsaPem = rsa.privateKey.export({ format: "pem", type: "pkcs8" }) as string
      assert.strictEqual((yield* DPoP.make({ key: Redacted.make(edPem) })).alg, "EdDSA")
      assert.strictEqual((yield* DPoP.make({ key: Redacted.make(rsaPem) })).alg, "RS256")
      assert.strictEqual((yield* DPoP.make({ key: Redacted.make(rsaPem), alg: "PS256" })).alg, "PS256")
    }))

  it.effect("the JWK's alg is the default; the option overrides it", () =>
    Effect.gen(function*() {
      const rsaJwk = jwkOf(rsa.privateKey)
      assert.strictEqual((yield* DPoP.make({ key: Redacted.make({ ...rsaJwk, alg: "PS256" }) })).alg, "PS256")
      assert.strictEqual(
        (yield* DPoP.make({ key: Redacted.make({ ...rsaJwk, alg: "PS256" }), alg: "RS256" })).alg,
        "RS256"
      )
    }))

  const p384 = generateKeyPairSync("ec", { namedCurve: "P-384" })
  const rsa1024 = generateKeyPairSync("rsa", { modulusLength: 1024 })
  const other = generateKeyPairSync("ec", { namedCurve: "P-256" })
  const cases: ReadonlyArray<readonly [string, DPoP.Options, DPoP.DPoPKeyError["reason"]]> = [
    ["ES256 asked of an RSA key", { key: rsa.privateKey, alg: "ES256" }, "AlgorithmMismatch"],
    ["RS256 asked of an Ed25519 key", { key: ed.privateKey, alg: "RS256" }, "AlgorithmMismatch"],
    ["HS256 asked", { key: ec.privateKey, alg: "HS256" as DPoP.Algorithm }, "UnsupportedAlgorithm"],
    ["none asked", { key: ec.privateKey, alg: "none" as DPoP.Algorithm }, "UnsupportedAlgorithm"],
    ["a JWK with alg ES384", { key: Redacted.make({ ...ecJwk, alg: "ES384" }) }, "UnsupportedAlgorithm"],
    ["a P-384 key", { key: p384.privateKey }, "UnsupportedKey"],
    ["an RSA key of 1024 bits", { key: rsa1024.privateKey }, "UnsupportedKey"],
    [
      "a secret JWK",
      { key: Redacted.make({ kty: "oct", k: "c2VjcmV0LXNlY3JldC1zZWNyZXQtc2VjcmV0" }) },
      "UnsupportedKey"
    ],
    ["a public KeyObject", { key: ec.publicKey }, "InvalidKey"],
    ["a public JWK", { key: Redacted.make(jwkOf(ec.publicKey)) }, "InvalidKey"],
    ["a plain string", { key: "-----BEGIN PRIVATE KEY-----" as unknown as DPoP.Key }, "InvalidKey"],
    ["a plain JWK object", { key: ecJwk as unknown as DPoP.Key }, "InvalidKey"],
    ["a PKCS#1 PEM", {
      key: Redacted.make(rsa.privateKey.export({ format: "pem", type: "pkcs1" }) as string)
    }, "InvalidKey"],
    ["a SEC1 PEM", {
      key: Redacted.make(ec.privateKey.export({ format: "pem", type: "sec1" }) as string)
    }, "InvalidKey"],
    ["a broken JWK JSON string", { key: Redacted.make(`{"kty":"EC",${JSON.stringify(ecJwk.d)}`) }, "InvalidKey"],
    ["a JWK whose d is not its x/y", { key: Redacted.make({ ...ecJwk, d: jwkOf(other.privateKey).d! }) }, "InvalidKey"],
    ["a JWK with a truncated d", { key: Redacted.make({ ...ecJwk, d: ecJwk.d!.slice(0, 20) }) }, "InvalidKey"],
    ["no options", undefined as unknown as DPoP.Options, "InvalidKey"]
  ]
  for (const [what, options, reason] of cases) {
    it.effect(`${what}: DPoPKeyError ${reason}, without key material`, () =>
      Effect.gen(function*() {
        const error = yield* failure(DPoP.make(options))
        assert.instanceOf(error, DPoP.DPoPKeyError)
        assert.strictEqual(error.reason, reason)
        assert.isTrue(DPoP.isDPoPError(error))
        const shown = [error.message, String(error), JSON.stringify(error), inspect(error, { depth: 10 })].join("\n")
        for (const jwk of [ecJwk, jwkOf(rsa.privateKey), jwkOf(other.privateKey), jwkOf(p384.privateKey)]) {
          for (const name of privateNames) {
            const value = (jwk as Record<string, unknown>)[name]
            if (typeof value === "string") assert.notInclude(shown, value.slice(0, 16), `${what}: ${name}`)
          }
        }
        assert.notInclude(shown, "PRIVATE KEY")
      }))
  }

  it.effect("a non-extractable CryptoKey alone is refused (its public key cannot be read)", () =>
    Effect.gen(function*() {
      const key = yield* Effect.promise(() =>
        webcrypto.subtle.importKey("jwk", ecJwk, { name: "ECDSA", namedCurve: "P-256" }, false, ["sign"])
      )
      const error = yield* failure(DPoP.make({ key: key as DPoP.Key }))
      assert.strictEqual(error.reason, "InvalidKey")
    }))

  it.effect("requests a proof cannot be made for fail with DPoPProofError", () =>
    Effect.gen(function*() {
      const proofer = yield* DPoP.make({ key: ec.privateKey })
      const bad: ReadonlyArray<readonly [DPoP.ProofRequest, DPoP.DPoPProofError["reason"]]> = [
        [{ htm: "GET", htu: "not a url" }, "InvalidUrl"],
        [{ htm: "GET", htu: "mailto:a@example.test" }, "InvalidUrl"],
        [{ htm: "GE T", htu: "https://rs.example.test/" }, "InvalidMethod"],
        [{ htm: "", htu: "https://rs.example.test/" }, "InvalidMethod"],
        [{ htm: "GET", htu: "https://rs.example.test/", nonce: "has space" }, "InvalidNonce"],
        [{ htm: "GET", htu: "https://rs.example.test/", nonce: "" }, "InvalidNonce"]
      ]
      for (const [request, reason] of bad) {
        const error = yield* failure(proofer.proof(request))
        assert.instanceOf(error, DPoP.DPoPProofError)
        assert.strictEqual(error.reason, reason)
      }
    }))
})

describe("DPoP.setProof", () => {
  it.effect("a proof for the request's method and full URL, with the origin's kept nonce and ath", () =>
    Effect.gen(function*() {
      const proofer = yield* DPoP.make({ key: ec.privateKey })
      const nonces = DPoP.makeNonceStore()
      yield* nonces.set("https://rs.example.test/", "n-7" as DPoP.Nonce)
      const request = HttpClientRequest.put("https://rs.example.test/items/1#top").pipe(
        HttpClientRequest.setUrlParam("q", "1"),
        HttpClientRequest.setHeader("authorization", "DPoP tok")
      )
      const signed = yield* DPoP.setProof(request, { proofer, nonces, accessToken: Redacted.make("tok") })
      assert.strictEqual(signed.headers.authorization, "DPoP tok")
      const { payload } = yield* verify(Redacted.make(signed.headers.dpop!), "ES256")
      assert.strictEqual(payload.htm, "PUT")
      assert.strictEqual(payload.htu, "https://rs.example.test/items/1")
      assert.strictEqual(payload.nonce, "n-7")
      assert.strictEqual(payload.ath, yield* DPoP.ath("tok"))
      const other = yield* DPoP.setProof(HttpClientRequest.get("https://other.example.test/"), { proofer, nonces })
      const otherPayload = decode(other.headers.dpop!.split(".")[1]!)
      assert.notProperty(otherPayload, "nonce")
      assert.notProperty(otherPayload, "ath")
      const error = yield* failure(DPoP.setProof(HttpClientRequest.get("/relative"), { proofer }))
      assert.strictEqual(error.reason, "InvalidUrl")
    }))

  it.effect("withRedactedProofHeader: logs and span headers show the DPoP header redacted (not by default)", () =>
    Effect.gen(function*() {
      const proofer = yield* DPoP.make({ key: ec.privateKey })
      const signed = yield* DPoP.setProof(HttpClientRequest.get("https://rs.example.test/"), { proofer })
      const signature = signed.headers.dpop!.split(".")[2]!
      const lines: Array<string> = []
      const logger = Logger.make(({ message }) => void lines.push(Inspectable.toStringUnknown(message)))
      // what the platform's HttpClient records in its spans, and what a log line of the request shows
      const render = Effect.gen(function*() {
        lines.length = 0
        yield* Effect.log(signed)
        const names = yield* FiberRef.get(Headers.currentRedactedNames)
        return [...lines, JSON.stringify(Headers.redact(signed.headers, names))].join("\n")
      }).pipe(Effect.provide(Logger.replace(Logger.defaultLogger, logger)))
      assert.include(yield* render, signature, "the platform's default shows the dpop header")
      const shown = yield* DPoP.withRedactedProofHeader(render)
      assert.notInclude(shown, signature)
      assert.include(shown, "<redacted>")
      const names = yield* DPoP.withRedactedProofHeader(
        DPoP.withRedactedProofHeader(FiberRef.get(Headers.currentRedactedNames))
      )
      assert.strictEqual(names.filter((name) => name === "dpop").length, 1)
    }))
})

describe("DPoP on a plain Web platform", () => {
  it("the modules import only effect, jose and each other: no node: module (Web Crypto through jose)", () => {
    for (const file of ["../src/DPoP.ts", "../src/internal/dpop.ts"]) {
      const source = readFileSync(new URL(file, import.meta.url), "utf8")
      const imports = [...source.matchAll(/^import\s+(type\s+)?[^"]*"([^"]+)"/gm)]
        .filter(([, typeOnly]) => typeOnly === undefined)
        .map(([, , from]) => from!)
      assert.isNotEmpty(imports)
      for (const from of imports) {
        assert.match(from, /^(effect\/|@effect\/platform\/|jose$|\.\.?\/)/, `${file} imports ${from}`)
      }
      const code = source.replace(/\/\*[\s\S]*?\*\//g, "").replace(/\/\/.*$/gm, "")
      assert.notMatch(code, /\b(Buffer|require|process)\b[.(]/, file)
    }
  })
})

describe("DPoP renderings", () => {
  it.effect("the proofer, the options and the proofs show no key material and no proof signature", () =>
    Effect.gen(function*() {
      const jwk = jwkOf(rsa.privateKey)
      const options: DPoP.Options = { key: Redacted.make(jwk), alg: "PS256" }
      const proofer = yield* DPoP.make(options)
      const proof = yield* proofer.proof({ htm: "POST", htu: "https://as.example.test/token", accessToken: "tok" })
      const signature = Redacted.value(proof).split(".")[2]!
      const shows = (u: unknown) =>
        [String(u), JSON.stringify(u), inspect(u, { depth: 10, showHidden: true }), `${inspect({ u })}`].join("\n")
      for (const [what, value] of [["proofer", proofer], ["options", options], ["proof", proof]] as const) {
        const text = shows(value)
        for (const name of privateNames) {
          const member = (jwk as Record<string, unknown>)[name]
          if (typeof member === "string") assert.notInclude(text, member.slice(0, 16), `${what} shows ${name}`)
        }
        assert.notInclude(text, signature.slice(0, 16), `${what} shows the signature`)
      }
      assert.deepStrictEqual(JSON.parse(JSON.stringify(proofer)), {
        _id: "DPoP.Proofer",
        alg: "PS256",
        thumbprint: proofer.thumbprint
      })
      assert.isTrue(DPoP.isProofer(proofer))
      assert.isFalse(DPoP.isProofer({}))
      assert.strictEqual(decodeProtectedHeader(Redacted.value(proof)).alg, "PS256")
    }))
})

describe("DPoP nonces", () => {
  it("DPoP-Nonce values: 1*NQCHAR, at most 2048 characters", () => {
    const of = (value: string | undefined) => DPoP.nonceFromHeaders(value === undefined ? {} : { "dpop-nonce": value })
    assert.deepStrictEqual(of("eyJ7S_zG.eyJH0-Z.HX4w-7v"), Option.some("eyJ7S_zG.eyJH0-Z.HX4w-7v" as DPoP.Nonce))
    assert.deepStrictEqual(of("!#[]~"), Option.some("!#[]~" as DPoP.Nonce))
    for (const bad of [undefined, "", "a b", "a\"b", "a\\b", "é", "a\tb", "a, b", "x".repeat(2049)]) {
      assert.deepStrictEqual(of(bad), Option.none(), JSON.stringify(bad))
    }
  })

  it("a token endpoint's use_dpop_nonce: only a 400 with that error and a valid DPoP-Nonce", () => {
    const headers = { "dpop-nonce": "n-1" }
    const body = { error: "use_dpop_nonce", error_description: "Authorization server requires nonce in DPoP proof" }
    assert.deepStrictEqual(DPoP.tokenEndpointNonce({ status: 400, headers }, body), Option.some("n-1" as DPoP.Nonce))
    assert.isTrue(Option.isNone(DPoP.tokenEndpointNonce({ status: 401, headers }, body)))
    assert.isTrue(Option.isNone(DPoP.tokenEndpointNonce({ status: 400, headers: {} }, body)))
    assert.isTrue(Option.isNone(DPoP.tokenEndpointNonce({ status: 400, headers }, { error: "invalid_dpop_proof" })))
    assert.isTrue(Option.isNone(DPoP.tokenEndpointNonce({ status: 400, headers }, "use_dpop_nonce")))
    assert.isTrue(Option.isNone(DPoP.tokenEndpointNonce({ status: 400, headers: { "dpop-nonce": "a b" } }, body)))
  })

  it("a resource's use_dpop_nonce: a 401 with a DPoP challenge of that error, among other challenges", () => {
    const nonce = { "dpop-nonce": "n-2" }
    const of = (status: number, challenge: string | undefined, headers: Record<string, string> = nonce) =>
      DPoP.resourceNonce({
        status,
        headers: challenge === undefined ? headers : { ...headers, "www-authenticate": challenge }
      })
    const some = Option.some("n-2" as DPoP.Nonce)
    assert.deepStrictEqual(
      of(401, "DPoP error=\"use_dpop_nonce\", error_description=\"Resource server requires nonce\""),
      some
    )
    assert.deepStrictEqual(of(401, "Bearer realm=\"a, b\", DPoP algs=\"ES256 PS256\", error=use_dpop_nonce"), some)
    assert.deepStrictEqual(of(401, "dpop error=\"use_dpop_nonce\""), some)
    assert.isTrue(Option.isNone(of(401, "Bearer error=\"use_dpop_nonce\"")))
    assert.isTrue(Option.isNone(of(401, "DPoP error=\"invalid_token\"")))
    assert.isTrue(Option.isNone(of(401, "DPoP error=\"use_dpop_nonce\"", {})))
    assert.isTrue(Option.isNone(of(403, "DPoP error=\"use_dpop_nonce\"")))
    assert.isTrue(Option.isNone(of(401, undefined)))
  })

  it("WWW-Authenticate challenges: quoted strings with commas and escapes, token68, several schemes", () => {
    assert.deepStrictEqual(
      DPoP.parseChallenges(
        "Basic YWxhZGRpbjpvcGVuc2VzYW1l==, Bearer realm=\"x, \\\"y\\\"\", error=invalid_token, DPoP algs=\"ES256\""
      ),
      [
        { scheme: "Basic", params: {}, token68: "YWxhZGRpbjpvcGVuc2VzYW1l==" },
        { scheme: "Bearer", params: { realm: "x, \"y\"", error: "invalid_token" } },
        { scheme: "DPoP", params: { algs: "ES256" } }
      ]
    )
    assert.deepStrictEqual(DPoP.parseChallenges("Negotiate, DPoP"), [
      { scheme: "Negotiate", params: {} },
      { scheme: "DPoP", params: {} }
    ])
    assert.deepStrictEqual(DPoP.parseChallenges("DPoP error=\"unterminated"), [{ scheme: "DPoP", params: {} }])
    assert.deepStrictEqual(DPoP.parseChallenges(""), [])
    assert.deepStrictEqual(DPoP.parseChallenges(`DPoP a="${"x".repeat(20_000)}"`), [])
    assert.deepStrictEqual(
      Option.map(DPoP.dpopChallenge({ "www-authenticate": "DPoP ERROR=\"use_dpop_nonce\"" }), (c) => c.params.error),
      Option.some("use_dpop_nonce")
    )
  })

  it.effect("the nonce store keeps one nonce per origin and forgets the least recently used past its capacity", () =>
    Effect.gen(function*() {
      const store = DPoP.makeNonceStore({ capacity: 2 })
      const n = (s: string) => s as DPoP.Nonce
      yield* store.set("https://a.example.test/token?x=1", n("a1"))
      assert.deepStrictEqual(yield* store.get("https://a.example.test/other/path"), Option.some(n("a1")))
      assert.deepStrictEqual(yield* store.get("https://a.example.test:8443/"), Option.none())
      assert.deepStrictEqual(yield* store.get("http://a.example.test/"), Option.none())
      yield* store.set(new URL("https://a.example.test/"), n("a2"))
      assert.deepStrictEqual(yield* store.get("https://a.example.test"), Option.some(n("a2")))
      yield* store.set("https://b.example.test/", n("b1"))
      yield* store.get("https://a.example.test/") // a is now the most recently used
      yield* store.set("https://c.example.test/", n("c1"))
      assert.strictEqual(yield* store.size, 2)
      assert.deepStrictEqual(yield* store.get("https://b.example.test/"), Option.none())
      assert.deepStrictEqual(yield* store.get("https://a.example.test/"), Option.some(n("a2")))
      yield* store.set("https://c.example.test/", n("bad nonce"))
      yield* store.set("not a url", n("x"))
      assert.deepStrictEqual(yield* store.get("https://c.example.test/"), Option.some(n("c1")))
      assert.strictEqual(yield* store.size, 2)
      const big = DPoP.makeNonceStore()
      for (let i = 0; i < 1000; i++) yield* big.set(`https://h${i}.example.test/`, n(`n${i}`))
      assert.strictEqual(yield* big.size, 256)
    }))
})
