/**
 * `oauth-cc-fake-server`: the fake authorization server as a process, for test suites in any language.
 *
 * ```sh
 * oauth-cc-fake-server --port 0 --client svc:s3cret:read,write --ttl 60 --jwt
 * {"issuer":"http://127.0.0.1:40123","tokenUrl":"http://127.0.0.1:40123/token",…}
 * ```
 *
 * Prints one JSON line once it listens, and stops cleanly (exit 0) on SIGINT or SIGTERM.
 *
 * @since 0.1.0
 */
import * as Command from "@effect/cli/Command"
import * as Options from "@effect/cli/Options"
import * as NodeContext from "@effect/platform-node/NodeContext"
import * as NodeRuntime from "@effect/platform-node/NodeRuntime"
import * as Console from "effect/Console"
import * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import * as Option from "effect/Option"
import * as ParseResult from "effect/ParseResult"
import * as Schema from "effect/Schema"
import * as FakeAuthServer from "./FakeAuthServer.js"

const Client = Schema.Struct({
  id: Schema.NonEmptyString,
  secret: Schema.Redacted(Schema.NonEmptyString),
  scopes: Schema.optional(Schema.Array(Schema.String))
})

/** `id:secret[:scopes]`, scopes separated by commas or spaces. The secret may not hold a colon. */
const ClientSpec: Schema.Schema<typeof Client.Type, string> = Schema.transformOrFail(Schema.String, Client, {
  strict: true,
  decode: (input, _, ast): Effect.Effect<typeof Client.Encoded, ParseResult.ParseIssue> => {
    const [id, secret, ...rest] = input.split(":")
    if (id === undefined || id === "" || secret === undefined || secret === "" || rest.length > 1) {
      // the input holds a secret: never echo it
      return ParseResult.fail(new ParseResult.Type(ast, "<redacted>", "expected --client id:secret[:scopes]"))
    }
    const scopes = rest.length === 1 ? rest[0]!.split(/[\s,]+/).filter((s) => s.length > 0) : undefined
    return ParseResult.succeed(scopes === undefined ? { id, secret } : { id, secret, scopes })
  },
  encode: (client, _, ast): Effect.Effect<string, ParseResult.ParseIssue> =>
    ParseResult.fail(new ParseResult.Forbidden(ast, client.id, "a client is not encoded"))
})

const Port = Schema.Int.pipe(Schema.between(0, 65535))
const Ttl = Schema.Int.pipe(Schema.positive())

const command = Command.make(
  "oauth-cc-fake-server",
  {
    port: Options.integer("port").pipe(
      Options.withSchema(Port),
      Options.withDefault(0),
      Options.withDescription("The port on 127.0.0.1 (0: any free port)")
    ),
    clients: Options.text("client").pipe(
      Options.repeated,
      Options.withSchema(Schema.mutable(Schema.Array(ClientSpec))),
      Options.withDescription(
        "A client as id:secret[:scopes] (scopes comma-separated); repeatable. Default: test-client:test-secret"
      )
    ),
    ttl: Options.integer("ttl").pipe(
      Options.withSchema(Ttl),
      Options.optional,
      Options.withDescription("Token lifetime in seconds (default 300)")
    ),
    jwt: Options.boolean("jwt").pipe(Options.withDescription("Issue ES256-signed JWT access tokens")),
    audience: Options.text("audience").pipe(Options.optional, Options.withDescription("The aud of issued tokens"))
  },
  ({ audience, clients, jwt, port, ttl }) =>
    Effect.gen(function*() {
      const server = yield* FakeAuthServer.make({
        port,
        tokenFormat: jwt ? "jwt" : "opaque",
        ...(clients.length === 0 ? {} : { clients }),
        ...(Option.isSome(ttl) ? { tokenTtl: Duration.seconds(ttl.value) } : {}),
        ...(Option.isSome(audience) ? { audience: audience.value } : {})
      })
      yield* Console.log(JSON.stringify({
        issuer: server.issuer,
        tokenUrl: server.tokenUrl,
        jwksUri: server.jwksUri,
        resourceUrl: server.resourceUrl,
        metadataUrl: server.metadataUrl,
        clients: server.clients.map((c) => c.id)
      }))
      return yield* Effect.never
    }).pipe(Effect.scoped)
).pipe(Command.withDescription("A fake OAuth 2.0 authorization server (client credentials) on 127.0.0.1"))

const cli = Command.run(command, { name: "oauth-cc-fake-server", version: "0.1.0" })

cli(process.argv).pipe(Effect.provide(NodeContext.layer), NodeRuntime.runMain({ disableErrorReporting: false }))
