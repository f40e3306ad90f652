/**
 * Failures that retrying cannot fix end after one request, with a reason of their own: a server whose
 * certificate no trusted CA signed, a proxy answering 407. Server and proxy are written here (node:https,
 * node:http) on loopback. (A wrong key passphrase is refused earlier, when the layer is built: TlsConfig.)
 */
import { assert, describe, it } from "@effect/vitest"
import { TokenProvider } from "@oauth-cc/core"
import * as Effect from "effect/Effect"
import * as Redacted from "effect/Redacted"
import type * as Scope from "effect/Scope"
import * as http from "node:http"
import type { AddressInfo } from "node:net"
import * as NodeTokenProvider from "../src/NodeTokenProvider.js"
import { makePki } from "./fixtures/pki.js"
import { startServer, tokenReply } from "./fixtures/server.js"

const secret = "s3cr3t-CANARY-terminal"

/** A proxy that answers every CONNECT with 407 and counts them. */
const proxy407: Effect.Effect<{ readonly url: string; readonly connects: () => number }, never, Scope.Scope> = Effect
  .acquireRelease(
    Effect.async<{ readonly server: http.Server; readonly url: string; readonly connects: () => number }>((resume) => {
      let connects = 0
      const server = http.createServer((_, res) => {
        res.writeHead(407).end()
      })
      server.on("connect", (_req, socket) => {
        connects++
        socket.end(
          "HTTP/1.1 407 Proxy Authentication Required\r\nProxy-Authenticate: Basic realm=\"corp\"\r\n" +
            "Content-Length: 0\r\n\r\n"
        )
      })
      server.listen(0, "127.0.0.1", () => {
        const { port } = server.address() as AddressInfo
        resume(Effect.succeed({ server, url: `http://127.0.0.1:${port}`, connects: () => connects }))
      })
    }),
    ({ server }) =>
      Effect.async<void>((resume) => {
        server.close(() => resume(Effect.void))
      })
  )

/**
 * Generous: the failure takes one round trip on loopback (milliseconds); retries would take about 3 s
 * (5 attempts with backoff from 200 ms).
 */
const prompt = 1500

const expectTerminal = (
  layer: Parameters<typeof NodeTokenProvider.layer>[0],
  reason: string,
  named: RegExp
) =>
  Effect.gen(function*() {
    const start = Date.now()
    const error = yield* TokenProvider.get.pipe(Effect.provide(NodeTokenProvider.layer(layer)), Effect.flip)
    const took = Date.now() - start
    assert.strictEqual(error._tag, "TokenTransportError", String(error))
    if (error._tag !== "TokenTransportError") return
    assert.strictEqual(error.reason as string, reason)
    assert.strictEqual(error.attempts, 1)
    assert.isFalse(error.retryable)
    assert.match(error.message, named)
    assert.notInclude(`${error.message} ${JSON.stringify(error)}`, "CANARY")
    assert.isBelow(took, prompt)
  })

describe("failures retrying cannot fix", () => {
  it.scopedLive("a server certificate no trusted CA signed: UntrustedCertificate after one request", () =>
    Effect.gen(function*() {
      const pki = yield* Effect.promise(makePki)
      const server = yield* startServer({
        tls: { cert: pki.server.cert, key: pki.server.key, ca: pki.ca.cert },
        handle: () => tokenReply("never")
      })
      yield* expectTerminal(
        { tokenUrl: `${server.url}/token`, clientId: "c", clientSecret: Redacted.make(secret), proxy: false },
        "UntrustedCertificate",
        /certificate/i
      )
      assert.strictEqual(server.seen.length, 0)
    }))

  it.scopedLive("a proxy answering 407: ProxyAuthentication after one CONNECT", () =>
    Effect.gen(function*() {
      const proxy = yield* proxy407
      yield* expectTerminal(
        {
          tokenUrl: "https://auth.example.test/token",
          clientId: "c",
          clientSecret: Redacted.make(secret),
          proxy: proxy.url
        },
        "ProxyAuthentication",
        /407|proxy/i
      )
      assert.strictEqual(proxy.connects(), 1)
    }))
})
