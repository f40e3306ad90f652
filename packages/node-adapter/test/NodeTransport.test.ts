import * as HttpClient from "@effect/platform/HttpClient"
import { assert, describe, it } from "@effect/vitest"
import { AuthorizedHttpClient } from "@oauth-cc/core"
import * as ConfigProvider from "effect/ConfigProvider"
import * as Effect from "effect/Effect"
import * as Layer from "effect/Layer"
import * as Redacted from "effect/Redacted"
import * as net from "node:net"
import * as Undici from "undici"
import * as NodeAuthorizedHttpClient from "../src/NodeAuthorizedHttpClient.js"
import * as NodeTokenProvider from "../src/NodeTokenProvider.js"
import * as NodeTransport from "../src/NodeTransport.js"
import { remote, startProxy } from "./fixtures/proxy.js"
import { startServer } from "./fixtures/server.js"

const withEnv = (env: Record<string, string>) =>
  Effect.withConfigProvider(ConfigProvider.fromMap(new Map(Object.entries(env)), { pathDelim: "_" }))

const getStatus = (url: string, options: NodeTransport.Options) =>
  Effect.gen(function*() {
    const client = yield* HttpClient.HttpClient
    const response = yield* client.get(url)
    return response.status
  }).pipe(Effect.provide(NodeTransport.layer(options)))

const ok = () => ({ body: { ok: true } })

