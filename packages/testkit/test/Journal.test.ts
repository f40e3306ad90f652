/**
 * Attack: credentials sent where a careless client puts them (the query string, percent-encoded names, a cookie,
 * Proxy-Authorization, a form field) never reach the journal; everything else stays readable.
 */
import * as HttpClient from "@effect/platform/HttpClient"
import * as HttpClientRequest from "@effect/platform/HttpClientRequest"
import { assert, describe, it } from "@effect/vitest"
import * as Effect from "effect/Effect"
import { FakeAuthServer } from "../src/index.js"

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
