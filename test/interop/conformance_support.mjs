// What the conformance test (conformance.mjs) is built from: reporting `ok` / `not ok` per
// check, helpers that compare bytes and cache layouts, a fetch that records requests, and
// the `hfhub serve` child process.

import { spawn } from "node:child_process";
import { createHash } from "node:crypto";
import { lstat, readFile, readlink, realpath, rm } from "node:fs/promises";
import path from "node:path";
import { createInterface } from "node:readline";
import assert from "node:assert/strict";

import { HubApiError } from "@huggingface/hub";

const LISTEN_TIMEOUT_MS = 30_000;

// The run's tally and its temp dir (server root, tokens, caches).
export const run = { passed: 0, failed: 0, tmp: null };

// ---------------------------------------------------------------- reporting

export const requestLog = []; // {method, url, status, note}

export function diag(msg) {
	for (const line of String(msg).split("\n")) {
		process.stdout.write(`# ${line}\n`);
	}
}

export async function check(name, fn) {
	const logStart = requestLog.length;
	try {
		await fn();
		run.passed++;
		process.stdout.write(`ok - ${name}\n`);
	} catch (err) {
		run.failed++;
		const msg = err instanceof Error ? err.message : String(err);
		process.stdout.write(`not ok - ${name}: ${msg.split("\n")[0]}\n`);
		if (err instanceof assert.AssertionError && typeof err.actual === "object" && err.actual !== null) {
			diag(`  actual:   ${JSON.stringify(err.actual).slice(0, 600)}`);
			diag(`  expected: ${JSON.stringify(err.expected).slice(0, 600)}`);
		}
		if (err instanceof Error && !(err instanceof assert.AssertionError) && !(err instanceof HubApiError) && err.stack) {
			diag(err.stack.split("\n").slice(0, 4).join("\n"));
		}
		const reqs = requestLog.slice(logStart).slice(-10);
		for (const r of reqs) {
			diag(`  ${r.method} ${r.url} -> ${r.status}${r.note ? " " + r.note : ""}`);
		}
	}
}

// ---------------------------------------------------------------- helpers

export const sha256hex = (buf) => createHash("sha256").update(buf).digest("hex");
export const gitBlobSha1 = (buf) =>
	createHash("sha1").update(`blob ${buf.length}\0`).update(buf).digest("hex");
