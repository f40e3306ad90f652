import { generateKeyPairSync, type KeyObject } from "node:crypto"
import type { Server } from "node:http"

/** @internal */
export interface KeyPair {
  readonly alg: "ES256" | "RS256"
  readonly kid: string
  readonly privateKey: KeyObject
  readonly publicKey: KeyObject
  readonly privateJwk: Record<string, unknown>
  readonly publicJwk: Record<string, unknown>
}

/** A fresh signing key pair and its JWKs. @internal */
export const keyPair = (alg: "ES256" | "RS256", kid: string): KeyPair => {
  const { privateKey, publicKey } = alg === "ES256"
    ? generateKeyPairSync("ec", { namedCurve: "P-256" })
    : generateKeyPairSync("rsa", { modulusLength: 2048 })
  const meta = { kid, alg, use: "sig" }
  return {
    alg,
    kid,
    privateKey,
    publicKey,
    privateJwk: { ...privateKey.export({ format: "jwk" }), ...meta },
    publicJwk: { ...publicKey.export({ format: "jwk" }), ...meta }
  }
}

const isNotice = (args: ReadonlyArray<unknown>) => typeof args[0] === "string" && args[0].includes("oidc-provider ")

/**
 * Runs `f` with oidc-provider's console notices dropped: on Node 20 it warns once that the runtime is
 * unsupported upstream (it works; see the README). Anything else still reaches the console.
 *
 * @internal
 */
export const quietly = <A>(f: () => A): A => {
  const { info, warn } = console
  console.warn = (...args: Array<unknown>) => isNotice(args) ? undefined : warn(...args)
  console.info = (...args: Array<unknown>) => isNotice(args) ? undefined : info(...args)
  const restore = () => {
    console.warn = warn
    console.info = info
  }
  try {
    const result = f()
    if (result instanceof Promise) {
      return result.finally(restore) as A
    }
    restore()
    return result
  } catch (error) {
    restore()
    throw error
  }
}

/** Stops a server, dropping kept-alive connections. @internal */
export const close = (server: Server): Promise<void> =>
  new Promise<void>((resolve) => {
    server.close(() => resolve())
    server.closeAllConnections()
  })
