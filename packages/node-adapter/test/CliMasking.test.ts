/**
 * Attack: a server that echoes every credential it receives (the secret raw and encoded, the Basic and Bearer
 * header values, the form body with `client_secret` or `client_assertion`) in every header and body it sends.
 * Whatever the CLI prints, at every verbosity and with `--json`, shows none of them; the token shows only
 * where the user asked for it (stdout of `oauth-cc token`).
 */
import { assert, describe, it } from "@effect/vitest"
import * as Effect from "effect/Effect"
import type * as Scope from "effect/Scope"
import { generateKeyPairSync } from "node:crypto"
import * as fs from "node:fs/promises"
import * as http from "node:http"
import type { AddressInfo } from "node:net"
import * as os from "node:os"
import * as path from "node:path"
import { runCliInProcess } from "./fixtures/cliInProcess.js"
import { type Run, runProcess } from "./fixtures/spawn.js"

const bin = path.resolve(import.meta.dirname, "../bin/oauth-cc.mjs")
const clientId = "echo client"
const secret = "s3cr3t/CANARY+x=y&z~q"
const token = "tok-CANARY-4b7e1f0a9c"

const formEncode = (value: string) => new URLSearchParams([["", value]]).toString().slice(1)
const base64 = (text: string) => Buffer.from(text, "utf8").toString("base64")

/** Every form of the secret a server could echo. */
const secretForms = [
  secret,
  encodeURIComponent(secret),
  formEncode(secret),
  base64(`${clientId}:${secret}`),
  base64(`${formEncode(clientId)}:${formEncode(secret)}`)
]

interface EchoServer {
  readonly url: string
  /** Every credential the server received: Authorization values, form bodies' client_assertion. */
  readonly received: Array<string>
}

/** Echoes what it got, in headers (Retry-After, WWW-Authenticate, X-Echo-*) and in the body. */
const echoServer: Effect.Effect<EchoServer, never, Scope.Scope> = Effect.acquireRelease(
  Effect.async<{ server: http.Server; echo: EchoServer }>((resume) => {
    const received: Array<string> = []
    const server = http.createServer((req, res) => {
      const chunks: Array<Buffer> = []
      req.on("data", (chunk: Buffer) => chunks.push(chunk))
      req.on("end", () => {
        const body = Buffer.concat(chunks).toString("utf8")
        const authorization = req.headers.authorization ?? ""
        const assertion = new URLSearchParams(body).get("client_assertion") ?? ""
        received.push(authorization, assertion)
        // (The token is echoed by the resource, as the Authorization header it got.)
        const echo = [assertion, authorization, secret, encodeURIComponent(secret), formEncode(secret), body].join(
          " | "
        )
        const headers: Record<string, string> = {
          "retry-after": authorization,
          "www-authenticate": `Bearer error="invalid_token", error_description="${authorization}"`,
          "x-echo-secret": encodeURIComponent(secret),
          "x-echo-authorization": authorization,
          "x-echo-assertion": assertion,
          "x-echo-body": encodeURIComponent(body)
        }
        const reply = (status: number, payload: string, type = "application/json") => {
          res.writeHead(status, { ...headers, "content-type": type })
          res.end(payload)
        }
        const route = (req.url ?? "").split("?")[0]
        switch (route) {
          case "/token-ok":
            return reply(
              200,
              JSON.stringify({
                access_token: token,
                token_type: "Bearer",
                expires_in: 300,
                scope: `read ${base64(`${clientId}:${secret}`)} ${encodeURIComponent(secret)}`,
                echo
              })
            )
          case "/token-429":
            return reply(429, JSON.stringify({ error: "slow_down", error_description: echo }))
          case "/token-400":
            return reply(400, JSON.stringify({ error: "invalid_client", error_description: echo, error_uri: echo }))
          case "/token-400-error":
            return reply(400, JSON.stringify({ error: secret, error_description: echo }))
          case "/token-500":
            return reply(500, echo, "text/plain")
          case "/token-garbage":
            return reply(200, `not json ${echo}`, "text/plain")
          case "/token-badfield":
            return reply(200, JSON.stringify({ access_token: token, token_type: echo, expires_in: 300 }))
          default:
            return reply(200, JSON.stringify({ resource: true, echo }))
        }
      })
    })
    server.listen(0, "127.0.0.1", () => {
      const { port } = server.address() as AddressInfo
      resume(Effect.succeed({ server, echo: { url: `http://127.0.0.1:${port}`, received } }))
    })
  }),
  ({ server }) =>
    Effect.async<void>((resume) => {
      server.closeAllConnections()
      server.close(() => resume(Effect.void))
    })
).pipe(Effect.map(({ echo }) => echo))

