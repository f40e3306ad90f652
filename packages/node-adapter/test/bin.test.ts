import { assert, describe, it } from "@effect/vitest"
import { FakeAuthServer, FakeResponse } from "@oauth-cc/testkit"
import * as Effect from "effect/Effect"
import * as Redacted from "effect/Redacted"
import { generateKeyPairSync } from "node:crypto"
import * as fs from "node:fs/promises"
import * as os from "node:os"
import * as path from "node:path"
import { makePki } from "./fixtures/pki.js"
import { startServer, tokenReply } from "./fixtures/server.js"
import { type Run, runProcess } from "./fixtures/spawn.js"

const bin = path.resolve(import.meta.dirname, "../bin/oauth-cc.mjs")
const canary = "s3cr3t-CANARY-cli-7f3a"

/** Runs the CLI as a child process, with only the given env beyond PATH and HOME. */
const runCli = (
  args: ReadonlyArray<string>,
  env: Record<string, string> = {},
  stdin?: string,
  interruptWhen?: (stderr: string) => boolean
) =>
  runProcess(process.execPath, [bin, ...args], { env, stdin, interruptWhen }).pipe(Effect.tap((run) => {
    // The canary secret never shows, whatever the outcome.
    assert.notInclude(run.stdout, canary)
    assert.notInclude(run.stderr, canary)
  }))

/** A fake server whose one client has the canary secret. */
const makeServer = FakeAuthServer.make({ clients: [{ id: "cli-client", secret: canary }] })

const envOf = (server: FakeAuthServer.Service, extra: Record<string, string> = {}) => ({
  OAUTH_TOKEN_URL: server.tokenUrl,
  OAUTH_CLIENT_ID: "cli-client",
  OAUTH_CLIENT_SECRET: canary,
  ...extra
})

/** One line on stderr, naming the cause, without a stack trace. */
const assertOneLine = (run: Run, text: string) => {
  const lines = run.stderr.trim().split("\n")
  assert.strictEqual(lines.length, 1, run.stderr)
  assert.include(lines[0], text)
  assert.notMatch(run.stderr, /\n\s+at /)
}

/** A temporary directory, removed with the scope. */
const tempDir = Effect.acquireRelease(
  Effect.promise(() => fs.mkdtemp(path.join(os.tmpdir(), "oauth-cc-"))),
  (dir) => Effect.promise(() => fs.rm(dir, { recursive: true, force: true }))
)

/** The URL of a loopback port nothing listens on any more. */
const closedUrl = Effect.scoped(Effect.map(startServer({ handle: () => ({}) }), (server) => server.url))

/** The exit code, and one line on stderr naming the cause. */
const assertFails = (run: Run, code: number, text: string) => {
  assert.strictEqual(run.code, code, run.stderr)
  assertOneLine(run, text)
}

const issuedValues = (server: FakeAuthServer.Service) =>
  Effect.map(server.issued, (tokens) => tokens.map((t) => Redacted.value(t.value)))

