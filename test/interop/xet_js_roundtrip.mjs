#!/usr/bin/env node
// The official JS client stores files through Xet on `hfhub serve` and reads them back through
// its Xet path (XetBlob: reconstruction, then signed xorb ranges). Prints one JSON line:
// {"files":{"<path>":{"size":N,"sha256":"...","xet":true}}}. The C++ xet_server suite runs
// it and checks the server's access log.
//
//   node test/interop/xet_js_roundtrip.mjs ENDPOINT TOKEN REPO

import { createHash } from "node:crypto";
import { commit, createRepo, downloadFile, fileDownloadInfo } from "@huggingface/hub";

console.debug = () => {};
const [hubUrl, accessToken, repo] = process.argv.slice(2);
if (!hubUrl || !accessToken || !repo) {
	console.error("usage: xet_js_roundtrip.mjs ENDPOINT TOKEN REPO");
	process.exit(2);
}

// Deterministic bytes that don't compress: xorshift32.
function pseudoRandom(n, seed) {
	const out = new Uint8Array(n);
	let x = seed >>> 0 || 1;
	for (let i = 0; i < n; i++) {
		x ^= x << 13;
		x >>>= 0;
		x ^= x >>> 17;
		x ^= x << 5;
		x >>>= 0;
		out[i] = x & 0xff;
	}
	return out;
}

const sha256 = (bytes) => createHash("sha256").update(bytes).digest("hex");
const files = {
	"weights/big.bin": pseudoRandom(3 * 1024 * 1024 + 12345, 7),
	"small.bin": pseudoRandom(5000, 11),
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
	title: "Xet upload",
	operations: Object.entries(files).map(([path, bytes]) => ({
		operation: "addOrUpdate",
		path,
		content: new Blob([bytes]),
	})),
});

const out = {};
for (const [path, bytes] of Object.entries(files)) {
	const info = await fileDownloadInfo({ repo, path, accessToken, hubUrl });
	if (!info?.xet) throw new Error(`${path}: the server did not offer it through Xet`);
	const blob = await downloadFile({ repo, path, accessToken, hubUrl, downloadInfo: info });
	if (!blob) throw new Error(`${path}: downloadFile returned nothing`);
	const back = new Uint8Array(await blob.arrayBuffer());
	if (back.length !== bytes.length || sha256(back) !== sha256(bytes))
		throw new Error(`${path}: read back ${back.length} bytes that differ from the ${bytes.length} sent`);
	// A slice exercises a ranged reconstruction.
	const from = Math.floor(bytes.length / 3), to = Math.min(bytes.length, from + 200000);
	const part = new Uint8Array(await blob.slice(from, to).arrayBuffer());
	if (sha256(part) !== sha256(bytes.subarray(from, to))) throw new Error(`${path}: a slice read back wrong`);
	out[path] = { size: back.length, sha256: sha256(back), xet: true, hash: info.xet.hash };
}
console.log(JSON.stringify({ files: out }));
