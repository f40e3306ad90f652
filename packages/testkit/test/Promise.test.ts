// The Promise API from plain vitest: no Effect in the test bodies.
import { afterAll, beforeAll, describe, expect, test } from "vitest"
import { FakeAuthServer, FakeResponse } from "../src/index.js"

const basic = `Basic ${Buffer.from("test-client:test-secret").toString("base64")}`

const token = (url: string) =>
  fetch(url, {
    method: "POST",
    headers: { authorization: basic, "content-type": "application/x-www-form-urlencoded" },
    body: "grant_type=client_credentials"
  })

describe("FakeAuthServer.start (Promise API)", () => {
  let server: FakeAuthServer.Handle
  beforeAll(async () => {
    server = await FakeAuthServer.start()
  })
  afterAll(() => server.close())

  test("scripts a 429 then serves a token, and counts the calls", async () => {
    await server.enqueue(FakeResponse.rateLimited({ retryAfter: 1 }))
    const first = await token(server.tokenUrl)
    expect(first.status).toBe(429)
    expect(first.headers.get("retry-after")).toBe("1")
    const second = await token(server.tokenUrl)
    expect(second.status).toBe(200)
    const { access_token } = await second.json() as { access_token: string }
    const resource = await fetch(`${server.resourceUrl}/hello`, {
      headers: { authorization: `Bearer ${access_token}` }
    })
    expect(await resource.json()).toEqual({
      method: "GET",
      path: "/resource/hello",
      clientId: "test-client",
      scope: []
    })
    expect(await server.tokenRequestCount()).toBe(2)
    expect(await server.resourceRequestCount()).toBe(1)
    expect((await server.requests()).map((r) => r.outcome)).toEqual([429, 200, 200])
    expect(await server.unauthenticatedResourceRequests()).toBe(0)
  })

  test("revoke, expireAll, issued", async () => {
    await server.clearRequests()
    const { access_token } = await (await token(server.tokenUrl)).json() as { access_token: string }
    expect(await server.revoke(access_token)).toBe(true)
    const res = await fetch(server.resourceUrl, { headers: { authorization: `Bearer ${access_token}` } })
    expect(res.status).toBe(401)
    expect(res.headers.get("www-authenticate")).toContain(`error="invalid_token"`)
    expect(await server.resource401Count()).toBe(1)
    await server.expireAll()
    expect((await server.issued()).every((t) => t.expired)).toBe(true)
  })

  test("always / reset / awaitTokenRequests", async () => {
    await server.clearRequests()
    await server.always(FakeResponse.serverError())
    const waiting = server.awaitTokenRequests(2)
    expect((await token(server.tokenUrl)).status).toBe(500)
    expect((await token(server.tokenUrl)).status).toBe(500)
    await waiting
    await server.reset()
    expect((await token(server.tokenUrl)).status).toBe(200)
    expect(await server.maxTokenRequestsInFlight()).toBe(1)
    expect(await server.tokenRequestsInFlight()).toBe(0)
  })

  test("close is idempotent and stops the server", async () => {
    const other = await FakeAuthServer.start({ tokenFormat: "jwt" })
    expect(other.port).toBeGreaterThan(0)
    await Promise.all([other.close(), other.close()])
    await expect(token(other.tokenUrl)).rejects.toThrow()
  })
})
