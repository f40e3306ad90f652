/**
 * The root README's examples are code, not prose: every ```ts block runs here verbatim as a script,
 * and the CLI lines run as child processes, against a FakeAuthServer on loopback.
 */
import { FakeAuthServer } from "@oauth-cc/testkit"
import { execFile } from "node:child_process"
import { mkdirSync, readFileSync, rmSync, writeFileSync } from "node:fs"
import { join } from "node:path"
import { promisify } from "node:util"
import { afterAll, assert, beforeAll, describe, it } from "vitest"

const run = promisify(execFile)
const root = join(import.meta.dirname, "..")
const tmp = join(import.meta.dirname, ".readme")
const secret = "readme-CANARY-secret-9f1"

const blocks = (lang: string): Array<string> =>
  Array.from(
    readFileSync(join(root, "README.md"), "utf8").matchAll(new RegExp("```" + lang + "\\n([\\s\\S]*?)```", "g"))
  )
    .map((m) => m[1]!)

let server: Awaited<ReturnType<typeof FakeAuthServer.start>>
let env: NodeJS.ProcessEnv

beforeAll(async () => {
  server = await FakeAuthServer.start({ clients: [{ id: "readme", secret }] })
  env = {
    PATH: process.env.PATH,
    OAUTH_TOKEN_URL: server.tokenUrl,
    OAUTH_CLIENT_ID: "readme",
    OAUTH_CLIENT_SECRET: secret,
    API_BASE_URL: server.resourceUrl
  }
  mkdirSync(tmp, { recursive: true })
})

afterAll(async () => {
  rmSync(tmp, { recursive: true, force: true })
  await server?.close()
})

describe("README examples", () => {
  const examples = blocks("ts")

  it("has the Effect example and the plain-script example", () => {
    assert.isAtLeast(examples.length, 2)
  })

  examples.forEach((code, i) => {
    it(`ts example ${i + 1} runs against a real token endpoint and resource`, async () => {
      const file = join(tmp, `example-${i + 1}.mts`)
      writeFileSync(file, code)
      const before = await server.resourceRequestCount()
      const { stdout, stderr } = await run(process.execPath, ["--import", "tsx", file], {
        env,
        cwd: root,
        timeout: 60_000
      })
      assert.isAbove(await server.resourceRequestCount(), before, "the example called the resource")
      assert.notInclude(stdout + stderr, secret)
      assert.notMatch(stdout + stderr, /Error|rejected/)
    }, 90_000)
  })

  it("the CLI lines work: oauth-cc token and oauth-cc request", async () => {
    const cli = join(root, "packages/node-adapter/bin/oauth-cc.mjs")
    const shell = blocks("sh").join("\n")
    assert.include(shell, "oauth-cc token")
    assert.include(shell, "oauth-cc request")
    const token = await run(process.execPath, [cli, "token"], { env, timeout: 60_000 })
    assert.match(token.stdout.trim(), /^\S+$/)
    const response = await fetch(`${server.resourceUrl}/users`, {
      headers: { authorization: `Bearer ${token.stdout.trim()}` }
    })
    assert.strictEqual(response.status, 200)
    const request = await run(
      process.execPath,
      [
        cli,
        "request",
        `${server.resourceUrl}/users`,
        "-X",
        "POST",
        "-d",
        "{\"name\":\"ada\"}",
        "-H",
        "content-type: application/json"
      ],
      { env, timeout: 60_000 }
    )
    assert.include(request.stdout, "POST")
    for (const output of [token.stderr, request.stdout, request.stderr]) assert.notInclude(output, secret)
  }, 120_000)
})
