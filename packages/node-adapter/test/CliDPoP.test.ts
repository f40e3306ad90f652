/**
 * The CLI with a DPoP key (OAUTH_DPOP_KEY): `request` sends a proof with its DPoP token, `token --json` says
 * the token is DPoP, a key Web Crypto refuses is a configuration error (exit 2) naming the variable and never
 * the key, and doctor prints URLs with their query values masked.
 */
import { assert, describe, it } from "@effect/vitest"
import { FakeAuthServer } from "@oauth-cc/testkit"
import * as Effect from "effect/Effect"
import * as Redacted from "effect/Redacted"
import * as Crypto from "node:crypto"
import { runCliInProcess } from "./fixtures/cliInProcess.js"

const secret = "dpop-cli-secret-CANARY-77"

const ecJwk = (): Crypto.JsonWebKey =>
  Crypto.generateKeyPairSync("ec", { namedCurve: "P-256" }).privateKey.export({ format: "jwk" })

const envOf = (key: Crypto.JsonWebKey | object) => ({
  OAUTH_CLIENT_ID: "dp",
  OAUTH_CLIENT_SECRET: secret,
  OAUTH_DPOP_KEY: JSON.stringify(key)
})

describe("oauth-cc with DPoP", { timeout: 60_000 }, () => {
  it.scopedLive("request sends a proof with the DPoP token; token --json shows token_type DPoP", () =>
    Effect.gen(function*() {
      const server = yield* FakeAuthServer.make({ clients: [{ id: "dp", secret }], dpop: { required: true } })
      const env = envOf(ecJwk())
      const request = yield* runCliInProcess(
        ["request", "--token-url", server.tokenUrl, "--fail", `${server.resourceUrl}/orders`],
        env
      )
      assert.strictEqual(request.code, 0, request.stdout + request.stderr)
      assert.include(request.stderr, "HTTP 200")
      const resource = (yield* server.requests).filter((record) => record.endpoint === "resource")
      assert.strictEqual(resource.length, 1)
      assert.strictEqual(resource[0]!.outcome, 200)
      assert.match(resource[0]!.headers["authorization"] ?? "", /^DPoP /)
      assert.isDefined(resource[0]!.headers["dpop"], "a DPoP proof header")

      const token = yield* runCliInProcess(["token", "--json", "--token-url", server.tokenUrl], env)
      assert.strictEqual(token.code, 0, token.stderr)
      const json = JSON.parse(token.stdout) as { token_type: string; access_token: string }
      assert.strictEqual(json.token_type, "DPoP")
      const issued = yield* server.issued
      assert.isTrue(issued.every((t) => t.jkt !== undefined), "every token is bound to the key")
      assert.strictEqual(json.access_token, Redacted.value(issued[issued.length - 1]!.value))
    }))

  it.scopedLive("a DPoP key Web Crypto refuses is exit 2, one line naming OAUTH_DPOP_KEY, never the key", () =>
    Effect.gen(function*() {
      const server = yield* FakeAuthServer.make({ clients: [{ id: "dp", secret }] })
      const mine = ecJwk()
      const other = ecJwk()
      const wrongD = { ...mine, d: other.d }
      const { y: _y, ...missingY } = mine
      for (const [what, key] of [["d of another key", wrongD], ["no y", missingY]] as const) {
        for (const command of [["token"], ["request", `${server.resourceUrl}/x`]]) {
          const run = yield* runCliInProcess([...command, "--token-url", server.tokenUrl], envOf(key))
          assert.strictEqual(run.code, 2, `${what}: ${run.stderr}`)
          const lines = run.stderr.trim().split("\n")
          assert.strictEqual(lines.length, 1, run.stderr)
          assert.match(lines[0]!, /^oauth-cc: configuration: invalid OAUTH_DPOP_KEY: [^(]/)
          assert.notInclude(run.stderr, "unexpected error")
          for (const part of [mine.d!, other.d!, mine.x!]) assert.notInclude(run.stdout + run.stderr, part)
        }
      }
      assert.strictEqual(yield* server.tokenRequestCount, 0)
    }))

  it.scopedLive("doctor prints the token URL and discovery's answer with query values masked", () =>
    Effect.gen(function*() {
      const server = yield* FakeAuthServer.make({ clients: [{ id: "dp", secret }] })
      const tokenUrl = `${server.tokenUrl}?sig=CANARY-SIG-5150&key=CANARY-KEY-42`
      const run = yield* runCliInProcess(["doctor", "--token-url", tokenUrl], {
        OAUTH_CLIENT_ID: "dp",
        OAUTH_CLIENT_SECRET: secret
      })
      assert.include(run.stdout, `token endpoint ${server.tokenUrl}?sig=REDACTED&key=REDACTED`)
      for (const hidden of ["CANARY-SIG-5150", "CANARY-KEY-42", secret]) {
        assert.notInclude(run.stdout + run.stderr, hidden)
      }
    }))
})
