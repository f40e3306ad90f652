import * as Redacted from "effect/Redacted"
import { assertionAuth } from "./clientAssertion.js"
import type { ClientAuth, ClientAuthOptions } from "./clientAuth.js"

/**
 * `client_secret_jwt`: an assertion signed with the client secret (HS256); the secret itself is never sent.
 *
 * @see https://www.rfc-editor.org/rfc/rfc7523#section-2.2
 * @internal
 */
export const make = (
  clientId: string,
  secret: Redacted.Redacted<string>,
  assertion: Pick<ClientAuthOptions["assertion"], "lifetimeSeconds" | "audience">
): ClientAuth =>
  assertionAuth("client_secret_jwt", clientId, {
    key: new TextEncoder().encode(Redacted.value(secret)),
    alg: "HS256",
    kid: undefined,
    header: {},
    lifetimeSeconds: assertion.lifetimeSeconds
  }, assertion.audience)
