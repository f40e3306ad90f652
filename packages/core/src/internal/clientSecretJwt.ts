import * as Effect from "effect/Effect"
import * as Redacted from "effect/Redacted"
import { assertionAuth } from "./clientAssertion.js"
import type { ClientAuth, ClientAuthOptions } from "./clientAuth.js"
import type { CredentialSource } from "./credentialSource.js"

/**
 * `client_secret_jwt`: an assertion signed with the client secret (HS256), read from its source on every
 * attempt; the secret itself is never sent.
 *
 * @see https://www.rfc-editor.org/rfc/rfc7523#section-2.2
 * @internal
 */
export const make = (
  clientId: string,
  secret: CredentialSource,
  assertion: Pick<ClientAuthOptions["assertion"], "lifetimeSeconds" | "audience">
): ClientAuth => ({
  method: "client_secret_jwt",
  credentials: (target) =>
    Effect.flatMap(secret.read, (value) =>
      assertionAuth("client_secret_jwt", clientId, {
        key: new TextEncoder().encode(Redacted.value(value)),
        alg: "HS256",
        kid: undefined,
        header: {},
        lifetimeSeconds: assertion.lifetimeSeconds
      }, assertion.audience).credentials(target)),
  rotated: secret.rotated
})
