#!/usr/bin/env node
// In a source checkout (tsconfig.json next to src/), runs the TypeScript source through tsx: the workspace
// packages it imports export their src/*.ts, which Node cannot load from a built dist/bin.js. A published
// package (no tsconfig.json; its dependencies export dist) runs the built dist/bin.js.
import { existsSync } from "node:fs"

const checkout = existsSync(new URL("../tsconfig.json", import.meta.url))
const dist = new URL("../dist/esm/bin.js", import.meta.url)
if (!checkout && existsSync(dist)) {
  await import(dist.href)
} else {
  const { register } = await import("tsx/esm/api")
  register()
  await import(new URL("../src/bin.ts", import.meta.url).href)
}
