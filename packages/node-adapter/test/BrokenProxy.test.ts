/**
 * A broken proxy ends promptly: servers written here, mistaken for proxies, that close the socket on
 * CONNECT, answer it with garbage, or start an answer and hang up. undici 7 retries a tunnel whose
 * CONNECT fails with a socket error at once and forever (thousands of CONNECTs a second), and waits 300 s
 * for a proxy that never answers; the token endpoint and resource requests must instead get a typed
 * transport error after a few CONNECTs, or after `connectTimeout`.
 */
import * as HttpClientError from "@effect/platform/HttpClientError"
import { assert, describe, it } from "@effect/vitest"
import { AuthorizedHttpClient, TokenProvider } from "@oauth-cc/core"
import * as Effect from "effect/Effect"
import * as Redacted from "effect/Redacted"
import type * as Scope from "effect/Scope"
import type { AddressInfo } from "node:net"
import * as net from "node:net"
import { maxTunnelAttempts } from "../src/internal/nodeTransport.js"
import * as NodeAuthorizedHttpClient from "../src/NodeAuthorizedHttpClient.js"
import * as NodeTokenProvider from "../src/NodeTokenProvider.js"
import { startServer, tokenReply } from "./fixtures/server.js"

type Behaviour = "close" | "garbage" | "partial" | "silent"

interface BrokenProxy {
  readonly url: string
  readonly connects: () => number
}

/** A `node:net` server that reads a CONNECT request and then misbehaves; it counts the CONNECTs. */
const brokenProxy = (behaviour: Behaviour): Effect.Effect<BrokenProxy, never, Scope.Scope> =>
  Effect.acquireRelease(
    Effect.async<{ readonly proxy: BrokenProxy; readonly server: net.Server; readonly sockets: Set<net.Socket> }>(
      (resume) => {
        let connects = 0
        const sockets = new Set<net.Socket>()
        const server = net.createServer((socket) => {
          sockets.add(socket)
          socket.on("close", () => sockets.delete(socket))
          socket.on("error", () => {})
          let head = ""
          socket.on("data", (chunk: Buffer) => {
            head += chunk.toString("latin1")
            if (!head.includes("\r\n\r\n")) return
            if (head.startsWith("CONNECT ")) connects++
            head = ""
            if (behaviour === "close") socket.destroy()
            else if (behaviour === "silent") return
            else if (behaviour === "garbage") socket.end("SSH-2.0-OpenSSH_9.6\r\n\r\n\u0000\u0001garbage")
            else socket.end("HTTP/1.1 200 Connection")
          })
        })
        server.listen(0, "127.0.0.1", () => {
          const { port } = server.address() as AddressInfo
          resume(Effect.succeed({
            proxy: { url: `http://127.0.0.1:${port}`, connects: () => connects },
            server,
            sockets
          }))
        })
      }
    ),
    ({ server, sockets }) =>
      Effect.async<void>((resume) => {
        for (const socket of sockets) socket.destroy()
        server.close(() => resume(Effect.void))
      })
  ).pipe(Effect.map(({ proxy }) => proxy))

/**
 * The bug never ends (the resource request) or runs until the token request's timeout: a run that
 * does not end within this is the failure. Generous so a busy machine passes; a fixed run takes
 * milliseconds per attempt.
 */
const hang = "15 seconds"

const behaviours: ReadonlyArray<Behaviour> = ["close", "garbage", "partial", "silent"]

/** Short, so the silent proxy's tunnels time out quickly. */
const connectTimeout = "500 millis"

describe("a broken proxy", () => {
  for (const behaviour of behaviours) {
    it.scopedLive(`${behaviour} on CONNECT: the token request fails with a transport error after a few CONNECTs`, () =>
      Effect.gen(function*() {
        const proxy = yield* brokenProxy(behaviour)
        const maxAttempts = 3
        const error = yield* TokenProvider.get.pipe(
          Effect.provide(NodeTokenProvider.layer({
            tokenUrl: "https://auth.example.test/token",
            clientId: "client",
            clientSecret: Redacted.make("s3cr3t"),
            proxy: proxy.url,
            connectTimeout,
            retry: { baseDelay: "1 millis", maxDelay: "5 millis", maxAttempts }
          })),
          Effect.timeout(hang),
          Effect.flip
        )
        assert.strictEqual(error._tag, "TokenTransportError")
        if (error._tag !== "TokenTransportError") return
        assert.strictEqual(error.attempts, maxAttempts)
        assert.isAtLeast(proxy.connects(), maxAttempts)
        assert.isAtMost(proxy.connects(), maxAttempts * maxTunnelAttempts)
      }))

    it.scopedLive(`${behaviour} on CONNECT: a resource request fails with a transport error after a few CONNECTs`, () =>
      Effect.gen(function*() {
        const proxy = yield* brokenProxy(behaviour)
        const tokenEndpoint = yield* startServer({ handle: () => tokenReply("resource-token") })
        const error = yield* Effect.gen(function*() {
          const client = yield* AuthorizedHttpClient.AuthorizedHttpClient
          return yield* client.get("https://api.example.test/resource")
        }).pipe(
          Effect.provide(NodeAuthorizedHttpClient.layer({
            tokenUrl: `${tokenEndpoint.url}/token`,
            clientId: "client",
            clientSecret: Redacted.make("s3cr3t"),
            proxy: { httpsProxy: proxy.url, noProxy: "127.0.0.1" },
            connectTimeout
          })),
          Effect.timeout(hang),
          Effect.flip
        )
        assert.isTrue(HttpClientError.isHttpClientError(error), String(error))
        assert.strictEqual(error._tag, "RequestError")
        if (error._tag !== "RequestError") return
        assert.strictEqual(error.reason, "Transport")
        assert.strictEqual(tokenEndpoint.seen.length, 1)
        assert.isAtLeast(proxy.connects(), 1)
        assert.isAtMost(proxy.connects(), maxTunnelAttempts)
      }))
  }
})
