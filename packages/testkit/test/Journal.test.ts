/**
 * Attack: credentials sent where a careless client puts them (the query string, percent-encoded names, a cookie,
 * Proxy-Authorization, a form field) never reach the journal; everything else stays readable.
 */
import * as HttpClient from "@effect/platform/HttpClient"
import * as HttpClientRequest from "@effect/platform/HttpClientRequest"
import { assert, describe, it } from "@effect/vitest"
import * as Effect from "effect/Effect"
import * as net from "node:net"
import { FakeAuthServer } from "../src/index.js"

/** Writes `request` as raw bytes (nothing normalizes the target) and waits for the server to close. */
const rawRequest = (url: string, request: string) =>
  Effect.async<string>((resume) => {
    const { hostname, port } = new URL(url)
    const chunks: Array<Buffer> = []
    const socket = net.connect(Number(port), hostname, () => socket.write(request))
    socket.on("data", (chunk: Buffer) => chunks.push(chunk))
    socket.on("close", () => resume(Effect.succeed(Buffer.concat(chunks).toString("latin1"))))
    socket.on("error", () => resume(Effect.succeed(Buffer.concat(chunks).toString("latin1"))))
  })

/** Credential names as careless or hostile clients spell them: brackets, any case, ';' separators, encodings. */
const spellings = [
  "access_token[]",
  "ACCESS_TOKEN",
  "access_token[0]",
  "Client_Secret[]",
  "client%5Fsecret%5B%5D",
  "client_assertion",
  "refresh_token[]",
  "code",
  "password",
  "assertion",
  "subject_token",
  "actor_token",
  "id_token",
  "code_verifier"
]

const canary = "CANARY-journal-5c1e"
const query = [
  `access_token=${canary}-a`,
  `client_secret=${canary}-s`,
  `client_assertion=${canary}-j`,
  `Refresh_Token=${canary}-r`,
  `access%5Ftoken=${canary}-e`,
  `code=${canary}-c`,
  "keep=1",
  "flag"
].join("&")
const expected = [
  "access_token=<redacted>",
  "client_secret=<redacted>",
  "client_assertion=<redacted>",
  "Refresh_Token=<redacted>",
  "access%5Ftoken=<redacted>",
  "code=<redacted>",
  "keep=1",
  "flag"
].join("&")

const assertNoCanary = (records: ReadonlyArray<FakeAuthServer.RequestRecord>) => {
  assert.notInclude(JSON.stringify(records), canary)
}

describe("the journal masks credentials wherever a client put them", () => {
  it.scopedLive("socket server, plain fetch: query, headers and form", () =>
    Effect.gen(function*() {
      const server = yield* FakeAuthServer.make()
      yield* Effect.promise(async () => {
        await (await fetch(`${server.resourceUrl}/x?${query}`, {
          headers: { cookie: `session=${canary}`, "proxy-authorization": `Basic ${canary}`, "x-api-key": canary }
        })).text()
        await (await fetch(`${server.tokenUrl}?${query}`, {
          method: "POST",
          headers: { "content-type": "application/x-www-form-urlencoded" },
          body: `grant_type=client_credentials&client_id=test-client&client_secret=${canary}&refresh_token=${canary}`
        })).text()
        await (await fetch(`${server.issuer}/nowhere?${query}`)).text()
      })
      const records = yield* server.requests
      assert.deepStrictEqual(records.map((r) => r.path), [
        `/resource/x?${expected}`,
        `/token?${expected}`,
        `/nowhere?${expected}`
      ])
      assert.strictEqual(records[0]!.headers["proxy-authorization"], "Basic <redacted>")
      assert.strictEqual(records[0]!.headers.cookie, "<redacted>")
      assert.strictEqual((records[1]!.form as Record<string, string>).refresh_token, "<redacted>")
      assert.strictEqual((records[1]!.form as Record<string, string>).client_id, "test-client")
      assertNoCanary(records)
    }))

  it.scopedLive("raw requests: bracketed, any-case, ';'-separated names in query and form; every credential header", () =>
    Effect.gen(function*() {
      const server = yield* FakeAuthServer.make()
      const { host } = new URL(server.tokenUrl)
      const pairs = (prefix: string) => spellings.map((name, i) => `${name}=${canary}-${prefix}${i}`)
      // The query: '&' and ';' separated, and a ';' right after '?'.
      const target = `/resource/x?keep=1;${pairs("q").slice(0, 7).join("&")};${pairs("q").slice(7).join(";")}&flag`
      const headers = [
        `x-access-token: ${canary}-h1`,
        `X-Auth-Token: ${canary}-h2`,
        `authentication: Bearer ${canary}-h3`,
        `cookie: session=${canary}-h4`,
        `dpop: eyJhbGciOiJFUzI1NiJ9.${canary}-h5.x`,
        `x-api-key: ${canary}-h6`,
        `authorization: Basic\t${canary}-h7`,
        `proxy-authorization: Bearer ${canary}-h8`
      ]
      yield* rawRequest(
        server.tokenUrl,
        `GET ${target} HTTP/1.1\r\nhost: ${host}\r\n${headers.join("\r\n")}\r\nconnection: close\r\n\r\n`
      )
      const form = `grant_type=client_credentials&client_id=test-client&${pairs("f").slice(0, 7).join("&")}&keep=1;${
        pairs("f").slice(7).join(";")
      }`
      yield* rawRequest(
        server.tokenUrl,
        `POST /token?${pairs("t").join("&")} HTTP/1.1\r\nhost: ${host}\r\n` +
          `content-type: application/x-www-form-urlencoded\r\ncontent-length: ${Buffer.byteLength(form)}\r\n` +
          `connection: close\r\n\r\n${form}`
      )
      const records = yield* server.requests
      assert.strictEqual(records.length, 2)
      assertNoCanary(records)
      // What is not a credential stays readable.
      assert.include(records[0]!.path, "keep=1")
      assert.include(records[0]!.path, "flag")
      assert.include(records[0]!.path, "access_token[]=<redacted>")
      assert.strictEqual(records[0]!.headers.authentication, "Bearer <redacted>")
      assert.strictEqual(records[0]!.headers.authorization, "Basic <redacted>")
      assert.strictEqual(records[0]!.headers["x-access-token"], "<redacted>")
      assert.strictEqual((records[1]!.form as Record<string, string>).client_id, "test-client")
      assert.strictEqual((records[1]!.form as Record<string, string>)["client_secret[]"], "<redacted>")
    }))

  it.effect("in process: the same masking", () =>
    Effect.gen(function*() {
      const server = yield* FakeAuthServer.FakeAuthServer
      const client = yield* HttpClient.HttpClient
      yield* client.execute(HttpClientRequest.get(`${server.resourceUrl}/x?${query}`))
      const records = yield* server.requests
      assert.strictEqual(records[0]!.path, `/resource/x?${expected}`)
      assertNoCanary(records)
    }).pipe(Effect.provide(FakeAuthServer.layerHttpClient())))
})
