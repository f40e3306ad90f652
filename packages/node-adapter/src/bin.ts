/**
 * The `oauth-cc` command: `oauth-cc token` prints an access token, `oauth-cc request <url>` sends one
 * authorized request. See the package README for flags and exit codes.
 *
 * @since 0.1.0
 */
import * as NodeContext from "@effect/platform-node/NodeContext"
import * as NodeRuntime from "@effect/platform-node/NodeRuntime"
import * as Effect from "effect/Effect"
import * as Exit from "effect/Exit"
import { main } from "./internal/cli.js"

NodeRuntime.runMain(main(process.argv).pipe(Effect.provide(NodeContext.layer)), {
  disableErrorReporting: true,
  disablePrettyLogger: true,
  teardown: (exit, onExit) => onExit(Exit.isSuccess(exit) ? exit.value as number : Exit.isInterrupted(exit) ? 130 : 1)
})
