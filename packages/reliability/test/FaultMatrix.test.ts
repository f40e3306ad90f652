/**
 * The fault matrix: every case asserts the outcome (a token, or the exact TokenError with its reason,
 * code, status and attempts), the token requests in the server's journal, and a bound on the time.
 */
import { describe, it } from "@effect/vitest"
import * as Effect from "effect/Effect"
import { afterAll } from "vitest"
import { cases, run, verify } from "./support/matrix.js"

let passed = 0
afterAll(() => {
  console.log(`fault matrix: ${cases.length} cases, ${passed} passed`)
})

describe("fault matrix", () => {
  for (const c of cases) {
    const test = c.mode === "socket" ? it.scopedLive : it.scoped
    test(`[${c.mode}] ${c.name}`, () =>
      Effect.gen(function*() {
        const result = yield* run(c)
        yield* verify(c, result)
        passed++
      }))
  }
})
