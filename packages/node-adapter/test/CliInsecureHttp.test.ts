/**
 * RFC 6750 §5.3: `oauth-cc request` refuses to send a bearer token in clear to a non-loopback `http:` URL,
 * before anything is sent (no token request either), unless `--allow-insecure-http`. The "remote" host is
 * reached through a loopback proxy of the test's own that sends every request for it to a local server.
 */
import { assert, describe, it } from "@effect/vitest"
import * as Effect from "effect/Effect"
import type * as Scope from "effect/Scope"
import * as http from "node:http"
import type { AddressInfo } from "node:net"
import * as net from "node:net"
import { runCliInProcess } from "./fixtures/cliInProcess.js"

const listen = (server: http.Server): Effect.Effect<number, never, Scope.Scope> =>
  Effect.map(
    Effect.acquireRelease(
      Effect.async<http.Server>((resume) => {
        server.listen(0, "127.0.0.1", () => resume(Effect.succeed(server)))
      }),
      (s) =>
        Effect.async<void>((resume) => {
          s.closeAllConnections()
          s.close(() => resume(Effect.void))
        })
    ),
    (s) => (s.address() as AddressInfo).port
  )

describe("oauth-cc request and http: URLs", { timeout: 60_000 }, () => {
  it.scopedLive("a non-loopback http: URL: exit 11 before any request; --allow-insecure-http sends it", () =>
    Effect.gen(function*() {
      const seen: Array<string> = []
      const port = yield* listen(http.createServer((req, res) => {
        seen.push(`${req.method} ${req.url} ${req.headers.authorization ?? ""}`)
        const body = req.url === "/token"
          ? { access_token: "insecure-token", token_type: "Bearer", expires_in: 300 }
          : { ok: true }
        res.writeHead(200, { "content-type": "application/json" }).end(JSON.stringify(body))
      }))
      // Every request for api.example.test, forwarded or tunnelled, goes to the local server.
      const proxied: Array<string> = []
      const proxy = http.createServer((req, res) => {
        proxied.push(req.url ?? "")
        const target = new URL(req.url ?? "")
        const upstream = http.request(
          { host: "127.0.0.1", port, method: req.method, path: target.pathname, headers: req.headers },
          (answer) => {
            res.writeHead(answer.statusCode ?? 502, answer.headers)
            answer.pipe(res)
          }
        )
        req.pipe(upstream)
      })
      proxy.on("connect", (req, socket: net.Socket, head) => {
        proxied.push(`CONNECT ${req.url}`)
        const upstream = net.connect(port, "127.0.0.1", () => {
          socket.write("HTTP/1.1 200 Connection Established\r\n\r\n")
          upstream.write(head)
          upstream.pipe(socket)
          socket.pipe(upstream)
        })
        upstream.on("error", () => socket.destroy())
        socket.on("error", () => upstream.destroy())
      })
      const proxyPort = yield* listen(proxy)
      const env = {
        OAUTH_TOKEN_URL: `http://127.0.0.1:${port}/token`,
        OAUTH_CLIENT_ID: "c",
        OAUTH_CLIENT_SECRET: "insecure-secret",
        HTTP_PROXY: `http://127.0.0.1:${proxyPort}`,
        NO_PROXY: "127.0.0.1"
      }
      for (const url of ["http://api.example.test/orders", "http://10.0.0.1:8080/x", "http://[2001:db8::1]/x"]) {
        const refused = yield* runCliInProcess(["request", url], env)
        assert.strictEqual(refused.code, 11, refused.stderr)
        assert.include(refused.stderr, "refusing to send a bearer token in clear")
        assert.include(refused.stderr, "--allow-insecure-http")
      }
      assert.deepStrictEqual(seen, [], "nothing was sent, not even the token request")
      assert.deepStrictEqual(proxied, [])
      // Loopback http: is fine without the flag.
      const local = yield* runCliInProcess(["request", `http://127.0.0.1:${port}/local`], env)
      assert.strictEqual(local.code, 0, local.stderr)
      const allowed = yield* runCliInProcess(
        ["request", "--allow-insecure-http", "http://api.example.test/orders"],
        env
      )
      assert.strictEqual(allowed.code, 0, allowed.stderr)
      assert.isTrue(proxied.some((target) => target.includes("api.example.test")), proxied.join(", "))
      assert.include(seen, "GET /orders Bearer insecure-token")
    }))
})
