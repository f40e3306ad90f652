import { assert, describe, it } from "@effect/vitest"
import * as DPoP from "@oauth-cc/core/DPoP"
import * as Cause from "effect/Cause"
import * as Effect from "effect/Effect"
import * as Exit from "effect/Exit"
import * as Option from "effect/Option"
import * as Redacted from "effect/Redacted"
import * as TestClock from "effect/TestClock"
import { CompactSign, type JWK } from "jose"
import { createHmac, generateKeyPairSync, type KeyObject } from "node:crypto"
import * as Http from "node:http"
import type * as Net from "node:net"
import * as DPoPVerifier from "../src/DPoPVerifier.js"

const ec = generateKeyPairSync("ec", { namedCurve: "P-256" })
const other = generateKeyPairSync("ec", { namedCurve: "P-256" })
const publicJwk = (key: KeyObject) => key.export({ format: "jwk" }) as JWK
const url = "https://as.example.test/token"

const b64 = (value: unknown) =>
  Buffer.from(typeof value === "string" ? value : JSON.stringify(value)).toString("base64url")

/** A proof signed by hand: any header, any payload, any key. */
const forge = (
  header: Record<string, unknown>,
  payload: Record<string, unknown>,
  key: KeyObject = ec.privateKey
) =>
  Effect.promise(() =>
    new CompactSign(new TextEncoder().encode(JSON.stringify(payload)))
      .setProtectedHeader(header as any)
      .sign(key)
  )

const goodHeader = { typ: "dpop+jwt", alg: "ES256", jwk: publicJwk(ec.publicKey) }
const goodPayload = (overrides: Record<string, unknown> = {}) => ({
  jti: crypto.randomUUID(),
  htm: "POST",
  htu: url,
  iat: 0,
  ...overrides
})

const rejected = (verifier: DPoPVerifier.DPoPVerifier, input: DPoPVerifier.Input) =>
  Effect.map(Effect.exit(verifier.verify(input)), (exit) => {
    assert.isTrue(Exit.isFailure(exit), "the proof was accepted")
    const error = Cause.failureOption((exit as Exit.Failure<unknown, DPoPVerifier.DPoPProofRejected>).cause)
    assert.isTrue(Option.isSome(error), "a defect instead of a typed refusal")
    return Option.getOrThrow(error)
  })

const assertInvalid = (
  verifier: DPoPVerifier.DPoPVerifier,
  input: DPoPVerifier.Input,
  description: RegExp
) =>
  Effect.map(rejected(verifier, input), (error) => {
    assert.strictEqual(error.error, "invalid_dpop_proof")
    assert.match(error.description, description)
    return error
  })

