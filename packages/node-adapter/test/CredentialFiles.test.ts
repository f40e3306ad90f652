import { assert, describe, it } from "@effect/vitest"
import { TokenProvider } from "@oauth-cc/core"
import * as ConfigProvider from "effect/ConfigProvider"
import * as Effect from "effect/Effect"
import * as Redacted from "effect/Redacted"
import * as Fs from "node:fs"
import * as Os from "node:os"
import * as Path from "node:path"
import * as NodeTokenProvider from "../src/NodeTokenProvider.js"
import { type Seen, startServer, tokenReply } from "./fixtures/server.js"

const withEnv = (env: Record<string, string>) =>
  Effect.withConfigProvider(ConfigProvider.fromMap(new Map(Object.entries(env)), { pathDelim: "_" }))

/** A temporary directory, removed with the scope. */
const tempDir = Effect.acquireRelease(
  Effect.sync(() => Fs.mkdtempSync(Path.join(Os.tmpdir(), "oauth-cc-credfile-"))),
  (dir) => Effect.sync(() => Fs.rmSync(dir, { recursive: true, force: true }))
)

const basic = (id: string, secret: string) => `Basic ${Buffer.from(`${id}:${secret}`).toString("base64")}`

/** Grants a token only for `secret` (Basic), else invalid_client. */
const requireSecret = (secret: () => string) => (seen: Seen) =>
  seen.headers.authorization === basic("file-client", secret())
    ? tokenReply(`token-${seen.headers.authorization.length}`)
    : { status: 401, body: { error: "invalid_client" } }

