// Xet: access tokens on the API origin, the CAS (xorbs, shards, reconstructions, global dedup)
// and signed xorb ranges on the storage origin, and the bytes of Xet-stored files for clients
// that only speak LFS. Spec: hub-docs docs/xet/*.md.
#include "server/hub.hpp"
#include "server/lfs_batch_object.hpp"
#include "server/xet_reconstruct.hpp"

#include "util/hash.hpp"
#include "util/paths.hpp"
#include "xet/chunk_windows.hpp"
#include "xet/shard.hpp"
#include "xet/xorb.hpp"

#include <boost/json.hpp>

#include <fcntl.h>
#include <unistd.h>

#include <algorithm>
#include <map>

namespace hfhub::server {

namespace json = boost::json;

namespace {

bool is_lower_hex64(std::string_view s) {
    return s.size() == 64 && s.find_first_not_of("0123456789abcdef") == std::string_view::npos;
}

std::string hash_param(const std::string& s, const char* what) {
    if (!is_lower_hex64(s)) throw http_error(400, "", std::string("Malformed ") + what + ": 64 lower-case hex digits expected");
    return s;
}

// "a-b,c-d" after "bytes=": the ranges, inclusive; nullopt when malformed or unbounded.
std::optional<std::vector<std::pair<std::uint64_t, std::uint64_t>>> parse_closed_ranges(std::string_view h) {
    if (!h.starts_with("bytes=")) return std::nullopt;
    h.remove_prefix(6);
    std::vector<std::pair<std::uint64_t, std::uint64_t>> out;
    while (!h.empty()) {
        auto comma = h.find(',');
        std::string_view one = h.substr(0, comma);
        h = comma == std::string_view::npos ? std::string_view{} : h.substr(comma + 1);
        while (!one.empty() && one.front() == ' ') one.remove_prefix(1);
        while (!one.empty() && one.back() == ' ') one.remove_suffix(1);
        auto dash = one.find('-');
        if (dash == std::string_view::npos) return std::nullopt;
        std::string a(one.substr(0, dash)), b(one.substr(dash + 1));
        auto num = [](const std::string& s) {
            return !s.empty() && s.size() <= 19 && s.find_first_not_of("0123456789") == std::string::npos;
        };
        if (!num(a) || !num(b)) return std::nullopt;
        auto x = std::stoull(a), y = std::stoull(b);
        if (y < x) return std::nullopt;
        out.emplace_back(x, y);
    }
    if (out.empty()) return std::nullopt;
    return out;
}

std::string range_text(const std::vector<std::pair<std::uint64_t, std::uint64_t>>& rs) {
    std::string s = "bytes=";
    for (std::size_t i = 0; i < rs.size(); ++i) {
        if (i) s += ",";
        s += std::to_string(rs[i].first) + "-" + std::to_string(rs[i].second);
    }
    return s;
}

// Parts of a stored file, one after the other: literal text and file slices.
class segments_stream final : public body_stream {
public:
    void add_text(std::string s) {
        total_ += s.size();
        parts_.push_back({std::move(s), {}, 0, 0});
    }
    void add_file(const fs::path& p, std::uint64_t off, std::uint64_t len) {
        total_ += len;
        parts_.push_back({{}, p, off, len});
    }
    std::uint64_t size() const override { return total_; }
    std::size_t read(char* buf, std::size_t n) override {
        while (i_ < parts_.size()) {
            auto& p = parts_[i_];
            if (p.path.empty()) {
                if (pos_ < p.text.size()) {
                    std::size_t k = std::min<std::size_t>(n, p.text.size() - pos_);
                    std::memcpy(buf, p.text.data() + pos_, k);
                    pos_ += k;
                    return k;
                }
            } else if (pos_ < p.length) {
                if (!fd_) {
                    fd_ = util::unique_fd(::open(p.path.c_str(), O_RDONLY | O_CLOEXEC));
                    if (!fd_) util::throw_errno("open", p.path);
                }
                std::size_t k = static_cast<std::size_t>(std::min<std::uint64_t>(n, p.length - pos_));
                ssize_t got = ::pread(fd_.get(), buf, k, static_cast<off_t>(p.offset + pos_));
                if (got <= 0) throw std::runtime_error("short read of " + p.path.string());
                pos_ += static_cast<std::uint64_t>(got);
                return static_cast<std::size_t>(got);
            }
            ++i_;
            pos_ = 0;
            fd_ = util::unique_fd();
        }
        return 0;
    }

private:
    struct part {
        std::string text;
        fs::path path;
        std::uint64_t offset = 0, length = 0;
    };
    std::vector<part> parts_;
    std::uint64_t total_ = 0;
    std::size_t i_ = 0;
    std::uint64_t pos_ = 0;
    util::unique_fd fd_;
};

}  // namespace

// ---- tokens -------------------------------------------------------------------------------

std::string hub::issue_xet_token(bool write, repo_type t, const std::string& id, const std::string& rev,
                                 std::int64_t& exp) const {
    exp = now_seconds() + static_cast<std::int64_t>(cfg_.xet_token_ttl.count());
    std::string payload = std::string(write ? "w" : "r") + "\n" + std::string(type_name(t)) + "\n" + id + "\n" + rev +
                          "\n" + std::to_string(exp);
    std::string hex = util::to_hex({reinterpret_cast<const unsigned char*>(payload.data()), payload.size()});
    return "xet_" + hex + "." + util::hmac_sha256_hex(secret_, "xet-token\n" + payload);
}

hub::xet_claims hub::xet_auth(const ctx& c, bool write) {
    auto h = c.req.headers.get("Authorization");
    if (!h || h->size() < 7 || (h->substr(0, 7) != "Bearer " && h->substr(0, 7) != "bearer "))
        throw http_error(401, "", "A Xet access token is required (Authorization: Bearer)");
    std::string_view tok = h->substr(7);
    auto dot = tok.rfind('.');
    if (!tok.starts_with("xet_") || dot == std::string_view::npos)
        throw http_error(401, "", "Invalid Xet access token");
    std::string_view hex = tok.substr(4, dot - 4);
    if (hex.size() % 2 || hex.find_first_not_of("0123456789abcdef") != std::string_view::npos)
        throw http_error(401, "", "Invalid Xet access token");
    std::string payload;
    for (std::size_t i = 0; i < hex.size(); i += 2)
        payload.push_back(static_cast<char>(std::stoi(std::string(hex.substr(i, 2)), nullptr, 16)));
    if (!util::constant_time_equal(util::hmac_sha256_hex(secret_, "xet-token\n" + payload), tok.substr(dot + 1)))
        throw http_error(401, "", "Invalid Xet access token");
    std::vector<std::string> f;
    for (std::size_t pos = 0;;) {
        auto nl = payload.find('\n', pos);
        f.push_back(payload.substr(pos, nl == std::string::npos ? std::string::npos : nl - pos));
        if (nl == std::string::npos) break;
        pos = nl + 1;
    }
    if (f.size() != 5 || !parse_type(f[1])) throw http_error(401, "", "Invalid Xet access token");
    xet_claims cl{f[0] == "w", *parse_type(f[1]), f[2], f[3], std::stoll(f[4])};
    if (cl.exp < now_seconds()) throw http_error(401, "", "The Xet access token has expired; get a new one");
    if (write && !cl.write) throw http_error(403, "", "This Xet access token is read-only; a write token is required");
    return cl;
}

response hub::xet_token(ctx& c, repo_type t, const std::string& id, const std::string& rev, bool write) {
    // Python asks for a pull request's token with the revision "None" and ?create_pr=1.
    bool for_pr = write && (c.req.query_flag("create_pr") || rev.starts_with("refs/pr/") || own_pr(c, t, id, rev));
    auto r = write ? contributable(c, t, id, for_pr) : downloadable(c, t, id);
    if (!(for_pr && (rev == "None" || c.req.query_flag("create_pr")))) must_resolve(*r, rev);
    if (write && !r->state()->xet_enabled)
        throw http_error(403, "", "Xet storage is not enabled for " + r->id + " (settings: xetEnabled)");
    std::int64_t exp = 0;
    std::string tok = issue_xet_token(write, t, r->id, rev, exp);
    return json_response(200, json::serialize(json::object{{"accessToken", tok}, {"exp", exp}, {"casUrl", cfg_.storage_url}}));
}

// ---- the LFS batch, the Xet way --------------------------------------------------------------

response hub::xet_batch(ctx& c, repo_type t, const std::string& id, repo& target, const std::string& ref, bool for_pr,
                        const json::array& objects) {
    const auto granted = store_.lfs_grants(target);
    bool writer = auth_.may_write(c.who, target.ns());
    std::string rev = ref.empty() ? "main" : ref;
    if (rev.starts_with("refs/heads/")) rev = rev.substr(11);
    std::string href = cfg_.base_url + "/api/" + std::string(type_plural(t)) + "/" + id + "/xet-write-token/" +
                       util::percent_encode(rev, false) + (for_pr && !writer ? "?create_pr=1" : "");
    std::int64_t exp = 0;
    std::string tok = issue_xet_token(true, t, target.id, rev, exp);
    std::string session = util::random_hex(16);
    json::array out;
    for (auto& ov : objects) {
        json::object o;
        auto obj = read_batch_object(ov, o);
        if (!obj) {
            out.push_back(std::move(o));
            continue;
        }
        auto have = lfs_.stat(obj->oid);
        if (!(have && *have == obj->size && granted.contains(obj->oid)))
            o["actions"] = json::object{
                {"upload", json::object{{"href", href},
                                        {"header", json::object{{"X-Xet-Cas-Url", cfg_.storage_url},
                                                                {"X-Xet-Access-Token", tok},
                                                                {"X-Xet-Token-Expiration", std::to_string(exp)},
                                                                {"X-Xet-Session-Id", session}}}}}};
        out.push_back(std::move(o));
    }
    response resp;
    resp.headers.add("Content-Type", "application/vnd.git-lfs+json");
    resp.body = json::serialize(json::object{{"transfer", "xet"}, {"objects", std::move(out)}, {"hash_algo", "sha256"}});
    return resp;
}

// ---- the CAS ----------------------------------------------------------------------------------

response hub::dispatch_cas(ctx& c) {
    auto& s = c.segs;
    const std::string& m = c.req.method;
    auto is = [&](std::size_t i, std::string_view v) { return i < s.size() && s[i] == v; };
    if (is(0, "v1") && is(1, "xorbs") && s.size() == 4) {
        if (s[2] != "default") throw http_error(400, "", "The xorb prefix is 'default'");
        std::string hex = hash_param(s[3], "xorb hash");
        if (m == "POST") return xorb_upload(c, hex);
        if (m == "HEAD") return xorb_head(c, hex);
    }
    if (is(0, "v1") && is(1, "shards") && s.size() == 2 && m == "POST") return shard_upload(c);
    if (is(0, "v1") && is(1, "chunks") && s.size() == 4 && m == "GET") {
        // The spec's prefix, and the one the JS client sends.
        if (s[2] != "default-merkledb" && s[2] != "default") throw http_error(400, "", "Unknown dedup prefix");
        return dedup_query(c, hash_param(s[3], "chunk hash"));
    }
    if ((is(0, "v1") || is(0, "v2")) && is(1, "reconstructions") && s.size() == 3 && m == "GET")
        return reconstruction(c, hash_param(s[2], "file id"), s[0] == "v2");
    if (is(0, "v1") && is(1, "reconstructions") && s.size() == 2 && m == "POST") return batch_reconstruction(c);
    if (is(0, "v2") && is(1, "file-chunk-hashes") && s.size() == 3 && m == "GET")
        return file_chunk_hashes(c, hash_param(s[2], "file id"));
    if (is(0, "v1") && is(1, "files") && s.size() == 3 && m == "HEAD")
        return file_head(c, hash_param(s[2], "file id"));
    throw http_error(404, "", "Not found: " + c.req.path);
}

response hub::xorb_head(ctx& c, const std::string& hex) {
    xet_auth(c, false);
    auto size = xet_.xorb_size(hex);
    if (!size) throw http_error(404, "", "Xorb " + hex + " not found");
    response r;
    r.file = file_slice{xet_.xorb_path(hex), 0, *size};
    r.head = true;
    return r;
}

response hub::xorb_upload(ctx& c, const std::string& hex) {
    xet_auth(c, true);
    const std::string& body = c.req.body;
    if (body.size() > xet::max_xorb_size) throw http_error(400, "", "A xorb is at most 64 MiB");
    auto expected = xet::merkle_hash::from_hex(hex);
    if (!expected) throw http_error(400, "", "Malformed xorb hash");
    // Checked even when stored: a body that isn't this xorb is a 400, never a quiet success.
    xet::parse_options opts;
    opts.expected_hash = *expected;
    auto parsed = xet::parse_xorb(xet::as_bytes(body), opts);
    if (!parsed) {
        auto ec = parsed.error();
        if (ec == xet::errc::hash_mismatch)
            throw http_error(400, "", "The xorb's content hashes to " + std::string("another value than ") + hex);
        throw http_error(400, "", "Malformed xorb: " + ec.message());
    }
    std::vector<xet_chunk_info> chunks;
    chunks.reserve(parsed->chunks.chunks.size());
    for (auto& ch : parsed->chunks.chunks) chunks.push_back({ch.hash, ch.offset, ch.serialized_size, ch.size});
    bool inserted = xet_.put_xorb(hex, body, chunks);
    return json_response(200, inserted ? R"({"was_inserted":true})" : R"({"was_inserted":false})");
}

std::shared_ptr<repo> hub::xet_repo(const xet_claims& cl) {
    auto r = store_.find(cl.type, cl.repo);
    if (!r) throw http_error(401, "", "The Xet access token's repository is gone");
    return r;
}

// A file the token's repo may read: uploaded through it, or in its commits (its LFS grants).
xet_file hub::xet_readable_file(const xet_claims& cl, const std::string& file_hex) {
    auto f = xet_.file(file_hex);
    if (!f) throw http_error(404, "", "File " + file_hex + " not found");
    if (!f->sha256.empty()) {
        auto r = xet_repo(cl);
        if (!store_.lfs_grants(*r).contains(f->sha256) || !xet_.by_sha256(f->sha256))
            throw http_error(404, "", "File " + file_hex + " not found");
    }
    return std::move(*f);
}

response hub::file_head(ctx& c, const std::string& file_hex) {
    auto cl = xet_auth(c, false);
    auto f = xet_readable_file(cl, file_hex);
    response r;
    // A HEAD answer: the file's size as Content-Length, nothing read.
    r.stream = std::make_shared<reconstruct_stream>(xet_, std::vector<xet_term>{}, 0, f.size);
    r.head = true;
    return r;
}

namespace {

// The chunk ranges a plan reads from each xorb, merged where they overlap or touch, so that
// every term lies within one of them (the JS client looks a term up that way).
std::map<std::string, std::vector<std::pair<std::uint32_t, std::uint32_t>>> merged_ranges(const recon_plan& p) {
    std::map<std::string, std::vector<std::pair<std::uint32_t, std::uint32_t>>> by;
    for (auto& t : p.terms) by[t.xorb].emplace_back(t.start, t.end);
    for (auto& [x, rs] : by) {
        std::sort(rs.begin(), rs.end());
        std::vector<std::pair<std::uint32_t, std::uint32_t>> m;
        for (auto& r : rs)
            if (!m.empty() && r.first <= m.back().second) m.back().second = std::max(m.back().second, r.second);
            else m.push_back(r);
        rs = std::move(m);
    }
    return by;
}

}  // namespace

std::string hub::sign_xorb_ranges(const std::string& xorb, const std::vector<std::pair<std::uint64_t, std::uint64_t>>& bytes) const {
    return sign_storage_url("/xorb/default/" + xorb + "?X-Xet-Signed-Range=" + util::percent_encode(range_text(bytes), false));
}

response hub::reconstruction(ctx& c, const std::string& file_hex, bool v2) {
    auto cl = xet_auth(c, false);
    auto f = xet_readable_file(cl, file_hex);
    std::uint64_t first = 0, last = f.size ? f.size - 1 : 0;
    if (auto h = c.req.headers.get("Range")) {
        auto rg = parse_range(*h, f.size);
        if (rg && !rg->satisfiable) {
            response e = error_response(416, "", "The range starts at or after the end of the file");
            e.headers.add("Content-Range", "bytes */" + std::to_string(f.size));
            return e;
        }
        if (rg) {
            first = rg->first;
            last = rg->last;
        }
    }
    recon_plan p = plan_reconstruction(xet_, f, first, last);
    json::array terms;
    for (auto& t : p.terms)
        terms.push_back(json::object{{"hash", t.xorb},
                                     {"unpacked_length", t.unpacked},
                                     {"range", json::object{{"start", t.start}, {"end", t.end}}}});
    json::object xorbs;
    for (auto& [x, rs] : merged_ranges(p)) {
        auto& idx = p.chunks.at(x);
        json::array ranges;
        std::vector<std::pair<std::uint64_t, std::uint64_t>> bytes;
        for (auto& [s, e] : rs) {
            std::uint64_t b0 = idx[s].offset, b1 = std::uint64_t(idx[e - 1].offset) + idx[e - 1].serialized_size - 1;
            bytes.emplace_back(b0, b1);
            ranges.push_back(json::object{{"chunks", json::object{{"start", s}, {"end", e}}},
                                          {"bytes", json::object{{"start", b0}, {"end", b1}}}});
        }
        if (v2) {
            xorbs[x] = json::array{json::object{{"url", sign_xorb_ranges(x, bytes)}, {"ranges", std::move(ranges)}}};
        } else {
            json::array infos;
            for (std::size_t i = 0; i < rs.size(); ++i)
                infos.push_back(json::object{{"range", json::object{{"start", rs[i].first}, {"end", rs[i].second}}},
                                             {"url", sign_xorb_ranges(x, {bytes[i]})},
                                             {"url_range", json::object{{"start", bytes[i].first}, {"end", bytes[i].second}}}});
            xorbs[x] = std::move(infos);
        }
    }
    json::object o{{"offset_into_first_range", p.offset_into_first}, {"terms", std::move(terms)}};
    o[v2 ? "xorbs" : "fetch_info"] = std::move(xorbs);
    return json_response(200, json::serialize(o));
}

response hub::batch_reconstruction(ctx& c) {
    auto cl = xet_auth(c, false);
    boost::system::error_code ec;
    json::value v = json::parse(c.req.body, ec);
    if (ec || !v.is_array()) throw http_error(400, "", "Expected a JSON array of {prefix, hash}");
    json::object files, fetch;
    for (auto& k : v.as_array()) {
        std::string hex;
        if (k.is_object())
            if (auto* h = k.as_object().if_contains("hash"); h && h->is_string()) hex = std::string(h->as_string());
        hash_param(hex, "file id");
        if (files.contains(hex)) continue;
        auto f = xet_readable_file(cl, hex);
        recon_plan p = plan_reconstruction(xet_, f, 0, f.size ? f.size - 1 : 0);
        json::array terms;
        for (auto& t : p.terms)
            terms.push_back(json::object{{"hash", t.xorb},
                                         {"unpacked_length", t.unpacked},
                                         {"range", json::object{{"start", t.start}, {"end", t.end}}}});
        files[hex] = std::move(terms);
        for (auto& [x, rs] : merged_ranges(p)) {
            auto& idx = p.chunks.at(x);
            auto& infos = fetch[x].emplace_array();
            for (auto& [s, e] : rs) {
                std::uint64_t b0 = idx[s].offset, b1 = std::uint64_t(idx[e - 1].offset) + idx[e - 1].serialized_size - 1;
                infos.push_back(json::object{{"range", json::object{{"start", s}, {"end", e}}},
                                             {"url", sign_xorb_ranges(x, {{b0, b1}})},
                                             {"url_range", json::object{{"start", b0}, {"end", b1}}}});
            }
        }
    }
    return json_response(200, json::serialize(json::object{{"files", std::move(files)}, {"fetch_info", std::move(fetch)}}));
}

// The spans a client re-chunks to change bytes of a stored file, and the Merkle subtrees of
// the chunks around them (api.md "Get File Chunk Hashes"; camelCase, as the Hub answers).
response hub::file_chunk_hashes(ctx& c, const std::string& file_hex) {
    auto cl = xet_auth(c, false);
    auto h = c.req.headers.get("X-Range-Dirty");
    auto asked = h ? parse_closed_ranges(*h) : std::nullopt;
    if (!asked) throw http_error(400, "", "X-Range-Dirty: bytes=<first>-<last>[,...] is required (inclusive ends)");
    auto f = xet_readable_file(cl, file_hex);
    std::vector<xet::byte_range> dirty;
    for (auto& [a, b] : *asked) dirty.push_back({a, b + 1});
    dirty = xet::normalize_dirty_ranges(std::move(dirty), f.size);
    if (dirty.empty())
        throw http_error(400, "", "No X-Range-Dirty range falls within the file's " + std::to_string(f.size) + " bytes");
    recon_plan p = plan_reconstruction(xet_, f, 0, f.size - 1);
    std::vector<xet::hash_and_size> chunks;
    std::vector<std::uint64_t> segments;
    std::vector<xet::merkle_hash> verification;
    for (auto& t : f.terms) {
        auto& idx = p.chunks.at(t.xorb);
        std::vector<xet::merkle_hash> hashes;
        for (auto k = t.start; k < t.end; ++k) {
            chunks.push_back({idx[k].hash, idx[k].size});
            hashes.push_back(idx[k].hash);
        }
        segments.push_back(t.unpacked);
        // What the shard's verification entry was: the upload checked it against these hashes.
        verification.push_back(xet::verification_hash(hashes));
    }
    auto plan = xet::plan_chunk_windows(chunks, dirty);
    json::array windows, ranges, gaps;
    for (auto& w : plan.windows) windows.push_back(json::object{{"dirtyByteRange", json::array{w.start, w.end}}});
    for (auto& g : plan.gaps) ranges.push_back(g ? g->to_json() : json::value(nullptr));
    for (auto i : xet::untouched_segments(segments, plan.windows)) gaps.push_back(json::value(verification[i].hex()));
    return json_response(200, json::serialize(json::object{{"totalChunks", chunks.size()},
                                                           {"fileSize", f.size},
                                                           {"windows", std::move(windows)},
                                                           {"hashRanges", std::move(ranges)},
                                                           {"gapVerification", std::move(gaps)}}));
}

// A signed URL's xorb bytes: only ranges within those it was signed for; several at once come
// as multipart/byteranges, one part per range asked, in the order asked.
response hub::xorb_range_get(ctx& c, const std::string& hex) {
    auto signed_q = c.req.query_param("X-Xet-Signed-Range");
    auto allowed = signed_q ? parse_closed_ranges(*signed_q) : std::nullopt;
    if (!allowed) throw http_error(403, "", "The URL names no signed range");
    auto size = xet_.xorb_size(hex);
    if (!size) throw http_error(404, "", "Xorb not found");
    auto h = c.req.headers.get("Range");
    auto asked = h ? parse_closed_ranges(*h) : std::nullopt;
    if (!asked) throw http_error(403, "", "A Range within the signed ranges is required");
    for (auto& rg : *asked) {
        auto a = rg.first, b = rg.second;  // not a structured binding: clang 14 can't capture one
        bool inside = std::any_of(allowed->begin(), allowed->end(), [&](auto& s) { return s.first <= a && b <= s.second; });
        if (!inside) throw http_error(403, "", "Range " + std::to_string(a) + "-" + std::to_string(b) + " is not signed");
        if (b >= *size) {
            response e = error_response(416, "", "Range past the end of the xorb");
            e.headers.add("Content-Range", "bytes */" + std::to_string(*size));
            return e;
        }
    }
    fs::path p = xet_.xorb_path(hex);
    response r;
    r.status = 206;
    r.headers.add("Accept-Ranges", "bytes");
    if (asked->size() == 1) {
        auto [a, b] = asked->front();
        r.headers.add("Content-Type", "application/octet-stream");
        r.headers.add("Content-Range", "bytes " + std::to_string(a) + "-" + std::to_string(b) + "/" + std::to_string(*size));
        r.file = file_slice{p, a, b - a + 1};
        return r;
    }
    std::string boundary = util::random_hex(12);
    auto s = std::make_shared<segments_stream>();
    for (auto& [a, b] : *asked) {
        s->add_text("--" + boundary + "\r\nContent-Type: application/octet-stream\r\nContent-Range: bytes " +
                    std::to_string(a) + "-" + std::to_string(b) + "/" + std::to_string(*size) + "\r\n\r\n");
        s->add_file(p, a, b - a + 1);
        s->add_text("\r\n");
    }
    s->add_text("--" + boundary + "--\r\n");
    r.headers.add("Content-Type", "multipart/byteranges; boundary=" + boundary);
    r.stream = std::move(s);
    return r;
}

// ---- Xet-stored files for every client --------------------------------------------------------

std::optional<xet_file> hub::xet_backing(const std::string& sha256) const {
    auto e = xet_.by_sha256(sha256);
    if (!e) return std::nullopt;
    return xet_.file(e->first);
}

void hub::add_xet_headers(header_list& h, repo_type t, const std::string& id, const std::string& commit,
                          const std::string& file_hex) const {
    h.add("X-Xet-Hash", file_hex);
    std::string auth = cfg_.base_url + "/api/" + std::string(type_plural(t)) + "/" + id + "/xet-read-token/" + commit;
    h.add("X-Xet-Refresh-Route", "/api/" + std::string(type_plural(t)) + "/" + id + "/xet-read-token/" + commit);
    h.add("Link", "<" + auth + ">; rel=\"xet-auth\", <" + cfg_.storage_url + "/v1/reconstructions/" + file_hex +
                      ">; rel=\"xet-reconstruction-info\"");
}

response hub::xet_object_answer(const request& req, const xet_file& f, header_list headers) {
    response r;
    r.headers = std::move(headers);
    r.headers.add("Accept-Ranges", "bytes");
    r.headers.add("Content-Type", "application/octet-stream");
    r.head = req.method == "HEAD";
    auto range = req.headers.get("Range") ? parse_range(*req.headers.get("Range"), f.size) : std::nullopt;
    if (range && !range->satisfiable) {
        if (f.size == 0) {
            r.headers.add("Content-Range", "bytes */0");
            return r;
        }
        r.status = 416;
        r.headers.add("Content-Range", "bytes */" + std::to_string(f.size));
        return r;
    }
    std::uint64_t first = range ? range->first : 0, last = range ? range->last : (f.size ? f.size - 1 : 0);
    if (range) {
        r.status = 206;
        r.headers.add("Content-Range", "bytes " + std::to_string(first) + "-" + std::to_string(last) + "/" +
                                           std::to_string(f.size));
    }
    if (f.size == 0) {
        r.body.clear();
        return r;
    }
    recon_plan p = plan_reconstruction(xet_, f, first, last);
    r.stream = std::make_shared<reconstruct_stream>(xet_, std::move(p.terms), p.offset_into_first, last - first + 1);
    return r;
}

}  // namespace hfhub::server