export const normalizeEtag = (etag) => etag.replace(/^W\//, "").replace(/^"+|"+$/g, "");
export const HEX40 = /^[0-9a-f]{40}$/;

export function shortUrl(u) {
	try {
		const url = new URL(u);
		return url.pathname + url.search;
	} catch {
		return String(u);
	}
}

// fetch wrapper: records every request the JS client sends, and captures LFS batch replies
// so the test can tell whether basic and multipart transfers were really exercised.
const realFetch = globalThis.fetch;
export const lfsBatchReplies = []; // parsed JSON bodies of .git/info/lfs/objects/batch responses
export async function recordingFetch(input, init) {
	const url = typeof input === "string" ? input : input instanceof URL ? input.href : input.url;
	const method = (init?.method ?? (typeof input === "object" && "method" in input ? input.method : "GET")).toUpperCase();
	const entry = { method, url: shortUrl(url), status: "ERR", note: "" };
	requestLog.push(entry);
	try {
		const res = await realFetch(input, init);
		entry.status = res.status;
		if (res.url && res.url !== url) {
			entry.note = `(final ${new URL(res.url).origin === new URL(url).origin ? shortUrl(res.url) : res.url})`;
		}
		if (method === "POST" && /\.git\/info\/lfs\/objects\/batch$/.test(new URL(url).pathname) && res.ok) {
			try {
				lfsBatchReplies.push(await res.clone().json());
			} catch {
				// reported by the client itself
			}
		}
		return res;
	} catch (err) {
		entry.note = String(err?.cause?.code ?? err?.message ?? err);
		throw err;
	}
}

export async function expectHttpError(promise, allowed, what) {
	let result;
	try {
		result = await promise;
	} catch (err) {
		if (!(err instanceof HubApiError)) {
			throw new Error(`${what}: expected HubApiError ${allowed.join("/")}, got ${err?.name}: ${err?.message}`);
		}
		assert.ok(
			allowed.includes(err.statusCode),
			`${what}: expected status ${allowed.join("/")}, got ${err.statusCode} (${err.message})`,
		);
		return err;
	}
	throw new Error(`${what}: expected HTTP ${allowed.join("/")} error, but call succeeded (${JSON.stringify(result)?.slice(0, 120)})`);
}

export async function collect(gen) {
	const out = [];
	for await (const x of gen) out.push(x);
	return out;
}

export function bytesEqual(actual, expected, what) {
	const a = Buffer.from(actual);
	assert.equal(a.length, expected.length, `${what}: length ${a.length} != expected ${expected.length}`);
	if (!a.equals(expected)) {
		assert.fail(`${what}: content differs (sha256 ${sha256hex(a)} != ${sha256hex(expected)})`);
	}
}

export async function checkCachedPointer(pointerPath, blobsDir, expectedEtag, expectedContent, what) {
	const st = await lstat(pointerPath);
	assert.ok(st.isSymbolicLink(), `${what}: ${pointerPath} is not a symlink`);
	const target = await readlink(pointerPath);
	assert.ok(!path.isAbsolute(target), `${what}: symlink target is absolute (${target})`);
	const resolved = await realpath(pointerPath);
	const expectedBlob = await realpath(path.join(blobsDir, expectedEtag));
	assert.equal(resolved, expectedBlob, `${what}: symlink resolves to ${resolved}, expected blobs/${expectedEtag}`);
	bytesEqual(await readFile(pointerPath), expectedContent, what);
}

// ---------------------------------------------------------------- server

let server = null;
let serverExited = null;
export const serverStderr = [];

export async function startServer(binary) {
	const root = path.join(run.tmp, "root");
	const tokensPath = path.join(run.tmp, "tokens.json");
	server = spawn(binary, ["serve", "--root", root, "--tokens", tokensPath, "--port", "0"], {
		stdio: ["ignore", "pipe", "pipe"],
	});
	serverExited = new Promise((resolve) => server.once("exit", (code, signal) => resolve({ code, signal })));
	createInterface({ input: server.stderr }).on("line", (line) => {
		serverStderr.push(line);
		if (serverStderr.length > 200) serverStderr.shift();
	});
	const stdoutLines = createInterface({ input: server.stdout });
	return await new Promise((resolve, reject) => {
		const timer = setTimeout(() => reject(new Error(`no "listening on <url>" line within ${LISTEN_TIMEOUT_MS} ms`)), LISTEN_TIMEOUT_MS);
		server.once("error", (err) => {
			clearTimeout(timer);
			reject(err);
		});
		serverExited.then(({ code, signal }) => {
			clearTimeout(timer);
			reject(new Error(`server exited early (code ${code}, signal ${signal})`));
		});
		stdoutLines.on("line", (line) => {
			const m = /^listening on (https?:\/\/\S+)\s*$/.exec(line.trim());
			if (m) {
				clearTimeout(timer);
				resolve(m[1].replace(/\/+$/, ""));
			}
		});
	});
}

export async function stopServer() {
	if (!server || server.exitCode !== null || server.signalCode !== null) return;
	server.kill("SIGTERM");
	const t = setTimeout(() => server.kill("SIGKILL"), 5000);
	await serverExited;
	clearTimeout(t);
}

export async function cleanup() {
	await stopServer();
	if (run.tmp && !process.env.HFHUB_KEEP_TMP) {
		await rm(run.tmp, { recursive: true, force: true }).catch(() => {});
	} else if (run.tmp) {
		diag(`temp dir kept: ${run.tmp}`);
	}
}
