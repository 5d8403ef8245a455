#!/usr/bin/env node
// One cache for hfhub and the JS client, both ways:
//   1. hfhub downloads into a cache; JS finds the files there without fetching them again.
//   2. JS snapshotDownload fills a cache; `hfhub download --local-files-only` reads it offline.
//
//   node test/interop/cache_interop.mjs /path/to/hfhub
//
// Prints `ok - ...` / `not ok - ...` per check and ends with `N passed, M failed`.

import { execFile, spawn } from "node:child_process";
import { createHash, randomBytes } from "node:crypto";
import { mkdtemp, readFile, readlink, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import path from "node:path";
import { createInterface } from "node:readline";
import { promisify } from "node:util";
import assert from "node:assert/strict";

import { createRepo, downloadFileToCacheDir, snapshotDownload, uploadFiles } from "@huggingface/hub";

console.debug = () => {};
const run = promisify(execFile);
const hfhub = process.argv[2];
if (!hfhub) {
	console.error("usage: cache_interop.mjs /path/to/hfhub");
	process.exit(2);
}

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
	}
}

const sha256 = (b) => createHash("sha256").update(b).digest("hex");
const tmp = await mkdtemp(path.join(tmpdir(), "hfhub-cache-interop-"));
const token = "hf_alice_cache_interop";
await writeFile(path.join(tmp, "tokens.json"), JSON.stringify({ users: [{ name: "alice", token, orgs: [] }] }));
const log = path.join(tmp, "access.log");
const server = spawn(hfhub, ["serve", "--root", path.join(tmp, "root"), "--port", "0", "--tokens",
	path.join(tmp, "tokens.json"), "--access-log", log], { stdio: ["ignore", "pipe", "inherit"] });
const timer = setTimeout(() => {
	console.log("not ok - timed out");
	server.kill("SIGKILL");
	process.exit(1);
}, 180_000);

try {
	const hubUrl = await new Promise((resolve, reject) => {
		const rl = createInterface({ input: server.stdout });
		rl.on("line", (l) => l.startsWith("listening on ") && resolve(l.slice(13).trim()));
		server.on("exit", () => reject(new Error("server exited")));
	});
	const repo = { type: "model", name: "alice/shared" };
	const creds = { accessToken: token, hubUrl };
	const weights = randomBytes(3 * 1024 * 1024);
	const config = Buffer.from('{"hidden_size": 128}');
	await createRepo({ ...creds, repo });
	const res = await uploadFiles({
		...creds, repo, useXet: false,
		files: [
			{ path: "config.json", content: new Blob([config]) },
			{ path: "model.bin", content: new Blob([weights]) },
		],
	});
	const commit = res.commit.oid;
	const env = { ...process.env, HF_TOKEN: token, HF_ENDPOINT: hubUrl };
	const storageGets = async () =>
		(await readFile(log, "utf8")).split("\n").filter((l) => l.includes('"storage"') && l.includes('"GET"')).length;

	const cacheA = path.join(tmp, "cache-a");
	await check("hfhub downloads a snapshot into the cache", async () => {
		const { stdout } = await run(hfhub, ["download", "alice/shared", "--cache-dir", cacheA, "--quiet"], { env });
		const dir = stdout.trim().split("\n").pop();
		assert.equal(dir, path.join(cacheA, "models--alice--shared", "snapshots", commit));
		assert.equal(sha256(await readFile(path.join(dir, "model.bin"))), sha256(weights));
	});
	await check("JS reads what hfhub wrote, without fetching the bytes again", async () => {
		const before = await storageGets();
		for (const p of ["config.json", "model.bin"]) {
			const out = await downloadFileToCacheDir({ ...creds, repo, path: p, revision: commit, cacheDir: cacheA });
			assert.equal(out, path.join(cacheA, "models--alice--shared", "snapshots", commit, p));
		}
		assert.equal(await storageGets(), before, "JS fetched LFS bytes hfhub had already cached");
		const link = await readlink(path.join(cacheA, "models--alice--shared", "snapshots", commit, "model.bin"));
		assert.equal(link, `../../blobs/${sha256(weights)}`);
	});

	const cacheB = path.join(tmp, "cache-b");
	await check("JS snapshotDownload fills a cache", async () => {
		const dir = await snapshotDownload({ ...creds, repo, cacheDir: cacheB });
		assert.equal(dir, path.join(cacheB, "models--alice--shared", "snapshots", commit));
	});
	await check("hfhub offline reads what JS wrote", async () => {
		const before = (await readFile(log, "utf8")).split("\n").length;
		for (const [p, want] of [["config.json", config], ["model.bin", weights]]) {
			const { stdout } = await run(hfhub, ["download", "alice/shared", p, "--cache-dir", cacheB, "--local-files-only", "--quiet"], { env });
			const file = stdout.trim().split("\n").pop();
			assert.equal(file, path.join(cacheB, "models--alice--shared", "snapshots", commit, p));
			assert.equal(sha256(await readFile(file)), sha256(want));
		}
		const { stdout } = await run(hfhub, ["download", "alice/shared", "--cache-dir", cacheB, "--local-files-only", "--quiet"], { env });
		assert.equal(stdout.trim().split("\n").pop(), path.join(cacheB, "models--alice--shared", "snapshots", commit));
		assert.equal((await readFile(log, "utf8")).split("\n").length, before, "offline mode touched the server");
	});
	await check("hfhub verifies the JS-written cache", async () => {
		const { stdout } = await run(hfhub, ["cache", "verify", "--cache-dir", cacheB]);
		const m = stdout.match(/(\d+) blobs checked, 0 corrupted, 0 dangling/);
		assert.ok(m && Number(m[1]) >= 3, stdout);  // .gitattributes, config.json, model.bin
	});
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
