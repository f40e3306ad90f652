/**
 * What the red team of issue 11 broke, attacked again from the outside: `node:http` servers written here play
 * the token endpoint and the resources. A resource that refuses every token next to one that accepts it
 * (other origin or same origin) cannot turn requests into token requests; `insufficient_scope` is read from the
 * `error` auth-param only, never from inside a quoted value.
 */
import * as HttpBody from "@effect/platform/HttpBody"
import * as HttpClient from "@effect/platform/HttpClient"
import { assert, describe, it } from "@effect/vitest"
import { AuthorizedHttpClient, TokenProvider } from "@oauth-cc/core"
import * as Effect from "effect/Effect"
import * as Redacted from "effect/Redacted"
import type * as Scope from "effect/Scope"
import { generateKeyPairSync } from "node:crypto"
import * as Http from "node:http"
import type * as Net from "node:net"
import { afterAll } from "vitest"
import { Sink } from "./support/canary.js"
import { socketClient } from "./support/matrix.js"

const figures: Array<string> = []
afterAll(() => figures.forEach((line) => console.log(line)))

interface Seen {
  readonly method: string
  readonly path: string
  readonly authorization: string | undefined
  readonly dpop: string | undefined
  readonly body: string
}

/** A `node:http` server on `host` (127.0.0.1 unless said), closed with the scope. */
const serve = (
  handler: (request: Http.IncomingMessage, response: Http.ServerResponse, body: string) => void,
  host = "127.0.0.1"
): Effect.Effect<{ readonly url: string; readonly seen: Array<Seen> }, never, Scope.Scope> =>
  Effect.acquireRelease(
    Effect.async<{ readonly server: Http.Server; readonly url: string; readonly seen: Array<Seen> }>((resume) => {
      const seen: Array<Seen> = []
      const server = Http.createServer((request, response) => {
        const chunks: Array<Buffer> = []
        request.on("data", (chunk: Buffer) => chunks.push(chunk))
        request.on("end", () => {
          const body = Buffer.concat(chunks).toString("utf8")
          seen.push({
            method: request.method ?? "",
            path: request.url ?? "",
            authorization: request.headers.authorization,
            dpop: request.headers.dpop as string | undefined,
            body
          })
          handler(request, response, body)
        })
      })
      server.listen(0, host, () => {
        const { port } = server.address() as Net.AddressInfo
        resume(Effect.succeed({ server, url: `http://${host}:${port}`, seen }))
      })
    }),
    ({ server }) =>
      Effect.async<void>((resume) => {
        server.closeAllConnections()
        server.close(() => resume(Effect.void))
      })
  )

/** A token endpoint issuing `tok-1`, `tok-2`, … */
const tokenServer = serve((_, response) => {
  tokenServerCount.n++
  response.writeHead(200, { "content-type": "application/json" })
  response.end(JSON.stringify({ access_token: `tok-${tokenServerCount.n}`, token_type: "Bearer", expires_in: 600 }))
})
const tokenServerCount = { n: 0 }

/**
 * An authorized client over fetch, or over undici as `@oauth-cc/node-adapter` sets it up (fetch follows
 * redirects by itself: the redirect tests need a client that does not).
 */
const authorized = (tokenUrl: string, options?: AuthorizedHttpClient.Options, kind: "fetch" | "undici" = "fetch") =>
  Effect.gen(function*() {
    const client = yield* socketClient(kind)
    const provider = yield* TokenProvider.make({
      tokenUrl,
      clientId: "red-team",
      clientSecret: Redacted.make("red-team-secret")
    }).pipe(Effect.provideService(HttpClient.HttpClient, client))
    return AuthorizedHttpClient.authorize(client, provider, options)
  })

/** Sets up a token server and returns its counter, reset. */
const tokens = Effect.gen(function*() {
  tokenServerCount.n = 0
  const server = yield* tokenServer
  return { url: `${server.url}/token`, count: () => server.seen.length }
})

const accepting = serve((_, response) => {
  response.writeHead(200, { "content-type": "application/json" })
  response.end("{}")
})

const refusing = (challenge = "Bearer error=\"invalid_token\"") =>
  serve((_, response) => {
    response.writeHead(401, { "www-authenticate": challenge })
    response.end("no")
  })

/**
 * The bound on token requests for `elapsed` millis of a resource refusing every token (as in core's
 * HostileResource test): the first token plus one per refusal window opened (1, 2, 4, … s back to back).
 */
