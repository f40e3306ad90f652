import * as Effect from "effect/Effect"
import * as Redacted from "effect/Redacted"
import type { ClientAuth } from "./clientAuth.js"
import type { CredentialSource } from "./credentialSource.js"

/**
 * `client_secret_post`: `client_id` and `client_secret` in the form body; the secret read from its source on
 * every attempt.
 *
 * @see https://www.rfc-editor.org/rfc/rfc6749#section-2.3.1
 * @internal
 */
export const make = (clientId: string, secret: CredentialSource): ClientAuth => ({
  method: "client_secret_post",
  credentials: () =>
    Effect.map(secret.read, (value) => ({
      form: [["client_id", clientId], ["client_secret", Redacted.value(value)]],
      headers: {}
    })),
  rotated: secret.rotated
})
