#!/usr/bin/env node
// The JS client and files hfhub uploaded through Xet. The C++ suite xet_upload runs it.
//
//   node xet_js_download_from_hfhub.mjs download ENDPOINT TOKEN REPO PATH...
//       downloads each file through the JS client's Xet path (XetBlob) and prints
//       {"<path>": {"sha256": "...", "size": N, "xet": true|false}, ...}
//   node xet_js_download_from_hfhub.mjs upload ENDPOINT TOKEN REPO PATH_IN_REPO LOCAL_FILE
//       commits the file with the JS client through Xet and prints {"commit": "<oid>"}

import { createHash } from "node:crypto";
import { readFile } from "node:fs/promises";
import { commit, downloadFile } from "@huggingface/hub";

console.debug = () => {};
const [mode, hubUrl, accessToken, repo, ...rest] = process.argv.slice(2);
if (!mode || !hubUrl || !repo || rest.length === 0) {
	console.error("usage: xet_js_download_from_hfhub.mjs download|upload ENDPOINT TOKEN REPO ...");
	process.exit(2);
}

// Counts requests to the CAS's reconstruction route: evidence the Xet path served the bytes.
let reconstructions = 0;
const countingFetch = (url, init) => {
	if (String(url).includes("/reconstructions/")) reconstructions++;
	return fetch(url, init);
};

if (mode === "download") {
	const out = {};
	for (const p of rest) {
		const before = reconstructions;
		const blob = await downloadFile({ accessToken, hubUrl, repo, path: p, xet: true, fetch: countingFetch });
		if (!blob) throw new Error(`downloadFile returned nothing for ${p}`);
		const hash = createHash("sha256");
		let size = 0;
		const reader = blob.stream().getReader();
		for (;;) {
			const { done, value } = await reader.read();
			if (done) break;
			hash.update(value);
			size += value.length;
		}
		out[p] = { sha256: hash.digest("hex"), size, xet: reconstructions > before };
	}
	console.log(JSON.stringify(out));
} else if (mode === "upload") {
	const [pathInRepo, local] = rest;
	const content = new Blob([await readFile(local)]);
	const res = await commit({
		accessToken,
		hubUrl,
		repo,
		title: "JS upload through Xet",
		operations: [{ operation: "addOrUpdate", path: pathInRepo, content }],
		useXet: true,
		fetch: countingFetch,
	});
	console.log(JSON.stringify({ commit: res.commit.oid }));
} else {
	console.error(`unknown mode ${mode}`);
	process.exit(2);
}