const bound = (elapsed: number) => {
  let drops = 0
  for (let start = 0, window = 1000; start <= elapsed; start += window, window = Math.min(2 * window, 30_000)) {
    drops++
  }
  return 1 + drops
}

const status = (client: AuthorizedHttpClient.Client, url: string) =>
  Effect.scoped(Effect.map(client.get(url), (r) => r.status))

describe("#4 a 401 counts as a revocation only for the origin that accepted the token", () => {
  it.scopedLive("20 sequential calls alternating an accepting and an always-401 origin: the refusal budget holds", () =>
    Effect.gen(function*() {
      const t = yield* tokens
      const good = yield* accepting
      const bad = yield* refusing()
      const client = yield* authorized(t.url)
      const start = Date.now()
      for (let i = 0; i < 10; i++) {
        assert.strictEqual(yield* status(client, `${good.url}/good/${i}`), 200)
        assert.strictEqual(yield* status(client, `${bad.url}/bad/${i}`), 401)
      }
      const max = bound(Date.now() - start)
      figures.push(`#4 alternating origins, 20 sequential calls: ${t.count()} token requests (bound ${max})`)
      assert.isAtMost(t.count(), max)
    }))

  it.scopedLive("20 sequential calls alternating /good and /bad on one origin: bounded too", () =>
    Effect.gen(function*() {
      const t = yield* tokens
      const both = yield* serve((request, response) => {
        if ((request.url ?? "").startsWith("/good")) {
          response.writeHead(200)
          return response.end("{}")
        }
        response.writeHead(401, { "www-authenticate": "Bearer error=\"invalid_token\"" })
        response.end("no")
      })
      const client = yield* authorized(t.url)
      const start = Date.now()
      for (let i = 0; i < 10; i++) {
        assert.strictEqual(yield* status(client, `${both.url}/good/${i}`), 200)
        assert.strictEqual(yield* status(client, `${both.url}/bad/${i}`), 401)
      }
      const max = bound(Date.now() - start) + 1 // one revocation before the origin is known to refuse fresh tokens
      figures.push(
        `#4 alternating paths of one origin, 20 sequential calls: ${t.count()} token requests (bound ${max})`
      )
      assert.isAtMost(t.count(), max)
    }))

  it.scopedLive("50 concurrent callers, half on each origin, for 2 s: token requests bounded like always-401 alone", () =>
    Effect.gen(function*() {
      const t = yield* tokens
      const good = yield* accepting
      const bad = yield* refusing()
      const client = yield* authorized(t.url)
      const start = Date.now()
      let calls = 0
      yield* Effect.forEach(
        Array.from({ length: 50 }, (_, i) => i),
        (i) =>
          Effect.forever(
            Effect.tap(Effect.either(status(client, i % 2 === 0 ? `${good.url}/g` : `${bad.url}/b`)), () => {
              calls++
            })
          ),
        { concurrency: "unbounded", discard: true }
      ).pipe(Effect.timeout("2 seconds"), Effect.ignore)
      const max = bound(Date.now() - start)
      figures.push(
        `#4 50 concurrent callers half/half, 2 s: ${calls} calls, ${t.count()} token requests (bound ${max})`
      )
      assert.isAtLeast(calls, 10)
      assert.isAtMost(t.count(), max)
    }))

  it.scopedLive("a token the origin accepted and now refuses is still dropped at once (revocation)", () =>
    Effect.gen(function*() {
      const t = yield* tokens
      const revoked = new Set<string>()
      const resource = yield* serve((request, response) => {
        const token = (request.headers.authorization ?? "").replace(/^Bearer /, "")
        if (revoked.has(token)) {
          response.writeHead(401, { "www-authenticate": "Bearer error=\"invalid_token\"" })
          return response.end("revoked")
        }
        response.writeHead(200)
        response.end("{}")
      })
      const client = yield* authorized(t.url)
      for (let round = 1; round <= 3; round++) {
        assert.strictEqual(yield* status(client, `${resource.url}/a`), 200)
        revoked.add(`tok-${round}`)
        assert.strictEqual(yield* status(client, `${resource.url}/b`), 200)
      }
      assert.strictEqual(t.count(), 4)
    }))
})

