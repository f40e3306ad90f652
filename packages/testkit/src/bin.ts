/**
 * `oauth-cc-fake-server`: the fake authorization server as a process, for test suites in any language.
 *
 * ```sh
 * oauth-cc-fake-server --port 0 --client svc:s3cret:read,write --ttl 60 --jwt
 * {"issuer":"http://127.0.0.1:40123","tokenUrl":"http://127.0.0.1:40123/token",…}
 * ```
 *
 * Prints one JSON line once it listens, and stops cleanly (exit 0) on SIGINT or SIGTERM. The admin API
 * (`/__admin/`: scripted answers, clients, revocation, journal, token lifetime) is on unless `--no-admin`;
 * `--config file.json` reads clients and settings.
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
import * as fs from "node:fs/promises"
import * as FakeAuthServer from "./FakeAuthServer.js"
import { ClientJson, formatError, toClientOptions } from "./internal/admin.js"

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

/** The `--config` file. */
const ConfigFile = Schema.parseJson(Schema.Struct({
  clients: Schema.optional(Schema.Array(ClientJson)),
  ttl: Schema.optional(Ttl),
  tokenFormat: Schema.optional(Schema.Literal("opaque", "jwt")),
  audience: Schema.optional(Schema.String)
}))

class ConfigFileError extends Error {}

const readConfig = (path: string) =>
  Effect.tryPromise({
    try: () => fs.readFile(path, "utf8"),
    catch: (cause) => new ConfigFileError(`cannot read --config ${path}: ${(cause as NodeJS.ErrnoException).code}`)
  }).pipe(
    Effect.flatMap((text) =>
      Effect.mapError(
        Schema.decodeUnknown(ConfigFile, { onExcessProperty: "error" })(text),
        (error) => new ConfigFileError(`invalid --config ${path}: ${formatError(error)}`)
      )
    )
  )

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
    audience: Options.text("audience").pipe(Options.optional, Options.withDescription("The aud of issued tokens")),
    config: Options.file("config").pipe(
      Options.optional,
      Options.withDescription(
        "A JSON file: {\"clients\": [{\"id\", \"secret\", \"scopes\", \"authMethods\", \"publicKey\" (JWK or PEM), \"jwks\"}], " +
          "\"ttl\", \"tokenFormat\", \"audience\"}; flags add to it"
      )
    ),
    noAdmin: Options.boolean("no-admin").pipe(Options.withDescription("Do not serve the admin API under /__admin/"))
  },
  ({ audience, clients, config, jwt, noAdmin, port, ttl }) =>
    Effect.gen(function*() {
      const file = Option.isSome(config) ? yield* readConfig(config.value) : {}
      const allClients = [...(file.clients ?? []).map(toClientOptions), ...clients]
      const tokenTtl = Option.isSome(ttl) ? ttl.value : file.ttl
      const aud = Option.isSome(audience) ? audience.value : file.audience
      const server = yield* FakeAuthServer.make({
        port,
        admin: !noAdmin,
        tokenFormat: jwt ? "jwt" : file.tokenFormat ?? "opaque",
        ...(allClients.length === 0 ? {} : { clients: allClients }),
        ...(tokenTtl === undefined ? {} : { tokenTtl: Duration.seconds(tokenTtl) }),
        ...(aud === undefined ? {} : { audience: aud })
      })
      yield* Console.log(JSON.stringify({
        issuer: server.issuer,
        tokenUrl: server.tokenUrl,
        jwksUri: server.jwksUri,
        resourceUrl: server.resourceUrl,
        metadataUrl: server.metadataUrl,
        ...(noAdmin ? {} : { adminUrl: `${server.issuer}/__admin/` }),
        clients: server.clients.map((c) => c.id)
      }))
      return yield* Effect.never
    }).pipe(Effect.scoped)
).pipe(Command.withDescription("A fake OAuth 2.0 authorization server (client credentials) on 127.0.0.1"))

const cli = Command.run(command, { name: "oauth-cc-fake-server", version: "0.1.0" })

cli(process.argv).pipe(
  Effect.catchIf(
    (error): error is ConfigFileError => error instanceof ConfigFileError,
    (error) =>
      Effect.sync(() => {
        process.stderr.write(`oauth-cc-fake-server: ${error.message}\n`)
        process.exitCode = 2
      })
  ),
  Effect.provide(NodeContext.layer),
  NodeRuntime.runMain({ disableErrorReporting: false })
)
