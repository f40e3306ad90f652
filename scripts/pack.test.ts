/**
 * What a user gets from npm: every published package is packed with `pnpm pack` (its `prepack` builds `dist/`),
 * the tarballs are installed with npm into a fresh project outside the workspace, next to Effect from the registry,
 * and used there the ways users use them: ESM and CommonJS, TypeScript under `nodenext`, `node10` and `bundler`,
 * vitest and jest (default config, CommonJS), the two bins with plain `node`. Every tarball passes publint and
 * @arethetypeswrong/cli. The READMEs' install lines run verbatim with npm and pnpm. Core's build uses no Node
 * builtin and fetches a token with `FetchHttpClient` under Bun and Deno.
 */
import { transformSync } from "esbuild"
import { execFile, spawn } from "node:child_process"
import { existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, statSync, writeFileSync } from "node:fs"
import { createServer, type Server } from "node:http"
import type { AddressInfo } from "node:net"
import { tmpdir } from "node:os"
import { join } from "node:path"
import { promisify } from "node:util"
import { afterAll, assert, beforeAll, describe, it } from "vitest"

const exec = promisify(execFile)
const root = join(import.meta.dirname, "..")
const published = ["core", "testkit", "node-adapter", "redis"] as const
/** What the READMEs promise; the fresh projects install these from the registry. */
const peers = ["effect@^3.22", "@effect/platform@^0.97", "@effect/platform-node@^0.108"]
/** Bun and Deno come from the npm registry (both packages ship their binaries), cached between runs. */
const runtimes = join(root, "node_modules/.cache/oauth-cc-ci")

const tmp = mkdtempSync(join(tmpdir(), "oauth-cc-pack-"))
const tarballs = join(tmp, "tarballs")
const app = join(tmp, "app")
const tarball: Record<string, string> = {}

interface Run {
  readonly stdout: string
  readonly stderr: string
}

const run = async (
  file: string,
  args: ReadonlyArray<string>,
  options: { cwd: string; env?: NodeJS.ProcessEnv; timeout?: number }
): Promise<Run> => {
  try {
    return await exec(file, args, {
      cwd: options.cwd,
      env: { ...process.env, ...options.env },
      timeout: options.timeout ?? 300_000,
      maxBuffer: 64 * 1024 * 1024
    })
  } catch (error) {
    const e = error as Error & { stdout?: string; stderr?: string }
    throw new Error(`${file} ${args.join(" ")} failed in ${options.cwd}: ${e.message}\n${e.stdout}\n${e.stderr}`)
  }
}

/** Fails with what the process printed, or resolves with its output; never throws for a non-zero exit. */
const attempt = (file: string, args: ReadonlyArray<string>, cwd: string) =>
  exec(file, args, { cwd, timeout: 120_000 }).then(
    (ok) => ({ code: 0, ...ok }),
    (e: { code?: number; stdout?: string; stderr?: string }) => ({
      code: e.code ?? 1,
      stdout: e.stdout ?? "",
      stderr: e.stderr ?? ""
    })
  )

const write = (file: string, text: string) => {
  mkdirSync(join(file, ".."), { recursive: true })
  writeFileSync(file, text)
}

const walk = (dir: string): Array<string> =>
  readdirSync(dir, { withFileTypes: true }).flatMap((entry) =>
    entry.isDirectory() ? walk(join(dir, entry.name)) : [join(dir, entry.name)]
  )

const npmInstall = (cwd: string, args: ReadonlyArray<string>) =>
  run("npm", ["install", "--no-audit", "--no-fund", "--loglevel=error", ...args], { cwd })

beforeAll(async () => {
  mkdirSync(tarballs, { recursive: true })
  for (const name of published) {
    const { stdout } = await run("pnpm", ["pack", "--pack-destination", tarballs], {
      cwd: join(root, "packages", name),
      timeout: 600_000
    })
    const file = stdout.trim().split("\n").filter((line) => line.endsWith(".tgz")).pop()
    assert.ok(file && existsSync(file), `pnpm pack printed the tarball of ${name}: ${stdout}`)
    tarball[name] = file
  }
  write(join(app, "package.json"), JSON.stringify({ name: "app", version: "1.0.0", private: true }, null, 2))
  await npmInstall(app, [
    ...published.map((name) => tarball[name]!),
    ...peers,
    "typescript@~5.9",
    "@types/node@^20",
    "vitest@^3.2",
    "jest@^30"
  ])
}, 1_800_000)