describe("#8b WWW-Authenticate: insufficient_scope only as the error auth-param", () => {
  const table: ReadonlyArray<readonly [string, boolean]> = [
    ["Bearer error_description=\"need error=insufficient_scope\", error=\"invalid_token\"", false],
    ["Bearer realm=\"a, error=insufficient_scope\"", false],
    ["Bearer realm=\"x \\\", error=insufficient_scope\"", false],
    ["Bearer error=\"invalid_token\", error_description=\"x \\\"error=insufficient_scope\\\"\"", false],
    ["Basic realm=\"x\", error=insufficient_scope", false],
    ["Bearer error=\"insufficient_scope\"", true],
    ["Bearer realm=\"x\", error=insufficient_scope, scope=\"admin\"", true],
    ["Basic realm=\"x\", Bearer error=\"insufficient_scope\"", true],
    ["Bearer error=\"insufficient\\_scope\"", true],
    ["DPoP algs=\"ES256\", error=\"insufficient_scope\"", true]
  ]
  for (const [challenge, insufficient] of table) {
    it.scopedLive(`${challenge}: ${insufficient ? "insufficient_scope, no refetch" : "a token problem, refetched"}`, () =>
      Effect.gen(function*() {
        const t = yield* tokens
        const resource = yield* refusing(challenge)
        const client = yield* authorized(t.url)
        for (let i = 0; i < 5; i++) assert.strictEqual(yield* status(client, `${resource.url}/api/${i}`), 401)
        if (insufficient) {
          assert.strictEqual(t.count(), 1)
          assert.strictEqual(resource.seen.length, 5)
        } else {
          assert.isAtLeast(t.count(), 2)
        }
      }))
  }
})

describe("#2/#3 redirects followed by the authorized client itself (followRedirects)", () => {
  const redirect = (response: Http.ServerResponse, location: string, status = 302) => {
    response.writeHead(status, { location })
    response.end()
  }

  it.scopedLive("a hop to another origin goes without Authorization; the token never comes back on the chain", () =>
    Effect.gen(function*() {
      const t = yield* tokens
      const other = yield* serve((request, response) =>
        request.url === "/elsewhere" ? redirect(response, `${first.url}/back`) : redirect(response, "/")
      )
      const first: { url: string } = { url: "" }
      const a = yield* serve((request, response) => {
        if (request.url === "/start") return redirect(response, `${other.url}/elsewhere`)
        response.writeHead(200)
        response.end("{}")
      })
      first.url = a.url
      const client = yield* authorized(t.url, { followRedirects: 5 }, "undici")
      assert.strictEqual(yield* status(client, `${a.url}/start`), 200)
      assert.deepStrictEqual(other.seen.map((s) => [s.path, s.authorization, s.dpop]), [
        ["/elsewhere", undefined, undefined]
      ])
      assert.deepStrictEqual(a.seen.map((s) => [s.path, s.authorization]), [
        ["/start", "Bearer tok-1"],
        ["/back", undefined]
      ])
    }))

  it.scopedLive("localhost and 127.0.0.1 are different origins: no token across", () =>
    Effect.gen(function*() {
      const t = yield* tokens
      const b = yield* serve((_, response) => {
        response.writeHead(200)
        response.end("{}")
      })
      const a = yield* serve((_, response) => redirect(response, b.url.replace("127.0.0.1", "localhost") + "/x", 307))
      const client = yield* authorized(t.url, { followRedirects: 2 }, "undici")
      assert.strictEqual(yield* status(client, `${a.url}/start`), 200)
      assert.deepStrictEqual(b.seen.map((s) => s.authorization), [undefined])
    }))

  it.scopedLive("a hop to plain http on a host that is not loopback is refused before it is sent", () =>
    Effect.gen(function*() {
      const t = yield* tokens
      const a = yield* serve((_, response) => redirect(response, "http://api.remote.test/steal"))
      const client = yield* authorized(t.url, { followRedirects: 5 }, "undici")
      const error = yield* Effect.flip(Effect.scoped(client.get(`${a.url}/start`)))
      assert.strictEqual(error._tag, "RequestError")
      assert.strictEqual(error._tag === "RequestError" ? error.reason : "", "InvalidUrl")
      assert.strictEqual(a.seen.length, 1)
      const text = JSON.stringify(error) + String(error)
      assert.isFalse(text.includes("tok-1"))
    }))

  it.scopedLive("a same-origin hop carries the token; 303 of a POST becomes a GET without body", () =>
    Effect.gen(function*() {
      const t = yield* tokens
      const a = yield* serve((request, response) => {
        if (request.url === "/start") return redirect(response, "/next", 303)
        response.writeHead(200)
        response.end("{}")
      })
      const client = yield* authorized(t.url, { followRedirects: 1 }, "undici")
      const response = yield* Effect.scoped(client.post(`${a.url}/start`, { body: HttpBody.text("payload") }))
      assert.strictEqual(response.status, 200)
      assert.deepStrictEqual(a.seen.map((s) => [s.method, s.path, s.authorization, s.body]), [
        ["POST", "/start", "Bearer tok-1", "payload"],
        ["GET", "/next", "Bearer tok-1", ""]
      ])
    }))

  it.scopedLive("307 keeps the method and body; the hop limit returns the last redirect; default 0 follows none", () =>
    Effect.gen(function*() {
      const t = yield* tokens
      const a = yield* serve((request, response) => {
        const n = Number((request.url ?? "").split("/")[2] ?? "0")
        redirect(response, `/r/${n + 1}`, 307)
      })
      const limited = yield* authorized(t.url, { followRedirects: 3 }, "undici")
      const response = yield* Effect.scoped(limited.post(`${a.url}/r/0`, { body: HttpBody.text("b") }))
      assert.strictEqual(response.status, 307)
      assert.deepStrictEqual(a.seen.map((s) => [s.method, s.path, s.body, s.authorization]), [
        ["POST", "/r/0", "b", "Bearer tok-1"],
        ["POST", "/r/1", "b", "Bearer tok-1"],
        ["POST", "/r/2", "b", "Bearer tok-1"],
        ["POST", "/r/3", "b", "Bearer tok-1"]
      ])
      const plain = yield* authorized(t.url, {}, "undici")
      assert.strictEqual(yield* status(plain, `${a.url}/r/10`), 307)
      assert.strictEqual(a.seen.length, 5)
    }))
})

