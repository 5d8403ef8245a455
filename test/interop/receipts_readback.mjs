#!/usr/bin/env node
// The JS client reads files a receipts commit published: prints {"<path>": "<sha256>", ...}.
// The C++ receipts test runs it to check the commit with another client.
//
//   node test/interop/receipts_readback.mjs ENDPOINT TOKEN REPO PATH...

import { createHash } from "node:crypto";
import { downloadFile } from "@huggingface/hub";

console.debug = () => {};
const [hubUrl, accessToken, repo, ...paths] = process.argv.slice(2);
if (!hubUrl || !repo || paths.length === 0) {
	console.error("usage: receipts_readback.mjs ENDPOINT TOKEN REPO PATH...");
	process.exit(2);
}
const out = {};
for (const p of paths) {
	const blob = await downloadFile({ accessToken, hubUrl, repo, path: p, xet: false });
	if (!blob) throw new Error(`downloadFile returned nothing for ${p}`);
	const hash = createHash("sha256");
	const reader = blob.stream().getReader();
	for (;;) {
		const { done, value } = await reader.read();
		if (done) break;
		hash.update(value);
	}
	out[p] = hash.digest("hex");
}
console.log(JSON.stringify(out));
