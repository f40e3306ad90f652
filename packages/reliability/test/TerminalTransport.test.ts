/**
 * Failures retrying cannot fix are terminal and immediate: TLS servers written here (certificates made
 * with `openssl` for the run) present a self-signed certificate, an expired one, one for another host
 * name, or refuse the client's certificate; a proxy written here answers CONNECT with 407. Over undici
 * (as `@oauth-cc/node-adapter` sets it up) and fetch, `get` fails after one attempt with the
 * `TokenTransportError` reason that names the cause — never the secret — and discovery does the same.
 */
import * as NodeHttpClient from "@effect/platform-node/NodeHttpClient"
import * as HttpClient from "@effect/platform/HttpClient"
import { assert, describe, it } from "@effect/vitest"
import type { ClientCredentials, TokenError } from "@oauth-cc/core"
import { TokenProvider } from "@oauth-cc/core"
import * as NodeTransport from "@oauth-cc/node-adapter/NodeTransport"
import * as Effect from "effect/Effect"
import * as Redacted from "effect/Redacted"
import type * as Scope from "effect/Scope"
import * as ChildProcess from "node:child_process"
import * as Fs from "node:fs"
import * as Http from "node:http"
import * as Https from "node:https"
import type * as Net from "node:net"
import * as Os from "node:os"
import * as Path from "node:path"
import { afterAll } from "vitest"
import { canarySecret, clientId, secretForms } from "./support/canary.js"
import { socketClient } from "./support/matrix.js"

const figures: Array<string> = []
afterAll(() => figures.forEach((line) => console.log(line)))

const dir = Fs.mkdtempSync(Path.join(Os.tmpdir(), "oauth-cc-pki-"))
afterAll(() => Fs.rmSync(dir, { recursive: true, force: true }))
const openssl = (...args: ReadonlyArray<string>) =>
  ChildProcess.execFileSync("openssl", args, { cwd: dir, stdio: ["ignore", "pipe", "pipe"] })
const read = (name: string) => Fs.readFileSync(Path.join(dir, name), "utf8")
const ec = ["-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256", "-nodes"]

/** A CA, server certificates (valid, expired, for another name), a self-signed one, and a client's. */
const pki = (() => {
  Fs.writeFileSync(
    Path.join(dir, "ca.cnf"),
    "[ca]\ndefault_ca=d\n[d]\ndir=.\ndatabase=./index.txt\nnew_certs_dir=.\nserial=./serial\ndefault_md=sha256\n" +
      "policy=p\ncopy_extensions=copy\n[p]\ncommonName=supplied\n"
  )
  Fs.writeFileSync(Path.join(dir, "index.txt"), "")
  Fs.writeFileSync(Path.join(dir, "serial"), "01\n")
  openssl("req", "-x509", ...ec, "-keyout", "ca.key", "-out", "ca.crt", "-days", "2", "-subj", "/CN=test CA")
  const leaf = (name: string, san: string, dates: ReadonlyArray<string>) => {
    openssl("req", ...ec, "-keyout", `${name}.key`, "-out", `${name}.csr`, "-subj", `/CN=${name}`, "-addext", san)
    openssl(
      "ca",
      "-batch",
      "-config",
      "ca.cnf",
      "-cert",
      "ca.crt",
      "-keyfile",
      "ca.key",
      "-in",
      `${name}.csr`,
      "-out",
      `${name}.crt`,
      ...dates
    )
    return { key: read(`${name}.key`), cert: read(`${name}.crt`) }
  }
  openssl(
    "req",
    "-x509",
    ...ec,
    "-keyout",
    "self.key",
    "-out",
    "self.crt",
    "-days",
    "2",
    "-subj",
    "/CN=127.0.0.1",
    "-addext",
    "subjectAltName=IP:127.0.0.1"
  )
  return {
    ca: read("ca.crt"),
    valid: leaf("valid", "subjectAltName=IP:127.0.0.1", ["-days", "2"]),
    expired: leaf("expired", "subjectAltName=IP:127.0.0.1", [
      "-startdate",
      "20200101000000Z",
      "-enddate",
      "20200102000000Z"
    ]),
    otherName: leaf("other", "subjectAltName=DNS:auth.example.test", ["-days", "2"]),
    client: leaf("client", "subjectAltName=DNS:client", ["-days", "2"]),
    self: { key: read("self.key"), cert: read("self.crt") }
  }
})()

