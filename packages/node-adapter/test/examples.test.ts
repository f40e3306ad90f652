import { assert, describe, it } from "@effect/vitest"
import { FakeAuthServer } from "@oauth-cc/testkit"
import * as Effect from "effect/Effect"
import * as path from "node:path"
import { runProcess } from "./fixtures/spawn.js"

const packageDir = path.resolve(import.meta.dirname, "..")

const run = (command: string, args: ReadonlyArray<string>, env: Record<string, string> = {}) =>
  runProcess(command, args, { env, cwd: packageDir, timeoutMillis: 50_000 })

describe("examples", () => {
  it.effect("pnpm demo runs with no env vars and exits 0, narrating each step", () =>
    Effect.gen(function*() {
      const result = yield* run("npx", ["tsx", "examples/demo.ts"])
      assert.strictEqual(result.code, 0, result.stderr)
      assert.include(result.stdout, "token request 1: HTTP 429")
      assert.include(result.stdout, "<redacted>")
      assert.include(result.stdout, "1000 of 1000 answered 200")
      assert.include(result.stdout, "token requests caused: 1 ")
      assert.include(result.stdout, "the token was replaced: true")
      assert.match(result.stdout, /resource requests without a token\s+0\n/)
      const wall = /wall time\s+([\d.]+) s/.exec(result.stdout)
      assert.isNotNull(wall)
      // The demo's own time, startup excluded. It takes 5 to 7 s, 9 s with a load average of 10 on two cores
      // (it needs 10 s in all with startup); the bound leaves room for a busy CI machine and still catches a
      // hang or a real wait that should not be there.
      assert.isBelow(Number(wall![1]), 20)
    }), { timeout: 60_000 })

  it.scoped(
    "examples/users.ts: settings from env, GET /users with the bearer token, JSON printed",
    () =>
      Effect.gen(function*() {
        const server = yield* FakeAuthServer.make()
        const result = yield* run(process.execPath, ["--import", "tsx", "examples/users.ts"], {
          OAUTH_TOKEN_URL: server.tokenUrl,
          OAUTH_CLIENT_ID: FakeAuthServer.defaultClient.id,
          OAUTH_CLIENT_SECRET: FakeAuthServer.defaultClient.secret,
          API_BASE_URL: server.resourceUrl
        })
        assert.strictEqual(result.code, 0, result.stderr)
        assert.deepInclude(JSON.parse(result.stdout), { method: "GET", path: "/resource/users" })
        assert.strictEqual(yield* server.tokenRequestCount, 1)
      }),
    { timeout: 60_000 }
  )

  it.scoped(
    "examples/runtime.ts: three calls through one ManagedRuntime share one token",
    () =>
      Effect.gen(function*() {
        const server = yield* FakeAuthServer.make()
        const result = yield* run(process.execPath, ["--import", "tsx", "examples/runtime.ts"], {
          OAUTH_TOKEN_URL: server.tokenUrl,
          OAUTH_CLIENT_ID: FakeAuthServer.defaultClient.id,
          OAUTH_CLIENT_SECRET: FakeAuthServer.defaultClient.secret,
          API_BASE_URL: server.resourceUrl
        })
        assert.strictEqual(result.code, 0, result.stderr)
        assert.deepStrictEqual(
          result.stdout.trim().split("\n").map((line) => JSON.parse(line).path),
          ["/resource/users/1", "/resource/users/2", "/resource/users/3"]
        )
        assert.strictEqual(yield* server.tokenRequestCount, 1)
      }),
    { timeout: 60_000 }
  )
})
