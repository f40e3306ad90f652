import { afterAll, assert, beforeAll, describe, it } from "@effect/vitest"
import * as Http from "node:http"
import type * as Net from "node:net"
import { SeedTokenProvider } from "../src/contenders/seed002.js"

// The port keeps the seed's behaviour: a cache that serves a valid token, and no lock.
describe("SeedTokenProvider", () => {
  let requests = 0
  let server: Http.Server
  let url = ""
  beforeAll(async () => {
    server = Http.createServer((request, response) => {
      request.resume()
      request.on("end", () => {
        requests++
        setTimeout(() => {
          response.writeHead(200, { "content-type": "application/json" })
          response.end(JSON.stringify({ access_token: `t${requests}`, expires_in: 60 }))
        }, 10)
      })
    })
    await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve))
    url = `http://127.0.0.1:${(server.address() as Net.AddressInfo).port}/token`
  })
  afterAll(() => new Promise<void>((resolve) => server.close(() => resolve())))

  it("caches the token until it expires", async () => {
    requests = 0
    const provider = new SeedTokenProvider(url, "id", "secret")
    const first = await provider.getToken()
    assert.strictEqual(await provider.getToken(), first)
    assert.strictEqual(requests, 1)
  })

  it("stampedes: concurrent first calls each fetch (no lock, as in the seed)", async () => {
    requests = 0
    const provider = new SeedTokenProvider(url, "id", "secret")
    await Promise.all(Array.from({ length: 20 }, () => provider.getToken()))
    assert.strictEqual(requests, 20)
  })
})