describe("#5 the secret echoed back in any decodable form is masked", () => {
  const secret = "CANARY-Secret+9f/3a?x"
  const id = "rt-client"
  const b64 = (text: string) => Buffer.from(text).toString("base64")
  const b64url = (text: string) => Buffer.from(text).toString("base64url")
  const form = (text: string) => new URLSearchParams([["", text]]).toString().slice(1)
  const echoes: ReadonlyArray<readonly [string, string]> = [
    ["Basic base64, padded", b64(`${id}:${form(secret)}`)],
    ["Basic base64, unpadded", b64(`${id}:${form(secret)}`).replace(/=+$/, "")],
    ["Basic base64url", b64url(`${id}:${form(secret)}`)],
    [
      "Basic base64url, padded",
      b64url(`${id}:${form(secret)}`) + "=".repeat((4 - b64url(`${id}:${form(secret)}`).length % 4) % 4)
    ],
    ["Basic of the raw secret, unpadded", b64(`${id}:${secret}`).replace(/=+$/, "")],
    ["base64 of the secret alone", b64(secret)],
    ["base64 of the secret alone, unpadded", b64(secret).replace(/=+$/, "")],
    ["base64url of the secret alone", b64url(secret)],
    ["the secret in lower case", secret.toLowerCase()],
    ["the secret in upper case", secret.toUpperCase()],
    [
      "the secret percent-encoded, lower-case hex",
      encodeURIComponent(secret).replace(/%[0-9A-F]{2}/g, (m) => m.toLowerCase())
    ],
    ["the secret form-encoded, in lower case", form(secret).toLowerCase()],
    ["the secret form-decoded (+ read as a space)", secret.replace(/\+/g, " ")],
    ["the secret JSON-escaped with \\/ (PHP)", secret.replace(/\//g, "\\/")],
    [
      "the secret with \\uXXXX escapes",
      Array.from(secret, (c) => /[A-Za-z0-9]/.test(c) ? c : `\\u${c.charCodeAt(0).toString(16).padStart(4, "0")}`)
        .join("")
    ],
    [
      "the secret as HTML character references",
      Array.from(secret, (c) => /[A-Za-z0-9]/.test(c) ? c : `&#x${c.charCodeAt(0).toString(16)};`).join("")
    ]
  ]
  for (const [name, echoed] of echoes) {
    it.scopedLive(`${name}: not in the message, String, JSON or logs`, () =>
      Effect.gen(function*() {
        const server = yield* serve((_, response) => {
          response.writeHead(400, { "content-type": "application/json" })
          response.end(JSON.stringify({ error: "invalid_client", error_description: `bad client ${echoed} here` }))
        })
        const client = yield* socketClient("undici")
        const sink = new Sink()
        const error = yield* TokenProvider.make({
          tokenUrl: `${server.url}/token`,
          clientId: id,
          clientSecret: Redacted.make(secret)
        }).pipe(
          Effect.flatMap((provider) => Effect.flip(provider.get)),
          Effect.provideService(HttpClient.HttpClient, client),
          (self) => sink.observe(self)
        )
        assert.strictEqual(error._tag, "TokenRequestRejected")
        const texts = [error.message, String(error), JSON.stringify(error), ...sink.logs]
        assert.isTrue(texts[0]!.includes("<redacted>"), texts[0])
        for (const text of texts) {
          assert.isFalse(text.includes(echoed), text)
          assert.isFalse(text.toLowerCase().includes(secret.toLowerCase()), text)
        }
      }))
  }
})

describe("#8e expires_in: a JSON number or a string of decimal digits", () => {
  for (const raw of ["\"0x10\"", "\" 1e3 \"", "\"1e3\"", "\"+300\"", "\"300.5\""]) {
    it.scopedLive(`expires_in ${raw}: TokenResponseInvalid(InvalidExpiresIn)`, () =>
      Effect.gen(function*() {
        const server = yield* serve((_, response) => {
          response.writeHead(200, { "content-type": "application/json" })
          response.end(`{"access_token":"abc","token_type":"Bearer","expires_in":${raw}}`)
        })
        const client = yield* socketClient("undici")
        const error = yield* TokenProvider.make({
          tokenUrl: `${server.url}/token`,
          clientId: "red-team",
          clientSecret: Redacted.make("red-team-secret")
        }).pipe(
          Effect.flatMap((provider) => Effect.flip(provider.get)),
          Effect.provideService(HttpClient.HttpClient, client)
        )
        assert.strictEqual(error._tag, "TokenResponseInvalid")
        assert.strictEqual(error._tag === "TokenResponseInvalid" ? error.reason : "", "InvalidExpiresIn")
      }))
  }
  it.scopedLive("expires_in \"300\" (quoted digits) and 300 are accepted", () =>
    Effect.gen(function*() {
      const server = yield* serve((request, response) => {
        response.writeHead(200, { "content-type": "application/json" })
        const raw = request.url === "/a" ? "\"300\"" : "300"
        response.end(`{"access_token":"abc","token_type":"Bearer","expires_in":${raw}}`)
      })
      const client = yield* socketClient("undici")
      for (const path of ["/a", "/b"]) {
        const token = yield* TokenProvider.make({
          tokenUrl: `${server.url}${path}`,
          clientId: "red-team",
          clientSecret: Redacted.make("red-team-secret")
        }).pipe(Effect.flatMap((provider) => provider.get), Effect.provideService(HttpClient.HttpClient, client))
        assert.strictEqual(Redacted.value(token.value), "abc")
      }
    }))
})

describe("#2/#3 redirects with a DPoP-bound token", () => {
  it.scopedLive("a same-origin hop gets a fresh proof for its own URL; a cross-origin hop gets neither token nor proof", () =>
    Effect.gen(function*() {
      const token = yield* serve((_, response) => {
        response.writeHead(200, { "content-type": "application/json" })
        response.end(JSON.stringify({ access_token: "dpop-tok", token_type: "DPoP", expires_in: 600 }))
      })
      const other = yield* serve((_, response) => {
        response.writeHead(200)
        response.end("{}")
      })
      const a = yield* serve((request, response) => {
        if (request.url === "/start") {
          response.writeHead(302, { location: "/next" })
          return response.end()
        }
        if (request.url === "/next") {
          response.writeHead(307, { location: `${other.url}/away` })
          return response.end()
        }
        response.writeHead(404)
        response.end()
      })
      const client = yield* socketClient("undici")
      const provider = yield* TokenProvider.make({
        tokenUrl: `${token.url}/token`,
        clientId: "red-team",
        clientSecret: Redacted.make("red-team-secret"),
        dpop: { key: generateKeyPairSync("ec", { namedCurve: "P-256" }).privateKey }
      }).pipe(Effect.provideService(HttpClient.HttpClient, client))
      const api = AuthorizedHttpClient.authorize(client, provider, { followRedirects: 3 })
      assert.strictEqual(yield* status(api, `${a.url}/start`), 200)
      const htu = (proof: string | undefined) =>
        proof === undefined ? undefined : JSON.parse(Buffer.from(proof.split(".")[1]!, "base64url").toString()).htu
      assert.deepStrictEqual(a.seen.map((s) => [s.path, s.authorization, htu(s.dpop)]), [
        ["/start", "DPoP dpop-tok", `${a.url}/start`],
        ["/next", "DPoP dpop-tok", `${a.url}/next`]
      ])
      assert.deepStrictEqual(other.seen.map((s) => [s.path, s.authorization, s.dpop]), [[
        "/away",
        undefined,
        undefined
      ]])
    }))
})
