/**
 * The opt-in token cache of `oauth-cc`: one token request for many commands while the token is valid, keyed
 * like `getFor` (another scope or client is another entry), expiry and skew honoured, files 0600 in a 0700
 * directory holding neither the token nor the secret in clear, and a tampered or foreign file ignored; a planted
 * FIFO, symlink or huge file is never read (nor blocks), and a symlinked directory is neither used nor chmod-ed.
 */
import { assert, describe, it } from "@effect/vitest"
import * as Effect from "effect/Effect"
import * as childProcess from "node:child_process"
import { closeSync, constants as fsConstants, openSync as openSyncFs } from "node:fs"
import * as fs from "node:fs/promises"
import * as http from "node:http"
import type { AddressInfo } from "node:net"
import * as os from "node:os"
import * as path from "node:path"
import { runCliInProcess } from "./fixtures/cliInProcess.js"

const secret = "cache-client-secret-77"
const cacheKey = "correct horse battery staple"

const setup = (expiresIn: number) =>
  Effect.gen(function*() {
    const issued: Array<string> = []
    const server = yield* Effect.acquireRelease(
      Effect.async<http.Server>((resume) => {
        const s = http.createServer((req, res) => {
          req.resume()
          req.on("end", () => {
            const token = `cached-token-${issued.length + 1}-${Math.random().toString(36).slice(2)}`
            issued.push(token)
            res.writeHead(200, { "content-type": "application/json" }).end(
              JSON.stringify({ access_token: token, token_type: "Bearer", expires_in: expiresIn })
            )
          })
        })
        s.listen(0, "127.0.0.1", () => resume(Effect.succeed(s)))
      }),
      (s) =>
        Effect.async<void>((resume) => {
          s.closeAllConnections()
          s.close(() => resume(Effect.void))
        })
    )
    const dir = yield* Effect.acquireRelease(
      Effect.promise(() => fs.mkdtemp(path.join(os.tmpdir(), "oauth-cc-cache-"))),
      (dir) => Effect.promise(() => fs.rm(dir, { recursive: true, force: true }))
    )
    const cacheDir = path.join(dir, "cache")
    const env = {
      OAUTH_TOKEN_URL: `http://127.0.0.1:${(server.address() as AddressInfo).port}/token`,
      OAUTH_CLIENT_ID: "cache-client",
      OAUTH_CLIENT_SECRET: secret,
      OAUTH_CC_CACHE_DIR: cacheDir
    }
    const token = (args: ReadonlyArray<string>, extra: Record<string, string> = {}) =>
      Effect.map(runCliInProcess(["token", ...args], { ...env, ...extra }), (run) => {
        assert.strictEqual(run.code, 0, run.stderr)
        return run.stdout.trim()
      })
    const files = Effect.promise(() => fs.readdir(cacheDir).catch(() => [] as Array<string>))
    return { issued, token, files, cacheDir, env }
  })