const listen = <S extends Net.Server>(server: S): Effect.Effect<number, never, Scope.Scope> =>
  Effect.acquireRelease(
    Effect.async<number>((resume) => {
      server.listen(0, "127.0.0.1", () => resume(Effect.succeed((server.address() as Net.AddressInfo).port)))
    }),
    () =>
      Effect.async<void>((resume) => {
        ;(server as unknown as Http.Server).closeAllConnections?.()
        server.close(() => resume(Effect.void))
      })
  )

const token = (_: Http.IncomingMessage, response: Http.ServerResponse) => {
  response.writeHead(200, { "content-type": "application/json" })
  response.end(JSON.stringify({ access_token: "tok", token_type: "Bearer", expires_in: 60 }))
}

/** A TLS token endpoint; `connections` counts TLS handshakes attempted. */
const tlsServer = (options: Https.ServerOptions) =>
  Effect.gen(function*() {
    const server = Https.createServer(options, token)
    const seen = { connections: 0 }
    server.on("connection", () => seen.connections++)
    server.on("tlsClientError", () => {})
    const port = yield* listen(server)
    return { url: `https://127.0.0.1:${port}`, seen }
  })

/** A proxy that answers every CONNECT with 407. */
const proxy407 = Effect.gen(function*() {
  const server = Http.createServer((_, response) => response.writeHead(407).end())
  const seen = { connects: 0 }
  server.on("connect", (_, socket) => {
    seen.connects++
    socket.end("HTTP/1.1 407 Proxy Authentication Required\r\nProxy-Authenticate: Basic realm=\"x\"\r\n\r\n")
  })
  const port = yield* listen(server)
  return { url: `http://127.0.0.1:${port}`, seen }
})

interface Case {
  readonly name: string
  readonly server: Https.ServerOptions
  readonly reason: TokenError.TransportReason
  readonly code: string
  readonly clients: ReadonlyArray<"undici" | "fetch">
  /** undici options for the client side (a client certificate, trusted CAs). */
  readonly tls?: NodeTransport.TlsOptions
}

const cases: ReadonlyArray<Case> = [
  {
    name: "a self-signed certificate",
    server: pki.self,
    reason: "UntrustedCertificate",
    code: "SELF_SIGNED",
    clients: ["undici", "fetch"]
  },
  {
    name: "a certificate from a CA nobody trusts",
    server: pki.valid,
    reason: "UntrustedCertificate",
    code: "UNABLE_TO_VERIFY_LEAF_SIGNATURE",
    clients: ["undici", "fetch"]
  },
  {
    name: "an expired certificate",
    server: pki.expired,
    reason: "UntrustedCertificate",
    code: "CERT_HAS_EXPIRED",
    clients: ["undici"],
    tls: { ca: pki.ca }
  },
  {
    name: "a certificate for another host name",
    server: pki.otherName,
    reason: "UntrustedCertificate",
    code: "ERR_TLS_CERT_ALTNAME_INVALID",
    clients: ["undici"],
    tls: { ca: pki.ca }
  },
  {
    // TLS 1.2: the server refuses during the handshake. (Over TLS 1.3 its alert comes after the client's
    // handshake is done, and undici reports the closed socket; a certificate from a CA the server does not
    // trust shows as ECONNRESET: both stay Network failures, retried. Known limit.)
    name: "a server that requires a client certificate, none sent (TLS 1.2)",
    server: { ...pki.valid, requestCert: true, rejectUnauthorized: true, ca: pki.ca, maxVersion: "TLSv1.2" },
    reason: "ClientCertificate",
    code: "ALERT_HANDSHAKE_FAILURE",
    clients: ["undici"],
    tls: { ca: pki.ca }
  }
]

