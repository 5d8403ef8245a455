// Xet known answers from the JS client (@huggingface/hub and its chunker/hasher), for
// test/unit/xet/test_xet_interop.cpp to compare with hfhub's own:
//   node xet_vectors.mjs OUT_DIR
// For deterministic inputs: the chunks (sizes, hashes) of the JS chunker fed in pieces, the
// xorb, file and verification hashes. Then the same files through the JS client's upload
// path with a fake fetch: the xorb and shard bodies it would POST land in OUT_DIR.
// Prints one JSON document.
import { createHash } from "node:crypto";
import { readFileSync, writeFileSync } from "node:fs";
import { dirname, join } from "node:path";
import { pathToFileURL, fileURLToPath } from "node:url";
import { createChunker, nextBlock, finalize, hashToHex, xorbHash, fileHash, verificationHash } from "@huggingface/xetchunk-wasm";

const outDir = process.argv[2];
if (!outDir) {
	console.error("usage: node xet_vectors.mjs OUT_DIR");
	process.exit(2);
}

// xorshift32, one byte per step: test/unit/xet generates the same streams.
function pseudoRandom(n, seed) {
	const out = new Uint8Array(n);
	let x = seed >>> 0;
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

const cases = [
	{ name: "empty", data: new Uint8Array(0) },
	{ name: "small", data: pseudoRandom(5000, 11) },
	{ name: "zeros", data: new Uint8Array(300 * 1024) },
	{ name: "mixed", data: (() => { const d = pseudoRandom(3 * 1024 * 1024, 12); d.fill(0, 700000, 1000000); return d; })() },
	{ name: "random", data: pseudoRandom(5 * 1024 * 1024 + 777, 13) },
];

const result = { cases: [], upload: { xorbs: [], shards: [], files: [] } };
for (const c of cases) {
	const chunker = createChunker(64 * 1024);
	const chunks = [];
	// Pieces of an odd size, so chunks straddle them.
	for (let pos = 0; pos < c.data.length; pos += 1000003) {
		chunks.push(...nextBlock(chunker, c.data.subarray(pos, Math.min(pos + 1000003, c.data.length))));
	}
	const last = finalize(chunker);
	if (last) chunks.push(last);
	result.cases.push({
		name: c.name,
		size: c.data.length,
		chunks: chunks.map((k) => [k.length, hashToHex(k.hash)]),
		xorb_hash: hashToHex(xorbHash(chunks)),
		file_hash: hashToHex(fileHash(chunks)),
		verification_hash: hashToHex(verificationHash(chunks.map((k) => k.hash))),
	});
}

// The upload path isn't exported by the package: load its bundle with an export added, its
// relative and package imports made absolute.
const hubEntry = fileURLToPath(import.meta.resolve("@huggingface/hub"));
const distDir = dirname(hubEntry);
const bundleName = readFileSync(hubEntry, "utf8").match(/from "\.\/(chunk-[A-Z0-9]+\.mjs)"/)[1];
let bundle = readFileSync(join(distDir, bundleName), "utf8");
bundle = bundle.replaceAll('"./', `"${pathToFileURL(distDir).href}/`);
bundle = bundle.replaceAll('"@huggingface/xetchunk-wasm"', `"${import.meta.resolve("@huggingface/xetchunk-wasm")}"`);
if (!bundle.includes("async function* uploadShards(")) throw new Error(`no uploadShards in ${bundleName}`);
bundle += "\nexport { uploadShards as __uploadShards };\n";
const { __uploadShards: uploadShards } = await import("data:text/javascript;base64," + Buffer.from(bundle).toString("base64"));

// A fake CAS: a write token, no dedup answers, and every POST body kept.
let posted = 0;
async function fakeFetch(url, init = {}) {
	const u = String(url);
	if (u.endsWith("/token")) {
		return new Response(JSON.stringify({ accessToken: "t", exp: Math.floor(Date.now() / 1000) + 3600, casUrl: "http://cas.invalid" }), {
			status: 200,
			headers: { "Content-Type": "application/json" },
		});
	}
	if (u.includes("/v1/chunks/")) return new Response("", { status: 404 });
	if ((init.method ?? "GET") === "POST") {
		const body = new Uint8Array(await new Response(init.body).arrayBuffer());
		const file = join(outDir, `post_${posted++}.bin`);
		writeFileSync(file, body);
		const m = u.match(/\/v1\/xorbs\/default\/([0-9a-f]{64})$/);
		if (m) result.upload.xorbs.push({ hash: m[1], path: file, size: body.length });
		else if (u.endsWith("/v1/shards")) result.upload.shards.push({ path: file, size: body.length });
		else throw new Error(`unexpected POST ${u}`);
		return new Response(JSON.stringify({ result: 0 }), { status: 200, headers: { "Content-Type": "application/json" } });
	}
	throw new Error(`unexpected request ${u}`);
}

const uploaded = cases.filter((c) => ["small", "mixed", "random"].includes(c.name));
async function* sources() {
	for (const c of uploaded) {
		yield { content: new Blob([c.data]), path: c.name, sha256: createHash("sha256").update(c.data).digest("hex") };
	}
}
for await (const event of uploadShards(sources(), {
	accessToken: "hf_fake",
	hubUrl: "http://hub.invalid",
	repo: { type: "model", name: "a/b" },
	rev: "main",
	fetch: fakeFetch,
	xetParams: { refreshWriteTokenUrl: "http://hub.invalid/token", sessionId: "s" },
})) {
	if (event.event === "file") result.upload.files.push({ path: event.path, hash: event.xetHash, sha256: event.sha256 });
}
process.stdout.write(JSON.stringify(result) + "\n");
