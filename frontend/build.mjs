// Build the static site into dist/: one minified, content-hashed bundle per page, the HTML pointing at
// them. Fails when the upload page is over its size budget or a bundle holds something like an AWS key.
import { readFile, rm, writeFile } from "node:fs/promises";
import path from "node:path";
import { gzipSync } from "node:zlib";

import * as esbuild from "esbuild";

const SRC = "src";
const DIST = "dist";
const ASSETS = "assets";
/** What the upload page may load, gzip (the budget). */
const UPLOAD_PAGE_BUDGET = 150 * 1024;
/** HTML file -> the entry points it loads (by the file name it uses for each). */
const PAGES = { "index.html": ["main.js", "styles.css"], "executions.html": ["executions.js", "styles.css"] };
const ENTRIES = { main: "main.js", executions: "executions-page.js", styles: "styles.css" };
const AWS_KEY = /\b(?:AKIA|ASIA)[0-9A-Z]{16}\b/;
const kb = (bytes) => `${(bytes / 1024).toFixed(1)} KB`;

await rm(DIST, { recursive: true, force: true });
const result = await esbuild.build({
  entryPoints: Object.fromEntries(
    Object.entries(ENTRIES).map(([name, file]) => [name, path.join(SRC, file)]),
  ),
  outdir: path.join(DIST, ASSETS),
  entryNames: "[name]-[hash]",
  bundle: true,
  minify: true,
  format: "esm",
  platform: "browser",
  target: ["es2022", "chrome109", "firefox115", "safari16"],
  legalComments: "eof",
  metafile: true,
  logLevel: "warning",
});

// "main.js" (as the HTML names it) -> "assets/main-HASH.js"
const built = {};
for (const [output, { entryPoint }] of Object.entries(result.metafile.outputs)) {
  const name = Object.keys(ENTRIES).find((key) => path.join(SRC, ENTRIES[key]) === entryPoint);
  if (name !== undefined) {
    built[`${name}${path.extname(output)}`] = path.relative(DIST, output);
  }
}

const sizes = [];
for (const [page, references] of Object.entries(PAGES)) {
  let html = await readFile(path.join(SRC, page), "utf8");
  let gzip = 0;
  for (const reference of references) {
    const attribute = new RegExp(`((?:src|href)=")${reference.replace(".", "\\.")}"`);
    if (!attribute.test(html)) {
      throw new Error(`${page} does not load ${reference}`);
    }
    html = html.replace(attribute, `$1${built[reference]}"`);
    const bytes = await readFile(path.join(DIST, built[reference]));
    if (AWS_KEY.test(bytes.toString("utf8"))) {
      throw new Error(`${built[reference]} contains something that looks like an AWS access key`);
    }
    const compressed = gzipSync(bytes, { level: 9 }).length;
    gzip += compressed;
    sizes.push(`${built[reference]}: ${kb(bytes.length)} (${kb(compressed)} gzip)`);
  }
  await writeFile(path.join(DIST, page), html);
  if (page === "index.html" && gzip > UPLOAD_PAGE_BUDGET) {
    throw new Error(`the upload page loads ${kb(gzip)} gzip; the budget is ${kb(UPLOAD_PAGE_BUDGET)}`);
  }
  sizes.push(`${page} loads ${kb(gzip)} gzip`);
}
console.log([...new Set(sizes)].join("\n"));