describe("oauth-cc token cache", { timeout: 60_000 }, () => {
  it.scopedLive("one token request for many commands; keyed like getFor; 0600 files without the token in clear", () =>
    Effect.gen(function*() {
      const { cacheDir, files, issued, token } = yield* setup(300)
      const withKey = { OAUTH_CC_CACHE_KEY: cacheKey }
      const first = yield* token(["--cache"], withKey)
      const second = yield* token([], withKey) // the env key alone turns it on
      const third = yield* token(["--cache", "--json"], withKey)
      assert.deepStrictEqual(issued, [first])
      assert.strictEqual(second, first)
      assert.strictEqual(JSON.parse(third).access_token, first)
      // Another scope, another client: other keys.
      const scoped = yield* token(["--cache", "--scope", "orders:read"], withKey)
      const other = yield* token(["--cache", "--client-id", "other-client"], withKey)
      assert.strictEqual(issued.length, 3)
      assert.deepStrictEqual([scoped, other], issued.slice(1))
      assert.strictEqual(yield* token(["--cache", "--scope", "orders:read"], withKey), scoped)
      assert.strictEqual(issued.length, 3)
      // Files: 0600 in a 0700 directory; neither token nor secret nor key in clear, nor the cache key.
      const names = yield* files
      assert.strictEqual(names.length, 3)
      assert.strictEqual((yield* Effect.promise(() => fs.stat(cacheDir))).mode & 0o777, 0o700)
      for (const name of names) {
        const file = path.join(cacheDir, name)
        assert.strictEqual((yield* Effect.promise(() => fs.stat(file))).mode & 0o777, 0o600)
        const text = yield* Effect.promise(() => fs.readFile(file, "utf8"))
        for (const clear of [...issued, secret, cacheKey, "cache-client", "orders:read"]) assert.notInclude(text, clear)
      }
      // Without the key and without --cache: no cache, a request per command.
      const uncached = yield* token([])
      assert.notStrictEqual(uncached, first)
      assert.strictEqual(issued.length, 4)
    }))

  it.scopedLive("a tampered file, or one sealed under another key, is ignored: the token is fetched again", () =>
    Effect.gen(function*() {
      const { cacheDir, files, issued, token } = yield* setup(300)
      const withKey = { OAUTH_CC_CACHE_KEY: cacheKey }
      const first = yield* token(["--cache"], withKey)
      const [name] = yield* files
      const file = path.join(cacheDir, name!)
      const envelope = JSON.parse(yield* Effect.promise(() => fs.readFile(file, "utf8")))
      const data = Buffer.from(envelope.data, "base64")
      data[0] = data[0]! ^ 1
      yield* Effect.promise(() =>
        fs.writeFile(file, JSON.stringify({ ...envelope, data: data.toString("base64") }), { mode: 0o600 })
      )
      const afterTamper = yield* token(["--cache"], withKey)
      assert.strictEqual(issued.length, 2)
      assert.strictEqual(afterTamper, issued[1])
      assert.notStrictEqual(afterTamper, first)
      // The replaced file works again.
      assert.strictEqual(yield* token(["--cache"], withKey), afterTamper)
      // Garbage in the file: ignored too.
      yield* Effect.promise(() => fs.writeFile(file, "{not json", { mode: 0o600 }))
      yield* token(["--cache"], withKey)
      assert.strictEqual(issued.length, 3)
      // Another key: another file name, and nothing of the first key's readable.
      yield* token(["--cache"], { OAUTH_CC_CACHE_KEY: "another key" })
      assert.strictEqual(issued.length, 4)
    }))

  it.scopedLive("expiry and skew: a token is reused until expiresAt - skew (capped at half its life), then refetched", () =>
    Effect.gen(function*() {
      // expires_in 4 s: the 60 s default skew is capped at half the life, so it is served for 2 s.
      const { issued, token } = yield* setup(4)
      const withKey = { OAUTH_CC_CACHE_KEY: cacheKey }
      const start = Date.now()
      const first = yield* token(["--cache"], withKey)
      const again = yield* token(["--cache"], withKey)
      if (Date.now() - start < 1_900) assert.strictEqual(again, first) // measured: still inside the 2 s
      yield* Effect.sleep(Math.max(0, start + 2_300 - Date.now()))
      const later = yield* token(["--cache"], withKey)
      assert.notStrictEqual(later, first)
      assert.strictEqual(later, issued.at(-1))
    }))

  it.scopedLive("--cache without OAUTH_CC_CACHE_KEY is a usage error", () =>
    Effect.gen(function*() {
      const { env, issued } = yield* setup(300)
      const run = yield* runCliInProcess(["token", "--cache"], env)
      assert.strictEqual(run.code, 2)
      assert.include(run.stderr, "OAUTH_CC_CACHE_KEY")
      assert.deepStrictEqual(issued, [])
    }))

  it.scopedLive("a FIFO, a symlink to /dev/zero or a 10 MB file in place of the cache file: ignored at once", () =>
    Effect.gen(function*() {
      const { cacheDir, env, files, issued, token } = yield* setup(300)
      const withKey = { OAUTH_CC_CACHE_KEY: cacheKey }
      yield* token(["--cache"], withKey)
      const [name] = yield* files
      const file = path.join(cacheDir, name!)
      const plants: ReadonlyArray<readonly [string, () => void]> = [
        ["a FIFO", () => childProcess.execFileSync("mkfifo", [file])],
        ["a symlink to /dev/zero", () => childProcess.execFileSync("ln", ["-s", "/dev/zero", file])],
        ["a 10 MB file", () => childProcess.execFileSync("truncate", ["-s", "10M", file])]
      ]
      for (const [what, plant] of plants) {
        yield* Effect.promise(() => fs.rm(file, { force: true }))
        plant()
        const before = issued.length
        const start = Date.now()
        // disconnected: a read that blocks would not let the timeout end the test; the finalizer unblocks it
        const run = yield* runCliInProcess(["token", "--cache", "--timeout", "3"], { ...env, ...withKey }).pipe(
          Effect.disconnect,
          Effect.timeout("6 seconds"),
          Effect.option,
          Effect.ensuring(Effect.sync(() => {
            try {
              closeSync(openSyncFs(file, fsConstants.O_WRONLY | fsConstants.O_NONBLOCK))
            } catch {
              // not a FIFO any more, or no reader: nothing to unblock
            }
          }))
        )
        assert.isTrue(run._tag === "Some", `${what}: the command did not end`)
        assert.strictEqual(run._tag === "Some" ? run.value.code : -1, 0, what)
        assert.isBelow(Date.now() - start, 3_000, what)
        assert.strictEqual(issued.length, before + 1, `${what}: counted as absent, the token fetched again`)
        // and replaced by a sealed file that works
        assert.isTrue((yield* Effect.promise(() => fs.lstat(file))).isFile(), what)
        assert.strictEqual(yield* token(["--cache"], withKey), issued.at(-1))
      }
    }))

  it.scopedLive("a cache directory that is a symlink is neither used nor chmod-ed; -v says why", () =>
    Effect.gen(function*() {
      const { cacheDir, env, issued, token } = yield* setup(300)
      const target = `${cacheDir}-target`
      yield* Effect.promise(async () => {
        await fs.mkdir(target, { mode: 0o755 })
        await fs.chmod(target, 0o755)
        await fs.symlink(target, cacheDir)
      })
      const withKey = { OAUTH_CC_CACHE_KEY: cacheKey }
      yield* token(["--cache"], withKey)
      yield* token(["--cache"], withKey)
      assert.strictEqual(issued.length, 2, "no cache through the symlink")
      assert.strictEqual((yield* Effect.promise(() => fs.stat(target))).mode & 0o777, 0o755)
      assert.deepStrictEqual(yield* Effect.promise(() => fs.readdir(target)), [])
      const verbose = yield* runCliInProcess(["token", "--cache", "-v"], { ...env, ...withKey })
      assert.strictEqual(verbose.code, 0)
      assert.include(verbose.stderr, "token cache skipped")
      assert.include(verbose.stderr, "symlink", verbose.stderr)
      const quiet = yield* runCliInProcess(["token", "--cache"], { ...env, ...withKey })
      assert.strictEqual(quiet.stderr, "")
    }))
})
