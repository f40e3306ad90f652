/**
 * The client certificate is checked when the layer is built: a wrong or missing key passphrase, a key that
 * is not the certificate's, unparsable PEM are `ConfigError`s naming the option, never echoing a secret;
 * nothing is sent. A right passphrase gets a token over mTLS.
 */
import { assert, describe, it } from "@effect/vitest"
import { TokenProvider } from "@oauth-cc/core"
import * as Effect from "effect/Effect"
import * as Layer from "effect/Layer"
import * as Redacted from "effect/Redacted"
import * as Crypto from "node:crypto"
import * as NodeTokenProvider from "../src/NodeTokenProvider.js"
import * as NodeTransport from "../src/NodeTransport.js"
import { makePki, type Pki } from "./fixtures/pki.js"
import { type Seen, startServer, tokenReply } from "./fixtures/server.js"

const passphrase = "pass-CANARY-phrase"

const encrypt = (key: string, secret: string) =>
  Crypto.createPrivateKey(key).export({ type: "pkcs8", format: "pem", cipher: "aes-256-cbc", passphrase: secret })
    .toString()

const mtlsEndpoint = (seen: Seen) => seen.authorized ? tokenReply(`token-for-${seen.clientCn}`) : { status: 401 }

interface Case {
  readonly name: string
  readonly tls: (pki: Pki) => NodeTransport.TlsOptions
  readonly option: string
}

const cases: ReadonlyArray<Case> = [
  {
    name: "a wrong passphrase",
    tls: (pki) => ({ cert: pki.client.cert, key: encrypt(pki.client.key, passphrase), passphrase: "not-the-CANARY" }),
    option: "tls.passphrase"
  },
  {
    name: "an encrypted key without passphrase",
    tls: (pki) => ({ cert: pki.client.cert, key: encrypt(pki.client.key, passphrase) }),
    option: "tls.passphrase"
  },
  {
    name: "a key that is not the certificate's",
    tls: (pki) => ({ cert: pki.client.cert, key: pki.stranger.key }),
    option: "tls.key"
  },
  {
    name: "a key that is not PEM",
    tls: (pki) => ({ cert: pki.client.cert, key: "CANARY not a key" }),
    option: "tls.key"
  },
  {
    name: "a certificate that is not PEM",
    tls: (pki) => ({ cert: "CANARY not a certificate", key: pki.client.key }),
    option: "tls.cert"
  },
  { name: "a certificate without key", tls: (pki) => ({ cert: pki.client.cert }), option: "tls.key" },
  {
    name: "a CA that is not PEM",
    tls: (pki) => ({ cert: pki.client.cert, key: pki.client.key, ca: "CANARY not a CA" }),
    option: "tls.ca"
  }
]

describe("TLS options are checked when the layer is built", () => {
  for (const { name, option, tls } of cases) {
    it.scopedLive(`${name}: a ConfigError naming ${option}, no secret, nothing sent`, () =>
      Effect.gen(function*() {
        const pki = yield* Effect.promise(makePki)
        const server = yield* startServer({
          tls: { cert: pki.server.cert, key: pki.server.key, ca: pki.ca.cert },
          handle: mtlsEndpoint
        })
        const options = tls(pki)
        const error = yield* TokenProvider.get.pipe(
          Effect.provide(NodeTokenProvider.layer({
            tokenUrl: `${server.url}/token`,
            clientId: "mtls-client",
            proxy: false,
            tls: { ca: pki.ca.cert, ...options }
          })),
          Effect.flip
        )
        assert.strictEqual(error._tag, "ConfigError", String(error))
        const text = `${String(error)} ${JSON.stringify(error)}`
        assert.include(text, option)
        assert.notInclude(text, "CANARY")
        assert.notInclude(text, "PRIVATE KEY")
        assert.strictEqual(server.seen.length, 0)
        // NodeTransport's own layer checks the same
        const transportError = yield* Layer.build(NodeTransport.layer({ proxy: false, tls: options })).pipe(Effect.flip)
        assert.include(String(transportError), option)
      }))
  }

  it.scopedLive("the right passphrase opens the key: a token over mTLS", () =>
    Effect.gen(function*() {
      const pki = yield* Effect.promise(makePki)
      const server = yield* startServer({
        tls: { cert: pki.server.cert, key: pki.server.key, ca: pki.ca.cert },
        handle: mtlsEndpoint
      })
      const token = yield* TokenProvider.get.pipe(
        Effect.provide(NodeTokenProvider.layer({
          tokenUrl: `${server.url}/token`,
          clientId: "mtls-client",
          proxy: false,
          tls: { ca: pki.ca.cert, cert: pki.client.cert, key: encrypt(pki.client.key, passphrase), passphrase }
        }))
      )
      assert.strictEqual(Redacted.value(token.value), "token-for-client-mtls")
    }))
})