afterAll(() => {
  rmSync(tmp, { recursive: true, force: true })
}, 300_000)

const esmScript = `
import { FetchHttpClient } from "@effect/platform"
import { TokenProvider } from "@oauth-cc/core"
import * as TokenProviderModule from "@oauth-cc/core/TokenProvider"
import { NodeTokenProvider } from "@oauth-cc/node-adapter"
import { RedisTokenStore } from "@oauth-cc/redis"
import { FakeAuthServer } from "@oauth-cc/testkit"
import { Effect, Layer, Redacted } from "effect"

if (TokenProviderModule.layer !== TokenProvider.layer) throw new Error("two copies of the TokenProvider module")
if (typeof NodeTokenProvider.layer !== "function" || typeof RedisTokenStore.layer !== "function") throw new Error("exports")
const server = await FakeAuthServer.start({ clients: [{ id: "app", secret: "s3cret" }] })
try {
  const options = { tokenUrl: server.tokenUrl, clientId: "app", clientSecret: Redacted.make("s3cret") }
  const viaFetch = await Effect.runPromise(
    TokenProvider.get.pipe(Effect.provide(TokenProvider.layer(options).pipe(Layer.provide(FetchHttpClient.layer))))
  )
  const viaNode = await Effect.runPromise(TokenProvider.get.pipe(Effect.provide(NodeTokenProvider.layer(options))))
  console.log("tokens", Redacted.value(viaFetch.value).length > 0, Redacted.value(viaNode.value).length > 0)
} finally {
  await server.close()
}
`

const cjsScript = `
const { FetchHttpClient } = require("@effect/platform")
const { TokenProvider } = require("@oauth-cc/core")
const TokenProviderModule = require("@oauth-cc/core/TokenProvider")
const { NodeTokenProvider } = require("@oauth-cc/node-adapter")
const { RedisTokenStore } = require("@oauth-cc/redis")
const { FakeAuthServer } = require("@oauth-cc/testkit")
const { Effect, Layer, Redacted } = require("effect")

if (TokenProviderModule.layer !== TokenProvider.layer) throw new Error("two copies of the TokenProvider module")
if (typeof NodeTokenProvider.layer !== "function" || typeof RedisTokenStore.layer !== "function") throw new Error("exports")
FakeAuthServer.start({ clients: [{ id: "app", secret: "s3cret" }], tokenFormat: "jwt" }).then(async (server) => {
  try {
    const options = { tokenUrl: server.tokenUrl, clientId: "app", clientSecret: Redacted.make("s3cret") }
    const viaFetch = await Effect.runPromise(
      TokenProvider.get.pipe(Effect.provide(TokenProvider.layer(options).pipe(Layer.provide(FetchHttpClient.layer))))
    )
    const viaNode = await Effect.runPromise(TokenProvider.get.pipe(Effect.provide(NodeTokenProvider.layer(options))))
    console.log("tokens", Redacted.value(viaFetch.value).length > 0, Redacted.value(viaNode.value).length > 0)
  } finally {
    await server.close()
  }
})
`

