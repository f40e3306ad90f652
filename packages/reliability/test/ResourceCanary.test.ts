/**
 * The canary token against everything `AuthorizedHttpClient` gives back. A `node:http` server written here
 * issues canary tokens and plays the resource: a non-JSON body, a body cut short, a body that never comes,
 * 500, an endless 401, a refused port. Over undici, fetch and `node:http` clients, every body reader
 * (`json`, `text`, `arrayBuffer`, `formData`, `urlParamsBody`, `stream`, `schemaBodyJson`) and the
 * `filterStatusOk` filters (outside and inside the authorized client) run; the response, the error, the
 * `Exit`, the `Cause` and the rejection of `runPromise` are rendered every way (`JSON.stringify`,
 * `util.inspect` (also without `customInspect`, with `showHidden` at any depth, and of `{ ...value }`),
 * `String`, `Cause.pretty`, message and stack). The canary must appear 0 times.
 */
import * as NodeHttpClient from "@effect/platform-node/NodeHttpClient"
import * as FetchHttpClient from "@effect/platform/FetchHttpClient"
import * as HttpClient from "@effect/platform/HttpClient"
import * as HttpClientResponse from "@effect/platform/HttpClientResponse"
import { assert, describe, it } from "@effect/vitest"
import { AuthorizedHttpClient, TokenProvider } from "@oauth-cc/core"
import * as Cause from "effect/Cause"
import * as Effect from "effect/Effect"
import * as Exit from "effect/Exit"
import * as Layer from "effect/Layer"
import * as Redacted from "effect/Redacted"
import * as Schema from "effect/Schema"
import type * as Scope from "effect/Scope"
import * as Stream from "effect/Stream"
import * as Http from "node:http"
import type * as Net from "node:net"
import { inspect } from "node:util"
import { afterAll } from "vitest"
import { canarySecret, canaryToken, clientId, secretForms } from "./support/canary.js"
import { refusedUrl, socketClient } from "./support/matrix.js"

const figures: Array<string> = []
afterAll(() => figures.forEach((line) => console.log(line)))

/** The token server and the resource, in one `node:http` server on 127.0.0.1. */
const server: Effect.Effect<{ readonly url: string; readonly issued: () => number }, never, Scope.Scope> = Effect
  .acquireRelease(
    Effect.async<{ readonly server: Http.Server; readonly url: string; readonly issued: () => number }>((resume) => {
      let issued = 0
      const server = Http.createServer((request, response) => {
        const path = request.url ?? ""
        if (path === "/token") {
          issued++
          response.writeHead(200, { "content-type": "application/json" })
          response.end(
            JSON.stringify({ access_token: `${canaryToken}-${issued}`, token_type: "Bearer", expires_in: 600 })
          )
          return
        }
        switch (path.split("?")[0]) {
          case "/html":
            response.writeHead(200, { "content-type": "text/html" })
            return response.end("<html>no json here</html>")
          case "/multipart":
            response.writeHead(200, { "content-type": "multipart/form-data; boundary=x" })
            return response.end("--y\r\nbroken")
          case "/cut":
            response.writeHead(200, { "content-type": "application/json", "content-length": "1000" })
            response.write("{\"partial\":")
            return void setTimeout(() => request.socket.destroy(), 20)
          case "/hang":
            response.writeHead(200, { "content-type": "application/json" })
            return response.write("{")
          case "/500":
            response.writeHead(500, { "content-type": "text/plain" })
            return response.end("boom")
          case "/401":
            response.writeHead(401, { "www-authenticate": "Bearer error=\"invalid_token\"" })
            return response.end("no")
          default:
            response.writeHead(404)
            return response.end()
        }
      })
      server.listen(0, "127.0.0.1", () => {
        const { port } = server.address() as Net.AddressInfo
        resume(Effect.succeed({ server, url: `http://127.0.0.1:${port}`, issued: () => issued }))
      })
    }),
    ({ server }) =>
      Effect.async<void>((resume) => {
        server.closeAllConnections()
        server.close(() => resume(Effect.void))
      })
  )

type Reader = (response: HttpClientResponse.HttpClientResponse) => Effect.Effect<unknown, unknown>

const readers: ReadonlyArray<readonly [string, Reader]> = [
  ["response", Effect.succeed],
  ["json", (r) => r.json],
  ["text", (r) => r.text],
  ["arrayBuffer", (r) => r.arrayBuffer],
  ["formData", (r) => r.formData],
  ["urlParamsBody", (r) => r.urlParamsBody],
  ["stream", (r) => Stream.runCollect(r.stream)],
  ["schemaBodyJson", HttpClientResponse.schemaBodyJson(Schema.Struct({ n: Schema.Number }))],
  ["filterStatusOk", HttpClientResponse.filterStatusOk]
]

const paths = ["/html", "/multipart", "/cut", "/hang", "/500", "/401", "refused"] as const