describe("credential files through NodeTokenProvider.layerConfig()", () => {
  it.scoped("OAUTH_CLIENT_SECRET_FILE is read on every fetch: a rotated file is used without a new layer", () =>
    Effect.gen(function*() {
      const dir = yield* tempDir
      const file = Path.join(dir, "secret")
      Fs.writeFileSync(file, "first-secret\n")
      const server = yield* startServer({ handle: () => tokenReply("t") })
      yield* Effect.gen(function*() {
        yield* TokenProvider.get
        Fs.writeFileSync(file, "second-secret\n")
        yield* Effect.flatMap(TokenProvider.TokenProvider, (provider) => provider.refresh)
      }).pipe(
        Effect.provide(NodeTokenProvider.layerConfig()),
        withEnv({
          OAUTH_TOKEN_URL: `${server.url}/token`,
          OAUTH_CLIENT_ID: "file-client",
          OAUTH_CLIENT_SECRET_FILE: file
        })
      )
      assert.deepStrictEqual(server.seen.map((seen) => seen.headers.authorization), [
        basic("file-client", "first-secret"),
        basic("file-client", "second-secret")
      ])
    }))

  it.scoped("after invalid_client the file is read again: rotated meanwhile, the fetch succeeds with one more request", () =>
    Effect.gen(function*() {
      const dir = yield* tempDir
      const file = Path.join(dir, "secret")
      Fs.writeFileSync(file, "old-secret\n")
      let current = "new-secret"
      const server = yield* startServer({
        handle: (seen) => {
          // the secret is rotated at the server and on disk while the first request is in flight
          Fs.writeFileSync(file, "new-secret\n")
          return requireSecret(() => current)(seen)
        }
      })
      const token = yield* TokenProvider.get.pipe(
        Effect.provide(NodeTokenProvider.layerConfig()),
        withEnv({
          OAUTH_TOKEN_URL: `${server.url}/token`,
          OAUTH_CLIENT_ID: "file-client",
          OAUTH_CLIENT_SECRET_FILE: file
        })
      )
      assert.isTrue(Redacted.value(token.value).startsWith("token-"))
      assert.strictEqual(server.seen.length, 2)
      assert.strictEqual(server.seen[1]!.headers.authorization, basic("file-client", "new-secret"))
      // an unchanged file: the invalid_client is reported after one request
      current = "other"
      const error = yield* TokenProvider.get.pipe(
        Effect.provide(NodeTokenProvider.layerConfig()),
        withEnv({
          OAUTH_TOKEN_URL: `${server.url}/token`,
          OAUTH_CLIENT_ID: "file-client",
          OAUTH_CLIENT_SECRET_FILE: file
        }),
        Effect.flip
      )
      assert.strictEqual(error._tag, "TokenRequestRejected")
      assert.strictEqual(server.seen.length, 3)
    }))

  it.scoped("a missing secret file is a TokenCredentialUnavailable naming the path; nothing is sent", () =>
    Effect.gen(function*() {
      const dir = yield* tempDir
      const server = yield* startServer({ handle: () => tokenReply("t") })
      const error = yield* TokenProvider.get.pipe(
        Effect.provide(NodeTokenProvider.layerConfig()),
        withEnv({
          OAUTH_TOKEN_URL: `${server.url}/token`,
          OAUTH_CLIENT_ID: "file-client",
          OAUTH_CLIENT_SECRET_FILE: Path.join(dir, "absent")
        }),
        Effect.flip
      )
      assert.strictEqual(error._tag, "TokenCredentialUnavailable")
      assert.include(error.message, "absent: ENOENT")
      assert.strictEqual(server.seen.length, 0)
    }))

  it.scoped("OAUTH_CLIENT_SECRET with OAUTH_CLIENT_SECRET_FILE is a ConfigError", () =>
    Effect.gen(function*() {
      const error = yield* TokenProvider.get.pipe(
        Effect.provide(NodeTokenProvider.layerConfig()),
        withEnv({
          OAUTH_TOKEN_URL: "https://auth.example.test/token",
          OAUTH_CLIENT_ID: "file-client",
          OAUTH_CLIENT_SECRET: "s3cr3t-CANARY",
          OAUTH_CLIENT_SECRET_FILE: "/run/secrets/x"
        }),
        Effect.flip
      )
      assert.include(String(error), "set one of OAUTH_CLIENT_SECRET and OAUTH_CLIENT_SECRET_FILE")
      assert.notInclude(String(error), "s3cr3t-CANARY")
    }))

  it.scoped("OAUTH_CLIENT_ASSERTION_FILE: the JWT is sent as client_assertion (jwt-bearer), no secret, re-read per fetch", () =>
    Effect.gen(function*() {
      const dir = yield* tempDir
      const file = Path.join(dir, "token")
      Fs.writeFileSync(file, "eyJhbGciOiJSUzI1NiJ9.one.sig")
      const server = yield* startServer({ handle: () => tokenReply("t") })
      yield* Effect.gen(function*() {
        yield* TokenProvider.get
        Fs.writeFileSync(file, "eyJhbGciOiJSUzI1NiJ9.two.sig\n")
        yield* Effect.flatMap(TokenProvider.TokenProvider, (provider) => provider.refresh)
      }).pipe(
        Effect.provide(NodeTokenProvider.layerConfig()),
        withEnv({
          OAUTH_TOKEN_URL: `${server.url}/token`,
          OAUTH_CLIENT_ID: "wi-client",
          OAUTH_CLIENT_ASSERTION_FILE: file
        })
      )
      const forms = server.seen.map((seen) => Object.fromEntries(new URLSearchParams(seen.body)))
      const assertionType = "urn:ietf:params:oauth:client-assertion-type:jwt-bearer"
      assert.deepStrictEqual(forms, [
        {
          grant_type: "client_credentials",
          client_id: "wi-client",
          client_assertion_type: assertionType,
          client_assertion: "eyJhbGciOiJSUzI1NiJ9.one.sig"
        },
        {
          grant_type: "client_credentials",
          client_id: "wi-client",
          client_assertion_type: assertionType,
          client_assertion: "eyJhbGciOiJSUzI1NiJ9.two.sig"
        }
      ])
      for (const seen of server.seen) assert.isUndefined(seen.headers.authorization)
    }))
})
