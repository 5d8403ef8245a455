#include "hub/hub_json.hpp"

namespace hfhub::hub {

lfs_info read_lfs(const json_reader& r, const json::value& v, const std::string& where) {
    const auto& o = r.object(v, where);
    lfs_info l;
    if (auto sha = r.opt_str(o, "sha256", where))
        l.sha256 = std::move(*sha);
    else
        l.sha256 = r.str(o, "oid", where);
    l.size = r.u64(o, "size", where);
    l.pointer_size = r.opt_u64(o, "pointerSize", where).value_or(0);
    return l;
}

std::optional<tree_entry> read_entry(const json_reader& r, const json::value& v, const std::string& where) {
    const auto& o = r.object(v, where);
    std::string type = r.str(o, "type", where);
    if (type == "directory") {
        repo_folder f;
        f.path = r.str(o, "path", where);
        f.tree_id = r.opt_str(o, "oid", where).value_or("");
        return f;
    }
    if (type != "file") return std::nullopt;
    repo_file f;
    f.path = r.str(o, "path", where);
    f.size = r.u64(o, "size", where);
    f.blob_id = r.str(o, "oid", where);
    if (auto* l = json_reader::find(o, "lfs")) f.lfs = read_lfs(r, *l, where + ".lfs");
    if (auto* lc = json_reader::find(o, "lastCommit")) {
        std::string at = where + ".lastCommit";
        const auto& co = r.object(*lc, at);
        f.last_commit = last_commit_info{r.str(co, "id", at), r.str(co, "title", at), r.str(co, "date", at)};
    }
    return f;
}

std::vector<git_ref> read_refs(const json_reader& r, const json::object& o, std::string_view key, bool required) {
    std::vector<git_ref> out;
    const json::value* v = required ? &r.required(o, key, "") : json_reader::find(o, key);
    if (!v) return out;
    const auto& arr = r.array(*v, std::string(key));
    for (std::size_t i = 0; i < arr.size(); ++i) {
        std::string at = indexed(key, i);
        const auto& e = r.object(arr[i], at);
        out.push_back({r.str(e, "name", at), r.str(e, "ref", at), r.str(e, "targetCommit", at)});
    }
    return out;
}

repo_metadata read_repo_info(const json_reader& r, const json::value& v, bool expanded) {
    const auto& o = r.object(v, "response");
    repo_metadata m;
    m.id = r.str(o, "id", "");
    m.sha = expanded ? r.opt_str(o, "sha", "").value_or("") : r.str(o, "sha", "");
    m.author = r.opt_str(o, "author", "").value_or("");
    m.last_modified = r.opt_str(o, "lastModified", "").value_or("");
    m.created_at = r.opt_str(o, "createdAt", "").value_or("");
    m.is_private = r.opt_bool(o, "private", "");
    m.disabled = r.opt_bool(o, "disabled", "");
    m.downloads = r.opt_u64(o, "downloads", "");
    m.downloads_all_time = r.opt_u64(o, "downloadsAllTime", "");
    m.gated = "false";
    if (auto* g = json_reader::find(o, "gated")) {
        if (auto* b = g->if_bool())
            m.gated = *b ? "true" : "false";
        else
            m.gated = r.str(*g, "gated");
    }
    if (auto* s = json_reader::find(o, "siblings")) {
        const auto& arr = r.array(*s, "siblings");
        m.siblings.reserve(arr.size());
        for (std::size_t i = 0; i < arr.size(); ++i) {
            std::string at = indexed("siblings", i);
            const auto& e = r.object(arr[i], at);
            repo_file f;
            f.path = r.str(e, "rfilename", at);
            f.size = r.opt_u64(e, "size", at).value_or(0);
            f.blob_id = r.opt_str(e, "blobId", at).value_or("");
            if (auto* l = json_reader::find(e, "lfs")) f.lfs = read_lfs(r, *l, at + ".lfs");
            m.siblings.push_back(std::move(f));
        }
    }
    return m;
}

}  // namespace hfhub::hub
