import { assert, describe, it } from "@effect/vitest"
import * as Effect from "effect/Effect"
import * as Fs from "node:fs"
import * as Os from "node:os"
import * as Path from "node:path"
import { runCliInProcess } from "./fixtures/cliInProcess.js"
import { startServer, tokenReply } from "./fixtures/server.js"

const tempDir = Effect.acquireRelease(
  Effect.sync(() => Fs.mkdtempSync(Path.join(Os.tmpdir(), "oauth-cc-cli-assertion-"))),
  (dir) => Effect.sync(() => Fs.rmSync(dir, { recursive: true, force: true }))
)

// a projected service account token's shape: three base64url parts (not verified by the client)
const jwt = "eyJhbGciOiJSUzI1NiJ9.eyJzdWIiOiJzeXN0ZW06c2VydmljZWFjY291bnQ6ZGVmYXVsdDphcHAifQ.c2lnbmF0dXJlLXBhcnQ"
const assertionType = "urn:ietf:params:oauth:client-assertion-type:jwt-bearer"

describe("oauth-cc with OAUTH_CLIENT_ASSERTION_FILE", () => {
  it.scopedLive("token sends the file's JWT as client_assertion, with no secret", () =>
    Effect.gen(function*() {
      const dir = yield* tempDir
      const file = Path.join(dir, "token")
      Fs.writeFileSync(file, `${jwt}\n`)
      // the server echoes the assertion: the CLI must not print it
      const server = yield* startServer({
        handle: () => ({ status: 401, body: { error: "invalid_client", error_description: `bad ${jwt}` } })
      })
      const ok = yield* startServer({ handle: () => tokenReply("cli-token") })
      const env = {
        OAUTH_TOKEN_URL: `${ok.url}/token`,
        OAUTH_CLIENT_ID: "wi-client",
        OAUTH_CLIENT_ASSERTION_FILE: file
      }
      const run = yield* runCliInProcess(["token"], env)
      assert.strictEqual(run.code, 0, run.stderr)
      assert.strictEqual(run.stdout, "cli-token\n")
      assert.strictEqual(ok.seen.length, 1)
      const seen = ok.seen[0]!
      const form = new URLSearchParams(seen.body)
      assert.strictEqual(form.get("client_assertion"), jwt)
      assert.strictEqual(form.get("client_assertion_type"), assertionType)
      assert.strictEqual(form.get("client_id"), "wi-client")
      assert.isFalse(form.has("client_secret"))
      assert.isUndefined(seen.headers.authorization)

      const rejected = yield* runCliInProcess(["token", "-v"], { ...env, OAUTH_TOKEN_URL: `${server.url}/token` })
      assert.strictEqual(rejected.code, 3, rejected.stderr)
      assert.notInclude(rejected.stderr + rejected.stdout, jwt)

      // a resource that echoes the assertion, raw and base64: the body printed on stdout is masked too
      const echo = yield* startServer({
        handle: (seen) =>
          seen.path === "/token"
            ? tokenReply("cli-token")
            : { body: `raw ${jwt} b64 ${Buffer.from(jwt).toString("base64")}` }
      })
      const request = yield* runCliInProcess(["request", `${echo.url}/resource`], {
        ...env,
        OAUTH_TOKEN_URL: `${echo.url}/token`
      })
      assert.strictEqual(request.code, 0, request.stderr)
      assert.include(request.stdout, "raw ")
      assert.notInclude(request.stdout, jwt)
      assert.notInclude(request.stdout, Buffer.from(jwt).toString("base64"))
    }))

  it.scopedLive("refuses a key with it (exit 2); a missing or empty file exits 2 with nothing sent", () =>
    Effect.gen(function*() {
      const dir = yield* tempDir
      const file = Path.join(dir, "token")
      Fs.writeFileSync(file, jwt)
      const key = Path.join(dir, "key.pem")
      Fs.writeFileSync(key, "not a key")
      const server = yield* startServer({ handle: () => tokenReply("cli-token") })
      const env = {
        OAUTH_TOKEN_URL: `${server.url}/token`,
        OAUTH_CLIENT_ID: "wi-client",
        OAUTH_CLIENT_ASSERTION_FILE: file
      }
      const conflict = "set one of OAUTH_CLIENT_ASSERTION_FILE and OAUTH_CLIENT_ASSERTION_KEY"

      const withEnvKey = yield* runCliInProcess(["token"], { ...env, OAUTH_CLIENT_ASSERTION_KEY: "a-key" })
      assert.strictEqual(withEnvKey.code, 2, withEnvKey.stderr)
      assert.include(withEnvKey.stderr, conflict)
      assert.strictEqual(withEnvKey.stderr.trim().split("\n").length, 1)

      const withFlag = yield* runCliInProcess(["token", "--client-assertion-key-file", key], env)
      assert.strictEqual(withFlag.code, 2, withFlag.stderr)
      assert.include(withFlag.stderr, conflict)

      const missing = yield* runCliInProcess(["token"], { ...env, OAUTH_CLIENT_ASSERTION_FILE: Path.join(dir, "no") })
      assert.strictEqual(missing.code, 2, missing.stderr)
      assert.include(missing.stderr, "OAUTH_CLIENT_ASSERTION_FILE")

      const empty = Path.join(dir, "empty")
      Fs.writeFileSync(empty, "\n")
      const emptyRun = yield* runCliInProcess(["token"], { ...env, OAUTH_CLIENT_ASSERTION_FILE: empty })
      assert.strictEqual(emptyRun.code, 2, emptyRun.stderr)
      assert.include(emptyRun.stderr, "the client assertion file is empty")
      assert.strictEqual(server.seen.length, 0)
    }))

  it.scopedLive("doctor says private_key_jwt from the assertion file", () =>
    Effect.gen(function*() {
      const dir = yield* tempDir
      const file = Path.join(dir, "token")
      Fs.writeFileSync(file, jwt)
      const server = yield* startServer({ handle: () => tokenReply("cli-token") })
      const run = yield* runCliInProcess(["doctor"], {
        OAUTH_TOKEN_URL: `${server.url}/token`,
        OAUTH_CLIENT_ID: "wi-client",
        OAUTH_CLIENT_ASSERTION_FILE: file
      })
      assert.include(run.stdout, "assertion set (from OAUTH_CLIENT_ASSERTION_FILE, not shown)")
      assert.include(run.stdout, "private_key_jwt (a pre-made assertion from OAUTH_CLIENT_ASSERTION_FILE)")
      assert.include(run.stdout, "no secret")
      assert.notInclude(run.stdout + run.stderr, jwt)
    }))
})
