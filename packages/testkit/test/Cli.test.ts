import * as ChildProcess from "node:child_process"
import * as Path from "node:path"
import * as Readline from "node:readline"
import { describe, expect, test } from "vitest"

const bin = Path.join(import.meta.dirname, "..", "bin", "oauth-cc-fake-server.mjs")

const spawn = (args: ReadonlyArray<string>) => {
  const child = ChildProcess.spawn(process.execPath, [bin, ...args], { stdio: ["ignore", "pipe", "pipe"] })
  const exited = new Promise<number | null>((resolve) => child.once("exit", (code) => resolve(code)))
  let stderr = ""
  child.stderr.on("data", (chunk) => stderr += chunk)
  const firstLine = new Promise<string>((resolve, reject) => {
    const lines = Readline.createInterface({ input: child.stdout })
    lines.once("line", (line) => resolve(line))
    void exited.then((code) => reject(new Error(`exited with ${code} before printing: ${stderr}`)))
  })
  return { child, exited, firstLine, stderr: () => stderr }
}

describe("oauth-cc-fake-server", () => {
  test("prints one JSON line, serves tokens to the configured client, exits 0 on SIGTERM", async () => {
    const { child, exited, firstLine } = spawn(["--port", "0", "--client", "svc:pw:read,write", "--ttl", "60", "--jwt"])
    const info = JSON.parse(await firstLine) as { issuer: string; tokenUrl: string; clients: Array<string> }
    expect(info.issuer).toMatch(/^http:\/\/127\.0\.0\.1:\d+$/)
    expect(info.tokenUrl).toBe(`${info.issuer}/token`)
    expect(info.clients).toEqual(["svc"])
    const res = await fetch(info.tokenUrl, {
      method: "POST",
      headers: {
        authorization: `Basic ${Buffer.from("svc:pw").toString("base64")}`,
        "content-type": "application/x-www-form-urlencoded"
      },
      body: "grant_type=client_credentials&scope=read"
    })
    expect(res.status).toBe(200)
    const body = await res.json() as { access_token: string; expires_in: number; scope: string }
    expect(body.expires_in).toBe(60)
    expect(body.scope).toBe("read")
    expect(body.access_token.split(".")).toHaveLength(3)
    const denied = await fetch(info.tokenUrl, {
      method: "POST",
      headers: { "content-type": "application/x-www-form-urlencoded" },
      body: "grant_type=client_credentials&client_id=svc&client_secret=wrong"
    })
    expect(denied.status).toBe(401)
    child.kill("SIGTERM")
    expect(await exited).toBe(0)
  })

  test("SIGINT stops it cleanly too; the default client is test-client", async () => {
    const { child, exited, firstLine } = spawn([])
    const info = JSON.parse(await firstLine) as { clients: Array<string> }
    expect(info.clients).toEqual(["test-client"])
    child.kill("SIGINT")
    expect(await exited).toBe(0)
  })

  test("a malformed --client is rejected without echoing the secret", async () => {
    const { exited, stderr } = spawn(["--client", "id:sup3r-secret:a:b"])
    expect(await exited).not.toBe(0)
    expect(stderr()).toContain("id:secret[:scopes]")
    expect(stderr()).not.toContain("sup3r-secret")
  })
})