describe("the published packages, installed with npm outside the workspace", () => {
  it("every tarball: a LICENSE, the CHANGELOG, dist for ESM and CommonJS, no .tsbuildinfo, no workspace: range", async () => {
    for (const name of published) {
      const { stdout } = await run("tar", ["tzf", tarball[name]!], { cwd: tmp })
      const files = stdout.trim().split("\n")
      const listing = await run("tar", ["tzvf", tarball[name]!], { cwd: tmp })
      const unpacked = listing.stdout.trim().split("\n").reduce((sum, line) => sum + Number(line.split(/\s+/)[2]), 0)
      console.log(
        `${name}: ${(statSync(tarball[name]!).size / 1024).toFixed(1)} KB packed, ${
          (unpacked / 1024).toFixed(1)
        } KB unpacked, ${files.length} files`
      )
      for (const file of ["LICENSE", "CHANGELOG.md", "README.md", "dist/esm/index.js", "dist/cjs/index.js"]) {
        assert.include(files, `package/${file}`, `${name} ships ${file}`)
      }
      assert.deepStrictEqual(files.filter((file) => file.includes("tsbuildinfo")), [], `${name} ships no tsbuildinfo`)
      const manifest = JSON.parse(readFileSync(join(app, "node_modules/@oauth-cc", name, "package.json"), "utf8"))
      assert.notInclude(JSON.stringify(manifest), "workspace:", `${name}'s ranges are real ranges`)
      for (const field of ["repository", "homepage", "bugs", "license"]) assert.ok(manifest[field], `${name}: ${field}`)
      const publicModules = readdirSync(join(root, "packages", name, "src"))
        .filter((file) => file.endsWith(".ts") && file !== "index.ts" && file !== "bin.ts")
        .map((file) => `./${file.slice(0, -3)}`)
      assert.includeMembers(Object.keys(manifest.exports), [".", ...publicModules], `${name} exports every module`)
    }
  })

  it("an ESM script imports every package and fetches tokens", async () => {
    write(join(app, "esm.mjs"), esmScript)
    const { stdout } = await run(process.execPath, ["esm.mjs"], { cwd: app, timeout: 60_000 })
    assert.strictEqual(stdout.trim(), "tokens true true")
  })

  it("a CommonJS script requires every package and fetches tokens (JWT access tokens: jose in CommonJS)", async () => {
    write(join(app, "cjs.cjs"), cjsScript)
    const { stdout, stderr } = await run(process.execPath, ["cjs.cjs"], { cwd: app, timeout: 60_000 })
    assert.strictEqual(stdout.trim(), "tokens true true")
    assert.notInclude(stderr, "ExperimentalWarning", "no require(esm): the CommonJS build is CommonJS")
  })

  it("internals are closed, and importing the bins' modules does not run a CLI", async () => {
    for (
      const spec of ["@oauth-cc/core/internal/tokenProvider", "@oauth-cc/node-adapter/bin", "@oauth-cc/testkit/bin"]
    ) {
      for (
        const [file, code] of [
          ["probe.mjs", `await import(${JSON.stringify(spec)})`],
          ["probe.cjs", `require(${JSON.stringify(spec)})`]
        ] as const
      ) {
        write(join(app, file), code)
        const result = await attempt(process.execPath, [file], app)
        assert.notStrictEqual(result.code, 0, `${spec} must not load (${file})`)
        assert.include(result.stderr, "ERR_PACKAGE_PATH_NOT_EXPORTED", `${spec} (${file})`)
        assert.strictEqual(result.stdout, "", `${spec} printed nothing: no CLI ran (${file})`)
      }
    }
    write(join(app, "index.mjs"), `import "@oauth-cc/node-adapter"\nimport "@oauth-cc/testkit"\n`)
    const index = await run(process.execPath, ["index.mjs"], { cwd: app, timeout: 60_000 })
    assert.strictEqual(index.stdout + index.stderr, "", "importing the packages runs nothing")
  })

  const typecheck = `
import { AuthorizedHttpClient, ClientCredentials, TokenError, TokenProvider } from "@oauth-cc/core"
import * as TokenProviderModule from "@oauth-cc/core/TokenProvider"
import { NodeTokenProvider } from "@oauth-cc/node-adapter"
import * as NodeTransport from "@oauth-cc/node-adapter/NodeTransport"
import { RedisTokenStore } from "@oauth-cc/redis"
import { FakeAuthServer, FakeResponse } from "@oauth-cc/testkit"
import { Effect, Layer, Redacted } from "effect"
import type * as HttpClient from "@effect/platform/HttpClient"

const options: ClientCredentials.Options = {
  tokenUrl: "https://auth.example.com/token",
  clientId: "app",
  clientSecret: Redacted.make("s3cret")
}
export const layer: Layer.Layer<TokenProvider.TokenProvider, never, HttpClient.HttpClient> = TokenProviderModule.layer(options)
export const node = NodeTokenProvider.layer(options)
export const program = TokenProvider.get.pipe(Effect.catchIf(TokenError.isTokenError, () => Effect.succeed(null)))
export const client = AuthorizedHttpClient.AuthorizedHttpClient
export const store = RedisTokenStore.layer
export const fake = [FakeAuthServer.start, FakeResponse.oauthError, NodeTransport] as const
// @ts-expect-error the internals are not part of the API
import type * as Internal from "@oauth-cc/core/internal/tokenProvider"
export type Hidden = typeof Internal
`

  for (
    const [resolution, compilerOptions, file] of [
      ["nodenext (CommonJS and ESM files)", { module: "nodenext", moduleResolution: "nodenext" }, "both"],
      ["node10", { module: "commonjs", moduleResolution: "node10" }, "check.ts"],
      ["bundler", { module: "esnext", moduleResolution: "bundler" }, "check.ts"]
    ] as const
  ) {
    it(`tsc --moduleResolution ${resolution}`, async () => {
      const dir = join(app, `tsc-${compilerOptions.moduleResolution}`)
      write(join(dir, "check.ts"), typecheck)
      if (file === "both") write(join(dir, "check.mts"), typecheck)
      write(
        join(dir, "tsconfig.json"),
        JSON.stringify({
          compilerOptions: {
            ...compilerOptions,
            target: "es2022",
            strict: true,
            noEmit: true,
            skipLibCheck: false,
            types: ["node"]
          },
          include: ["*.ts", "*.mts"]
        })
      )
      await run(process.execPath, [join(app, "node_modules/typescript/bin/tsc"), "-p", dir], { cwd: app })
    }, 300_000)
  }

  it("a vitest test and a jest test (default config: CommonJS) use the testkit", async () => {
    const body = (imports: string) => `
${imports}

let server
beforeAll(async () => {
  server = await FakeAuthServer.start({ clients: [{ id: "svc", secret: "s3cret" }] })
})
afterAll(() => server.close())

test("a token from the fake server, then a scripted invalid_client", async () => {
  const options = { tokenUrl: server.tokenUrl, clientId: "svc", clientSecret: Redacted.make("s3cret") }
  const layer = TokenProvider.layer(options).pipe(Layer.provide(FetchHttpClient.layer))
  const token = await Effect.runPromise(TokenProvider.get.pipe(Effect.provide(layer)))
  expect(Redacted.value(token.value).length).toBeGreaterThan(0)
  await server.always(FakeResponse.oauthError("invalid_client", { status: 401 }))
  const failed = await Effect.runPromise(Effect.flip(TokenProvider.get.pipe(Effect.provide(layer))))
  expect(failed._tag).toBe("TokenRequestRejected")
  expect(await server.tokenRequestCount()).toBe(2)
})
`
    write(
      join(app, "vitest-suite/token.test.mjs"),
      body(`import { FetchHttpClient } from "@effect/platform"
import { TokenProvider } from "@oauth-cc/core"
import { FakeAuthServer, FakeResponse } from "@oauth-cc/testkit"
import { Effect, Layer, Redacted } from "effect"
import { afterAll, beforeAll, expect, test } from "vitest"`)
    )
    write(
      join(app, "jest-suite/token.test.js"),
      body(`const { FetchHttpClient } = require("@effect/platform")
const { TokenProvider } = require("@oauth-cc/core")
const { FakeAuthServer, FakeResponse } = require("@oauth-cc/testkit")
const { Effect, Layer, Redacted } = require("effect")`)
    )
    const vitest = await run(process.execPath, ["node_modules/vitest/vitest.mjs", "run", "vitest-suite"], { cwd: app })
    assert.match(vitest.stdout, /1 passed/)
    const jest = await run(process.execPath, ["node_modules/jest/bin/jest.js", "jest-suite"], { cwd: app })
    assert.match(jest.stderr, /Tests:\s+1 passed, 1 total/)
  }, 300_000)

  it("the oauth-cc-fake-server and oauth-cc bins run with plain node", async () => {
    const server = spawn(
      process.execPath,
      [join(app, "node_modules/.bin/oauth-cc-fake-server"), "--port", "0", "--client", "svc:s3cret:read"],
      { cwd: app, stdio: ["ignore", "pipe", "pipe"] }
    )
    try {
      const line = await new Promise<string>((resolve, reject) => {
        let out = ""
        server.stdout.on("data", (chunk: Buffer) => {
          out += chunk.toString()
          if (out.includes("\n")) resolve(out.split("\n")[0]!)
        })
        server.once("exit", (code) => reject(new Error(`oauth-cc-fake-server exited with ${code}`)))
        setTimeout(() => reject(new Error(`no line from oauth-cc-fake-server within 60 s: ${out}`)), 60_000)
      })
      const { tokenUrl } = JSON.parse(line) as { tokenUrl: string }
      assert.match(tokenUrl, /^http:\/\/127\.0\.0\.1:\d+\//)
      const token = await run(process.execPath, [join(app, "node_modules/.bin/oauth-cc"), "token"], {
        cwd: app,
        env: { OAUTH_TOKEN_URL: tokenUrl, OAUTH_CLIENT_ID: "svc", OAUTH_CLIENT_SECRET: "s3cret" },
        timeout: 60_000
      })
      assert.match(token.stdout.trim(), /^\S{16,}$/)
      assert.notInclude(token.stdout + token.stderr, "s3cret")
    } finally {
      server.kill()
    }
  }, 180_000)

  it("publint and @arethetypeswrong/cli find nothing in any tarball", async () => {
    for (const name of published) {
      const lint = await attempt(join(root, "node_modules/.bin/publint"), ["--strict", tarball[name]!], root)
      assert.strictEqual(lint.code, 0, `publint ${name}:\n${lint.stdout}${lint.stderr}`)
      const types = await attempt(join(root, "node_modules/.bin/attw"), [tarball[name]!, "--format", "ascii"], root)
      assert.strictEqual(types.code, 0, `attw ${name}:\n${types.stdout}${types.stderr}`)
    }
  }, 600_000)

  it("core's build uses no Node builtin, Buffer or process: it needs only what a Web platform has", () => {
    const dist = join(app, "node_modules/@oauth-cc/core/dist")
    const found = walk(dist)
      .filter((file) => file.endsWith(".js"))
      .flatMap((file) => {
        // Code only: the JSDoc examples kept in dist may mention process.env.
        const code = transformSync(readFileSync(file, "utf8"), { minifyWhitespace: true, legalComments: "none" }).code
        return [/\brequire\("node:|from "node:|import\("node:/, /\bBuffer\b/, /\bprocess\./]
          .filter((pattern) => pattern.test(code))
          .map((pattern) => `${file.slice(dist.length + 1)}: ${pattern}`)
      })
    assert.deepStrictEqual(found, [])
  })

  describe("core with FetchHttpClient under Bun and Deno", () => {
    let tokenServer: Server
    let tokenUrl: string
    let requests = 0
    beforeAll(async () => {
      tokenServer = createServer((request, response) => {
        requests++
        let body = ""
        request.on("data", (chunk: Buffer) => (body += chunk.toString()))
        request.on("end", () => {
          const form = new URLSearchParams(body)
          const basic = request.headers.authorization === `Basic ${btoa("runtime:s3cret")}`
          const ok = form.get("grant_type") === "client_credentials" && basic
          response.writeHead(ok ? 200 : 401, { "content-type": "application/json" })
          response.end(
            JSON.stringify(
              ok
                ? { access_token: `at-${requests}`, token_type: "Bearer", expires_in: 300 }
                : { error: "invalid_client" }
            )
          )
        })
      })
      await new Promise<void>((resolve) => tokenServer.listen(0, "127.0.0.1", resolve))
      tokenUrl = `http://127.0.0.1:${(tokenServer.address() as AddressInfo).port}/token`
      write(
        join(app, "runtime.mjs"),
        `import { FetchHttpClient } from "@effect/platform"
import { TokenProvider } from "@oauth-cc/core"
import { Effect, Layer, Redacted } from "effect"

const layer = TokenProvider.layer({
  tokenUrl: ${JSON.stringify(tokenUrl)},
  clientId: "runtime",
  clientSecret: Redacted.make("s3cret")
}).pipe(Layer.provide(FetchHttpClient.layer))
const token = await Effect.runPromise(TokenProvider.get.pipe(Effect.provide(layer)))
console.log(Redacted.value(token.value))
`
      )
    })
    afterAll(() => new Promise<void>((resolve) => tokenServer.close(() => resolve())))

    const install = async (name: "bun" | "deno") => {
      const bin = join(runtimes, name, "node_modules/.bin", name)
      if (!existsSync(bin)) await npmInstall(join(runtimes, name), [`${name}@${name === "bun" ? "1" : "2"}`])
      assert.ok(statSync(bin).isFile(), `${name} installed from the npm registry`)
      return bin
    }

    it("bun", async () => {
      const bun = await install("bun")
      const before = requests
      const { stdout } = await run(bun, ["runtime.mjs"], { cwd: app, timeout: 120_000 })
      assert.match(stdout.trim(), /^at-\d+$/)
      assert.strictEqual(requests, before + 1)
    }, 600_000)

    it("deno (network to the loopback server only)", async () => {
      const deno = await install("deno")
      const before = requests
      const port = new URL(tokenUrl).port
      const { stdout } = await run(
        deno,
        [
          "run",
          "--quiet",
          `--allow-net=127.0.0.1:${port}`,
          "--allow-read",
          "--allow-env",
          "--no-prompt",
          "runtime.mjs"
        ],
        { cwd: app, env: { DENO_NO_UPDATE_CHECK: "1" }, timeout: 120_000 }
      )
      assert.match(stdout.trim(), /^at-\d+$/)
      assert.strictEqual(requests, before + 1)
    }, 600_000)
  })
})

describe("the READMEs' install lines, run verbatim with npm and pnpm", () => {
  // Our own packages are not on the registry before a release: their names in a line resolve to the tarballs
  // (npm installs the tarballs side by side; pnpm gets an override for the ones a tarball depends on).
  // Everything else in the line, the Effect ranges included, goes to the registry as written.
  const lines = published.flatMap((name) =>
    Array.from(readFileSync(join(root, "packages", name, "README.md"), "utf8").matchAll(/```sh\n([\s\S]*?)```/g))
      .flatMap((block) => block[1]!.split("\n"))
      .filter((line) => /^(npm install|pnpm add) /.test(line))
      .map((line) => ({ name, line }))
  )

  it("every published package's README has an npm and a pnpm install line naming Effect's supported range", () => {
    for (const name of published) {
      const own = lines.filter((entry) => entry.name === name).map((entry) => entry.line)
      assert.strictEqual(own.filter((line) => line.startsWith("npm install ")).length, 1, name)
      assert.strictEqual(own.filter((line) => line.startsWith("pnpm add ")).length, 1, name)
      for (const line of own) {
        assert.include(line, "effect@^3.22", line)
        assert.notMatch(line, /(^| )(effect|@effect\/[a-z-]+)( |$)/, `every Effect package has a range: ${line}`)
      }
    }
  })

  lines.forEach(({ line, name }, i) => {
    it(line, async () => {
      const dir = join(tmp, `readme-${i}`)
      const toTarball = (word: string) =>
        word.startsWith("@oauth-cc/") ? tarball[word.slice("@oauth-cc/".length)]! : word
      const [tool, , ...args] = line.split(" ")
      const overrides = Object.fromEntries(published.map((pkg) => [`@oauth-cc/${pkg}`, `file:${tarball[pkg]}`]))
      write(
        join(dir, "package.json"),
        JSON.stringify({ name: "readme", version: "1.0.0", private: true, pnpm: { overrides } }, null, 2)
      )
      await run(tool!, [tool === "npm" ? "install" : "add", ...args.map(toTarball)], { cwd: dir, timeout: 600_000 })
      const probe = `const effect = require("effect/package.json").version
if (!effect.startsWith("3.")) throw new Error("effect " + effect)
import("@oauth-cc/${name}").then((m) => console.log(effect, Object.keys(m).length > 0))`
      const { stdout } = await run(process.execPath, ["-e", probe], { cwd: dir, timeout: 60_000 })
      assert.match(stdout.trim(), /^3\.\d+\.\d+ true$/)
    }, 600_000)
  })
})
