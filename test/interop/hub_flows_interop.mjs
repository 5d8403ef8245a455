#!/usr/bin/env node
// Team workflows of the official JS client (@huggingface/hub 2.15.0) against `hfhub serve`:
//   (a) the same LFS bytes committed to two repos with `commit` (basic and multipart): the
//       second commit lands, and each repo serves the bytes;
//   (b) a gated repo: anonymous and non-granted users get the client's HubApiError (401, 403),
//       the owner downloads, and so does a user once granted;
//   (c) a pull request opened with `commit({isPullRequest: true})` by a user who can't write
//       the repo; the same user's direct commit is refused.
// The server runs with a 4 MiB multipart threshold so the big object goes up in parts.
//
//   node test/interop/hub_flows_interop.mjs /path/to/hfhub
//
// Prints `ok - ...` / `not ok - ...` per check and ends with `N passed, M failed`.
// Set HFHUB_KEEP_TMP=1 to keep the temp dir (server root, access log).

import { spawn } from "node:child_process";
import { createHash, randomBytes } from "node:crypto";
import { mkdtemp, readFile, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import path from "node:path";
import { createInterface } from "node:readline";
import assert from "node:assert/strict";

import { HubApiError, checkRepoAccess, commit, createRepo, downloadFile, modelInfo } from "@huggingface/hub";

console.debug = () => {};
const hfhub = process.argv[2];
if (!hfhub) {
	console.error("usage: hub_flows_interop.mjs /path/to/hfhub");
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
	}
}

const sha256 = (b) => createHash("sha256").update(b).digest("hex");
function sameBytes(actual, expected, what) {
	const a = Buffer.from(actual);
	assert.equal(a.length, expected.length, `${what}: ${a.length} bytes, expected ${expected.length}`);
	assert.equal(sha256(a), sha256(expected), `${what}: sha256 differs`);
}
// Random bytes with a NUL up front, so preupload answers "lfs" for them.
function binary(n) {
	const b = randomBytes(n);
	b[0] = 0;
	return b;
}
// The HubApiError `fn` throws, checked for its status; fails if it throws nothing else.
async function apiError(fn, status) {
	try {
		await fn();
	} catch (err) {
		assert.ok(err instanceof HubApiError, `not a HubApiError: ${err?.message ?? err}`);
		assert.equal(err.statusCode, status, `status ${err.statusCode}: ${err.message}`);
		return err;
	}
	assert.fail(`no error, expected ${status}`);
}

const tmp = await mkdtemp(path.join(tmpdir(), "hfhub-flows-interop-"));
const ALICE = "hf_alice_" + randomBytes(12).toString("hex");
const BOB = "hf_bob_" + randomBytes(12).toString("hex");
const CAROL = "hf_carol_" + randomBytes(12).toString("hex");
await writeFile(path.join(tmp, "tokens.json"), JSON.stringify({
	users: [{ name: "alice", token: ALICE, orgs: [] }, { name: "bob", token: BOB, orgs: [] },
		{ name: "carol", token: CAROL, orgs: [] }],
}));
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

