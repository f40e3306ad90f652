import * as Effect from "effect/Effect"
import * as Redacted from "effect/Redacted"
import type { ClientAuth } from "./clientAuth.js"

/**
 * `client_secret_post`: `client_id` and `client_secret` in the form body.
 *
 * @see https://www.rfc-editor.org/rfc/rfc6749#section-2.3.1
 * @internal
 */
export const make = (clientId: string, secret: Redacted.Redacted<string>): ClientAuth => ({
  method: "client_secret_post",
  credentials: () =>
    Effect.sync(() => ({
      form: [["client_id", clientId], ["client_secret", Redacted.value(secret)]],
      headers: {}
    }))
})
