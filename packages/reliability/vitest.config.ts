import { defineProject, mergeConfig } from "vitest/config"
import shared from "../../vitest.shared.js"

export default mergeConfig(
  shared,
  defineProject({
    test: {
      // the soak compares the heap after a full GC
      poolOptions: { forks: { execArgv: ["--expose-gc"] } }
    }
  })
)