/** Every way the value a caller gets back can be shown. */
const renderings = (
  exit: Exit.Exit<unknown, unknown>,
  rejection: unknown
): ReadonlyArray<readonly [string, string]> => {
  const json = (u: unknown) => {
    try {
      return JSON.stringify(u) ?? ""
    } catch (e) {
      return `<unserialisable ${String(e)}>`
    }
  }
  const value = Exit.isSuccess(exit) ? exit.value : Cause.squash(exit.cause)
  const out: Array<readonly [string, string]> = [
    ["JSON.stringify(value)", json(value)],
    ["inspect(value)", inspect(value, { depth: 20 })],
    ["String(value)", String(value)],
    ["inspect(value, customInspect: false)", inspect(value, { depth: 20, customInspect: false })],
    ["inspect(value, showHidden, depth ∞)", inspect(value, { depth: Infinity, showHidden: true })],
    ["inspect({ ...value })", typeof value === "object" && value !== null ? inspect({ ...value }, { depth: 20 }) : ""],
    [
      "inspect({ ...value }, customInspect: false)",
      typeof value === "object" && value !== null ? inspect({ ...value }, { depth: 20, customInspect: false }) : ""
    ],
    ["message and stack", value instanceof Error ? `${value.message}\n${value.stack}` : ""],
    ["JSON.stringify(exit)", json(exit)],
    ["inspect(exit)", inspect(exit, { depth: 20 })],
    ["String(exit)", String(exit)],
    ["inspect(exit, customInspect: false)", inspect(exit, { depth: 20, customInspect: false })],
    ["inspect(exit, showHidden, depth ∞)", inspect(exit, { depth: Infinity, showHidden: true })]
  ]
  if (Exit.isFailure(exit)) {
    out.push(
      ["Cause.pretty", Cause.pretty(exit.cause, { renderErrorCause: true })],
      ["JSON.stringify(cause)", json(exit.cause)],
      ["inspect(cause)", inspect(exit.cause, { depth: 20 })],
      ["String(cause)", String(exit.cause)],
      ["runPromise rejection: String", String(rejection)],
      ["runPromise rejection: JSON", json(rejection)],
      ["runPromise rejection: inspect", inspect(rejection, { depth: 20 })],
      ["runPromise rejection: stack", rejection instanceof Error ? `${rejection.stack}` : ""],
      ["runPromise rejection: inspect, customInspect: false", inspect(rejection, { depth: 20, customInspect: false })],
      ["runPromise rejection: inspect, showHidden, depth ∞", inspect(rejection, { depth: Infinity, showHidden: true })]
    )
  }
  return out
}

const clients: ReadonlyArray<readonly [string, Effect.Effect<HttpClient.HttpClient, never, Scope.Scope>]> = [
  ["undici", socketClient("undici")],
  ["fetch", Effect.provide(HttpClient.HttpClient, FetchHttpClient.layer)],
  ["node:http", Effect.provide(HttpClient.HttpClient, Layer.fresh(NodeHttpClient.layer))]
]

const canaries = [canaryToken, ...secretForms(canarySecret)]

describe("resource canary: nothing AuthorizedHttpClient gives back shows the token", () => {
  for (const [name, makeClient] of clients) {
    it.scopedLive(`over ${name}: every reader, filter and rendering`, () =>
      Effect.gen(function*() {
        const { issued, url } = yield* server
        const refused = (yield* refusedUrl).replace("/token", "/refused")
        const client = yield* makeClient
        const provider = yield* TokenProvider.make({
          tokenUrl: `${url}/token`,
          clientId,
          clientSecret: Redacted.make(canarySecret)
        }).pipe(Effect.provideService(HttpClient.HttpClient, client))
        const variants = [
          ["authorized", AuthorizedHttpClient.authorize(client, provider)],
          ["filterStatusOk outside", HttpClient.filterStatusOk(AuthorizedHttpClient.authorize(client, provider))],
          ["filterStatusOk inside", AuthorizedHttpClient.authorize(HttpClient.filterStatusOk(client), provider)]
        ] as const
        const hits: Array<string> = []
        let cells = 0
        let checked = 0
        for (const [variant, authorized] of variants) {
          for (const path of paths) {
            for (const [reader, read] of readers) {
              const target = path === "refused" ? refused : `${url}${path}`
              const program = authorized.get(target).pipe(
                Effect.flatMap(read),
                Effect.scoped,
                Effect.timeout("200 millis")
              )
              const exit = yield* Effect.exit(program)
              const rejection = yield* Effect.promise(() => Effect.runPromise(exit).then(() => undefined, (e) => e))
              cells++
              for (const [how, text] of renderings(exit, rejection)) {
                checked++
                for (const canary of canaries) {
                  if (text.includes(canary)) hits.push(`${variant} ${path} ${reader}: ${how}`)
                }
              }
            }
          }
        }
        figures.push(
          `resource canary over ${name}: ${cells} cells, ${checked.toLocaleString("en-US")} renderings, ` +
            `${hits.length} hits, ${issued()} tokens issued`
        )
        assert.deepStrictEqual(hits.slice(0, 30), [])
        assert.isAtLeast(issued(), 1)
      }), 120_000)
  }
})