const clientFor = (kind: "undici" | "fetch", tls?: NodeTransport.TlsOptions) =>
  kind === "undici" && tls !== undefined
    ? Effect.map(Effect.orDie(NodeTransport.makeDispatcher({ proxy: false, tls })), NodeHttpClient.makeUndici)
    : socketClient(kind)

const options = (_url: string): Omit<ClientCredentials.Options, "tokenUrl"> => ({
  clientId,
  clientSecret: Redacted.make(canarySecret),
  retry: { maxAttempts: 5, baseDelay: "50 millis", jitter: false },
  requestTimeout: "5 seconds"
})

const expectTerminal = (
  error: TokenError.TokenError,
  reason: TokenError.TransportReason,
  code: string,
  where: string
) => {
  if (error._tag === "TokenDiscoveryFailed") {
    assert.include(error.detail, reason === "ProxyAuthentication" ? "407" : code, where)
    assert.strictEqual(error.attempts, 1, `${where}: attempts`)
  } else {
    assert.strictEqual(error._tag, "TokenTransportError", `${where}: ${error.message}`)
    if (error._tag === "TokenTransportError") {
      assert.strictEqual(error.reason, reason, `${where}: ${error.message}`)
      assert.strictEqual(error.attempts, 1, `${where}: attempts`)
      assert.isFalse(error.retryable)
      if (reason !== "ProxyAuthentication") assert.include(error.message, code, where)
    }
  }
  for (const form of secretForms(canarySecret)) {
    assert.notInclude(JSON.stringify(error), form)
    assert.notInclude(error.message, form)
  }
}

describe("terminal transport failures", () => {
  for (const c of cases) {
    for (const kind of c.clients) {
      it.scopedLive(`[${kind}] ${c.name}: ${c.reason}, one attempt, for the token and for discovery`, () =>
        Effect.gen(function*() {
          const server = yield* tlsServer(c.server)
          const client = yield* clientFor(kind, c.tls)
          const start = Date.now()
          const provider = yield* TokenProvider.make({ ...options(server.url), tokenUrl: `${server.url}/token` }).pipe(
            Effect.provideService(HttpClient.HttpClient, client)
          )
          expectTerminal(yield* Effect.flip(provider.get), c.reason, c.code, "token")
          const discovering = yield* TokenProvider.make({ ...options(server.url), issuer: server.url }).pipe(
            Effect.provideService(HttpClient.HttpClient, client)
          )
          expectTerminal(yield* Effect.flip(discovering.get), c.reason, c.code, "discovery")
          figures.push(`[${kind}] ${c.name}: ${server.seen.connections} connections, ${Date.now() - start} ms`)
          assert.isAtMost(server.seen.connections, 3, "one attempt each (a connection or two per attempt)")
        }))
    }
  }

  it.scopedLive("[undici] a proxy answering 407: ProxyAuthentication, one attempt", () =>
    Effect.gen(function*() {
      const proxy = yield* proxy407
      const client = yield* Effect.map(
        Effect.orDie(NodeTransport.makeDispatcher({ proxy: proxy.url })),
        NodeHttpClient.makeUndici
      )
      const provider = yield* TokenProvider.make({
        ...options("https://auth.example.test"),
        tokenUrl: "https://auth.example.test/token"
      }).pipe(Effect.provideService(HttpClient.HttpClient, client))
      expectTerminal(yield* Effect.flip(provider.get), "ProxyAuthentication", "407", "token")
      figures.push(`[undici] proxy 407: ${proxy.seen.connects} CONNECTs`)
      assert.isAtMost(proxy.seen.connects, 3)
    }))
})
