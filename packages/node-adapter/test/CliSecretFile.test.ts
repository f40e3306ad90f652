import { assert, describe, it } from "@effect/vitest"
import * as Effect from "effect/Effect"
import * as Fs from "node:fs"
import * as Os from "node:os"
import * as Path from "node:path"
import { runCliInProcess } from "./fixtures/cliInProcess.js"
import { startServer, tokenReply } from "./fixtures/server.js"

const tempDir = Effect.acquireRelease(
  Effect.sync(() => Fs.mkdtempSync(Path.join(Os.tmpdir(), "oauth-cc-cli-secret-"))),
  (dir) => Effect.sync(() => Fs.rmSync(dir, { recursive: true, force: true }))
)

describe("oauth-cc with OAUTH_CLIENT_SECRET_FILE", () => {
  it.scopedLive("token reads the secret from the file (one trailing newline dropped)", () =>
    Effect.gen(function*() {
      const dir = yield* tempDir
      const file = Path.join(dir, "secret")
      Fs.writeFileSync(file, "file-s3cret\n")
      const server = yield* startServer({ handle: () => tokenReply("cli-token") })
      const env = { OAUTH_TOKEN_URL: `${server.url}/token`, OAUTH_CLIENT_ID: "cli-client" }
      const run = yield* runCliInProcess(["token"], { ...env, OAUTH_CLIENT_SECRET_FILE: file })
      assert.strictEqual(run.code, 0, run.stderr)
      assert.strictEqual(run.stdout, "cli-token\n")
      assert.strictEqual(
        server.seen[0]!.headers.authorization,
        `Basic ${Buffer.from("cli-client:file-s3cret").toString("base64")}`
      )

      const both = yield* runCliInProcess(["token"], {
        ...env,
        OAUTH_CLIENT_SECRET: "env-s3cret",
        OAUTH_CLIENT_SECRET_FILE: file
      })
      assert.strictEqual(both.code, 2, both.stderr)
      assert.include(both.stderr, "set one of OAUTH_CLIENT_SECRET and OAUTH_CLIENT_SECRET_FILE")

      const missing = yield* runCliInProcess(["token"], { ...env, OAUTH_CLIENT_SECRET_FILE: Path.join(dir, "absent") })
      assert.strictEqual(missing.code, 2, missing.stderr)
      assert.include(missing.stderr, "OAUTH_CLIENT_SECRET_FILE")
      assert.strictEqual(server.seen.length, 1)
    }))
})
