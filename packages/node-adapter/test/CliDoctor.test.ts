/**
 * `oauth-cc doctor`: what the library would do, never a secret or a token; the exit code of the first failure.
 */
import { assert, describe, it } from "@effect/vitest"
import { FakeAuthServer } from "@oauth-cc/testkit"
import * as Effect from "effect/Effect"
import * as Redacted from "effect/Redacted"
import { proxyDecision } from "../src/internal/cliDoctor.js"
import { runCliInProcess } from "./fixtures/cliInProcess.js"

const secret = "doctor-secret-CANARY-31"

describe("oauth-cc doctor", { timeout: 60_000 }, () => {
  it.scopedLive("a healthy setup: endpoint, discovery, method, proxy per URL, a timed token request; exit 0", () =>
    Effect.gen(function*() {
      const server = yield* FakeAuthServer.make({ clients: [{ id: "doc", secret }] })
      const env = { OAUTH_CLIENT_ID: "doc", OAUTH_CLIENT_SECRET: secret, HTTPS_PROXY: "http://u:p@127.0.0.1:9" }
      const run = yield* runCliInProcess(
        ["doctor", "--issuer", server.issuer, "--url", "https://api.example.test/x"],
        env
      )
      assert.strictEqual(run.code, 0, run.stdout + run.stderr)
      assert.include(run.stdout, `ok   discovery: token_endpoint ${server.tokenUrl}`)
      assert.include(run.stdout, "ok   auth method: client_secret_basic (from the metadata)")
      assert.include(run.stdout, "direct (loopback: never sent through a proxy)")
      assert.include(run.stdout, "proxy https://api.example.test/x: via http://127.0.0.1:9 (with credentials)")
      assert.match(run.stdout, /ok {3}token request: Bearer token in \d+ ms, expires in 30\d s/)
      const [token] = yield* server.issued
      for (const hidden of [secret, Redacted.value(token!.value), "u:p"]) {
        assert.notInclude(run.stdout + run.stderr, hidden)
      }
    }))

  it.scopedLive("a rejected client exits 3; a failed discovery 8; bad configuration 2", () =>
    Effect.gen(function*() {
      const server = yield* FakeAuthServer.make({ clients: [{ id: "doc", secret }] })
      const wrong = yield* runCliInProcess(["doctor", "--token-url", server.tokenUrl], {
        OAUTH_CLIENT_ID: "doc",
        OAUTH_CLIENT_SECRET: `${secret}-wrong`
      })
      assert.strictEqual(wrong.code, 3, wrong.stdout)
      assert.include(wrong.stdout, "FAIL token request: failed in")
      const discovery = yield* runCliInProcess(["doctor", "--issuer", `${server.issuer}/nowhere`], {
        OAUTH_CLIENT_ID: "doc",
        OAUTH_CLIENT_SECRET: secret
      })
      assert.strictEqual(discovery.code, 8, discovery.stdout)
      const config = yield* runCliInProcess(["doctor"], { OAUTH_CLIENT_SECRET: secret })
      assert.strictEqual(config.code, 2)
      assert.include(config.stdout, "FAIL configuration: configuration: missing OAUTH_TOKEN_URL")
      for (const run of [wrong, discovery, config]) assert.notInclude(run.stdout + run.stderr, secret)
    }))

  it.effect("the proxy decision follows undici's NO_PROXY rules", () =>
    Effect.sync(() => {
      const proxy = {
        httpProxy: "http://p:1",
        httpsProxy: "http://p:2",
        noProxy: "internal.test, .corp.test:8443 *.dev"
      }
      const decide = (url: string) => proxyDecision(new URL(url), proxy)
      assert.strictEqual(decide("https://api.internal.test/"), "direct (NO_PROXY entry \"internal.test\")")
      assert.strictEqual(decide("https://x.corp.test:8443/"), "direct (NO_PROXY entry \".corp.test:8443\")")
      assert.strictEqual(decide("https://x.corp.test/"), "via http://p:2")
      assert.strictEqual(decide("http://a.dev/"), "direct (NO_PROXY entry \"*.dev\")")
      assert.strictEqual(decide("http://example.test/"), "via http://p:1")
      assert.strictEqual(proxyDecision(new URL("https://a/"), { ...proxy, noProxy: "*" }), "direct (NO_PROXY=*)")
    }))

  it.effect("the proxy decision: loopback hosts are never proxied, whatever NO_PROXY says", () =>
    Effect.sync(() => {
      const proxy = { httpProxy: "http://p:1", httpsProxy: "http://p:2", noProxy: undefined }
      for (const url of ["http://localhost:8080/t", "http://127.0.0.1/", "http://127.8.9.10/", "https://[::1]:4/"]) {
        assert.strictEqual(proxyDecision(new URL(url), proxy), "direct (loopback: never sent through a proxy)", url)
      }
      assert.strictEqual(proxyDecision(new URL("http://evil.localhost/"), proxy), "via http://p:1")
      assert.strictEqual(proxyDecision(new URL("http://128.0.0.1/"), proxy), "via http://p:1")
    }))
})
