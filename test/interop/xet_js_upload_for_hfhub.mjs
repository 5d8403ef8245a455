#!/usr/bin/env node
// The official JS client stores files through Xet on `hfhub serve` (xorbs and a shard, no LFS
// upload), for hfhub to download them through its own Xet path. Prints one JSON line:
// {"files":{"<path>":{"size":N,"sha256":"..."}}}. The C++ xet_download suite runs it, downloads
// every file with hf_hub_download and compares.
//
//   node test/interop/xet_js_upload_for_hfhub.mjs ENDPOINT TOKEN REPO

import { createHash } from "node:crypto";
import { commit, createRepo } from "@huggingface/hub";

console.debug = () => {};
const [hubUrl, accessToken, repo] = process.argv.slice(2);
if (!hubUrl || !accessToken || !repo) {
	console.error("usage: xet_js_upload_for_hfhub.mjs ENDPOINT TOKEN REPO");
	process.exit(2);
}

// Bytes that don't compress (a linear congruential sequence), then a run that does, so both
// raw and LZ4 chunks are in the xorbs.
function bytesFor(n, seed) {
	const out = new Uint8Array(n);
	let x = (seed * 2654435761) >>> 0 || 1;
	for (let i = 0; i < n; i++) {
		x = (Math.imul(x, 1664525) + 1013904223) >>> 0;
		out[i] = i % 100000 < 70000 ? x >>> 24 : (i >> 10) & 0xff;
	}
	return out;
}

const sha256 = (bytes) => createHash("sha256").update(bytes).digest("hex");
const files = {
	"js/weights.bin": bytesFor(2 * 1024 * 1024 + 777, 5),
	"js/small.bin": bytesFor(9000, 6),
};

await createRepo({ repo, accessToken, hubUrl });
const settings = await fetch(`${hubUrl}/api/models/${repo}/settings`, {
	method: "PUT",
	headers: { Authorization: `Bearer ${accessToken}`, "Content-Type": "application/json" },
	body: JSON.stringify({ xetEnabled: true }),
});
if (!settings.ok) throw new Error(`settings: ${settings.status} ${await settings.text()}`);

await commit({
	repo,
	accessToken,
	hubUrl,
	title: "Xet upload from JS",
	operations: Object.entries(files).map(([path, bytes]) => ({
		operation: "addOrUpdate",
		path,
		content: new Blob([bytes]),
	})),
});

const out = {};
for (const [path, bytes] of Object.entries(files)) out[path] = { size: bytes.length, sha256: sha256(bytes) };
console.log(JSON.stringify({ files: out }));