/** The matrix runs `main` in this process; one case per command also spawns the real `bin/oauth-cc.mjs`. */
const runCli = runCliInProcess

const spawnCli = (args: ReadonlyArray<string>, env: Record<string, string>) =>
  runProcess(process.execPath, [bin, ...args], { env, timeoutMillis: 90_000 })

/** No secret form, no credential the server received, and (unless allowed on stdout) no token. */
const assertClean = (run: Run, server: EchoServer, label: string, tokenOnStdout = false, forms = secretForms) => {
  const credentials = server.received.filter((value) => value.length > 0)
  for (const [stream, text] of [["stdout", run.stdout], ["stderr", run.stderr]] as const) {
    for (const form of [...forms, ...credentials]) {
      assert.notInclude(text, form, `${label}: ${stream} shows ${form}`)
    }
    if (!(tokenOnStdout && stream === "stdout")) assert.notInclude(text, token, `${label}: ${stream} shows the token`)
  }
}

const envOf = (server: EchoServer, route: string) => ({
  OAUTH_TOKEN_URL: `${server.url}/${route}`,
  OAUTH_CLIENT_ID: clientId,
  OAUTH_CLIENT_SECRET: secret
})

const verbosities = [[], ["-v"]] as const

describe("oauth-cc prints nothing a server sends raw", { timeout: 300_000 }, () => {
  it.scopedLive("token endpoint failures: 429, 400, 500, garbage, a bad field; basic and post; every verbosity", () =>
    Effect.gen(function*() {
      const server = yield* echoServer
      const cases = [
        ["token-429", 4],
        ["token-400", 3],
        ["token-400-error", 3],
        ["token-500", 5],
        ["token-garbage", 7],
        ["token-badfield", 7]
      ] as const
      // Per route: both auth methods, both verbosities, with and without --json (pairwise: 4 runs, not 8).
      const variants = [
        ["client_secret_basic"],
        ["client_secret_basic", "-v", "--json"],
        ["client_secret_post", "-v"],
        ["client_secret_post", "--json"]
      ] as const
      const runs = cases.flatMap(([route, code]) =>
        variants.map(([method, ...flags]) => ({
          label: `${route} ${method} ${flags.join(" ")}`,
          code,
          args: ["token", "--auth-method", method, ...flags],
          env: envOf(server, route)
        }))
      )
      const results = yield* Effect.forEach(runs, (c) => Effect.map(runCli(c.args, c.env), (run) => ({ ...c, run })))
      for (const { code, label, run } of results) {
        assert.strictEqual(run.code, code, `${label}: ${run.stderr}`)
        assert.include(run.stderr, "oauth-cc: ", label)
        assertClean(run, server, label)
      }
      // The verbose lines did show the Retry-After header, masked.
      const verbose429 = results.find((r) => r.label.startsWith("token-429 client_secret_basic -v"))!
      assert.include(verbose429.run.stderr, "Retry-After: Basic <redacted>")
      // And the real binary, as a user runs it.
      const spawned = yield* spawnCli(["token", "-v", "--json"], envOf(server, "token-429"))
      assert.strictEqual(spawned.code, 4, spawned.stderr)
      assert.include(spawned.stderr, "Retry-After: Basic <redacted>")
      assertClean(spawned, server, "spawned token -v --json")
    }))

  it.scopedLive("a token: stdout has it where asked; the echoed scope and every stderr line are masked", () =>
    Effect.gen(function*() {
      const server = yield* echoServer
      for (const verbosity of verbosities) {
        const plain = yield* runCli(["token", ...verbosity], envOf(server, "token-ok"))
        assert.strictEqual(plain.code, 0, plain.stderr)
        assert.strictEqual(plain.stdout, `${token}\n`)
        assertClean(plain, server, "token", true)
        const json = yield* runCli(["token", "--json", ...verbosity], envOf(server, "token-ok"))
        assert.strictEqual(json.code, 0, json.stderr)
        assert.strictEqual(JSON.parse(json.stdout).access_token, token)
        assert.include(JSON.parse(json.stdout).scope, "<redacted>")
        assertClean(json, server, "token --json", true)
      }
    }))

  it.scopedLive("request: the resource echoes the bearer token and the secret; -i, -v, -f never show them", () =>
    Effect.gen(function*() {
      const server = yield* echoServer
      const variants = [[], ["-i"], ["-i", "-v"], ["-v", "-f"], ["-i", "-X", "POST", "-d", "{\"a\":1}"]]
      for (const flags of variants) {
        const run = yield* runCli(["request", ...flags, `${server.url}/resource?x=1`], envOf(server, "token-ok"))
        assert.strictEqual(run.code, 0, run.stderr)
        assert.include(run.stdout, "\"resource\":true")
        assert.include(run.stdout, "<redacted>")
        assertClean(run, server, `request ${flags.join(" ")}`)
      }
      const spawned = yield* spawnCli(["request", "-i", "-v", `${server.url}/resource`], envOf(server, "token-ok"))
      assert.strictEqual(spawned.code, 0, spawned.stderr)
      assert.include(spawned.stdout, "x-echo-authorization: Bearer <redacted>")
      assertClean(spawned, server, "spawned request -i -v")
      assert.include(server.received, `Bearer ${token}`)
    }))

  it.scopedLive("request -i -v: a resource echoing the token or secret URL-encoded, JSON-escaped, in base64 shows none", () =>
    Effect.gen(function*() {
      // Visible ASCII the token endpoint accepts, with every character an encoder rewrites: / + = < & > ' " % ~
      const tricky = "CANARY/TOKEN+ab<&>'\"%~9f3a=="
      const hex = (c: string, upper: boolean) => {
        const code = c.charCodeAt(0).toString(16).padStart(4, "0")
        return `\\u${upper ? code.toUpperCase() : code}`
      }
      const json = JSON.stringify(tricky).slice(1, -1)
      const b64 = Buffer.from(tricky).toString("base64")
      const b64url = Buffer.from(tricky).toString("base64url")
      const forms = {
        raw: tricky,
        encodeURIComponent: encodeURIComponent(tricky),
        encodeURIComponentLower: encodeURIComponent(tricky).replace(/%[0-9A-F]{2}/g, (h) => h.toLowerCase()),
        form: formEncode(tricky),
        json,
        jsonSlash: json.replace(/\//g, "\\/"),
        jsonDotNet: tricky.replace(/[^A-Za-z0-9/~.%]/g, (c) => hex(c, true)),
        jsonGo: json.replace(/[<>&]/g, (c) => hex(c, false)),
        jsonEveryChar: tricky.replace(/[^A-Za-z0-9]/g, (c) => hex(c, false)),
        base64: b64,
        base64Unpadded: b64.replace(/=+$/, ""),
        base64url: b64url,
        base64urlPadded: b64url + "=".repeat((4 - (b64url.length % 4)) % 4)
      }
      // Embedded: the base64 of the whole Authorization value, and of "x" + token (another alignment).
      const embedded = {
        base64Authorization: Buffer.from(`Bearer ${tricky}`).toString("base64"),
        base64Shifted: Buffer.from(`x${tricky}`).toString("base64url")
      }
      // The client secret in the same encodings (core's mask knows it raw, URL-encoded and in base64).
      const secretJson = JSON.stringify(secret).slice(1, -1)
      const secretForms = {
        secretJsonSlash: secretJson.replace(/\//g, "\\/"),
        secretJsonEveryChar: secret.replace(/[^A-Za-z0-9]/g, (c) => hex(c, true)),
        secretEncodeURIComponentLower: encodeURIComponent(secret).replace(/%[0-9A-F]{2}/g, (h) => h.toLowerCase()),
        secretBase64Shifted: Buffer.from(`xy${secret}`).toString("base64")
      }
      const all = { ...forms, ...embedded, ...secretForms }
      const server = yield* Effect.acquireRelease(
        Effect.async<http.Server>((resume) => {
          const server = http.createServer((req, res) => {
            if ((req.url ?? "").startsWith("/token")) {
              res.writeHead(200, { "content-type": "application/json" })
              return res.end(JSON.stringify({ access_token: tricky, token_type: "Bearer", expires_in: 300 }))
            }
            const headers: Record<string, string> = {
              "content-type": "application/json",
              location: `https://evil.example/cb?t=${forms.encodeURIComponent}&u=${forms.form}`
            }
            for (const [name, value] of Object.entries(all)) {
              if (/^[\x21-\x7e]+$/.test(value)) headers[`x-echo-${name.toLowerCase()}`] = value
            }
            res.writeHead(201, headers)
            // The body written by hand: each form as is (the JSON ones are already escaped), the raw one JSON-escaped.
            res.end(
              `{"resource":true,${
                Object.entries(all).map(([name, value]) => `"${name}":"${name === "raw" ? json : value}"`).join(",")
              }}`
            )
          })
          server.listen(0, "127.0.0.1", () => resume(Effect.succeed(server)))
        }),
        (server) => Effect.async<void>((resume) => void server.close(() => resume(Effect.void)))
      )
      const url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`
      const run = yield* runCli(["request", "-i", "-v", `${url}/resource`], {
        OAUTH_TOKEN_URL: `${url}/token`,
        OAUTH_CLIENT_ID: clientId,
        OAUTH_CLIENT_SECRET: secret
      })
      assert.strictEqual(run.code, 0, run.stderr)
      assert.include(run.stdout, "\"resource\":true")
      assert.include(run.stdout, "location: https://evil.example/cb?t=<redacted>")
      for (const [stream, text] of [["stdout", run.stdout], ["stderr", run.stderr]] as const) {
        for (const [name, value] of Object.entries(all)) {
          assert.notInclude(text, value, `${stream} shows the token as ${name}`)
        }
        // Not even the middle of the base64 forms (all but a few edge characters are masked).
        assert.notInclude(text, forms.base64.slice(3, 20), `${stream} shows part of the token's base64`)
        assert.notInclude(text, "CANARY", `${stream} shows the token or the secret`)
      }
    }))

  it.scopedLive("private_key_jwt: the client assertion echoed back in an error is not printed", () =>
    Effect.gen(function*() {
      const server = yield* echoServer
      const dir = yield* Effect.acquireRelease(
        Effect.promise(() => fs.mkdtemp(path.join(os.tmpdir(), "oauth-cc-mask-"))),
        (dir) => Effect.promise(() => fs.rm(dir, { recursive: true, force: true }))
      )
      const { privateKey } = generateKeyPairSync("ec", { namedCurve: "P-256" })
      const keyFile = path.join(dir, "key.pem")
      yield* Effect.promise(() =>
        fs.writeFile(keyFile, privateKey.export({ type: "pkcs8", format: "pem" }), { mode: 0o600 })
      )
      for (const verbosity of verbosities) {
        const run = yield* runCli(
          ["token", "--client-assertion-key-file", keyFile, ...verbosity],
          { OAUTH_TOKEN_URL: `${server.url}/token-400`, OAUTH_CLIENT_ID: clientId }
        )
        assert.strictEqual(run.code, 3, run.stderr)
        // No secret here: the credential is the assertion the server received.
        assertClean(run, server, `private_key_jwt ${verbosity.join("")}`, false, [])
        // Not even the start of it (core clips long descriptions: a clipped assertion still shows its claims).
        for (const value of server.received.filter((v) => v.startsWith("eyJ"))) {
          assert.notInclude(run.stderr, value.slice(0, 40))
        }
        assert.include(run.stderr, "<redacted jwt>")
      }
      assert.isTrue(server.received.some((value) => value.startsWith("eyJ")), "the server got an assertion")
    }))
})