// Each case starts Node and tsx (a few seconds on a busy machine): a longer budget than unit tests.
describe("oauth-cc CLI", { timeout: 120_000 }, () => {
  it.scoped("token prints the access token (settings and secret from env)", () =>
    Effect.gen(function*() {
      const server = yield* makeServer
      const run = yield* runCli(["token"], envOf(server))
      assert.strictEqual(run.code, 0, run.stderr)
      assert.deepStrictEqual([run.stdout], (yield* issuedValues(server)).map((v) => `${v}\n`))
      assert.strictEqual(run.stderr, "")
    }))

  it.scoped("token --json prints access_token, token_type, expires_in and scope; flags override env", () =>
    Effect.gen(function*() {
      const server = yield* makeServer
      const run = yield* runCli(
        ["token", "--json", "--scope", "orders:read", "--token-url", server.tokenUrl],
        envOf(server, { OAUTH_TOKEN_URL: "https://unused.invalid/token", OAUTH_SCOPE: "ignored" })
      )
      assert.strictEqual(run.code, 0, run.stderr)
      const json = JSON.parse(run.stdout)
      assert.deepStrictEqual(Object.keys(json), ["access_token", "token_type", "expires_in", "scope"])
      assert.deepStrictEqual([json.access_token], yield* issuedValues(server))
      assert.strictEqual(json.token_type, "Bearer")
      assert.isAtLeast(json.expires_in, 290)
      assert.isAtMost(json.expires_in, 300)
      assert.strictEqual(json.scope, "orders:read")
    }))

  it.scoped("--client-secret-stdin reads the secret from standard input", () =>
    Effect.gen(function*() {
      const server = yield* makeServer
      const { OAUTH_CLIENT_SECRET: _, ...env } = envOf(server)
      const run = yield* runCli(["token", "--client-secret-stdin"], env, `${canary}\n`)
      assert.strictEqual(run.code, 0, run.stderr)
      assert.deepStrictEqual([run.stdout], (yield* issuedValues(server)).map((v) => `${v}\n`))
    }))

  it.scoped("--client-secret-file reads the secret from a file; a missing file is a usage error", () =>
    Effect.gen(function*() {
      const server = yield* makeServer
      const dir = yield* tempDir
      const file = path.join(dir, "secret")
      yield* Effect.promise(() => fs.writeFile(file, `${canary}\n`, { mode: 0o600 }))
      const { OAUTH_CLIENT_SECRET: _, ...env } = envOf(server)
      const ok = yield* runCli(["token", "--client-secret-file", file], env)
      assert.strictEqual(ok.code, 0, ok.stderr)
      const missing = yield* runCli(["token", "--client-secret-file", path.join(dir, "nope")], env)
      assertFails(missing, 2, "cannot read --client-secret-file")
    }))

  it.effect("the secret is never accepted as a plain flag, and is not echoed", () =>
    Effect.gen(function*() {
      for (const args of [["token", `--client-secret=${canary}`], ["token", "--client-secret", canary]]) {
        const run = yield* runCli(args)
        assertFails(run, 2, "--client-secret is not accepted")
        assert.strictEqual(run.stdout, "")
      }
    }))

  it.effect("missing configuration: exit 2 naming the variables and flags", () =>
    Effect.gen(function*() {
      const run = yield* runCli(["token"], { OAUTH_CLIENT_SECRET: canary })
      assert.strictEqual(run.code, 2)
      assertOneLine(
        run,
        "missing OAUTH_TOKEN_URL (--token-url, or OAUTH_ISSUER / --issuer); missing OAUTH_CLIENT_ID (--client-id)"
      )
      const insecure = yield* runCli(["token", "--token-url", "http://auth.example.com/token", "--client-id", "x"], {
        OAUTH_CLIENT_SECRET: canary
      })
      assertFails(insecure, 2, "invalid OAUTH_TOKEN_URL (--token-url, or OAUTH_ISSUER / --issuer): must use https")
    }))

  it.scoped("a rejected client: exit 3, one line with the RFC error code", () =>
    Effect.gen(function*() {
      const server = yield* makeServer
      const run = yield* runCli(["token"], envOf(server, { OAUTH_CLIENT_SECRET: `${canary}-wrong` }))
      assertFails(run, 3, "invalid_client")
      assert.strictEqual(run.stdout, "")
    }))

  it.scoped("exit codes per error class: 4 rate limited, 5 server error, 7 invalid response", () =>
    Effect.gen(function*() {
      const server = yield* makeServer
      const cases = [
        [FakeResponse.rateLimited({ retryAfter: 0 }), 4, "rate limited"],
        [FakeResponse.unavailable({ retryAfter: 0 }), 5, "server error (HTTP 503)"],
        [FakeResponse.malformed("not json"), 7, "InvalidJson"]
      ] as const
      for (const [response, code, text] of cases) {
        yield* server.always(response)
        const run = yield* runCli(["token"], envOf(server))
        assertFails(run, code, text)
        yield* server.reset
      }
    }))

  it.effect("an unreachable token endpoint: exit 6", () =>
    Effect.gen(function*() {
      const closed = yield* closedUrl
      const run = yield* runCli(["token"], {
        OAUTH_TOKEN_URL: `${closed}/token`,
        OAUTH_CLIENT_ID: "cli-client",
        OAUTH_CLIENT_SECRET: canary
      })
      assertFails(run, 6, "ECONNREFUSED")
    }))

  it.scoped("--verbose shows the attempts and the Retry-After wait on stderr", () =>
    Effect.gen(function*() {
      const server = yield* makeServer
      yield* server.enqueue(FakeResponse.rateLimited({ retryAfter: 1 }))
      const run = yield* runCli(["token", "--verbose"], envOf(server))
      assert.strictEqual(run.code, 0, run.stderr)
      assert.include(run.stderr, "token request: answered HTTP 429, Retry-After: 1")
      assert.include(run.stderr, "token request attempt 1 failed")
      const times = Array.from(run.stderr.matchAll(/\[\+\s*(\d+)ms\] oauth-cc: token request: POST/g), (m) =>
        Number(m[1]))
      assert.strictEqual(times.length, 2)
      assert.isAtLeast(times[1]! - times[0]!, 950)
      assert.deepStrictEqual(
        [run.stdout],
        (yield* issuedValues(server)).map((v) =>
          `${v}\n`
        )
      )
    }))

  it.scoped("request sends one authorized request and prints the body; -i adds status and headers", () =>
    Effect.gen(function*() {
      const server = yield* makeServer
      const plain = yield* runCli(["request", `${server.resourceUrl}/users`], envOf(server))
      assert.strictEqual(plain.code, 0, plain.stderr)
      assert.strictEqual(JSON.parse(plain.stdout).path, "/resource/users")
      assert.strictEqual(plain.stderr, "HTTP 200\n")
      const post = yield* runCli(
        ["request", "-X", "POST", "-H", "X-Trace: 1", "-d", "{\"a\":1}", "-i", `${server.resourceUrl}/orders`],
        envOf(server)
      )
      assert.strictEqual(post.code, 0, post.stderr)
      const [head, body] = post.stdout.split("\n\n")
      assert.match(head!, /^HTTP 200\n/)
      assert.match(head!, /content-type: application\/json/)
      assert.strictEqual(JSON.parse(body!).method, "POST")
      assert.strictEqual(yield* server.unauthenticatedResourceRequests, 0)
    }))

  it.scoped("request --fail exits 9 on an HTTP error, without it 0; an unreachable resource exits 10", () =>
    Effect.gen(function*() {
      const server = yield* makeServer
      const resource = yield* startServer({ handle: () => ({ status: 404, body: { error: "not_found" } }) })
      const lenient = yield* runCli(["request", `${resource.url}/missing`], envOf(server))
      assert.strictEqual(lenient.code, 0)
      assert.strictEqual(lenient.stderr, "HTTP 404\n")
      const strict = yield* runCli(["request", "-f", `${resource.url}/missing`], envOf(server))
      assert.strictEqual(strict.code, 9)
      assert.include(strict.stderr, "HTTP 404")
      assert.match(resource.seen[0]!.headers.authorization ?? "", /^Bearer /)
      const closed = yield* closedUrl
      const unreachable = yield* runCli(["request", `${closed}/gone`], envOf(server))
      assertFails(unreachable, 10, "failed (Transport)")
    }))

  it.scoped("Ctrl-C while the token endpoint hangs: exit 130 at once", () =>
    Effect.gen(function*() {
      const server = yield* makeServer
      yield* server.always(FakeResponse.hang())
      const run = yield* runCli(["token", "-v"], envOf(server), undefined, (stderr) => stderr.includes("POST"))
      assert.strictEqual(run.code, 130, run.stderr)
      assert.strictEqual(run.stdout, "")
    }))

  it.scoped("request usage errors exit 2: bad URL, bad header, -d with --data-file", () =>
    Effect.gen(function*() {
      const server = yield* makeServer
      for (
        const [args, text] of [
          [["request", "not a url"], "not a valid absolute URL"],
          [["request", "--no-such-flag", server.resourceUrl], "unknown argument"],
          [["request", "-H", "no colon", server.resourceUrl], "-H takes"],
          [["request", "-d", "x", "--data-file", "/dev/null", server.resourceUrl], "not both"]
        ] as const
      ) {
        const run = yield* runCli(args, envOf(server))
        assert.strictEqual(run.code, 2, run.stderr)
        assert.include(run.stderr, text)
        assert.notMatch(run.stderr, /\n\s+at /)
      }
      assert.strictEqual(yield* server.tokenRequestCount, 0)
    }))

  it.scoped("--cert, --key and --cacert: mutual TLS with tls_client_auth, no secret needed", () =>
    Effect.gen(function*() {
      const pki = yield* Effect.promise(makePki)
      const server = yield* startServer({
        tls: { ...pki.server, ca: pki.ca.cert, rejectUnauthorized: true },
        handle: (seen) => seen.clientCn === "client-mtls" ? tokenReply("mtls-token") : { status: 401, body: {} }
      })
      const dir = yield* tempDir
      const files = { cert: pki.client.cert, key: pki.client.key, ca: pki.ca.cert }
      for (const [name, pem] of Object.entries(files)) {
        yield* Effect.promise(() => fs.writeFile(path.join(dir, `${name}.pem`), pem, { mode: 0o600 }))
      }
      const settings = [
        "token",
        ...["--token-url", `${server.url}/token`, "--client-id", "mtls-client", "--auth-method", "tls_client_auth"]
      ]
      const run = yield* runCli([
        ...settings,
        "--cert",
        path.join(dir, "cert.pem"),
        "--key",
        path.join(dir, "key.pem"),
        "--cacert",
        path.join(dir, "ca.pem")
      ])
      assert.strictEqual(run.code, 0, run.stderr)
      assert.strictEqual(run.stdout, "mtls-token\n")
      assert.deepStrictEqual(Object.fromEntries(new URLSearchParams(server.seen[0]!.body)), {
        grant_type: "client_credentials",
        client_id: "mtls-client"
      })
      const without = yield* runCli(settings)
      assertFails(without, 2, "tls_client_auth needs a client certificate")
    }))

  it.scoped("--issuer discovers the token endpoint; --client-assertion-key-file signs private_key_jwt", () =>
    Effect.gen(function*() {
      const { privateKey, publicKey } = generateKeyPairSync("ec", { namedCurve: "P-256" })
      const server = yield* FakeAuthServer.make({
        clients: [{ id: "jwt-client", secret: canary, authMethods: ["private_key_jwt"], publicKey }]
      })
      const dir = yield* tempDir
      const keyFile = path.join(dir, "key.pem")
      yield* Effect.promise(() =>
        fs.writeFile(keyFile, privateKey.export({ type: "pkcs8", format: "pem" }), { mode: 0o600 })
      )
      const run = yield* runCli([
        "token",
        "--issuer",
        server.issuer,
        "--client-id",
        "jwt-client",
        "--client-assertion-key-file",
        keyFile
      ])
      assert.strictEqual(run.code, 0, run.stderr)
      assert.deepStrictEqual([run.stdout], (yield* issuedValues(server)).map((v) => `${v}\n`))
      const [request] = yield* server.tokenRequests
      assert.strictEqual(request!.clientAuthMethod, "private_key_jwt")
    }))
})
