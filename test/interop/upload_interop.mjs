#!/usr/bin/env node
// Uploads, both ways, between hfhub and the official JS client (@huggingface/hub 2.15.0):
//   (a) `hfhub upload` pushes a folder; JS downloadFile and listFiles read it back.
//   (b) JS uploadFiles pushes files; `hfhub download` (local dir and cache) reads them back.
//   (c) JS uploadFiles pushes (b)'s LFS bytes again, to a second repo, and reads them back.
// The server runs with a 4 MiB multipart threshold so one file per direction goes up in parts.
//
//   node test/interop/upload_interop.mjs /path/to/hfhub
//
// Prints `ok - ...` / `not ok - ...` per check and ends with `N passed, M failed`.
// Set HFHUB_KEEP_TMP=1 to keep the temp dir (server root, access log, folders).

import { execFile, spawn } from "node:child_process";
import { createHash, randomBytes } from "node:crypto";
import { mkdir, mkdtemp, readFile, readdir, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import path from "node:path";
import { createInterface } from "node:readline";
import { promisify } from "node:util";
import assert from "node:assert/strict";

import { createRepo, downloadFile, listFiles, modelInfo, uploadFiles } from "@huggingface/hub";

console.debug = () => {};
const run = promisify(execFile);
const hfhub = process.argv[2];
if (!hfhub) {
	console.error("usage: upload_interop.mjs /path/to/hfhub");
	process.exit(2);
}

const MiB = 1024 * 1024;
const THRESHOLD = 4 * MiB;
const CHUNK = 1 * MiB;

let passed = 0;
let failed = 0;
async function check(name, fn) {
	try {
		await fn();
		passed++;
		console.log(`ok - ${name}`);
	} catch (err) {
		failed++;
		console.log(`not ok - ${name}: ${String(err?.message ?? err).split("\n")[0]}`);
		if (err?.stderr) for (const l of String(err.stderr).trim().split("\n").slice(-5)) console.log(`#   ${l}`);
	}
}

const sha256 = (b) => createHash("sha256").update(b).digest("hex");
function sameBytes(actual, expected, what) {
	const a = Buffer.from(actual);
	assert.equal(a.length, expected.length, `${what}: ${a.length} bytes, expected ${expected.length}`);
	assert.equal(sha256(a), sha256(expected), `${what}: sha256 differs`);
}
// Random bytes with a NUL up front, so the server's preupload always answers "lfs" for them.
function binary(n) {
	const b = randomBytes(n);
	b[0] = 0;
	return b;
}
async function collect(gen) {
	const out = [];
	for await (const x of gen) out.push(x);
	return out;
}
// Every file under `dir`, relative and '/'-separated, sorted; `skip` names top-level folders to leave out.
async function walk(dir, skip = []) {
	const out = [];
	for (const e of await readdir(dir, { withFileTypes: true, recursive: true })) {
		if (!e.isFile()) continue;
		const rel = path.relative(dir, path.join(e.parentPath ?? e.path, e.name)).split(path.sep).join("/");
		if (!skip.includes(rel.split("/")[0])) out.push(rel);
	}
	return out.sort();
}

const tmp = await mkdtemp(path.join(tmpdir(), "hfhub-upload-interop-"));
const token = "hf_alice_upload_interop";
await writeFile(path.join(tmp, "tokens.json"), JSON.stringify({ users: [{ name: "alice", token, orgs: [] }] }));
const log = path.join(tmp, "access.log");
const server = spawn(hfhub, ["serve", "--root", path.join(tmp, "root"), "--port", "0", "--tokens",
	path.join(tmp, "tokens.json"), "--access-log", log, "--threads", "2",
	"--multipart-threshold", String(THRESHOLD), "--multipart-chunk", String(CHUNK)],
	{ stdio: ["ignore", "pipe", "inherit"] });
const timer = setTimeout(() => {
	console.log("not ok - timed out");
	server.kill("SIGKILL");
	process.exit(1);
}, 240_000);

// Parsed access-log entries from line `from` on.
const logEntries = async (from = 0) =>
	(await readFile(log, "utf8")).split("\n").filter(Boolean).slice(from).map((l) => JSON.parse(l));

// LFS batch replies the JS client received, to see which transfer each object was offered.
const batchReplies = [];
async function recordingFetch(input, init) {
	const res = await fetch(input, init);
	const url = typeof input === "string" ? input : input instanceof URL ? input.href : input.url;
	if (/\.git\/info\/lfs\/objects\/batch$/.test(new URL(url).pathname) && res.ok) batchReplies.push(await res.clone().json());
	return res;
}

try {
	const hubUrl = await new Promise((resolve, reject) => {
		const rl = createInterface({ input: server.stdout });
		rl.on("line", (l) => l.startsWith("listening on ") && resolve(l.slice(13).trim()));
		server.on("exit", () => reject(new Error("server exited")));
	});
	const creds = { accessToken: token, hubUrl, fetch: recordingFetch };
	// HF_HOME keeps a stored token of the machine out of the picture.
	const env = { ...process.env, HF_TOKEN: token, HF_ENDPOINT: hubUrl, HF_HOME: path.join(tmp, "hf-home") };

	// ------------------------------------------------------------ (a) hfhub -> JS
	const up = {
		"notes.txt": Buffer.from(`plain text ${randomBytes(6).toString("hex")}\n`),
		"sub/dir/nested.json": Buffer.from(`{"nested": "${randomBytes(6).toString("hex")}"}`),
		"weights.bin": binary(700 * 1024 + 3),
		"big.safetensors": binary(THRESHOLD + 2 * CHUNK + 17),
	};
	const folder = path.join(tmp, "to-upload");
	for (const [p, b] of Object.entries(up)) {
		await mkdir(path.dirname(path.join(folder, p)), { recursive: true });
		await writeFile(path.join(folder, p), b);
	}
	const repoA = { type: "model", name: "alice/from-hfhub" };
	let commitA = null;
	const logMark = (await logEntries()).length;

	await check("hfhub upload creates the repo and prints the commit URL last", async () => {
		const { stdout } = await run(hfhub, ["upload", repoA.name, folder], { env });
		const last = stdout.trim().split("\n").pop();
		const m = new RegExp(`^${hubUrl.replace(/[.*+?^${}()|[\]\\]/g, "\\$&")}/alice/from-hfhub/commit/([0-9a-f]{40})$`).exec(last);
		assert.ok(m, `last line: ${last}`);
		commitA = m[1];
		const info = await modelInfo({ ...creds, name: repoA.name, additionalFields: ["sha"] });
		assert.equal(info.sha, commitA, "main is not at the printed commit");
	});

	await check("hfhub upload sent the big file in parts and the small LFS file in one PUT", async () => {
		const storage = (await logEntries(logMark)).filter((e) => e.listener === "storage");
		const partPuts = storage.filter((e) => e.method === "PUT" && e.target.includes("/multipart/") && e.status === 200);
		assert.equal(partPuts.length, Math.ceil(up["big.safetensors"].length / CHUNK), "multipart part PUTs");
		assert.ok(storage.some((e) => e.method === "POST" && /\/multipart\/.*\/complete/.test(e.target) && e.status === 200),
			"no multipart completion");
		const basic = storage.filter((e) => e.method === "PUT" && e.target.startsWith(`/upload/${sha256(up["weights.bin"])}?`) && e.status === 200);
		assert.equal(basic.length, 1, "basic PUT of weights.bin");
	});

	for (const [p, want] of Object.entries(up)) {
		await check(`JS downloadFile reads ${p} byte-identical`, async () => {
			const blob = await downloadFile({ ...creds, repo: repoA, path: p, revision: commitA, xet: false });
			assert.ok(blob, "downloadFile returned null");
			sameBytes(await blob.arrayBuffer(), want, p);
		});
	}

	await check("JS listFiles shows exactly the uploaded paths, LFS ones with their sha256", async () => {
		const entries = (await collect(listFiles({ ...creds, repo: repoA, recursive: true }))).filter((e) => e.type === "file");
		assert.deepEqual(entries.map((e) => e.path).sort(), [".gitattributes", ...Object.keys(up)].sort());
		const lfs = Object.fromEntries(entries.map((e) => [e.path, e.lfs?.oid ?? null]));
		assert.equal(lfs["weights.bin"], sha256(up["weights.bin"]), "weights.bin not stored as LFS");
		assert.equal(lfs["big.safetensors"], sha256(up["big.safetensors"]), "big.safetensors not stored as LFS");
		assert.equal(lfs["notes.txt"], null, "notes.txt stored as LFS");
	});

	await check("hfhub upload of the same folder again makes no commit and uploads nothing", async () => {
		const mark = (await logEntries()).length;
		const { stdout } = await run(hfhub, ["upload", repoA.name, folder], { env });
		const sent = (await logEntries(mark)).filter((e) => e.method !== "GET" && e.method !== "HEAD");
		assert.ok(!sent.some((e) => e.listener === "storage" || /\/commit\//.test(e.target)),
			`sent: ${sent.map((e) => `${e.method} ${e.target.split("?")[0]}`).join(", ")}`);
		assert.equal(stdout.trim().split("\n").pop(), `${hubUrl}/alice/from-hfhub/commit/${commitA}`);
		const info = await modelInfo({ ...creds, name: repoA.name, additionalFields: ["sha"] });
		assert.equal(info.sha, commitA, "main moved");
	});

	// ------------------------------------------------------------ (b) JS -> hfhub
	const js = {
		"config.json": Buffer.from(`{"hidden_size": ${1 + (randomBytes(1)[0] % 100)}}`),
		"tokenizer/vocab.txt": Buffer.from(`a\nb\n${randomBytes(6).toString("hex")}\n`),
		"model.bin": binary(900 * 1024 + 5),
		"shards/big.bin": binary(THRESHOLD + 3 * CHUNK + 1),
	};
	const repoB = { type: "model", name: "alice/from-js" };
	let commitB = null;

	await check("JS uploadFiles: regular, LFS basic and LFS multipart in one commit", async () => {
		await createRepo({ ...creds, repo: repoB });
		batchReplies.length = 0;
		const res = await uploadFiles({
			...creds, repo: repoB, useXet: false, commitTitle: "From the JS client",
			files: Object.entries(js).map(([p, b]) => ({ path: p, content: new Blob([b]) })),
		});
		assert.match(res?.commit?.oid ?? "", /^[0-9a-f]{40}$/);
		commitB = res.commit.oid;
		const offered = new Map(batchReplies.flatMap((r) => r.objects ?? []).map((o) => [o.oid, o.actions?.upload]));
		assert.ok(offered.get(sha256(js["shards/big.bin"]))?.header?.chunk_size, "shards/big.bin was not offered multipart");
		assert.ok(offered.get(sha256(js["model.bin"])), "model.bin was not sent through the LFS batch API");
		assert.ok(!offered.get(sha256(js["model.bin"])).header?.chunk_size, "model.bin was offered multipart");
	});

	const localDir = path.join(tmp, "local");
	await check("hfhub download --local-dir gets exactly the JS-uploaded files, byte-identical", async () => {
		const { stdout } = await run(hfhub, ["download", repoB.name, "--local-dir", localDir, "--quiet"], { env });
		assert.equal(stdout.trim().split("\n").pop(), localDir);
		assert.deepEqual(await walk(localDir, [".cache"]), [".gitattributes", ...Object.keys(js)].sort());
		for (const [p, want] of Object.entries(js)) sameBytes(await readFile(path.join(localDir, p)), want, p);
	});

	const cacheDir = path.join(tmp, "cache");
	await check("hfhub download into a fresh cache gets the JS commit, byte-identical", async () => {
		const { stdout } = await run(hfhub, ["download", repoB.name, "--cache-dir", cacheDir, "--quiet"], { env });
		const snap = path.join(cacheDir, "models--alice--from-js", "snapshots", commitB);
		assert.equal(stdout.trim().split("\n").pop(), snap);
		for (const [p, want] of Object.entries(js)) sameBytes(await readFile(path.join(snap, p)), want, p);
	});

	await check("hfhub download of one JS-uploaded multipart file by path", async () => {
		const { stdout } = await run(hfhub, ["download", repoB.name, "shards/big.bin", "--cache-dir",
			path.join(tmp, "cache-one"), "--quiet"], { env });
		sameBytes(await readFile(stdout.trim().split("\n").pop()), js["shards/big.bin"], "shards/big.bin");
	});

	// ------------------------------------------------------------ (c) the same bytes, a second repo
	// A fork or a mirror: the store holds these objects already, the new repo must still get them.
	const again = { "model.bin": js["model.bin"], "shards/big.bin": js["shards/big.bin"] };
	const repoC = { type: "model", name: "alice/from-js-again" };
	let commitC = null;

	await check("JS uploadFiles of the same LFS bytes (basic and multipart) to a second repo commits", async () => {
		await createRepo({ ...creds, repo: repoC });
		batchReplies.length = 0;
		const res = await uploadFiles({
			...creds, repo: repoC, useXet: false, commitTitle: "Same bytes, second repo",
			files: Object.entries(again).map(([p, b]) => ({ path: p, content: new Blob([b]) })),
		});
		assert.match(res?.commit?.oid ?? "", /^[0-9a-f]{40}$/);
		commitC = res.commit.oid;
		const offered = new Map(batchReplies.flatMap((r) => r.objects ?? []).map((o) => [o.oid, o.actions?.upload]));
		assert.ok(offered.get(sha256(again["shards/big.bin"]))?.header?.chunk_size, "shards/big.bin was not sent in parts");
		assert.ok(offered.get(sha256(again["model.bin"])), "model.bin was not sent");
	});

	for (const [p, want] of Object.entries(again)) {
		await check(`JS downloadFile reads ${p} from the second repo byte-identical`, async () => {
			const blob = await downloadFile({ ...creds, repo: repoC, path: p, revision: commitC ?? "main", xet: false });
			assert.ok(blob, "downloadFile returned null");
			sameBytes(await blob.arrayBuffer(), want, p);
		});
	}
} catch (err) {
	failed++;
	console.log(`not ok - setup: ${err?.message ?? err}`);
} finally {
	clearTimeout(timer);
	server.kill("SIGTERM");
	if (!process.env.HFHUB_KEEP_TMP) await rm(tmp, { recursive: true, force: true });
}
console.log(`${passed} passed, ${failed} failed`);
process.exit(failed === 0 && passed > 0 ? 0 : 1);
