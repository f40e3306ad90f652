import * as TokenError from "@oauth-cc/core/TokenError"
import * as Effect from "effect/Effect"
import * as Redacted from "effect/Redacted"
import * as Fs from "node:fs/promises"

/** A credential file larger than this is refused: a secret or a JWT is a few kilobytes at most. */
const maxBytes = 64 * 1024

/**
 * Reads a credential file (`OAUTH_CLIENT_SECRET_FILE`, `OAUTH_CLIENT_ASSERTION_FILE`) on every run: a rotated
 * file (a re-mounted Kubernetes secret, a refreshed projected service account token) is read anew. One trailing
 * newline is dropped. A missing, unreadable, oversized or empty file is a `TokenCredentialUnavailable` naming
 * the path and the error code, never the content.
 *
 * @internal
 */
export const readCredentialFile = (
  path: string,
  credential: "client_secret" | "client_assertion"
): Effect.Effect<Redacted.Redacted<string>, TokenError.TokenError> => {
  const unavailable = (why: string) =>
    new TokenError.TokenCredentialUnavailable({ credential, detail: `${path}: ${why}` })
  return Effect.tryPromise({
    try: async () => {
      const handle = await Fs.open(path, "r")
      try {
        const buffer = Buffer.alloc(maxBytes + 1)
        const { bytesRead } = await handle.read(buffer, 0, maxBytes + 1, 0)
        return bytesRead > maxBytes ? undefined : buffer.subarray(0, bytesRead).toString("utf8")
      } finally {
        await handle.close()
      }
    },
    catch: (error) => unavailable(String((error as NodeJS.ErrnoException)?.code ?? "cannot be read"))
  }).pipe(
    Effect.flatMap((text) => {
      if (text === undefined) return Effect.fail(unavailable(`larger than ${maxBytes} bytes`))
      const value = text.endsWith("\r\n") ? text.slice(0, -2) : text.endsWith("\n") ? text.slice(0, -1) : text
      return value.length === 0 ? Effect.fail(unavailable("is empty")) : Effect.succeed(Redacted.make(value))
    })
  )
}

/** The file reader `ClientCredentials.config` takes for the `_FILE` variables. @internal */
export const nodeFiles = { readFile: readCredentialFile }
