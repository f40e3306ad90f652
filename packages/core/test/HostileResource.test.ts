/**
 * A protected resource written for the attack (a `node:http` server in the test) that refuses every token:
 * it must not be able to turn requests into token requests. And `insufficient_scope` is not a token
 * problem (RFC 6750 §3.1): no invalidation, no new token, no replay.
 */
import * as FetchHttpClient from "@effect/platform/FetchHttpClient"
import * as HttpClient from "@effect/platform/HttpClient"
import { assert, describe, it } from "@effect/vitest"
import * as Effect from "effect/Effect"
import { afterAll } from "vitest"
import * as AuthorizedHttpClient from "../src/AuthorizedHttpClient.js"
import * as TokenProvider from "../src/TokenProvider.js"
import { baseOptions, httpServer, sendJson } from "./utils.js"

const figures: Array<string> = []
afterAll(() => figures.forEach((line) => console.log(line)))

const world = (challenge: string) =>
  Effect.gen(function*() {
    let tokens = 0
    const server = yield* httpServer((request, response) => {
      if (request.url === "/token") {
        tokens++
        return sendJson(
          response,
          200,
          JSON.stringify({ access_token: `tok-${tokens}`, token_type: "Bearer", expires_in: 600 })
        )
      }
      response.writeHead(401, { "www-authenticate": challenge })
      response.end("refused")
    })
    const client = yield* HttpClient.HttpClient
    const provider = yield* TokenProvider.make({ ...baseOptions, tokenUrl: `${server.url}/token` })
    const authorized = AuthorizedHttpClient.authorize(client, provider)
    const resource = () => server.requests.filter((r) => r.path !== "/token").length
    return { authorized, url: server.url, tokenRequests: () => tokens, resource }
  }).pipe(Effect.provide(FetchHttpClient.layer))

/**
 * The bound on token requests for a run of `elapsed` millis against a resource refusing every token: the
 * first token, plus one per refusal window that opened (windows of 1, 2, 4, … s back to back start at 0,
 * 1, 3, 7, … s). On an idle machine the runs below take well under a second: 2 token requests.
 */
const bound = (elapsed: number) => {
  let drops = 0
  for (let start = 0, window = 1000; start <= elapsed; start += window, window = Math.min(2 * window, 30_000)) {
    drops++
  }
  return 1 + drops
}

describe("a resource that refuses every token", () => {
  it.scopedLive("20 sequential calls: 2 token requests (the first token, one refetch), no replay after the first", () =>
    Effect.gen(function*() {
      const w = yield* world("Bearer error=\"invalid_token\"")
      const start = Date.now()
      for (let i = 0; i < 20; i++) {
        const response = yield* w.authorized.get(`${w.url}/api/${i}`)
        assert.strictEqual(response.status, 401)
      }
      const max = bound(Date.now() - start)
      figures.push(
        `20 sequential calls: ${w.tokenRequests()} token requests (bound ${max}), ${w.resource()} resource requests`
      )
      assert.isAtMost(w.tokenRequests(), max)
      assert.isAtMost(w.resource(), 20 + max - 1, "a replay per refetch only")
    }))

  it.scopedLive("50 concurrent callers, twice: at most 2 token requests", () =>
    Effect.gen(function*() {
      const w = yield* world("Bearer error=\"invalid_token\"")
      const start = Date.now()
      for (let round = 0; round < 2; round++) {
        const responses = yield* Effect.forEach(
          Array.from({ length: 50 }, (_, i) => i),
          (i) => w.authorized.get(`${w.url}/api/${round}/${i}`),
          { concurrency: "unbounded" }
        )
        assert.isTrue(responses.every((r) => r.status === 401))
      }
      const max = bound(Date.now() - start)
      figures.push(
        `2 × 50 concurrent callers: ${w.tokenRequests()} token requests (bound ${max}), ${w.resource()} resource requests`
      )
      assert.isAtMost(w.tokenRequests(), max)
    }))

  for (
    const challenge of [
      "Bearer error=\"insufficient_scope\", scope=\"admin\"",
      "Bearer realm=\"x\", error=insufficient_scope"
    ]
  ) {
    it.scopedLive(`insufficient_scope (${challenge}): no invalidation, no refetch, no replay`, () =>
      Effect.gen(function*() {
        const w = yield* world(challenge)
        for (let i = 0; i < 5; i++) assert.strictEqual((yield* w.authorized.get(`${w.url}/api/${i}`)).status, 401)
        assert.strictEqual(w.tokenRequests(), 1)
        assert.strictEqual(w.resource(), 5)
      }))
  }
})
