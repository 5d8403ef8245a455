// Upload receipts: what a commit needs from a file another process stored on the Hub, as JSON.
#include <hfhub/receipts.hpp>

#include "blocking_call.hpp"
#include "boundary.hpp"
#include "upload/commit_steps.hpp"
#include "upload/pipeline.hpp"
#include "util/fs.hpp"
#include "util/hash.hpp"

#include <boost/json.hpp>

#include <cerrno>
#include <ctime>

namespace hfhub {

namespace asio = boost::asio;
namespace json = boost::json;
namespace fs = std::filesystem;

namespace {

[[noreturn]] void invalid(const std::string& why) {
    diagnostics d;
    d.client_message = why;
    throw error(client_errc::invalid_argument, std::move(d));
}

std::string utc_string(std::chrono::system_clock::time_point t) {
    std::time_t tt = std::chrono::system_clock::to_time_t(t);
    std::tm tm{};
    ::gmtime_r(&tt, &tm);
    char buf[32];
    std::strftime(buf, sizeof buf, "%Y-%m-%dT%H:%M:%SZ", &tm);
    return buf;
}

std::optional<std::chrono::system_clock::time_point> parse_utc(std::string_view s) {
    std::tm tm{};
    std::string str(s);
    const char* end = ::strptime(str.c_str(), "%Y-%m-%dT%H:%M:%S", &tm);
    if (!end) return std::nullopt;
    std::string_view rest(end);
    if (rest.starts_with('.')) {  // fractions of a second: dropped
        rest.remove_prefix(1);
        while (!rest.empty() && rest.front() >= '0' && rest.front() <= '9') rest.remove_prefix(1);
    }
    if (rest != "Z") return std::nullopt;
    std::time_t tt = ::timegm(&tm);
    if (tt == static_cast<std::time_t>(-1)) return std::nullopt;
    return std::chrono::system_clock::from_time_t(tt);
}

const json::value& field(const json::object& o, const char* name) {
    auto* v = o.if_contains(name);
    if (!v) invalid(std::string("upload receipt: '") + name + "' is missing");
    return *v;
}

std::string string_field(const json::object& o, const char* name) {
    auto& v = field(o, name);
    if (!v.is_string()) invalid(std::string("upload receipt: '") + name + "' is not a string");
    return std::string(v.as_string());
}

[[noreturn]] void bad_field(const char* name, const std::string& why) {
    invalid(std::string("upload receipt: '") + name + "' " + why);
}

}  // namespace

std::string upload_receipt::to_json() const {
    json::object o;
    o["version"] = version;
    o["repo_id"] = repo_id;
    o["repo_type"] = std::string(to_string(type));
    o["revision"] = revision;
    o["path_in_repo"] = path_in_repo;
    o["size"] = size;
    o["sha256"] = sha256;
    o["lfs"] = is_lfs;
    if (!git_sha1.empty()) o["git_blob_id"] = git_sha1;
    if (content) o["content_base64"] = util::base64_encode(*content);
    o["created_at"] = utc_string(created);
    return json::serialize(o);
}

upload_receipt upload_receipt::from_json(std::string_view text) {
    json::error_code ec;
    json::value v = json::parse(text, ec);
    if (ec) invalid("upload receipt: not JSON (" + ec.message() + ")");
    if (!v.is_object()) invalid("upload receipt: not a JSON object");
    const json::object& o = v.as_object();
    auto& ver = field(o, "version");
    if (!ver.is_int64() || ver.as_int64() != version)
        bad_field("version", "is not " + std::to_string(version) + " (made by another hfhub version?)");
    upload_receipt r;
    r.repo_id = string_field(o, "repo_id");
    try {
        validate_repo_id(r.repo_id);
    } catch (const error&) {
        bad_field("repo_id", "is not a repo id: '" + r.repo_id.substr(0, 100) + "'");
    }
    std::string t = string_field(o, "repo_type");
    auto type = parse_repo_type(t);
    if (!type) bad_field("repo_type", "is not model, dataset or space");
    r.type = *type;
    r.revision = string_field(o, "revision");
    if (r.revision.empty()) bad_field("revision", "is empty");
    r.path_in_repo = string_field(o, "path_in_repo");
    if (r.path_in_repo.empty()) bad_field("path_in_repo", "is empty");
    auto& size = field(o, "size");
    if (size.is_uint64()) r.size = size.as_uint64();
    else if (size.is_int64() && size.as_int64() >= 0) r.size = static_cast<std::uint64_t>(size.as_int64());
    else bad_field("size", "is not a byte count");
    r.sha256 = string_field(o, "sha256");
    if (!util::is_hex(r.sha256, 64)) bad_field("sha256", "is not 64 lowercase hex digits");
    auto& lfs = field(o, "lfs");
    if (!lfs.is_bool()) bad_field("lfs", "is not true or false");
    r.is_lfs = lfs.as_bool();
    if (o.contains("git_blob_id")) {
        r.git_sha1 = string_field(o, "git_blob_id");
        if (!util::is_hex(r.git_sha1, 40)) bad_field("git_blob_id", "is not 40 lowercase hex digits");
    }
    if (o.contains("content_base64")) {
        std::string b64 = string_field(o, "content_base64"), bytes;
        if (!util::base64_decode(b64, bytes)) bad_field("content_base64", "is not base64");
        if (bytes.size() != r.size) bad_field("content_base64", "does not hold 'size' bytes");
        if (util::sha256_hex(bytes) != r.sha256) bad_field("content_base64", "does not match 'sha256'");
        if (r.git_sha1.empty()) r.git_sha1 = util::git_blob_sha1(bytes);
        r.content = std::move(bytes);
    } else if (!r.is_lfs) {
        bad_field("content_base64", "is missing: a regular file's receipt carries its bytes");
    }
    auto created = parse_utc(string_field(o, "created_at"));
    if (!created) bad_field("created_at", "is not a UTC time like 2026-01-31T12:00:00Z");
    r.created = *created;
    return r;
}

std::string receipts_to_jsonl(const std::vector<upload_receipt>& receipts) {
    std::string out;
    for (auto& r : receipts) {
        out += r.to_json();
        out += '\n';
    }
    return out;
}

std::vector<upload_receipt> receipts_from_jsonl(std::string_view text) {
    std::vector<upload_receipt> out;
    std::size_t line_no = 0;
    while (!text.empty()) {
        auto nl = text.find('\n');
        std::string_view line = text.substr(0, nl);
        text.remove_prefix(nl == std::string_view::npos ? text.size() : nl + 1);
        ++line_no;
        while (!line.empty() && (line.back() == '\r' || line.back() == ' ' || line.back() == '\t')) line.remove_suffix(1);
        while (!line.empty() && (line.front() == ' ' || line.front() == '\t')) line.remove_prefix(1);
        if (line.empty()) continue;
        try {
            out.push_back(upload_receipt::from_json(line));
        } catch (const error& e) {
            diagnostics d = e.diag();
            d.client_message = "line " + std::to_string(line_no) + ": " + d.client_message;
            throw error(e.code(), std::move(d));
        }
    }
    return out;
}

void write_receipts(const fs::path& file, const std::vector<upload_receipt>& receipts) {
    try {
        // Absolute: a bare name has no parent folder to hold the temporary file.
        util::write_file_atomic(fs::absolute(file), receipts_to_jsonl(receipts));
    } catch (const std::exception& e) {
        throw error(client_errc::io_error, {.client_message = "cannot write receipts to " + file.string() + ": " + e.what()});
    }
}

std::vector<upload_receipt> read_receipts(const fs::path& file) {
    auto text = util::read_file(file);
    if (!text) {
        std::error_code ec(errno ? errno : EIO, std::generic_category());
        throw error(client_errc::io_error, {.client_message = "cannot read receipts from " + file.string() + ": " + ec.message()});
    }
    try {
        return receipts_from_jsonl(*text);
    } catch (const error& e) {
        diagnostics d = e.diag();
        d.client_message = file.string() + ": " + d.client_message;
        throw error(e.code(), std::move(d));
    }
}

commit_add commit_add::from_receipt(const upload_receipt& r) {
    commit_add a;
    a.path_in_repo = r.path_in_repo;
    // A regular file's bytes travel in the receipt; an LFS file's stay on the Hub.
    if (r.content) a.source = *r.content;
    else a.source = fs::path();
    auto pre = std::make_shared<preuploaded_file>();
    pre->size = r.size;
    pre->sha256 = r.sha256;
    pre->git_sha1 = r.git_sha1;
    pre->lfs = r.is_lfs;
    pre->receipt = r;
    pre->receipt->content.reset();  // the add holds it
    a.preuploaded = std::move(pre);
    return a;
}

static asio::awaitable<std::vector<upload_receipt>> co_preupload_impl(client& c, std::string repo_id,
                                                                      std::vector<commit_add> additions,
                                                                      commit_options o) {
    if (o.revision.empty()) o.revision = "main";
    std::vector<commit_add> done = co_await co_preupload_lfs_files(c, repo_id, std::move(additions), o);
    auto now = std::chrono::system_clock::now();
    std::vector<upload_receipt> out;
    out.reserve(done.size());
    for (auto& a : done) {
        const preuploaded_file& pre = *a.preuploaded;
        upload_receipt r;
        r.repo_id = repo_id;
        r.type = o.type;
        r.revision = o.revision;
        r.path_in_repo = upload::path_in_repo(a.path_in_repo);
        r.size = pre.size;
        r.sha256 = pre.sha256;
        r.is_lfs = pre.lfs;
        r.git_sha1 = pre.git_sha1;
        r.created = now;
        if (pre.receipt) {  // passed through: keeps where it came from
            r.created = pre.receipt->created;
        }
        if (!pre.lfs) {
            std::string bytes;
            if (auto* b = std::get_if<std::string>(&a.source)) bytes = *b;
            else {
                auto& p = std::get<fs::path>(a.source);
                auto data = util::read_file(p);
                if (!data) upload::file_error(p, errno ? errno : EIO, "cannot read a file to upload");
                bytes = std::move(*data);
            }
            if (bytes.size() != pre.size || util::sha256_hex(bytes) != pre.sha256)
                throw error(client_errc::local_file_changed,
                            {.client_message = "'" + r.path_in_repo + "' changed after it was hashed"});
            if (r.git_sha1.empty()) r.git_sha1 = util::git_blob_sha1(bytes);
            r.content = std::move(bytes);
        }
        out.push_back(std::move(r));
    }
    co_return out;
}

asio::awaitable<std::vector<upload_receipt>> co_preupload(client& c, std::string repo_id,
                                                          std::vector<commit_add> additions, commit_options opts) {
    return detail::co_public(co_preupload_impl(c, std::move(repo_id), std::move(additions), std::move(opts)));
}

std::vector<upload_receipt> preupload(client& c, std::string repo_id, std::vector<commit_add> additions,
                                      commit_options opts) {
    return detail::run_blocking(c, co_preupload(c, std::move(repo_id), std::move(additions), std::move(opts)));
}

}  // namespace hfhub