// LFS batch replies the client received, to see what each object was offered.
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
	const asAlice = { accessToken: ALICE, hubUrl, fetch: recordingFetch };
	const asBob = { accessToken: BOB, hubUrl, fetch: recordingFetch };
	const asCarol = { accessToken: CAROL, hubUrl };
	const anonymous = { hubUrl };
	const api = (method, p, body, token = ALICE) =>
		fetch(hubUrl + p, {
			method, body: JSON.stringify(body),
			headers: { Authorization: `Bearer ${token}`, "Content-Type": "application/json" },
		});
	const adds = (files) => Object.entries(files).map(([p, b]) => ({ operation: "addOrUpdate", path: p, content: new Blob([b]) }));

	// ------------------------------------------------------------ (a) the same bytes, two repos
	const same = { "w.bin": binary(600 * 1024 + 1), "shards/big.bin": binary(THRESHOLD + 2 * CHUNK + 3) };
	const first = { type: "model", name: "alice/first" };
	const second = { type: "model", name: "alice/second" };
	let secondCommit = null;

	await check("JS commit of LFS bytes (basic and multipart) to a first repo", async () => {
		await createRepo({ ...asAlice, repo: first });
		const res = await commit({ ...asAlice, repo: first, title: "first", operations: adds(same), useXet: false });
		assert.match(res?.commit?.oid ?? "", /^[0-9a-f]{40}$/);
	});

	await check("JS commit of the same bytes to a second repo lands, after uploading them there too", async () => {
		await createRepo({ ...asAlice, repo: second });
		batchReplies.length = 0;
		const res = await commit({ ...asAlice, repo: second, title: "second", operations: adds(same), useXet: false });
		assert.match(res?.commit?.oid ?? "", /^[0-9a-f]{40}$/);
		secondCommit = res.commit.oid;
		// The store has both objects, but this repo must still show the bytes: both are offered.
		const offered = new Map(batchReplies.flatMap((r) => r.objects ?? []).map((o) => [o.oid, o.actions?.upload]));
		assert.ok(offered.get(sha256(same["shards/big.bin"]))?.header?.chunk_size, "big.bin was not offered in parts");
		assert.ok(offered.get(sha256(same["w.bin"])), "w.bin was not offered");
	});

	for (const repo of [first, second]) {
		for (const [p, want] of Object.entries(same)) {
			await check(`JS downloadFile reads ${p} from ${repo.name} byte-identical`, async () => {
				const blob = await downloadFile({ ...asAlice, repo, path: p, revision: repo === second ? secondCommit ?? "main" : "main", xet: false });
				assert.ok(blob, "downloadFile returned null");
				sameBytes(await blob.arrayBuffer(), want, p);
			});
		}
	}

	// ------------------------------------------------------------ (b) a gated repo
	const gated = { type: "model", name: "alice/gated" };
	const gatedFiles = { "README.md": Buffer.from("# gated\n"), "weights.bin": binary(300 * 1024) };

	await check("gated repo: alice creates it, commits, and sets gated=manual", async () => {
		await createRepo({ ...asAlice, repo: gated });
		await commit({ ...asAlice, repo: gated, title: "files", operations: adds(gatedFiles), useXet: false });
		const r = await api("PUT", "/api/models/alice/gated/settings", { gated: "manual" });
		assert.equal(r.status, 200, await r.text());
		const info = await modelInfo({ ...anonymous, name: gated.name, additionalFields: ["gated"] });
		assert.equal(info.gated, "manual");
	});

	for (const p of Object.keys(gatedFiles)) {
		await check(`gated repo: anonymous downloadFile of ${p} is a HubApiError 401`, async () => {
			await apiError(() => downloadFile({ ...anonymous, repo: gated, path: p, xet: false }), 401);
		});
		await check(`gated repo: bob (not granted) gets a HubApiError 403 for ${p}`, async () => {
			const err = await apiError(() => downloadFile({ ...asBob, repo: gated, path: p, xet: false }), 403);
			assert.match(err.message, /restricted/);
		});
	}

	await check("gated repo: metadata stays readable (checkRepoAccess), auth-check is 403 GatedRepo for bob", async () => {
		// As on the Hub: this client version's checkRepoAccess reads repo info, which a gate leaves open.
		await checkRepoAccess({ ...asBob, repo: gated });
		const r = await fetch(`${hubUrl}/api/models/alice/gated/auth-check`, { headers: { Authorization: `Bearer ${BOB}` } });
		assert.equal(r.status, 403);
		assert.equal(r.headers.get("X-Error-Code"), "GatedRepo");
		const ok = await fetch(`${hubUrl}/api/models/alice/gated/auth-check`, { headers: { Authorization: `Bearer ${ALICE}` } });
		assert.equal(ok.status, 200);
	});

	await check("gated repo: the owner downloads every file byte-identical", async () => {
		for (const [p, want] of Object.entries(gatedFiles)) {
			const blob = await downloadFile({ ...asAlice, repo: gated, path: p, xet: false });
			assert.ok(blob, `${p}: null`);
			sameBytes(await blob.arrayBuffer(), want, p);
		}
	});

	await check("gated repo: once granted, bob downloads; carol still can't", async () => {
		const r = await api("POST", "/api/models/alice/gated/user-access-request/grant", { user: "bob" });
		assert.equal(r.status, 200, await r.text());
		const blob = await downloadFile({ ...asBob, repo: gated, path: "weights.bin", xet: false });
		assert.ok(blob, "null");
		sameBytes(await blob.arrayBuffer(), gatedFiles["weights.bin"], "weights.bin");
		await apiError(() => downloadFile({ ...asCarol, repo: gated, path: "weights.bin", xet: false }), 403);
	});

	// ------------------------------------------------------------ (c) a PR from another user
	const pub = { type: "model", name: "alice/public" };
	const proposal = { "proposal.txt": Buffer.from(`from bob ${randomBytes(4).toString("hex")}\n`), "bob.bin": binary(700 * 1024) };
	let prNum = null;
	let mainBefore = null;

	await check("bob opens a PR on alice's public repo with commit({isPullRequest: true})", async () => {
		await createRepo({ ...asAlice, repo: pub });
		await commit({ ...asAlice, repo: pub, title: "base", operations: adds({ "base.txt": Buffer.from("base\n") }) });
		mainBefore = (await modelInfo({ ...asAlice, name: pub.name, additionalFields: ["sha"] })).sha;
		const res = await commit({ ...asBob, repo: pub, title: "Bob's proposal", operations: adds(proposal), isPullRequest: true, useXet: false });
		const m = /\/discussions\/(\d+)$/.exec(res?.pullRequestUrl ?? "");
		assert.ok(m, `pullRequestUrl: ${res?.pullRequestUrl}`);
		prNum = Number(m[1]);
	});

	await check("bob's PR files download at refs/pr/N, and main has not moved", async () => {
		assert.ok(prNum !== null, "no PR");
		for (const [p, want] of Object.entries(proposal)) {
			const blob = await downloadFile({ ...anonymous, repo: pub, path: p, revision: `refs/pr/${prNum}`, xet: false });
			assert.ok(blob, `${p}: null`);
			sameBytes(await blob.arrayBuffer(), want, p);
			assert.equal(await downloadFile({ ...anonymous, repo: pub, path: p, xet: false }), null, `${p} is on main`);
		}
		const info = await modelInfo({ ...asAlice, name: pub.name, additionalFields: ["sha"] });
		assert.equal(info.sha, mainBefore, "main moved");
	});

	await check("bob's direct commit to main is a HubApiError 403 and lands nothing", async () => {
		await apiError(() => commit({ ...asBob, repo: pub, title: "direct", operations: adds({ "evil.txt": Buffer.from("x") }) }), 403);
		assert.equal(await downloadFile({ ...anonymous, repo: pub, path: "evil.txt", xet: false }), null);
	});

	await check("no verify call was made for bob's objects (the batch names none for non-writers)", async () => {
		const entries = (await readFile(log, "utf8")).split("\n").filter(Boolean).map((l) => JSON.parse(l));
		const bobsBatch = batchReplies.flatMap((r) => r.objects ?? []).filter((o) => o.oid === sha256(proposal["bob.bin"]));
		assert.ok(bobsBatch.length > 0, "bob.bin never went through the batch");
		assert.ok(!bobsBatch.some((o) => o.actions?.verify), "a verify action was offered to bob");
		assert.ok(!entries.some((e) => e.target.includes("/alice/public.git/info/lfs/objects/verify")), "verify was called");
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
