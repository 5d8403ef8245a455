#!/usr/bin/env node
// The JS client's cache reader over a cache folder, as one JSON line: what it finds in each
// snapshot (repo, revision, file, blob size) and the warnings it raises. The C++ tests run it to
// check that a cache hfhub left behind, even after a cancel, reads cleanly in another client.
//
//   node test/interop/cache_scan.mjs /path/to/hub-cache

import { scanCacheDir } from "@huggingface/hub";

console.debug = () => {};
const dir = process.argv[2];
if (!dir) {
	console.error("usage: cache_scan.mjs /path/to/hub-cache");
	process.exit(2);
}
const info = await scanCacheDir(dir);
const files = [];
for (const repo of info.repos) {
	for (const rev of repo.revisions) {
		for (const f of rev.files) {
			files.push({
				repo: `${repo.id.type}/${repo.id.name}`,
				revision: rev.commitOid,
				file: f.path.slice(rev.path.length + 1),
				size: f.blob.size,
			});
		}
	}
}
console.log(JSON.stringify({ files, warnings: info.warnings.map((w) => String(w?.message ?? w)) }));
