#!/usr/bin/env node
// Conformance test: drives the official JS client @huggingface/hub (pinned 2.15.0)
// against `hfhub serve`.
//
//   node test/interop/conformance.mjs /path/to/hfhub
//
// Prints `ok - ...` / `not ok - ...` per check and ends with `N passed, M failed`.
// Exit code 0 only when every check passed. Diagnostic lines start with `# `.
// Set HFHUB_KEEP_TMP=1 to keep the temp dir (server root, tokens, caches).

import { randomBytes } from "node:crypto";
import { existsSync } from "node:fs";
import { mkdtemp, readFile, stat, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import path from "node:path";
import assert from "node:assert/strict";

import {
	commit,
	createBranch,
	createRepo,
	downloadFile,
	downloadFileToCacheDir,
	fileDownloadInfo,
	listFiles,
	modelInfo,
	snapshotDownload,
	uploadFiles,
	whoAmI,
} from "@huggingface/hub";

import {
	HEX40,
	bytesEqual,
	check,
	checkCachedPointer,
	cleanup,
	collect,
	diag,
	expectHttpError,
	gitBlobSha1,
	lfsBatchReplies,
	normalizeEtag,
	recordingFetch,
	requestLog,
	run,
	serverStderr,
	sha256hex,
	startServer,
} from "./conformance_support.mjs";

const TOTAL_TIMEOUT_MS = 240_000;
const MiB = 1024 * 1024;

// downloadFileToCacheDir logs "Downloading ..." with console.debug (stdout); keep stdout
// to one line per check.
console.debug = () => {};
console.info = (...args) => process.stderr.write(`# ${args.join(" ")}\n`);

// ---------------------------------------------------------------- the test

// The server, with tokens for alice and bob; the client options and the repo's content the
// checks share. Null when the server does not start.
async function setUp() {
	const binary = process.argv[2];
	if (!binary || !existsSync(binary)) {
		run.failed++;
		process.stdout.write(`not ok - server binary exists: ${binary ?? "(no argument)"}\n`);
		return null;
	}

	run.tmp = await mkdtemp(path.join(tmpdir(), "hfhub-interop-"));
	const ALICE = "hf_alice_" + randomBytes(12).toString("hex");
	const BOB = "hf_bob_" + randomBytes(12).toString("hex");
	await writeFile(
		path.join(run.tmp, "tokens.json"),
		JSON.stringify({
			users: [
				{ name: "alice", token: ALICE, orgs: ["acme"] },
				{ name: "bob", token: BOB, orgs: [] },
			],
		}),
	);

	let hubUrl;
	try {
		hubUrl = await startServer(path.resolve(binary));
		run.passed++;
		process.stdout.write(`ok - server starts and prints "listening on ${hubUrl}"\n`);
	} catch (err) {
		run.failed++;
		process.stdout.write(`not ok - server starts: ${err.message}\n`);
		for (const l of serverStderr.slice(-20)) diag(`server: ${l}`);
		return null;
	}

	const common = { hubUrl, fetch: recordingFetch };
	const asAlice = { ...common, accessToken: ALICE };
	const asBob = { ...common, accessToken: BOB };
	const MODEL = "alice/conf-model";
	const model = { type: "model", name: MODEL };

	// ---------------------------------------------------------- content
	const gitattributes = Buffer.from("*.bin filter=lfs diff=lfs merge=lfs -text\n*.safetensors filter=lfs diff=lfs merge=lfs -text\n");
	const files = {
		".gitattributes": gitattributes,
		"config.json": Buffer.from(JSON.stringify({ model_type: "conformance", hidden_size: 8, note: randomBytes(8).toString("hex") }, null, 2) + "\n"),
		"notes.txt": Buffer.from(`hello from the JS client\nnonce ${randomBytes(16).toString("hex")}\n`),
		"sub/dir/nested.txt": Buffer.from(`nested file ${randomBytes(16).toString("hex")}\n`),
		"to-delete.txt": Buffer.from(`this file will be deleted ${randomBytes(4).toString("hex")}\n`),
		"weights/model-12m.bin": randomBytes(12 * MiB),
		"big-48m.bin": randomBytes(48 * MiB),
	};
	const lfsPaths = new Set(["weights/model-12m.bin", "big-48m.bin"]);
	const shas = Object.fromEntries(Object.entries(files).map(([p, b]) => [p, sha256hex(b)]));
	const blobIds = Object.fromEntries(Object.entries(files).map(([p, b]) => [p, gitBlobSha1(b)]));
	// What main should hold after the delete commit
	const mainFiles = Object.keys(files).filter((p) => p !== "to-delete.txt");
	const expectedEtag = (p) => (lfsPaths.has(p) ? shas[p] : blobIds[p]);
	return {
		common, asAlice, asBob, MODEL, model, files, lfsPaths, shas, blobIds, mainFiles, expectedEtag,
		commit1: null, // upload commit
		commit2: null, // delete commit (head of main afterwards)
	};
}

// whoAmI, and creating the model repo.
async function identityAndRepo(t) {
	const { common, asAlice, asBob, MODEL, model } = t;
	// ---------------------------------------------------------- whoAmI
	await check("whoAmI(alice) returns name alice with org acme", async () => {
		const me = await whoAmI({ ...asAlice });
		assert.equal(me.name, "alice");
		assert.equal(me.type, "user");
		assert.ok(Array.isArray(me.orgs), "orgs is not an array");
		assert.ok(me.orgs.some((o) => o.name === "acme"), `orgs ${JSON.stringify(me.orgs)} lack acme`);
	});

	await check("whoAmI(bob) returns name bob", async () => {
		const me = await whoAmI({ ...asBob });
		assert.equal(me.name, "bob");
		assert.ok(!me.orgs?.some((o) => o.name === "acme"), "bob must not be in acme");
	});

	await check("whoAmI with an unknown token fails with 401", async () => {
		await expectHttpError(whoAmI({ ...common, accessToken: "hf_not_a_real_token" }), [401], "whoAmI");
	});

	// ---------------------------------------------------------- createRepo
	await check(`createRepo ${MODEL}`, async () => {
		const res = await createRepo({ ...asAlice, repo: model });
		assert.equal(typeof res.repoUrl, "string", "response has no url");
		assert.ok(res.repoUrl.endsWith("/alice/conf-model"), `url ${res.repoUrl} does not end with /alice/conf-model`);
	});

	await check(`createRepo ${MODEL} again fails with 409`, async () => {
		await expectHttpError(createRepo({ ...asAlice, repo: model }), [409], "second createRepo");
	});
}

// One upload commit (regular, basic and multipart LFS), then a delete commit.
async function uploadAndDelete(t) {
	const { asAlice, model, files, lfsPaths, shas } = t;
	// ---------------------------------------------------------- uploadFiles
	await check("uploadFiles: regular files, 12 MiB LFS and 48 MiB LFS in one commit", async () => {
		const res = await uploadFiles({
			...asAlice,
			repo: model,
			useXet: false,
			commitTitle: "Initial upload from conformance test",
			files: Object.entries(files).map(([p, b]) => ({ path: p, content: new Blob([b]) })),
		});
		assert.ok(res, "uploadFiles returned nothing");
		assert.match(res.commit.oid ?? "", HEX40, `commitOid ${res.commit.oid} is not 40-hex`);
		assert.equal(typeof res.commit.url, "string", "commitUrl missing");
		assert.equal(res.pullRequestUrl, undefined, "pullRequestUrl set on a plain commit");
		t.commit1 = res.commit.oid;
	});

	await check("LFS upload used both basic (single PUT) and multipart transfers", async () => {
		const objects = lfsBatchReplies.flatMap((r) => r.objects ?? []);
		const byOid = new Map(objects.map((o) => [o.oid, o]));
		for (const p of lfsPaths) {
			assert.ok(byOid.has(shas[p]), `LFS batch never returned object ${p} (${shas[p]})`);
			assert.ok(byOid.get(shas[p]).actions?.upload, `no upload action for ${p}`);
		}
		assert.ok(
			lfsBatchReplies.every((r) => r.transfer !== "xet"),
			`server chose xet transfer: ${JSON.stringify(lfsBatchReplies.map((r) => r.transfer))}`,
		);
		const multipart = [...lfsPaths].filter((p) => byOid.get(shas[p]).actions.upload.header?.chunk_size);
		const basic = [...lfsPaths].filter((p) => !byOid.get(shas[p]).actions.upload.header?.chunk_size);
		assert.ok(multipart.includes("big-48m.bin"), "48 MiB file was not offered multipart");
		assert.ok(basic.length >= 1, "no LFS object used the basic transfer (12 MiB expected below the multipart threshold)");
		const big = byOid.get(shas["big-48m.bin"]).actions.upload.header;
		const parts = Object.keys(big).filter((k) => /^[0-9]+$/.test(k));
		assert.ok(parts.length >= 2, `multipart with ${parts.length} part(s)`);
		assert.equal(parts.length, Math.ceil(48 * MiB / parseInt(big.chunk_size)), "part count != ceil(size/chunk_size)");
	});

	// ---------------------------------------------------------- delete commit
	await check("commit with a delete operation", async () => {
		const res = await commit({
			...asAlice,
			repo: model,
			title: "Delete to-delete.txt",
			operations: [{ operation: "delete", path: "to-delete.txt" }],
			useXet: false,
		});
		assert.match(res?.commit?.oid ?? "", HEX40, "commitOid is not 40-hex");
		assert.notEqual(res.commit.oid, t.commit1, "delete commit has the same oid as the upload commit");
		t.commit2 = res.commit.oid;
	});

	await check("deleted file and never-existing file: downloadFile returns null", async () => {
		assert.equal(await downloadFile({ ...asAlice, repo: model, path: "to-delete.txt", xet: false }), null, "deleted file");
		assert.equal(await downloadFile({ ...asAlice, repo: model, path: "no/such/file.txt", xet: false }), null, "missing file");
	});

	await check("deleted file is still downloadable at the previous commit", async () => {
		assert.ok(t.commit1, "no upload commit");
		const blob = await downloadFile({ ...asAlice, repo: model, path: "to-delete.txt", revision: t.commit1, xet: false });
		assert.ok(blob, "null at upload commit");
		bytesEqual(await blob.arrayBuffer(), files["to-delete.txt"], "to-delete.txt@t.commit1");
	});
}

// The head seen through modelInfo, a branch, and a pull request.
async function branchAndPullRequest(t) {
	const { asAlice, MODEL, model } = t;
	// ---------------------------------------------------------- modelInfo
	await check("modelInfo (default revision HEAD) shows sha = head of main, public", async () => {
		const info = await modelInfo({ ...asAlice, name: MODEL, additionalFields: ["sha"] });
		assert.equal(info.name, MODEL);
		assert.equal(info.private, false);
		assert.equal(info.sha, t.commit2, `sha ${info.sha} != head ${t.commit2}`);
	});

	// ---------------------------------------------------------- branch
	const devFile = Buffer.from(`only on dev ${randomBytes(8).toString("hex")}\n`);
	await check("createBranch dev, then uploadFiles to branch dev", async () => {
		await createBranch({ ...asAlice, repo: model, branch: "dev" });
		const res = await uploadFiles({
			...asAlice,
			repo: model,
			branch: "dev",
			useXet: false,
			files: [{ path: "dev-only.txt", content: new Blob([devFile]) }],
		});
		assert.match(res?.commit?.oid ?? "", HEX40, "commitOid is not 40-hex");
	});

	await check("createBranch dev again fails with 409", async () => {
		await expectHttpError(createBranch({ ...asAlice, repo: model, branch: "dev" }), [409], "second createBranch");
	});

	await check("dev-only.txt is on dev and not on main", async () => {
		const blob = await downloadFile({ ...asAlice, repo: model, path: "dev-only.txt", revision: "dev", xet: false });
		assert.ok(blob, "null on dev");
		bytesEqual(await blob.arrayBuffer(), devFile, "dev-only.txt@dev");
		assert.equal(await downloadFile({ ...asAlice, repo: model, path: "dev-only.txt", xet: false }), null, "present on main");
		const devList = (await collect(listFiles({ ...asAlice, repo: model, revision: "dev", recursive: true })))
			.filter((e) => e.type === "file")
			.map((e) => e.path);
		assert.ok(devList.includes("dev-only.txt"), "listFiles(dev) lacks dev-only.txt");
		assert.ok(devList.includes("config.json"), "listFiles(dev) lacks config.json (branch not started from main?)");
	});

	// ---------------------------------------------------------- pull request
	const prFile = Buffer.from(`pull request file ${randomBytes(8).toString("hex")}\n`);
	const prBin = randomBytes(1 * MiB + 123);
	let prNum = null;
	await check("uploadFiles with isPullRequest returns pullRequestUrl .../discussions/<N>", async () => {
		const res = await uploadFiles({
			...asAlice,
			repo: model,
			isPullRequest: true,
			useXet: false,
			commitTitle: "PR from conformance test",
			files: [
				{ path: "pr-file.txt", content: new Blob([prFile]) },
				{ path: "pr-weights.bin", content: new Blob([prBin]) },
			],
		});
		assert.match(res?.commit?.oid ?? "", HEX40, "commitOid is not 40-hex");
		assert.equal(typeof res.pullRequestUrl, "string", "no pullRequestUrl");
		const m = /\/discussions\/(\d+)$/.exec(res.pullRequestUrl);
		assert.ok(m, `pullRequestUrl ${res.pullRequestUrl} does not end with /discussions/<N>`);
		prNum = Number(m[1]);
	});

	await check("PR files download at refs/pr/<N> and are absent from main", async () => {
		assert.ok(prNum !== null, "no PR number");
		const rev = `refs/pr/${prNum}`;
		const blob = await downloadFile({ ...asAlice, repo: model, path: "pr-file.txt", revision: rev, xet: false });
		assert.ok(blob, `pr-file.txt null at ${rev}`);
		bytesEqual(await blob.arrayBuffer(), prFile, `pr-file.txt@${rev}`);
		const bin = await downloadFile({ ...asAlice, repo: model, path: "pr-weights.bin", revision: rev, xet: false });
		assert.ok(bin, `pr-weights.bin null at ${rev}`);
		bytesEqual(await bin.arrayBuffer(), prBin, `pr-weights.bin@${rev}`);
		assert.equal(await downloadFile({ ...asAlice, repo: model, path: "pr-file.txt", xet: false }), null, "PR file visible on main");
		const info = await modelInfo({ ...asAlice, name: MODEL, additionalFields: ["sha"] });
		assert.equal(info.sha, t.commit2, "main moved after the PR commit");
	});
}

// listFiles, recursive or not, of the whole repo or a folder.
async function listings(t) {
	const { asAlice, model, files, lfsPaths, shas, blobIds, mainFiles } = t;
	// ---------------------------------------------------------- listFiles
	await check("listFiles(recursive) lists exactly the expected files with sizes, oids and lfs info", async () => {
		const entries = await collect(listFiles({ ...asAlice, repo: model, recursive: true }));
		const fileEntries = entries.filter((e) => e.type === "file");
		const got = fileEntries.map((e) => e.path).sort();
		assert.deepEqual(got, [...mainFiles].sort(), "file paths differ");
		const dirs = entries.filter((e) => e.type === "directory").map((e) => e.path);
		const allowedDirs = new Set(["sub", "sub/dir", "weights"]);
		for (const d of dirs) assert.ok(allowedDirs.has(d), `unexpected directory entry ${d}`);
		for (const e of entries) assert.ok(e.type === "file" || e.type === "directory", `entry ${e.path} has type ${e.type}`);
		for (const e of fileEntries) {
			const buf = files[e.path];
			assert.equal(e.size, buf.length, `${e.path}: size ${e.size} != ${buf.length}`);
			if (lfsPaths.has(e.path)) {
				assert.ok(e.lfs, `${e.path}: missing lfs info`);
				assert.equal(e.lfs.oid, shas[e.path], `${e.path}: lfs.oid != sha256`);
				assert.equal(e.lfs.size, buf.length, `${e.path}: lfs.size`);
				assert.equal(typeof e.lfs.pointerSize, "number", `${e.path}: lfs.pointerSize`);
				assert.match(e.oid ?? "", HEX40, `${e.path}: oid (pointer blob sha1) not 40-hex`);
			} else {
				assert.equal(e.lfs, undefined, `${e.path}: regular file has lfs info`);
				assert.equal(e.oid, blobIds[e.path], `${e.path}: oid != git blob sha1`);
			}
		}
	});

	await check("listFiles(non-recursive) lists only top-level entries", async () => {
		const entries = await collect(listFiles({ ...asAlice, repo: model }));
		const got = entries.map((e) => `${e.type}:${e.path}`).sort();
		const expected = [
			"file:.gitattributes",
			"file:big-48m.bin",
			"file:config.json",
			"file:notes.txt",
			"directory:sub",
			"directory:weights",
		].sort();
		assert.deepEqual(got, expected);
	});

	await check("listFiles(path=sub, recursive) lists the subfolder", async () => {
		const entries = await collect(listFiles({ ...asAlice, repo: model, path: "sub", recursive: true }));
		const got = entries.filter((e) => e.type === "file").map((e) => e.path);
		assert.deepEqual(got, ["sub/dir/nested.txt"]);
	});
}

// Download info, whole files, a range, a pinned revision, and the cache layouts.
async function downloads(t) {
	const { asAlice, model, files, lfsPaths, shas, blobIds, mainFiles, expectedEtag } = t;
	// ---------------------------------------------------------- download
	await check("fileDownloadInfo: size and etag (git sha1 / sha256) for regular and LFS files", async () => {
		for (const p of ["config.json", "sub/dir/nested.txt", "weights/model-12m.bin", "big-48m.bin"]) {
			const info = await fileDownloadInfo({ ...asAlice, repo: model, path: p });
			assert.ok(info, `${p}: null`);
			assert.equal(info.size, files[p].length, `${p}: size`);
			assert.equal(info.xet, undefined, `${p}: server advertised xet`);
			assert.equal(normalizeEtag(info.etag), expectedEtag(p), `${p}: etag ${info.etag}`);
		}
		assert.equal(await fileDownloadInfo({ ...asAlice, repo: model, path: "nope.txt" }), null, "missing file");
	});

	await check("downloadFile returns byte-equal content for regular files", async () => {
		for (const p of mainFiles.filter((p) => !lfsPaths.has(p))) {
			const blob = await downloadFile({ ...asAlice, repo: model, path: p, xet: false });
			assert.ok(blob, `${p}: null`);
			assert.equal(blob.size, files[p].length, `${p}: blob.size`);
			bytesEqual(await blob.arrayBuffer(), files[p], p);
		}
	});

	await check("downloadFile returns byte-equal content for the 12 MiB and 48 MiB LFS files", async () => {
		for (const p of lfsPaths) {
			const blob = await downloadFile({ ...asAlice, repo: model, path: p, xet: false });
			assert.ok(blob, `${p}: null`);
			assert.equal(blob.size, files[p].length, `${p}: blob.size`);
			const got = Buffer.from(await blob.arrayBuffer());
			assert.equal(sha256hex(got), shas[p], `${p}: sha256 of downloaded bytes`);
		}
	});

	await check("downloadFile range slice of an LFS file (Range: bytes=a-b)", async () => {
		const p = "big-48m.bin";
		const blob = await downloadFile({ ...asAlice, repo: model, path: p, xet: false });
		assert.ok(blob, "null");
		const start = 9 * MiB - 17;
		const end = 9 * MiB + 4096;
		bytesEqual(await blob.slice(start, end).arrayBuffer(), files[p].subarray(start, end), `${p}[${start},${end})`);
	});

	await check("downloadFile at a 40-hex commit revision", async () => {
		assert.ok(t.commit2, "no head commit");
		const blob = await downloadFile({ ...asAlice, repo: model, path: "notes.txt", revision: t.commit2, xet: false });
		assert.ok(blob, "null");
		bytesEqual(await blob.arrayBuffer(), files["notes.txt"], "notes.txt@commit");
	});

	// ---------------------------------------------------------- cache dir
	await check("downloadFileToCacheDir: snapshots/<lastCommit>/<path> -> ../blobs/<etag>", async () => {
		assert.ok(t.commit1, "no upload commit");
		const cacheDir = path.join(run.tmp, "cache-file");
		const storage = path.join(cacheDir, "models--alice--conf-model");
		for (const p of ["sub/dir/nested.txt", "weights/model-12m.bin", "config.json"]) {
			const out = await downloadFileToCacheDir({ ...asAlice, repo: model, path: p, cacheDir });
			// No revision given: JS 2.15.0 uses the file's lastCommit.id from paths-info (expand=true).
			// Every one of these files was last changed by the upload commit.
			const expected = path.join(storage, "snapshots", t.commit1, p);
			assert.equal(out, expected, `${p}: returned ${out}`);
			await checkCachedPointer(out, path.join(storage, "blobs"), expectedEtag(p), files[p], p);
		}
		// pinned to a commit: snapshot dir is that commit
		const pinned = await downloadFileToCacheDir({ ...asAlice, repo: model, path: "notes.txt", revision: t.commit2, cacheDir });
		assert.equal(pinned, path.join(storage, "snapshots", t.commit2, "notes.txt"));
		await checkCachedPointer(pinned, path.join(storage, "blobs"), blobIds["notes.txt"], files["notes.txt"], "notes.txt@t.commit2");
	});

	await check("snapshotDownload: refs/main, snapshots/<commit>/* symlinks to blobs", async () => {
		assert.ok(t.commit2, "no head commit");
		const cacheDir = path.join(run.tmp, "cache-snapshot");
		const storage = path.join(cacheDir, "models--alice--conf-model");
		const out = await snapshotDownload({ ...asAlice, repo: model, cacheDir });
		assert.equal(out, path.join(storage, "snapshots", t.commit2));
		const ref = await readFile(path.join(storage, "refs", "main"), "utf8");
		assert.match(ref, HEX40, `refs/main = ${JSON.stringify(ref)}`);
		assert.equal(ref, t.commit2);
		for (const p of mainFiles) {
			await checkCachedPointer(path.join(out, p), path.join(storage, "blobs"), expectedEtag(p), files[p], p);
		}
		await assert.rejects(stat(path.join(out, "to-delete.txt")), "deleted file present in snapshot");
		await assert.rejects(stat(path.join(out, "dev-only.txt")), "dev file present in main snapshot");
	});
}

// Who may write, and who may see a private repo.
async function access(t) {
	const { common, asAlice, asBob, model, files } = t;
	// ---------------------------------------------------------- authz
	await check("bob cannot upload to alice/conf-model (401/403/404)", async () => {
		await expectHttpError(
			uploadFiles({ ...asBob, repo: model, useXet: false, files: [{ path: "evil.txt", content: new Blob(["x"]) }] }),
			[401, 403, 404],
			"bob uploadFiles",
		);
		assert.equal(await downloadFile({ ...asAlice, repo: model, path: "evil.txt", xet: false }), null, "bob's file landed");
	});

	const SECRET = "alice/secret";
	const secretRepo = { type: "model", name: SECRET };
	const secretContent = Buffer.from(`top secret ${randomBytes(8).toString("hex")}\n`);
	await check("private repo: createRepo private + upload by alice", async () => {
		await createRepo({ ...asAlice, repo: secretRepo, private: true });
		const res = await uploadFiles({
			...asAlice,
			repo: secretRepo,
			useXet: false,
			files: [{ path: "secret.txt", content: new Blob([secretContent]) }],
		});
		assert.match(res?.commit?.oid ?? "", HEX40);
	});

	await check("private repo: alice sees modelInfo (private=true), listFiles, downloadFile", async () => {
		const info = await modelInfo({ ...asAlice, name: SECRET });
		assert.equal(info.private, true, "private flag");
		const list = (await collect(listFiles({ ...asAlice, repo: secretRepo }))).map((e) => e.path);
		assert.deepEqual(list.filter((p) => p !== ".gitattributes"), ["secret.txt"]);
		const blob = await downloadFile({ ...asAlice, repo: secretRepo, path: "secret.txt", xet: false });
		assert.ok(blob, "null");
		bytesEqual(await blob.arrayBuffer(), secretContent, "secret.txt");
	});

	for (const [who, creds] of [
		["bob", asBob],
		["anonymous", common],
	]) {
		await check(`private repo: invisible to ${who} (modelInfo/listFiles/downloadFile -> 401/404)`, async () => {
			await expectHttpError(modelInfo({ ...creds, name: SECRET }), [401, 404], "modelInfo");
			await expectHttpError(collect(listFiles({ ...creds, repo: secretRepo })), [401, 404], "listFiles");
			await expectHttpError(downloadFile({ ...creds, repo: secretRepo, path: "secret.txt", xet: false }), [401, 404], "downloadFile");
		});
	}

	await check("public repo readable anonymously", async () => {
		const blob = await downloadFile({ ...common, repo: model, path: "config.json", xet: false });
		assert.ok(blob, "null");
		bytesEqual(await blob.arrayBuffer(), files["config.json"], "config.json anonymous");
	});
}

// A dataset repo.
async function datasetRepo(t) {
	const { asAlice } = t;
	// ---------------------------------------------------------- dataset
	const DATA = "alice/conf-data";
	const dataset = { type: "dataset", name: DATA };
	const dataFiles = {
		"data/train.csv": Buffer.from(`id,text\n1,hello\n2,${randomBytes(8).toString("hex")}\n`),
		"README.md": Buffer.from("---\nlicense: mit\n---\n# conf-data\n"),
		"data/blob.bin": randomBytes(3 * MiB + 5),
	};
	await check("dataset: createRepo + uploadFiles", async () => {
		await createRepo({ ...asAlice, repo: dataset });
		const res = await uploadFiles({
			...asAlice,
			repo: dataset,
			useXet: false,
			files: Object.entries(dataFiles).map(([p, b]) => ({ path: p, content: new Blob([b]) })),
		});
		assert.match(res?.commit?.oid ?? "", HEX40);
	});

	await check("dataset: listFiles + downloadFile byte-equal", async () => {
		const list = (await collect(listFiles({ ...asAlice, repo: dataset, recursive: true })))
			.filter((e) => e.type === "file")
			.map((e) => e.path)
			.filter((p) => p !== ".gitattributes")
			.sort();
		assert.deepEqual(list, Object.keys(dataFiles).sort());
		for (const [p, b] of Object.entries(dataFiles)) {
			const blob = await downloadFile({ ...asAlice, repo: dataset, path: p, xet: false });
			assert.ok(blob, `${p}: null`);
			bytesEqual(await blob.arrayBuffer(), b, p);
		}
		assert.equal(await downloadFile({ ...asAlice, repo: dataset, path: "data/none.csv", xet: false }), null, "missing");
	});
}

async function main() {
	const t = await setUp();
	if (!t) return;
	await identityAndRepo(t);
	await uploadAndDelete(t);
	await branchAndPullRequest(t);
	await listings(t);
	await downloads(t);
	await access(t);
	await datasetRepo(t);
}

// ---------------------------------------------------------------- run

const watchdog = setTimeout(async () => {
	run.failed++;
	process.stdout.write(`not ok - whole test finished within ${TOTAL_TIMEOUT_MS / 1000} s\n`);
	for (const r of requestLog.slice(-5)) diag(`  last: ${r.method} ${r.url} -> ${r.status}`);
	await cleanup().catch(() => {});
	process.stdout.write(`${run.passed} passed, ${run.failed} failed\n`);
	process.exit(1);
}, TOTAL_TIMEOUT_MS);

try {
	await main();
} catch (err) {
	run.failed++;
	process.stdout.write(`not ok - test harness: ${err?.stack ?? err}\n`);
}
if (run.failed > 0 && serverStderr.length) {
	diag("last server stderr lines:");
	for (const l of serverStderr.slice(-15)) diag(`server: ${l}`);
}
await cleanup();
clearTimeout(watchdog);
process.stdout.write(`${run.passed} passed, ${run.failed} failed\n`);
process.exit(run.failed > 0 ? 1 : 0);
