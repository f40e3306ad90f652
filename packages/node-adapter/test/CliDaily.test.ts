/**
 * The CLI for daily use: help without ANSI styles off a terminal or with NO_COLOR, `--timeout` bounding the
 * whole command, and one exit code per meaning (discovery failed 8, resource without an answer 10).
 */
import { assert, describe, it } from "@effect/vitest"
import * as Effect from "effect/Effect"
import type * as Scope from "effect/Scope"
import * as http from "node:http"
import type { AddressInfo } from "node:net"
import * as path from "node:path"
import { runCliInProcess } from "./fixtures/cliInProcess.js"
import { runProcess } from "./fixtures/spawn.js"

const bin = path.resolve(import.meta.dirname, "../bin/oauth-cc.mjs")
const esc = "\x1b["

/** A loopback server: `hang` never answers, anything else answers the handler's status with an empty JSON. */
const server = (
  handle: (req: http.IncomingMessage, res: http.ServerResponse) => void
): Effect.Effect<string, never, Scope.Scope> =>
  Effect.map(
    Effect.acquireRelease(
      Effect.async<http.Server>((resume) => {
        const s = http.createServer(handle)
        s.listen(0, "127.0.0.1", () => resume(Effect.succeed(s)))
      }),
      (s) =>
        Effect.async<void>((resume) => {
          s.closeAllConnections()
          s.close(() => resume(Effect.void))
        })
    ),
    (s) => `http://127.0.0.1:${(s.address() as AddressInfo).port}`
  )

const withTty = <A, E, R>(effect: Effect.Effect<A, E, R>) =>
  Effect.acquireUseRelease(
    Effect.sync(() => {
      const saved = process.stdout.isTTY
      process.stdout.isTTY = true
      return saved
    }),
    () => effect,
    (saved) => Effect.sync(() => (process.stdout.isTTY = saved))
  )

const env = { OAUTH_CLIENT_ID: "c", OAUTH_CLIENT_SECRET: "daily-secret" }

describe("oauth-cc for daily use", { timeout: 120_000 }, () => {
  it.live("--help has no ANSI escapes off a terminal, or on one with NO_COLOR", () =>
    Effect.gen(function*() {
      for (const args of [["--help"], ["token", "--help"], ["request", "--help"]]) {
        const piped = yield* runCliInProcess(args, {})
        assert.strictEqual(piped.code, 0)
        assert.include(piped.stdout, "USAGE")
        assert.notInclude(piped.stdout, esc, args.join(" "))
        const noColor = yield* withTty(runCliInProcess(args, { NO_COLOR: "1" }))
        assert.notInclude(noColor.stdout, esc)
      }
      // On a terminal without NO_COLOR, the styles are kept.
      const tty = yield* withTty(runCliInProcess(["--help"], {}))
      assert.include(tty.stdout, esc)
      // And the real binary through a pipe.
      const spawned = yield* runProcess(process.execPath, [bin, "--help"], { timeoutMillis: 60_000 })
      assert.strictEqual(spawned.code, 0, spawned.stderr)
      assert.include(spawned.stdout, "USAGE")
      assert.notInclude(spawned.stdout, esc)
    }))

  it.scopedLive("--timeout bounds the whole command: a hanging endpoint, an unreachable one; exit 124", () =>
    Effect.gen(function*() {
      const hanging = yield* server(() => {})
      // Without --timeout the first attempt alone waits 10 s (the default request timeout).
      let start = Date.now()
      const hung = yield* runCliInProcess(["token", "--timeout", "500ms", "--token-url", `${hanging}/token`], env)
      let elapsed = Date.now() - start
      assert.strictEqual(hung.code, 124, hung.stderr)
      assert.strictEqual(hung.stderr, "oauth-cc: timed out after 500 ms (--timeout)\n")
      assert.isAtLeast(elapsed, 500)
      assert.isBelow(elapsed, 10_000)
      // A 503 with retries: 5 attempts over about 3 s without --timeout; 1 s with it.
      const failing = yield* server((_, res) => res.writeHead(503).end())
      start = Date.now()
      const retried = yield* runCliInProcess(["token", "--timeout", "1", "--token-url", `${failing}/token`], env)
      elapsed = Date.now() - start
      assert.strictEqual(retried.code, 124, retried.stderr)
      assert.isBelow(elapsed, 2900)
      const request = yield* runCliInProcess(
        ["request", "--timeout", "300ms", "--token-url", `${hanging}/token`, `${hanging}/x`],
        env
      )
      assert.strictEqual(request.code, 124, request.stderr)
      for (const bad of ["abc", "0", "-1", "5h", "1e3"]) {
        const run = yield* runCliInProcess(["token", "--timeout", bad, "--token-url", `${hanging}/token`], env)
        assert.strictEqual(run.code, 2, `${bad}: ${run.stderr}`)
        assert.include(run.stderr, "--timeout takes a duration")
      }
    }))

  it.scopedLive("one exit code per meaning: discovery failed 8, a resource without an answer 10", () =>
    Effect.gen(function*() {
      const notFound = yield* server((_, res) => res.writeHead(404).end())
      const discovery = yield* runCliInProcess(["token", "--issuer", notFound], env)
      assert.strictEqual(discovery.code, 8, discovery.stderr)
      const tokens = yield* server((_, res) =>
        res.writeHead(200, { "content-type": "application/json" }).end(
          JSON.stringify({ access_token: "daily-token", token_type: "Bearer", expires_in: 300 })
        )
      )
      const closed = yield* Effect.scoped(server(() => {}))
      const unreachable = yield* runCliInProcess(["request", "--token-url", `${tokens}/token`, `${closed}/x`], env)
      assert.strictEqual(unreachable.code, 10, unreachable.stderr)
      assert.include(unreachable.stderr, "failed (Transport)")
    }))
})
