import { assert, describe, it } from "@effect/vitest"
import * as Duration from "effect/Duration"
import { FakeResponse } from "../src/index.js"

describe("FakeResponse", () => {
  it("Retry-After: seconds as given, a Date as an HTTP-date, a string untouched", () => {
    assert.strictEqual(FakeResponse.rateLimited({ retryAfter: 3 }).headers["retry-after"], "3")
    assert.strictEqual(
      FakeResponse.rateLimited({ retryAfter: new Date(Date.UTC(1994, 10, 6, 8, 49, 37)) }).headers["retry-after"],
      "Sun, 06 Nov 1994 08:49:37 GMT"
    )
    assert.strictEqual(FakeResponse.unavailable({ retryAfter: "soon" }).headers["retry-after"], "soon")
    assert.isUndefined(FakeResponse.unavailable().headers["retry-after"])
  })

  it("defaults", () => {
    assert.strictEqual(FakeResponse.rateLimited().status, 429)
    assert.strictEqual(FakeResponse.unavailable().status, 503)
    assert.strictEqual(FakeResponse.serverError().status, 500)
    assert.strictEqual(FakeResponse.malformed("x").status, 200)
    assert.strictEqual(FakeResponse.malformed("x").headers["content-type"], "application/json")
    assert.deepStrictEqual(FakeResponse.oauthError("invalid_scope"), {
      _tag: "OAuthError",
      code: "invalid_scope",
      description: undefined,
      uri: undefined,
      status: undefined
    })
    const delayed = FakeResponse.delay("2 seconds", FakeResponse.hang())
    assert.isTrue(Duration.equals(delayed.duration, Duration.seconds(2)))
    assert.deepStrictEqual(delayed.response, { _tag: "Fault", fault: "hang" })
    assert.deepStrictEqual(FakeResponse.token({ expiresIn: 1 }), { _tag: "Token", expiresIn: 1 })
  })
})
