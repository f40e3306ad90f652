/**
 * Two "instances" (two providers, each with its own Redis store and local tier) share one token.
 *
 *   redis-server --port 6390 --save "" &
 *   REDIS_URL=redis://127.0.0.1:6390 npx tsx examples/twoInstances.ts
 */
import * as FetchHttpClient from "@effect/platform/FetchHttpClient"
import { TokenProvider, TokenStore } from "@oauth-cc/core"
import { FakeAuthServer } from "@oauth-cc/testkit"
import { Effect, Redacted } from "effect"
import { RedisTokenStore } from "../src/index.js"

/** One instance: its own store (local tier + Redis) and provider, alive as long as the enclosing scope. */
const instance = (tokenUrl: string) =>
  Effect.gen(function*() {
    const store = yield* RedisTokenStore.make({
      url: process.env.REDIS_URL ?? "redis://127.0.0.1:6379",
      keyPrefix: "example:",
      encryptionKey: Redacted.make(process.env.TOKEN_STORE_KEY ?? "example-only-secret-change-me")
    })
    return yield* TokenProvider.make({
      tokenUrl,
      clientId: FakeAuthServer.defaultClient.id,
      clientSecret: Redacted.make(FakeAuthServer.defaultClient.secret)
    }).pipe(Effect.provideService(TokenStore.TokenStore, store), Effect.provide(FetchHttpClient.layer))
  })

const program = Effect.gen(function*() {
  const server = yield* FakeAuthServer.FakeAuthServer
  const a = yield* instance(server.tokenUrl)
  const b = yield* instance(server.tokenUrl)
  const ta = yield* a.get
  const tb = yield* b.get
  const same = Redacted.value(ta.value) === Redacted.value(tb.value)
  yield* Effect.log(`same token: ${same}; token requests: ${yield* FakeAuthServer.tokenRequestCount}`)
})

Effect.runPromise(program.pipe(Effect.scoped, Effect.provide(FakeAuthServer.layer())))