namespace hfhub::server {

namespace {

// Chunks the global-dedup index keeps (deduplication.md): a file's first, and those whose
// hash's last 8 bytes, as a little-endian u64, are 0 mod 1024.
bool dedup_eligible(const xet::merkle_hash& h) {
    std::uint64_t v = 0;
    for (int i = 0; i < 8; ++i) v |= static_cast<std::uint64_t>(h.bytes[24 + i]) << (8 * i);
    return v % 1024 == 0;
}

}  // namespace

// A shard registers files only when every one checks out against the stored xorbs: its terms
// name stored xorbs and chunks they have, each term's verification hash is the hash of those
// chunks, and the file hash is theirs. Anything wrong: 400, nothing registered.
response hub::shard_upload(ctx& c) {
    auto cl = xet_auth(c, true);
    auto r = xet_repo(cl);
    auto parsed = xet::parse_shard(xet::as_bytes(c.req.body));
    if (!parsed) throw http_error(400, "", "Malformed shard: " + parsed.error().message());
    const xet::shard& sh = *parsed;

    std::map<std::string, std::vector<xet_chunk_info>> idx;
    auto chunks_of = [&](const std::string& hex) -> const std::vector<xet_chunk_info>& {
        auto it = idx.find(hex);
        if (it == idx.end()) {
            auto got = xet_.xorb_chunks(hex);
            if (!got) throw http_error(400, "", "The shard names xorb " + hex + ", which was not uploaded");
            it = idx.emplace(hex, std::move(*got)).first;
        }
        return it->second;
    };
    for (auto& x : sh.xorbs) {
        auto& ch = chunks_of(x.cas_hash.hex());
        if (ch.size() != x.chunks.size())
            throw http_error(400, "", "The shard lists " + std::to_string(x.chunks.size()) + " chunks for xorb " +
                                          x.cas_hash.hex() + ", which has " + std::to_string(ch.size()));
    }
    std::vector<xet_file> files;
    for (auto& f : sh.files) {
        xet_file out;
        out.hash = f.file_hash.hex();
        out.registered = now_seconds();
        // Stored as xet-core's DataHash (Sha256::from_be_bytes) and the JS client write it: the
        // hash string form (8-byte groups little-endian) is the ordinary sha256 hex.
        if (f.sha256) out.sha256 = f.sha256->hex();
        if (!f.entries.empty() && f.verification.size() != f.entries.size())
            throw http_error(400, "", "File " + out.hash + " has no verification entries");
        std::vector<xet::hash_and_size> all;
        for (std::size_t i = 0; i < f.entries.size(); ++i) {
            auto& e = f.entries[i];
            std::string xh = e.cas_hash.hex();
            auto& ch = chunks_of(xh);
            if (e.chunk_index_start >= e.chunk_index_end || e.chunk_index_end > ch.size())
                throw http_error(400, "", "File " + out.hash + " names chunks [" + std::to_string(e.chunk_index_start) +
                                              ", " + std::to_string(e.chunk_index_end) + ") of xorb " + xh + ", which has " +
                                              std::to_string(ch.size()));
            std::vector<xet::merkle_hash> hashes;
            std::uint64_t bytes = 0;
            for (auto k = e.chunk_index_start; k < e.chunk_index_end; ++k) {
                hashes.push_back(ch[k].hash);
                all.push_back({ch[k].hash, ch[k].size});
                bytes += ch[k].size;
            }
            if (bytes != e.unpacked_segment_bytes)
                throw http_error(400, "", "File " + out.hash + ": a term of xorb " + xh + " says " +
                                              std::to_string(e.unpacked_segment_bytes) + " bytes, its chunks hold " +
                                              std::to_string(bytes));
            if (xet::verification_hash(hashes) != f.verification[i])
                throw http_error(400, "", "File " + out.hash + ": wrong verification hash for its term " + std::to_string(i));
            out.terms.push_back({xh, e.chunk_index_start, e.chunk_index_end, bytes});
            out.size += bytes;
        }
        if (xet::file_hash(all) != f.file_hash)
            throw http_error(400, "", "File " + out.hash + ": its terms' chunks hash to another file hash");
        files.push_back(std::move(out));
    }

    bool any_new = false;
    std::vector<std::string> shas;
    {
        std::lock_guard lk(xet_.mutex());
        // Again under the lock: a removal may have taken a xorb since.
        for (auto& [hex, _] : idx)
            if (!xet_.xorb_size(hex)) throw http_error(400, "", "The shard names xorb " + hex + ", which was not uploaded");
        std::vector<std::string> shard_xorbs;
        for (auto& [hex, _] : idx) shard_xorbs.push_back(hex);
        for (auto& f : files) {
            any_new |= xet_.put_file(f);
            if (!f.sha256.empty()) shas.push_back(f.sha256);
            if (!f.terms.empty())
                xet_.index_chunk(idx.at(f.terms[0].xorb)[f.terms[0].start].hash, f.terms[0].xorb, shard_xorbs);
        }
        for (auto& [hex, ch] : idx)
            for (auto& k : ch)
                if (dedup_eligible(k.hash)) xet_.index_chunk(k.hash, hex, shard_xorbs);
    }
    // The files' oids are this repo's now, as an LFS upload through it would make them.
    auto granted = store_.lfs_grants(*r);
    store_.grant_lfs(*r, shas, granted);
    return json_response(200, any_new ? R"({"result":1})" : R"({"result":0})");
}

// A shard holding the xorb the chunk is in and the other xorbs of the shard that registered it,
// their chunk hashes keyed with a fresh HMAC key, so a client learns only what it can match with
// hashes of data it has.
response hub::dedup_query(ctx& c, const std::string& chunk_hex) {
    xet_auth(c, false);
    auto xorbs = xet_.dedup_xorbs(chunk_hex);
    if (xorbs.empty()) throw http_error(404, "", "Chunk not found");
    xet::hash_key key;
    std::string rnd = util::random_hex(32);
    for (std::size_t i = 0; i < key.size(); ++i) key[i] = static_cast<std::uint8_t>(std::stoi(rnd.substr(2 * i, 2), nullptr, 16));
    xet::shard s;
    for (auto& x : xorbs) {
        auto ch = xet_.xorb_chunks(x);
        auto size = xet_.xorb_size(x);
        if (!ch || !size) {
            if (s.xorbs.empty()) throw http_error(404, "", "Chunk not found");
            continue;
        }
        xet::cas_info info;
        info.cas_hash = *xet::merkle_hash::from_hex(x);
        info.num_bytes_on_disk = static_cast<std::uint32_t>(*size);
        std::uint32_t at = 0;
        for (auto& k : *ch) {
            info.chunks.push_back({xet::keyed_chunk_hash(k.hash, key), at, k.size});
            at += k.size;
        }
        info.num_bytes_in_cas = at;
        s.xorbs.push_back(std::move(info));
    }
    xet::shard_serialize_options opts;
    opts.with_footer = true;
    opts.chunk_hash_hmac_key = key;
    opts.shard_creation_timestamp = static_cast<std::uint64_t>(now_seconds());
    opts.shard_key_expiry = opts.shard_creation_timestamp + static_cast<std::uint64_t>(cfg_.xet_token_ttl.count());
    auto bytes = xet::serialize_shard(s, opts);
    response r;
    r.headers.add("Content-Type", "application/octet-stream");
    r.body.assign(reinterpret_cast<const char*>(bytes.data()), bytes.size());
    return r;
}

}  // namespace hfhub::server
