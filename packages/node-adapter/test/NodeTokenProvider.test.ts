import { assert, describe, it } from "@effect/vitest"
import { TokenProvider } from "@oauth-cc/core"
import * as ConfigProvider from "effect/ConfigProvider"
import * as Effect from "effect/Effect"
import * as Redacted from "effect/Redacted"
import * as NodeTokenProvider from "../src/NodeTokenProvider.js"
import { makePki } from "./fixtures/pki.js"
import { remote, startProxy } from "./fixtures/proxy.js"
import { type Seen, startServer, tokenReply } from "./fixtures/server.js"

const canary = "s3cr3t-CANARY-node"

const withEnv = (env: Record<string, string>) =>
  Effect.withConfigProvider(ConfigProvider.fromMap(new Map(Object.entries(env)), { pathDelim: "_" }))

const getToken = Effect.map(TokenProvider.get, (token) => Redacted.value(token.value))

/** A token endpoint for RFC 8705 tls_client_auth: a trusted client certificate and a client_id, no secret. */
const mtlsEndpoint = (seen: Seen) => {
  const form = new URLSearchParams(seen.body)
  if (!seen.authorized) return { status: 401, body: { error: "invalid_client", error_description: "no trusted cert" } }
  if (form.get("client_id") !== "mtls-client" || form.has("client_secret") || seen.headers.authorization) {
    return { status: 400, body: { error: "invalid_request" } }
  }
  return tokenReply(`token-for-${seen.clientCn}`)
}