describe("NodeTransport", () => {
  it.scoped("without proxy variables, requests go straight to the server", () =>
    Effect.gen(function*() {
      const server = yield* startServer({ handle: ok })
      const proxy = yield* startProxy
      const status = yield* getStatus(`${server.url}/direct`, {}).pipe(withEnv({}))
      assert.strictEqual(status, 200)
      assert.strictEqual(server.seen.length, 1)
      assert.strictEqual(proxy.seen.length, 0)
    }))

  it.scoped("HTTP_PROXY from the environment: the proxy sees the traffic", () =>
    Effect.gen(function*() {
      const server = yield* startServer({ handle: ok })
      const proxy = yield* startProxy
      const url = remote(`${server.url}/via-proxy`)
      const status = yield* getStatus(url, {}).pipe(withEnv({ HTTP_PROXY: proxy.url }))
      assert.strictEqual(status, 200)
      assert.strictEqual(server.seen.length, 1)
      assert.deepStrictEqual(proxy.seen, [{ method: "CONNECT", target: new URL(url).host }])
    }))

  it.scoped("lower-case http_proxy wins over HTTP_PROXY", () =>
    Effect.gen(function*() {
      const server = yield* startServer({ handle: ok })
      const proxy = yield* startProxy
      const status = yield* getStatus(remote(`${server.url}/x`), {}).pipe(
        withEnv({ http_proxy: proxy.url, HTTP_PROXY: "http://127.0.0.1:9" })
      )
      assert.strictEqual(status, 200)
      assert.strictEqual(proxy.seen.length, 1)
    }))

  it.scoped("NO_PROXY bypasses the proxy for the listed host", () =>
    Effect.gen(function*() {
      const server = yield* startServer({ handle: ok })
      const proxy = yield* startProxy
      const env = withEnv({ HTTP_PROXY: proxy.url, NO_PROXY: "localhost,internal.invalid" })
      // Direct: a .invalid name resolves nowhere, so the request fails without the proxy hearing of it.
      const direct = yield* Effect.either(getStatus(remote(`${server.url}/bypass`, "api.internal.invalid"), {}))
        .pipe(env)
      assert.isTrue(direct._tag === "Left" && direct.left._tag === "RequestError", String(direct))
      assert.strictEqual(proxy.seen.length, 0)
      assert.strictEqual(yield* getStatus(remote(`${server.url}/proxied`), {}).pipe(env), 200)
      assert.strictEqual(proxy.seen.length, 1)
      assert.strictEqual(server.seen.length, 1)
    }))

  it.scoped("loopback destinations never go through a proxy, whatever HTTP(S)_PROXY or the proxy option say", () =>
    Effect.gen(function*() {
      // The attacker's proxy: it records every connection and every byte, and answers nothing.
      const heard: Array<string> = []
      const listening = yield* Effect.acquireRelease(
        Effect.async<net.Server>((resume) => {
          const server = net.createServer((socket) => {
            heard.push("")
            socket.on("data", (chunk) => heard.push(chunk.toString("latin1")))
            socket.on("error", () => {})
            setTimeout(() => socket.destroy(), 200).unref()
          })
          server.listen(0, "127.0.0.1", () => resume(Effect.succeed(server)))
        }),
        (server) => Effect.async<void>((resume) => void server.close(() => resume(Effect.void)))
      )
      const spy = `http://127.0.0.1:${(listening.address() as net.AddressInfo).port}`
      const tokenEndpoint = yield* startServer({
        handle: () => ({ body: { access_token: "CANARY-LOOPBACK-TOKEN", token_type: "Bearer", expires_in: 3600 } })
      })
      const api = yield* startServer({ handle: ok })
      const port = new URL(api.url).port
      const targets = [`http://localhost:${port}/a`, `http://127.0.0.1:${port}/b`]
      const settings: ReadonlyArray<readonly [string, NodeTransport.ProxyOptions, Record<string, string>]> = [
        ["HTTP_PROXY and HTTPS_PROXY", "env", { HTTP_PROXY: spy, HTTPS_PROXY: spy }],
        ["the proxy option", spy, {}],
        ["httpProxy with an empty noProxy", { httpProxy: spy, noProxy: "" }, {}]
      ]
      for (const [name, proxy, env] of settings) {
        const statuses = yield* Effect.gen(function*() {
          const client = yield* AuthorizedHttpClient.AuthorizedHttpClient
          return yield* Effect.forEach(targets, (url) => Effect.map(client.get(url), (response) => response.status))
        }).pipe(
          Effect.provide(NodeAuthorizedHttpClient.layer({
            tokenUrl: `${tokenEndpoint.url}/token`,
            clientId: "loopback-client",
            clientSecret: Redacted.make("CANARY-LOOPBACK-SECRET"),
            proxy
          })),
          withEnv(env),
          Effect.timeoutFail({ duration: "10 seconds", onTimeout: () => `${name}: no answer (sent to the proxy?)` })
        )
        assert.deepStrictEqual(statuses, [200, 200], name)
      }
      assert.strictEqual(tokenEndpoint.seen.length, settings.length)
      assert.strictEqual(api.seen.length, settings.length * targets.length)
      assert.match(String(api.seen[0]!.headers.authorization), /^Bearer CANARY-LOOPBACK-TOKEN$/)
      assert.deepStrictEqual(heard, [], "the proxy heard nothing")
    }))

  it.scoped("an explicit proxy URL is used whatever the environment says; proxy: false disables it", () =>
    Effect.gen(function*() {
      const server = yield* startServer({ handle: ok })
      const proxy = yield* startProxy
      assert.strictEqual(yield* getStatus(remote(`${server.url}/a`), { proxy: proxy.url }).pipe(withEnv({})), 200)
      assert.strictEqual(proxy.seen.length, 1)
      assert.strictEqual(
        yield* getStatus(`${server.url}/b`, { proxy: false }).pipe(withEnv({ HTTP_PROXY: proxy.url })),
        200
      )
      assert.strictEqual(proxy.seen.length, 1)
      assert.strictEqual(server.seen.length, 2)
    }))

  it.scoped("an invalid proxy variable is a ConfigError naming the variable, not echoing its value", () =>
    Effect.gen(function*() {
      const error = yield* Layer.build(NodeTransport.layer()).pipe(
        withEnv({ HTTPS_PROXY: "socks4://user:hunter2@proxy" }),
        Effect.flip
      )
      assert.strictEqual(error._op, "InvalidData")
      assert.include(String(error), "HTTPS_PROXY")
      assert.notInclude(String(error), "hunter2")
    }))

  it.scoped("an undici without Dispatcher.request (Bun's stub) is refused when the layer is built, naming FetchHttpClient", () =>
    Effect.gen(function*() {
      // Bun resolves `undici` to a built-in whose Agent has no `request`: the same shape, here by hand
      const agent = Undici.Agent.prototype as { request?: unknown }
      agent.request = undefined
      yield* Effect.addFinalizer(() => Effect.sync(() => delete agent.request))
      const server = yield* startServer({ handle: ok })
      const options = {
        tokenUrl: `${server.url}/token`,
        clientId: "c",
        clientSecret: Redacted.make("s"),
        proxy: false as const
      }
      for (
        const layer of [
          NodeTransport.layer({ proxy: false }),
          NodeTokenProvider.layer(options),
          NodeAuthorizedHttpClient.layer(options)
        ] as const
      ) {
        const error = yield* Layer.build(layer as Layer.Layer<unknown, unknown>).pipe(Effect.flip)
        assert.strictEqual((error as { _op?: string })._op, "Unsupported")
        assert.include(String(error), "FetchHttpClient")
      }
      assert.strictEqual(server.seen.length, 0)
    }))

  it.scoped("keepAlive reuses one connection; keepAlive: false opens one per request", () =>
    Effect.gen(function*() {
      const server = yield* startServer({ handle: ok })
      const count = (options: NodeTransport.Options) =>
        Effect.gen(function*() {
          const client = yield* HttpClient.HttpClient
          for (let i = 0; i < 5; i++) {
            const response = yield* client.get(`${server.url}/ka`)
            yield* response.text
          }
        }).pipe(Effect.provide(NodeTransport.layer({ proxy: false, ...options })))
      const connections = (from: number) => new Set(server.seen.slice(from).map((s) => s.remotePort)).size
      yield* count({})
      // Sequential requests reuse idle connections (a second one may open while the first is released).
      assert.isAtMost(connections(0), 2)
      yield* count({ keepAlive: false })
      assert.strictEqual(connections(5), 5)
      assert.strictEqual(server.seen[5]!.headers.connection, "close")
    }))
})
