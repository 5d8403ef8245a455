// The JS client's snapshotDownload into a cache folder, for bench/download_vs.sh.
// Usage: node bench/download_js.mjs HUB_URL REPO CACHE_DIR   (prints the snapshot folder)
import path from "node:path";
import { fileURLToPath, pathToFileURL } from "node:url";

// From test/interop, where the pinned package is installed.
const here = path.dirname(fileURLToPath(import.meta.url));
const pkg = path.join(here, "..", "test", "interop", "node_modules", "@huggingface", "hub", "dist", "index.mjs");
const { snapshotDownload } = await import(pathToFileURL(pkg).href);

const [hubUrl, repo, cacheDir] = process.argv.slice(2);
if (!hubUrl || !repo || !cacheDir) {
	console.error("usage: node bench/download_js.mjs HUB_URL REPO CACHE_DIR");
	process.exit(2);
}
const dir = await snapshotDownload({ hubUrl, repo, cacheDir });
console.log(dir);
