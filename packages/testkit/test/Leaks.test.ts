import { describe, expect, test } from "vitest"
import { FakeAuthServer, FakeResponse } from "../src/index.js"

const count = (resources: ReadonlyArray<string>) =>
  resources.reduce<Record<string, number>>((acc, r) => ({ ...acc, [r]: (acc[r] ?? 0) + 1 }), {})

describe("starting and stopping servers", () => {
  test("100 servers, each with open and hung connections, leak no handles", async () => {
    const before = count(process.getActiveResourcesInfo())
    for (let i = 0; i < 100; i++) {
      const server = await FakeAuthServer.start()
      await server.enqueue(FakeResponse.token(), FakeResponse.hang())
      const ok = await fetch(server.tokenUrl, {
        method: "POST",
        headers: { "content-type": "application/x-www-form-urlencoded" },
        body: "grant_type=client_credentials&client_id=test-client&client_secret=test-secret"
      })
      await ok.text()
      const controller = new AbortController()
      const hung = fetch(server.tokenUrl, { method: "POST", body: "x", signal: controller.signal }).catch(() =>
        "aborted"
      )
      await server.awaitTokenRequests(2)
      await server.close()
      controller.abort()
      expect(await hung).toBe("aborted")
    }
    // client-side sockets close when they see the server's FIN: give them a moment
    for (let i = 0; i < 50; i++) {
      const now = count(process.getActiveResourcesInfo())
      if ((now.TCPSocketWrap ?? 0) <= (before.TCPSocketWrap ?? 0)) break
      await new Promise((r) => setTimeout(r, 20))
    }
    const after = count(process.getActiveResourcesInfo())
    expect(after.TCPServerWrap ?? 0).toBe(before.TCPServerWrap ?? 0)
    expect(after.TCPSocketWrap ?? 0).toBeLessThanOrEqual(before.TCPSocketWrap ?? 0)
    expect(after.Timeout ?? 0).toBeLessThanOrEqual((before.Timeout ?? 0) + 1)
  })
})
