// Download-then-upload with the JS client, the way a script mirrors a repo without hfhub:
// snapshotDownload from one Hub into a cache folder, then createRepo + uploadFiles of that
// snapshot to another, for bench/mirror_vs_js.sh.
// Usage: node bench/mirror_js.mjs SRC_HUB SRC_REPO DST_HUB DST_REPO CACHE_DIR   (prints the commit oid)
import { readdir, stat } from "node:fs/promises";
import path from "node:path";
import { fileURLToPath, pathToFileURL } from "node:url";

const here = path.dirname(fileURLToPath(import.meta.url));
const pkg = path.join(here, "..", "test", "interop", "node_modules", "@huggingface", "hub", "dist", "index.mjs");
const { snapshotDownload, createRepo, uploadFiles } = await import(pathToFileURL(pkg).href);

const [srcHub, srcRepo, dstHub, dstRepo, cacheDir] = process.argv.slice(2);
if (!srcHub || !srcRepo || !dstHub || !dstRepo || !cacheDir) {
	console.error("usage: node bench/mirror_js.mjs SRC_HUB SRC_REPO DST_HUB DST_REPO CACHE_DIR");
	process.exit(2);
}

const dir = await snapshotDownload({ hubUrl: srcHub, repo: srcRepo, cacheDir });

// Snapshot entries are symlinks into blobs/: follow them.
const files = [];
for (const e of await readdir(dir, { recursive: true, withFileTypes: true })) {
	const full = path.join(e.parentPath ?? e.path, e.name);
	if (!(await stat(full)).isFile()) continue;
	files.push({ path: path.relative(dir, full).split(path.sep).join("/"), content: pathToFileURL(full) });
}
files.sort((a, b) => (a.path < b.path ? -1 : 1));

await createRepo({ hubUrl: dstHub, repo: dstRepo });
const res = await uploadFiles({ hubUrl: dstHub, repo: dstRepo, files, useXet: false, commitTitle: "bench mirror" });
console.log(res.commit.oid);
