import { existsSync } from "node:fs";
import { resolve } from "node:path";

/**
 * Where `npm run build` put the pages (web/build.mjs → dist/public): next to the compiled lib/ when
 * running from dist/ (and in the Docker image), under dist/ when running from the sources (tests).
 */
export function publicDir(): string {
  const candidates = [resolve(__dirname, "..", "public"), resolve(__dirname, "..", "dist", "public")];
  return candidates.find((dir) => existsSync(resolve(dir, "index.html"))) ?? candidates[candidates.length - 1];
}
