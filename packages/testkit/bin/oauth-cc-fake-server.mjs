#!/usr/bin/env node
// Runs the built CLI when the package is built (published), else the TypeScript source through tsx.
import { existsSync } from "node:fs"

const dist = new URL("../dist/esm/bin.js", import.meta.url)
if (existsSync(dist)) {
  await import(dist.href)
} else {
  const { register } = await import("tsx/esm/api")
  register()
  await import(new URL("../src/bin.ts", import.meta.url).href)
}