describe("NodeTokenProvider", () => {
  it.scoped("layerConfig reads OAUTH_* and gets a token over a real socket", () =>
    Effect.gen(function*() {
      const server = yield* startServer({ handle: () => tokenReply("env-token") })
      const token = yield* getToken.pipe(
        Effect.provide(NodeTokenProvider.layerConfig()),
        withEnv({
          OAUTH_TOKEN_URL: `${server.url}/token`,
          OAUTH_CLIENT_ID: "env-client",
          OAUTH_CLIENT_SECRET: canary,
          OAUTH_SCOPE: "b a"
        })
      )
      assert.strictEqual(token, "env-token")
      const [request] = server.seen
      assert.strictEqual(request!.method, "POST")
      assert.strictEqual(
        request!.headers.authorization,
        `Basic ${Buffer.from(`env-client:${canary}`).toString("base64")}`
      )
      assert.deepStrictEqual(Object.fromEntries(new URLSearchParams(request!.body)), {
        grant_type: "client_credentials",
        scope: "a b"
      })
    }))

  it.scoped("layerConfig fails with a ConfigError naming the missing variable", () =>
    Effect.gen(function*() {
      const error = yield* getToken.pipe(
        Effect.provide(NodeTokenProvider.layerConfig()),
        withEnv({ OAUTH_CLIENT_ID: "x", OAUTH_CLIENT_SECRET: canary }),
        Effect.flip
      )
      assert.include(String(error), "TOKEN_URL")
      assert.notInclude(String(error), canary)
    }))

  it.scoped("mTLS: the client certificate authenticates (tls_client_auth), no secret is sent", () =>
    Effect.gen(function*() {
      const pki = yield* Effect.promise(makePki)
      const server = yield* startServer({ tls: { ...pki.server, ca: pki.ca.cert }, handle: mtlsEndpoint })
      const token = yield* getToken.pipe(
        Effect.provide(NodeTokenProvider.layer({
          tokenUrl: `${server.url}/token`,
          clientId: "mtls-client",
          tls: { ...pki.client, ca: pki.ca.cert },
          proxy: false
        }))
      )
      assert.strictEqual(token, "token-for-client-mtls")
      assert.strictEqual(server.seen.length, 1)
      assert.isTrue(server.seen[0]!.authorized)
    }))

  it.scoped("mTLS from env: layerConfig with OAUTH_AUTH_METHOD=tls_client_auth and the certificate given in code", () =>
    Effect.gen(function*() {
      const pki = yield* Effect.promise(makePki)
      const server = yield* startServer({ tls: { ...pki.server, ca: pki.ca.cert }, handle: mtlsEndpoint })
      const token = yield* getToken.pipe(
        Effect.provide(NodeTokenProvider.layerConfig(undefined, { tls: { ...pki.client, ca: pki.ca.cert } })),
        withEnv({
          OAUTH_TOKEN_URL: `${server.url}/token`,
          OAUTH_CLIENT_ID: "mtls-client",
          OAUTH_AUTH_METHOD: "tls_client_auth"
        })
      )
      assert.strictEqual(token, "token-for-client-mtls")
    }))

  it.scoped("mTLS: a certificate from another CA is refused by the server", () =>
    Effect.gen(function*() {
      const pki = yield* Effect.promise(makePki)
      const server = yield* startServer({ tls: { ...pki.server, ca: pki.ca.cert }, handle: mtlsEndpoint })
      const error = yield* TokenProvider.get.pipe(
        Effect.provide(NodeTokenProvider.layer({
          tokenUrl: `${server.url}/token`,
          clientId: "mtls-client",
          tls: { ...pki.stranger, ca: pki.ca.cert },
          proxy: false
        })),
        Effect.flip
      )
      assert.strictEqual(error._tag, "TokenRequestRejected")
      assert.strictEqual(error._tag === "TokenRequestRejected" && error.error, "invalid_client")
      assert.isFalse(server.seen[0]!.authorized)
    }))

  it.scoped("mTLS: a server requiring certificates refuses a client without one; the request never arrives", () =>
    Effect.gen(function*() {
      const pki = yield* Effect.promise(makePki)
      const server = yield* startServer({
        tls: { ...pki.server, ca: pki.ca.cert, rejectUnauthorized: true },
        handle: mtlsEndpoint
      })
      const error = yield* TokenProvider.get.pipe(
        Effect.provide(NodeTokenProvider.layer({
          tokenUrl: `${server.url}/token`,
          clientId: "mtls-client",
          clientSecret: Redacted.make(canary),
          tls: { ca: pki.ca.cert },
          retry: { maxAttempts: 1 },
          proxy: false
        })),
        Effect.flip
      )
      assert.strictEqual(error._tag, "TokenTransportError")
      assert.notInclude(error.message, canary)
      assert.strictEqual(server.seen.length, 0)
    }))

  it.scoped("tls_client_auth without a client certificate is a ConfigError", () =>
    Effect.gen(function*() {
      const error = yield* TokenProvider.get.pipe(
        Effect.provide(NodeTokenProvider.layer({
          tokenUrl: "https://127.0.0.1:1/token",
          clientId: "mtls-client",
          authMethod: "tls_client_auth"
        })),
        Effect.flip
      )
      assert.include(String(error), "tls_client_auth needs a client certificate")
    }))

  it.scoped("mTLS through a CONNECT proxy: the proxy sees the tunnel, the server sees the certificate", () =>
    Effect.gen(function*() {
      const pki = yield* Effect.promise(makePki)
      const server = yield* startServer({ tls: { ...pki.server, ca: pki.ca.cert }, handle: mtlsEndpoint })
      const proxy = yield* startProxy
      const token = yield* getToken.pipe(
        Effect.provide(NodeTokenProvider.layer({
          tokenUrl: remote(`${server.url}/token`, "auth.remote.test"),
          clientId: "mtls-client",
          tls: { ...pki.client, ca: pki.ca.cert }
        })),
        withEnv({ HTTPS_PROXY: proxy.url })
      )
      assert.strictEqual(token, "token-for-client-mtls")
      assert.deepStrictEqual(proxy.seen, [{
        method: "CONNECT",
        target: `auth.remote.test:${new URL(server.url).port}`
      }])
      assert.isTrue(server.seen[0]!.authorized)
    }))
})