describe("DPoPVerifier", () => {
  it.effect("accepts core's proofs and returns the key's thumbprint", () =>
    Effect.gen(function*() {
      const verifier = yield* DPoPVerifier.make()
      for (const options of [{ key: ec.privateKey }, { key: generateKeyPairSync("ed25519").privateKey }]) {
        const proofer = yield* DPoP.make(options)
        const proof = yield* proofer.proof({ htm: "POST", htu: url })
        const verified = yield* verifier.verify({ proof: Redacted.value(proof), method: "POST", url: `${url}?a=1` })
        assert.strictEqual(verified.jkt, proofer.thumbprint)
        assert.notProperty(verified, "nonce")
      }
      assert.strictEqual(yield* verifier.replayCacheSize, 2)
    }))

  it.effect("no DPoP header, several DPoP headers, several proofs joined in one header", () =>
    Effect.gen(function*() {
      const verifier = yield* DPoPVerifier.make()
      const proof = yield* forge(goodHeader, goodPayload())
      yield* assertInvalid(verifier, { proof: undefined, method: "POST", url }, /no DPoP header/)
      yield* assertInvalid(verifier, { proof: [], method: "POST", url }, /no DPoP header/)
      yield* assertInvalid(verifier, { proof: [proof, proof], method: "POST", url }, /more than one/)
      yield* assertInvalid(verifier, { proof: `${proof}, ${proof}`, method: "POST", url }, /compact JWS/)
      yield* assertInvalid(verifier, { proof: "not.a.jws!", method: "POST", url }, /compact JWS/)
    }))

  it.effect("wrong htu (another path, host or scheme) and wrong htm", () =>
    Effect.gen(function*() {
      const verifier = yield* DPoPVerifier.make()
      for (
        const htu of [
          "https://as.example.test/token/x",
          "https://evil.example.test/token",
          "http://as.example.test/token",
          "token"
        ]
      ) {
        yield* assertInvalid(
          verifier,
          { proof: yield* forge(goodHeader, goodPayload({ htu })), method: "POST", url },
          /htu/
        )
      }
      yield* assertInvalid(verifier, {
        proof: yield* forge(goodHeader, goodPayload({ htm: "GET" })),
        method: "POST",
        url
      }, /htm/)
      yield* assertInvalid(verifier, {
        proof: yield* forge(goodHeader, goodPayload({ htm: "post" })),
        method: "POST",
        url
      }, /htm/)
      // query and fragment are not part of htu on either side
      yield* verifier.verify({
        proof: yield* forge(goodHeader, goodPayload({ htu: `${url}?x=1#f` })),
        method: "POST",
        url: `${url}?y=2`
      })
    }))

  it.effect("a replayed jti is refused; the same jti from another key is not a replay", () =>
    Effect.gen(function*() {
      const verifier = yield* DPoPVerifier.make()
      const payload = goodPayload()
      const proof = yield* forge(goodHeader, payload)
      yield* verifier.verify({ proof, method: "POST", url })
      yield* assertInvalid(verifier, { proof, method: "POST", url }, /already used/)
      const again = yield* forge(goodHeader, { ...payload })
      yield* assertInvalid(verifier, { proof: again, method: "POST", url }, /already used/)
      const otherKey = yield* forge({ ...goodHeader, jwk: publicJwk(other.publicKey) }, payload, other.privateKey)
      yield* verifier.verify({ proof: otherKey, method: "POST", url })
    }))

  it.effect("the replay cache stays bounded", () =>
    Effect.gen(function*() {
      const verifier = yield* DPoPVerifier.make({ replayCapacity: 3 })
      for (let i = 0; i < 10; i++) {
        yield* verifier.verify({ proof: yield* forge(goodHeader, goodPayload()), method: "POST", url })
      }
      assert.strictEqual(yield* verifier.replayCacheSize, 3)
    }))

  it.effect("iat: an old proof and a proof from the future are refused (TestClock)", () =>
    Effect.gen(function*() {
      const verifier = yield* DPoPVerifier.make({ iatWindow: "60 seconds" })
      yield* TestClock.setTime(1_700_000_000_000)
      const now = 1_700_000_000
      for (const iat of [now - 61, now + 61]) {
        yield* assertInvalid(
          verifier,
          { proof: yield* forge(goodHeader, goodPayload({ iat })), method: "POST", url },
          /iat/
        )
      }
      yield* verifier.verify({ proof: yield* forge(goodHeader, goodPayload({ iat: now - 60 })), method: "POST", url })
      // a proof made now is refused once the Clock has moved past the window
      const proofer = yield* DPoP.make({ key: ec.privateKey })
      const proof = Redacted.value(yield* proofer.proof({ htm: "POST", htu: url }))
      yield* TestClock.adjust("61 seconds")
      yield* assertInvalid(verifier, { proof, method: "POST", url }, /iat/)
      yield* assertInvalid(verifier, {
        proof: yield* forge(goodHeader, goodPayload({ iat: "0" })),
        method: "POST",
        url
      }, /iat/)
    }))

  it.effect("alg none, HS256 keyed with the public key, and an alg outside the allow-list are refused", () =>
    Effect.gen(function*() {
      const verifier = yield* DPoPVerifier.make({ algorithms: ["ES256"] })
      const none = `${b64({ ...goodHeader, alg: "none" })}.${b64(goodPayload())}.`
      yield* assertInvalid(verifier, { proof: none, method: "POST", url }, /compact JWS/)
      yield* assertInvalid(verifier, { proof: `${none}AAAA`, method: "POST", url }, /alg/)
      const pem = ec.publicKey.export({ format: "pem", type: "spki" }) as string
      const signingInput = `${b64({ ...goodHeader, alg: "HS256" })}.${b64(goodPayload())}`
      for (const secret of [pem, JSON.stringify(publicJwk(ec.publicKey))]) {
        const mac = createHmac("sha256", secret).update(signingInput).digest("base64url")
        yield* assertInvalid(verifier, { proof: `${signingInput}.${mac}`, method: "POST", url }, /alg/)
      }
      const ed = generateKeyPairSync("ed25519")
      const edProof = yield* forge(
        { typ: "dpop+jwt", alg: "EdDSA", jwk: publicJwk(ed.publicKey) },
        goodPayload(),
        ed.privateKey
      )
      yield* assertInvalid(verifier, { proof: edProof, method: "POST", url }, /alg/)
    }))

  it.effect("a jwk with private members, a secret jwk, no jwk, a jwk that did not sign, a wrong typ", () =>
    Effect.gen(function*() {
      const verifier = yield* DPoPVerifier.make()
      const privateJwk = ec.privateKey.export({ format: "jwk" })
      yield* assertInvalid(verifier, {
        proof: yield* forge({ ...goodHeader, jwk: privateJwk }, goodPayload()),
        method: "POST",
        url
      }, /private/)
      yield* assertInvalid(verifier, {
        proof: yield* forge({ ...goodHeader, jwk: { ...publicJwk(ec.publicKey), d: "" } }, goodPayload()),
        method: "POST",
        url
      }, /private/)
      yield* assertInvalid(verifier, {
        proof: yield* forge({ ...goodHeader, jwk: { kty: "oct", k: "c2VjcmV0" } }, goodPayload()),
        method: "POST",
        url
      }, /asymmetric/)
      yield* assertInvalid(verifier, {
        proof: yield* forge({ typ: "dpop+jwt", alg: "ES256" }, goodPayload()),
        method: "POST",
        url
      }, /asymmetric/)
      yield* assertInvalid(verifier, {
        proof: yield* forge({ ...goodHeader, jwk: publicJwk(other.publicKey) }, goodPayload()),
        method: "POST",
        url
      }, /signature/)
      for (const typ of ["JWT", "at+jwt", undefined]) {
        yield* assertInvalid(verifier, {
          proof: yield* forge({ ...goodHeader, typ }, goodPayload()),
          method: "POST",
          url
        }, /typ/)
      }
      // a payload changed after signing
      const [h, , s] = (yield* forge(goodHeader, goodPayload())).split(".")
      yield* assertInvalid(
        verifier,
        { proof: `${h}.${b64(goodPayload({ htm: "GET" }))}.${s}`, method: "GET", url },
        /signature/
      )
    }))

  it.effect("missing claims", () =>
    Effect.gen(function*() {
      const verifier = yield* DPoPVerifier.make()
      for (const [name, pattern] of [["jti", /jti/], ["htm", /htm/], ["htu", /htu/], ["iat", /iat/]] as const) {
        const payload: Record<string, unknown> = goodPayload()
        delete payload[name]
        yield* assertInvalid(verifier, { proof: yield* forge(goodHeader, payload), method: "POST", url }, pattern)
      }
    }))

  it.effect("ath: missing or for another token is refused when a token is presented", () =>
    Effect.gen(function*() {
      const verifier = yield* DPoPVerifier.make()
      const token = "Kz~8mXK1EalYznwH-LC-1fBAo.4Ljp~zsPE_NeO.gxU"
      const input = (proof: string) => ({ proof, method: "GET", url: "https://rs.example.test/r", accessToken: token })
      const payload = (ath?: string) =>
        goodPayload({ htm: "GET", htu: "https://rs.example.test/r", ...(ath === undefined ? {} : { ath }) })
      yield* assertInvalid(verifier, input(yield* forge(goodHeader, payload())), /ath/)
      yield* assertInvalid(verifier, input(yield* forge(goodHeader, payload(yield* DPoP.ath("another")))), /ath/)
      yield* verifier.verify(input(yield* forge(goodHeader, payload("fUHyO2r2Z3DZ53EsNrWBb0xWXoaNy59IiKCAqksmQEo"))))
    }))

  it.effect("a demanded nonce: missing or stale gets use_dpop_nonce with the nonce to use; the right one passes", () =>
    Effect.gen(function*() {
      const verifier = yield* DPoPVerifier.make()
      const proofer = yield* DPoP.make({ key: ec.privateKey })
      const proof = (nonce?: string) => Effect.map(proofer.proof({ htm: "POST", htu: url, nonce }), Redacted.value)
      for (const nonce of [undefined, "stale-nonce"]) {
        const error = yield* rejected(verifier, { proof: yield* proof(nonce), method: "POST", url, nonce: "n-42" })
        assert.strictEqual(error.error, "use_dpop_nonce")
        assert.strictEqual(error.nonce, "n-42")
      }
      const verified = yield* verifier.verify({ proof: yield* proof("n-42"), method: "POST", url, nonce: "n-42" })
      assert.strictEqual(verified.nonce, "n-42")
    }))

  it("challenges for a resource's WWW-Authenticate, read back by core's parser", () => {
    const error = new DPoPVerifier.DPoPProofRejected({ error: "use_dpop_nonce", description: "say \"nonce\"" })
    const value = DPoPVerifier.challenge(error, ["ES256", "PS256"])
    assert.deepStrictEqual(DPoP.parseChallenges(value), [
      { scheme: "DPoP", params: { error: "use_dpop_nonce", error_description: "say \"nonce\"", algs: "ES256 PS256" } }
    ])
    assert.strictEqual(
      DPoPVerifier.challenge("invalid_token", ["ES256"]),
      "DPoP error=\"invalid_token\", algs=\"ES256\""
    )
    assert.strictEqual(DPoPVerifier.challenge(undefined, ["ES256"]), "DPoP algs=\"ES256\"")
  })

  it.scopedLive("over a socket: two DPoP headers are refused however the server reads them", () =>
    Effect.gen(function*() {
      const verifier = yield* DPoPVerifier.make()
      const seen: Array<string> = []
      const server = Http.createServer((req, res) => {
        const input = (proof: string | ReadonlyArray<string> | undefined) => ({
          proof,
          method: req.method!,
          url: `https://as.example.test${req.url}`
        })
        Effect.runPromise(
          Effect.all([
            Effect.either(verifier.verify(input(req.headersDistinct.dpop))),
            Effect.either(verifier.verify(input(req.headers.dpop)))
          ])
        ).then(([distinct, joined]) => {
          seen.push(`${distinct._tag}/${joined._tag}`)
          res.end()
        })
      })
      yield* Effect.acquireRelease(
        Effect.async<void>((resume) => void server.listen(0, "127.0.0.1", () => resume(Effect.void))),
        () => Effect.async<void>((resume) => void server.close(() => resume(Effect.void)))
      )
      const port = (server.address() as Net.AddressInfo).port
      const proof = yield* forge(goodHeader, goodPayload({ iat: Math.floor(Date.now() / 1000) }))
      yield* Effect.promise(() =>
        new Promise<void>((resolve, reject) => {
          const req = Http.request({ host: "127.0.0.1", port, method: "POST", path: "/token" }, (res) => {
            res.resume()
            res.on("end", resolve)
          })
          req.on("error", reject)
          req.setHeader("DPoP", [proof, proof])
          req.end()
        })
      ).pipe(Effect.timeout("10 seconds"))
      assert.deepStrictEqual(seen, ["Left/Left"])
    }))
})
