#include <hfhub/cache.hpp>

#include "cache/lock.hpp"
#include "util/fs.hpp"
#include "util/hash.hpp"

#include <algorithm>
#include <cerrno>
#include <fcntl.h>
#include <map>
#include <optional>
#include <unistd.h>
#include <utility>
#include <vector>

namespace hfhub {
namespace fs = std::filesystem;
namespace {

// Files that OSes drop into folders; never part of a cache (the Python client's FILES_TO_IGNORE).
bool is_junk(const std::string& name) { return name == ".DS_Store" || name == "Thumbs.db" || name == "desktop.ini"; }

bool ends_with(std::string_view s, std::string_view suffix) {
    return s.size() >= suffix.size() && s.substr(s.size() - suffix.size()) == suffix;
}

// "models--org--name" → (model, "org/name"): split at the first "--", the type minus its "s".
std::optional<std::pair<repo_type, std::string>> parse_folder(const std::string& name) {
    auto pos = name.find("--");
    if (pos == std::string::npos || pos == 0) return std::nullopt;
    std::string type = name.substr(0, pos - 1);
    if (name[pos - 1] != 's') return std::nullopt;
    repo_type t;
    if (type == "model") t = repo_type::model;
    else if (type == "dataset") t = repo_type::dataset;
    else if (type == "space") t = repo_type::space;
    else return std::nullopt;
    std::string id;
    for (std::size_t i = pos + 2; i < name.size(); ++i) {
        if (name.compare(i, 2, "--") == 0) {
            id += '/';
            ++i;
        } else {
            id += name[i];
        }
    }
    if (id.empty()) return std::nullopt;
    return std::pair{t, std::move(id)};
}

struct corrupted {
    std::string why;
};

// Top-level entries that are repo folders (or should be): everything but the lock folder,
// the cache tag and OS junk.
std::vector<fs::path> top_level_entries(const fs::path& cache_dir, std::vector<std::string>& warnings) {
    std::vector<fs::path> out;
    std::error_code ec;
    fs::directory_iterator it(cache_dir, ec), end;
    if (ec) {
        warnings.push_back(cache_dir.string() + ": cannot read the cache folder: " + ec.message());
        return out;
    }
    for (; it != end; it.increment(ec)) {
        std::string name = it->path().filename().string();
        if (name == ".locks" || name == "CACHEDIR.TAG" || is_junk(name)) continue;
        out.push_back(it->path());
    }
    if (ec) warnings.push_back(cache_dir.string() + ": listing stopped: " + ec.message());
    std::sort(out.begin(), out.end());
    return out;
}

std::vector<fs::path> incomplete_files(const fs::path& repo_dir) {
    std::vector<fs::path> out;
    std::error_code ec;
    for (fs::directory_iterator it(repo_dir / "blobs", ec), end; !ec && it != end; it.increment(ec))
        if (ends_with(it->path().filename().string(), ".incomplete")) out.push_back(it->path());
    return out;
}

// Regular (non-directory) entries below `dir`, links included, in name order.
std::vector<fs::path> files_below(const fs::path& dir) {
    std::vector<fs::path> out;
    for (fs::recursive_directory_iterator it(dir), end; it != end; ++it) {
        std::error_code ec;
        if (fs::is_directory(it->path(), ec)) continue;  // follows links, like Python's is_dir()
        out.push_back(it->path());
    }
    std::sort(out.begin(), out.end());
    return out;
}

// The Python client's _scan_cached_repo; a damaged repo throws `corrupted`.
cached_repo scan_repo(const fs::path& repo_dir) {
    std::error_code ec;
    if (!fs::is_directory(repo_dir, ec)) throw corrupted{"not a directory"};
    auto parsed = parse_folder(repo_dir.filename().string());
    if (!parsed) throw corrupted{"not a model, dataset or space cache folder"};

    cached_repo repo;
    repo.type = parsed->first;
    repo.repo_id = std::move(parsed->second);
    repo.repo_path = repo_dir;

    const fs::path snapshots = repo_dir / "snapshots", refs = repo_dir / "refs";
    if (!fs::is_directory(snapshots, ec)) throw corrupted{"no snapshots folder"};

    std::map<std::string, std::set<std::string>> refs_by_commit;
    if (fs::exists(refs, ec)) {
        if (!fs::is_directory(refs, ec)) throw corrupted{"refs is not a folder"};
        for (const auto& p : files_below(refs)) {
            if (is_junk(p.filename().string())) continue;
            auto commit = util::read_file(p);
            if (!commit) throw corrupted{"unreadable ref " + p.string()};
            refs_by_commit[*commit].insert(p.lexically_relative(refs).generic_string());
        }
    }

    std::map<fs::path, std::uint64_t> blob_sizes;
    std::vector<fs::path> revision_dirs;
    for (fs::directory_iterator it(snapshots), end; it != end; ++it) {
        if (is_junk(it->path().filename().string())) continue;
        if (!fs::is_directory(it->path(), ec)) throw corrupted{"snapshots holds a non-folder " + it->path().string()};
        revision_dirs.push_back(it->path());
    }
    std::sort(revision_dirs.begin(), revision_dirs.end());

    for (const auto& rev_dir : revision_dirs) {
        cached_revision rev;
        rev.commit = rev_dir.filename().string();
        rev.snapshot_path = rev_dir;
        std::set<fs::path> rev_blobs;
        for (const auto& p : files_below(rev_dir)) {
            fs::path blob = fs::canonical(p, ec);
            if (ec) throw corrupted{"blob missing (broken link) for " + p.string()};
            auto [it, fresh] = blob_sizes.try_emplace(blob, 0);
            if (fresh) {
                it->second = fs::file_size(blob, ec);
                if (ec) throw corrupted{"cannot stat " + blob.string()};
            }
            if (rev_blobs.insert(blob).second) rev.size_on_disk += it->second;
            rev.files.push_back({p.lexically_relative(rev_dir).generic_string(), p, blob, it->second});
        }
        if (auto node = refs_by_commit.extract(rev.commit)) rev.refs = std::move(node.mapped());
        repo.revisions.push_back(std::move(rev));
    }
    if (!refs_by_commit.empty()) {
        std::string why = "refs point to missing snapshots:";
        for (const auto& [commit, names] : refs_by_commit)
            for (const auto& n : names) why += " " + n + "=" + commit;
        throw corrupted{why};
    }
    for (const auto& [p, size] : blob_sizes) repo.size_on_disk += size;
    repo.nb_files = blob_sizes.size();
    return repo;
}

std::uint64_t size_or_zero(const fs::path& p) {
    std::error_code ec;
    auto n = fs::file_size(p, ec);
    return ec ? 0 : n;
}

// A file in <root>/<folder>/blobs/: the etag lock downloads hold while writing or linking it.
std::optional<fs::path> blob_lock_path(const fs::path& p) {
    fs::path blobs = p.parent_path();
    if (blobs.filename() != "blobs") return std::nullopt;
    fs::path repo_dir = blobs.parent_path();
    std::string name = p.filename().string();
    std::string etag = name.substr(0, name.find('.'));
    if (etag.empty()) return std::nullopt;
    return repo_dir.parent_path() / ".locks" / repo_dir.filename() / (etag + ".lock");
}

void remove_path(const fs::path& p) {
    std::error_code ec;
    fs::remove_all(p, ec);  // already gone is fine
}

bool empty_or_missing(const fs::path& dir) {
    std::error_code ec;
    if (!fs::exists(dir, ec)) return true;
    return fs::is_directory(dir, ec) && fs::is_empty(dir, ec) && !ec;
}

bool hash_matches(const fs::path& p, const std::string& name) {
    util::unique_fd fd(::open(p.c_str(), O_RDONLY | O_CLOEXEC));
    if (!fd) return false;
    std::vector<char> buf(4 << 20);
    std::uint64_t size = 0;
    bool sha256 = name.size() == 64;
    util::hasher h(util::hash_algo::sha256);
    std::optional<util::git_blob_hasher> g;
    if (!sha256) {
        std::error_code ec;
        size = fs::file_size(p, ec);
        if (ec) return false;
        g.emplace(size);
    }
    std::uint64_t total = 0;
    for (;;) {
        ssize_t r = ::read(fd.get(), buf.data(), buf.size());
        if (r < 0) {
            if (errno == EINTR) continue;
            return false;
        }
        if (r == 0) break;
        total += static_cast<std::uint64_t>(r);
        if (sha256) h.update(buf.data(), static_cast<std::size_t>(r));
        else g->update(buf.data(), static_cast<std::size_t>(r));
    }
    if (!sha256 && total != size) return false;  // changed under us: the header would lie
    return (sha256 ? h.hex_digest() : g->hex_digest()) == name;
}

}  // namespace

cache_report scan_cache(const fs::path& cache_dir) {
    cache_report report;
    report.cache_dir = cache_dir;
    for (const auto& entry : top_level_entries(cache_dir, report.warnings)) {
        std::error_code ec;
        if (fs::is_directory(entry, ec) && parse_folder(entry.filename().string())) {
            auto inc = incomplete_files(entry);
            report.incomplete.insert(report.incomplete.end(), inc.begin(), inc.end());
        }
        try {
            report.repos.push_back(scan_repo(entry));
            report.size_on_disk += report.repos.back().size_on_disk;
        } catch (const corrupted& c) {
            report.warnings.push_back(entry.string() + ": repo corrupted: " + c.why);
        } catch (const std::exception& e) {
            report.warnings.push_back(entry.string() + ": repo unreadable: " + e.what());
        }
    }
    std::sort(report.incomplete.begin(), report.incomplete.end());
    return report;
}

cache_plan plan_delete_revisions(const cache_report& report, const std::vector<std::string>& commits) {
    cache_plan plan;
    const std::set<std::string> wanted(commits.begin(), commits.end());
    for (const auto& repo : report.repos) {
        std::vector<const cached_revision*> doomed;
        std::set<fs::path> kept_blobs;
        for (const auto& rev : repo.revisions) {
            if (wanted.count(rev.commit)) {
                doomed.push_back(&rev);
            } else {
                for (const auto& f : rev.files) kept_blobs.insert(f.blob_path);
            }
        }
        if (doomed.empty()) continue;
        std::set<fs::path> planned;
        for (const auto* rev : doomed) {
            plan.snapshots.push_back(rev->snapshot_path);
            for (const auto& r : rev->refs) plan.refs.push_back(repo.repo_path / "refs" / fs::path(r));
            for (const auto& f : rev->files) {
                if (kept_blobs.count(f.blob_path) || !planned.insert(f.blob_path).second) continue;
                plan.blobs.push_back(f.blob_path);
                plan.freed_bytes += f.size;
            }
        }
        // Nothing left: the whole repo folder goes, as the Python client does.
        if (doomed.size() == repo.revisions.size()) plan.other.push_back(repo.repo_path);
    }
    return plan;
}

cache_plan plan_prune(const cache_report& report) {
    cache_plan plan;
    for (const auto& repo : report.repos) {
        std::set<fs::path> kept_blobs;
        for (const auto& rev : repo.revisions) {
            if (rev.refs.empty()) plan.snapshots.push_back(rev.snapshot_path);
            else
                for (const auto& f : rev.files) kept_blobs.insert(f.blob_path);
        }
        std::vector<fs::path> orphans;
        std::error_code ec;
        for (fs::directory_iterator it(repo.repo_path / "blobs", ec), end; !ec && it != end; it.increment(ec)) {
            const fs::path& p = it->path();
            std::error_code e2;
            if (ends_with(p.filename().string(), ".incomplete") || !fs::is_regular_file(fs::symlink_status(p, e2)))
                continue;
            fs::path real = fs::canonical(p, e2);
            if (!e2 && kept_blobs.count(real)) continue;
            orphans.push_back(p);
        }
        std::sort(orphans.begin(), orphans.end());
        for (auto& p : orphans) {
            plan.freed_bytes += size_or_zero(p);
            plan.blobs.push_back(std::move(p));
        }
    }
    for (const auto& p : report.incomplete) {
        plan.freed_bytes += size_or_zero(p);
        plan.other.push_back(p);
    }
    return plan;
}

void execute(const cache_plan& plan) {
    std::set<fs::path> repo_dirs;
    auto remove_blob_file = [&](const fs::path& p) {
        // A download holding the etag lock may be writing or linking this file: leave it.
        std::optional<cache::file_lock> held;
        if (auto lp = blob_lock_path(p)) {
            try {
                held = cache::file_lock::try_acquire(*lp);
            } catch (const std::exception&) {
                // A read-only .locks: nobody can be downloading through it.
            }
            if (held && !held->held()) return;
            repo_dirs.insert(p.parent_path().parent_path());
        }
        remove_path(p);
    };
    for (const auto& p : plan.blobs) remove_blob_file(p);
    for (const auto& p : plan.snapshots) {
        remove_path(p);
        if (p.parent_path().filename() == "snapshots") repo_dirs.insert(p.parent_path().parent_path());
    }
    for (const auto& p : plan.refs) remove_path(p);
    for (const auto& p : plan.other) {
        if (p.parent_path().filename() == "blobs") remove_blob_file(p);
        else remove_path(p);
    }
    // A repo folder left with no snapshots and no blobs holds nothing worth keeping.
    for (const auto& dir : repo_dirs) {
        std::error_code ec;
        if (fs::is_directory(dir, ec) && empty_or_missing(dir / "snapshots") && empty_or_missing(dir / "blobs"))
            remove_path(dir);
    }
}

verify_report verify_cache(const fs::path& cache_dir) {
    verify_report out;
    std::vector<std::string> ignored;
    for (const auto& repo_dir : top_level_entries(cache_dir, ignored)) {
        std::error_code ec;
        if (!fs::is_directory(repo_dir, ec) || !parse_folder(repo_dir.filename().string())) continue;
        for (fs::directory_iterator it(repo_dir / "blobs", ec), end; !ec && it != end; it.increment(ec)) {
            const fs::path& p = it->path();
            std::string name = p.filename().string();
            std::error_code e2;
            if (!fs::is_regular_file(fs::symlink_status(p, e2))) continue;
            if (!util::is_hex(name, 64) && !util::is_hex(name, 40)) continue;  // not named by a hash
            ++out.checked;
            if (!hash_matches(p, name)) out.corrupted.push_back(p);
        }
        try {
            if (fs::is_directory(repo_dir / "snapshots", ec))
                for (const auto& p : files_below(repo_dir / "snapshots"))
                    if (std::error_code e2; !fs::exists(p, e2)) out.dangling.push_back(p);
        } catch (const fs::filesystem_error&) {
            // An unreadable snapshot tree: its blobs were still checked above.
        }
    }
    std::sort(out.corrupted.begin(), out.corrupted.end());
    std::sort(out.dangling.begin(), out.dangling.end());
    return out;
}

}  // namespace hfhub
