// The JS client's createRepo + uploadFiles (one commit) of every file under a folder, for
// bench/upload_vs_js.sh. Files go in as file: URLs, so the client reads them from disk itself.
// Usage: node bench/upload_js.mjs HUB_URL REPO DIR   (prints the commit oid)
// Under Node the client hashes with node:crypto on the main thread (useWebWorkers only applies
// in browsers), five files at a time, and sends five LFS objects (five parts each) at a time.
import { readdir } from "node:fs/promises";
import path from "node:path";
import { fileURLToPath, pathToFileURL } from "node:url";

// From test/interop, where the pinned package is installed.
const here = path.dirname(fileURLToPath(import.meta.url));
const pkg = path.join(here, "..", "test", "interop", "node_modules", "@huggingface", "hub", "dist", "index.mjs");
const { createRepo, uploadFiles } = await import(pathToFileURL(pkg).href);

const [hubUrl, repo, dir] = process.argv.slice(2);
if (!hubUrl || !repo || !dir) {
	console.error("usage: node bench/upload_js.mjs HUB_URL REPO DIR");
	process.exit(2);
}

const files = [];
for (const e of await readdir(dir, { recursive: true, withFileTypes: true })) {
	if (!e.isFile()) continue;
	const full = path.join(e.parentPath ?? e.path, e.name);
	files.push({ path: path.relative(dir, full).split(path.sep).join("/"), content: pathToFileURL(full) });
}
files.sort((a, b) => (a.path < b.path ? -1 : 1));

await createRepo({ hubUrl, repo });
const res = await uploadFiles({
	hubUrl,
	repo,
	files,
	useXet: false, // `hfhub serve` speaks LFS basic/multipart, not xet
	commitTitle: "bench upload",
});
console.log(res.commit.oid);
