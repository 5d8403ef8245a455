// Repo metadata and management: info, refs, commits, whoami, create/delete, move, settings,
// gated access, super-squash. Branches, tags and discussions: routes_discussions.cpp.
#include "server/hub.hpp"
#include "server/json_body.hpp"

#include "util/fs.hpp"
#include "util/hash.hpp"
#include "util/paths.hpp"

#include <boost/json.hpp>

#include <algorithm>
#include <functional>
#include <set>

namespace hfhub::server {

namespace json = boost::json;

namespace {

// A new Space starts with a README whose front matter names its SDK, as on the Hub.
void add_space_readme(std::vector<initial_file>& files, const std::string& name, const std::string& sdk) {
    for (std::string_view known : {"gradio", "streamlit", "docker", "static"})
        if (sdk == known) {
            for (auto& f : files)
                if (f.path == "README.md") return;
            files.push_back({"README.md", "---\ntitle: " + name +
                                              "\nemoji: 🚀\ncolorFrom: blue\ncolorTo: green\nsdk: " + sdk +
                                              "\npinned: false\n---\n\n# " + name + "\n"});
            return;
        }
    throw http_error(400, "", "Invalid Space SDK '" + sdk + "': use gradio, streamlit, docker or static");
}

}  // namespace

namespace {

// What ?expand= may name, per type: the official client's lists, plus xetEnabled, which it asks
// for before uploading.
bool expandable(repo_type t, std::string_view p) {
    static const std::set<std::string, std::less<>> common{
        "author", "cardData", "createdAt", "disabled", "gated", "lastModified", "likes", "private",
        "resourceGroup", "sha", "siblings", "tags", "trendingScore", "usedStorage", "xetEnabled"};
    static const std::set<std::string, std::less<>> model{
        "baseModels", "childrenModelCount", "config", "downloads", "downloadsAllTime", "evalResults", "gguf",
        "inference", "inferenceProviderMapping", "library_name", "mask_token", "model-index", "pipeline_tag",
        "safetensors", "spaces", "transformersInfo", "widgetData"};
    static const std::set<std::string, std::less<>> dataset{
        "citation", "description", "downloads", "downloadsAllTime", "mainSize", "paperswithcode_id"};
    static const std::set<std::string, std::less<>> space{"datasets", "models", "region", "runtime", "sdk",
                                                          "subdomain"};
    if (common.count(p)) return true;
    switch (t) {
        case repo_type::model: return model.count(p) != 0;
        case repo_type::dataset: return dataset.count(p) != 0;
        default: return space.count(p) != 0;
    }
}

// A Space's SDK, from its README's front matter; "static" when it names none.
std::string space_sdk(const std::optional<std::string>& readme) {
    if (!readme || !readme->starts_with("---")) return "static";
    auto end = readme->find("\n---", 3);
    std::string_view front = std::string_view(*readme).substr(0, end);
    auto at = front.find("\nsdk:");
    if (at == std::string_view::npos) return "static";
    auto line = front.substr(at + 6, front.find('\n', at + 1) - at - 6);
    while (!line.empty() && (line.front() == ' ' || line.front() == '"')) line.remove_prefix(1);
    while (!line.empty() && (line.back() == ' ' || line.back() == '"' || line.back() == '\r')) line.remove_suffix(1);
    return line.empty() ? "static" : std::string(line);
}

}  // namespace

response hub::repo_info(ctx& c, repo_type t, const std::string& id, std::optional<std::string> rev) {
    auto r = readable(c, t, id);
    auto res = must_resolve(*r, rev.value_or("main"));
    auto cm = must_load(*r, res.commit);
    auto st = r->state();
    auto expand = c.req.query_params("expand");
    for (auto& e : c.req.query_params("expand[]")) expand.push_back(e);
    for (auto& e : expand)
        if (!expandable(t, e))
            throw http_error(400, "", "\"expand\" has an unknown property '" + e + "' for a " +
                                          std::string(type_name(t)));
    bool blobs = c.req.query_flag("blobs") || std::count(expand.begin(), expand.end(), "siblings");
    json::array siblings;
    std::uint64_t used = 0;
    for (auto& [path, f] : cm->files) {
        json::object s{{"rfilename", path}};
        if (blobs) {
            s["size"] = f.size;
            s["blobId"] = f.oid;
            if (f.is_lfs())
                s["lfs"] = json::object{{"size", f.size},
                                        {"sha256", f.lfs_sha256},
                                        {"pointerSize", util::lfs_pointer(f.lfs_sha256, f.size).size()}};
        }
        used += f.size;
        siblings.push_back(std::move(s));
    }
    json::object o{{"_id", r->object_id},
                   {"id", r->id},
                   {"author", r->ns()},
                   {"sha", cm->id},
                   {"lastModified", iso_time(cm->time)},
                   {"createdAt", iso_time(r->created)},
                   {"private", st->is_private},
                   {"gated", st->gated.empty() ? json::value(false) : json::value(st->gated)},
                   {"disabled", false},
                   {"likes", 0},
                   {"tags", json::array{}},
                   {"siblings", std::move(siblings)},
                   {"usedStorage", used},
                   {"xetEnabled", st->xet_enabled}};
    if (t != repo_type::space) {
        // The Hub sends the all-time count only when asked for it by ?expand=.
        auto n = r->downloads.counts(download_day(now()));
        o["downloads"] = n.last_30_days;
        if (!expand.empty()) o["downloadsAllTime"] = n.all_time;
    }
    if (t == repo_type::model) o["modelId"] = r->id;
    if (t == repo_type::space) {
        auto readme = cm->files.find("README.md");
        o["sdk"] = space_sdk(readme == cm->files.end() ? std::nullopt : util::read_file(blobs_.path_of(readme->second.oid)));
    }
    if (expand.empty()) return json_response(200, json::serialize(o));
    // Only what was asked for, beside the ids, as the Hub answers; properties this server has no
    // value for are left out.
    json::object only{{"_id", r->object_id}, {"id", r->id}};
    for (auto& e : expand)
        if (auto* v = o.if_contains(e)) only[e] = *v;
    return json_response(200, json::serialize(only));
}

response hub::refs(ctx& c, repo_type t, const std::string& id) {
    auto r = readable(c, t, id);
    auto st = r->state();
    json::array branches, tags, prs;
    for (auto& [name, commit] : st->branches)
        branches.push_back(json::object{{"name", name}, {"ref", "refs/heads/" + name}, {"targetCommit", commit}});
    for (auto& [name, tg] : st->tags)
        tags.push_back(json::object{{"name", name}, {"ref", "refs/tags/" + name}, {"targetCommit", tg.commit}});
    json::object o{{"branches", std::move(branches)}, {"converts", json::array{}}, {"tags", std::move(tags)}};
    if (c.req.query_flag("include_prs")) {
        for (auto& d : st->discussions)
            if (d.is_pr)
                prs.push_back(json::object{{"name", std::to_string(d.num)},
                                           {"ref", "refs/pr/" + std::to_string(d.num)},
                                           {"targetCommit", d.head}});
        o["pullRequests"] = std::move(prs);
    }
    return json_response(200, json::serialize(o));
}

response hub::commits(ctx& c, repo_type t, const std::string& id, const std::string& rev) {
    auto r = readable(c, t, id);
    auto res = must_resolve(*r, rev);
    std::size_t page = 0, limit = 50;
    auto num = [](const std::optional<std::string>& v, std::size_t& out) {
        if (v && !v->empty() && v->size() < 7 && v->find_first_not_of("0123456789") == std::string::npos)
            out = std::stoul(*v);
    };
    num(c.req.query_param("p"), page);
    num(c.req.query_param("limit"), limit);
    limit = std::clamp<std::size_t>(limit, 1, 1000);
    // Later pages walk from the commit the first page started at (the Link's cursor), so a
    // commit landing between pages doesn't shift them.
    std::string start = res.commit;
    if (auto cur = c.req.query_param("cursor"); cur && !cur->empty()) {
        if (!util::is_hex(*cur, 40) || !store_.load_commit(*r, *cur)) throw http_error(400, "", "Invalid cursor");
        start = *cur;
    }
    auto all = store_.history(*r, start, std::numeric_limits<std::size_t>::max());
    bool formatted = false;
    for (auto& e : c.req.query_params("expand[]")) formatted |= e == "formatted";
    json::array out;
    for (std::size_t i = page * limit; i < all.size() && i < (page + 1) * limit; ++i) {
        auto& cm = all[i];
        json::object o{{"id", cm->id},
                       {"title", cm->title},
                       {"message", cm->message},
                       {"authors", json::array{json::object{{"user", cm->author}}}},
                       {"date", iso_time(cm->time)}};
        if (formatted) o["formatted"] = json::object{{"title", cm->title}, {"message", cm->message}};
        out.push_back(std::move(o));
    }
    response resp = json_response(200, json::serialize(out));
    resp.headers.add("X-Total-Count", std::to_string(all.size()));
    if ((page + 1) * limit < all.size())
        resp.headers.add("Link", "<" + cfg_.base_url + c.req.path + "?p=" + std::to_string(page + 1) +
                                     "&limit=" + std::to_string(limit) + "&cursor=" + start +
                                     (formatted ? "&expand%5B%5D=formatted" : "") + ">; rel=\"next\"");
    return resp;
}

response hub::whoami(ctx& c) {
    if (c.who.what != identity::kind::user || !c.who.who)
        throw http_error(401, "", "Invalid credentials in Authorization header");
    const user& u = *c.who.who;
    json::array orgs;
    for (auto& o : u.orgs)
        orgs.push_back(json::object{{"type", "org"}, {"name", o}, {"fullname", o}, {"id", util::sha1_hex("org:" + o).substr(0, 24)}});
    json::object o{{"type", "user"},
                   {"id", util::sha1_hex("user:" + u.name).substr(0, 24)},
                   {"name", u.name},
                   {"fullname", u.name},
                   {"email", nullptr},
                   {"emailVerified", false},
                   {"isPro", false},
                   {"orgs", std::move(orgs)},
                   {"auth", json::object{{"type", "access_token"},
                                         {"accessToken", json::object{{"displayName", "hfhub-serve"}, {"role", "write"}}}}}};
    return json_response(200, json::serialize(o));
}

response hub::create_repo(ctx& c) {
    if (c.who.what != identity::kind::user) throw http_error(401, "", "You must be authenticated to create a repo");
    json::object body = parse_object(c.req.body, false);
    auto name = opt_string(body, "name");
    if (!name) throw http_error(400, "", "'name' is required");
    auto org = opt_string(body, "organization");
    repo_type t = repo_type::model;
    if (auto ts = opt_string(body, "type")) {
        auto p = parse_type(*ts);
        if (!p) throw http_error(400, "", "Invalid repo type '" + *ts + "'");
        t = *p;
    }
    std::string ns, short_name = *name;
    if (auto slash = name->find('/'); slash != std::string::npos) {
        ns = name->substr(0, slash);
        short_name = name->substr(slash + 1);
    } else {
        ns = org.value_or(c.who.who->name);
    }
    if (!util::valid_repo_name_part(ns) || !util::valid_repo_name_part(short_name))
        throw http_error(400, "", "Invalid repo name '" + ns + "/" + short_name +
                                      "': use letters, digits, '-', '_' and '.', at most 96 characters");
    if (!auth_.may_write(c.who, ns))
        throw http_error(403, "", "You don't have the rights to create a " + std::string(type_name(t)) +
                                      " under the namespace \"" + ns + "\"");
    bool priv = opt_bool(body, "private");
    if (auto vis = opt_string(body, "visibility")) priv = *vis == "private" || *vis == "protected";
    std::vector<initial_file> files;
    if (auto* fv = body.if_contains("files"); fv && fv->is_array()) {
        for (auto& f : fv->as_array()) {
            if (!f.is_object()) throw http_error(400, "", "files[] entries are objects");
            auto path = opt_string(f.as_object(), "path");
            auto content = opt_string(f.as_object(), "content");
            if (!path || !content) throw http_error(400, "", "files[] need path and content");
            std::string data = *content;
            if (opt_string(f.as_object(), "encoding").value_or("utf-8") == "base64" &&
                !util::base64_decode(*content, data))
                throw http_error(400, "", "Invalid base64 content for " + *path);
            files.push_back({*path, std::move(data)});
        }
    }
    std::string id = ns + "/" + short_name;
    if (t == repo_type::space) add_space_readme(files, short_name, opt_string(body, "sdk").value_or("static"));
    try {
        auto r = store_.create(t, id, priv, c.who.who->name, files, cfg_.xet_by_default);
        return json_response(200, json::serialize(json::object{{"url", repo_url(t, id)}, {"name", id}, {"id", r->object_id}}));
    } catch (const http_error& e) {
        if (e.status != 409) throw;
        response resp = error_response(409, "", e.what());
        resp.body = json::serialize(json::object{{"error", e.what()}, {"url", repo_url(t, id)}});
        return resp;
    }
}

response hub::delete_repo(ctx& c) {
    json::object body = parse_object(c.req.body, false);
    auto name = opt_string(body, "name");
    if (!name) throw http_error(400, "", "'name' is required");
    repo_type t = repo_type::model;
    if (auto ts = opt_string(body, "type")) {
        auto p = parse_type(*ts);
        if (!p) throw http_error(400, "", "Invalid repo type '" + *ts + "'");
        t = *p;
    }
    std::string id = *name;
    if (id.find('/') == std::string::npos) {
        auto org = opt_string(body, "organization");
        if (!org && c.who.what != identity::kind::user) throw http_error(401, "", "You must be authenticated");
        id = org.value_or(c.who.who ? c.who.who->name : "") + "/" + id;
    }
    writable(c, t, id);
    if (!store_.remove(t, id)) throw http_error(404, "RepoNotFound", "Repository not found");
    response r;
    r.headers.add("Content-Type", "text/plain; charset=utf-8");
    r.body = "OK";
    return r;
}

response hub::settings(ctx& c, repo_type t, const std::string& id) {
    auto r = writable(c, t, id);
    json::object body = parse_object(c.req.body);
    std::optional<bool> priv;
    if (auto* p = body.if_contains("private"); p && p->is_bool()) priv = p->as_bool();
    if (auto vis = opt_string(body, "visibility")) priv = *vis == "private" || *vis == "protected";
    // "gated": "auto" | "manual" | false. Access is the owner's and its org members', plus the
    // users the owner grants (user-access-request/grant): this server has no request form.
    std::optional<std::string> gated;
    if (auto* g = body.if_contains("gated")) {
        if (g->is_bool() && !g->as_bool()) gated = "";
        else if (g->is_string() && (g->as_string() == "auto" || g->as_string() == "manual")) gated = std::string(g->as_string());
        else throw http_error(400, "", "\"gated\" must be \"auto\", \"manual\" or false");
    }
    // "xetEnabled": true | false, as huggingface_hub's update_repo_settings(xet_enabled=) sent it.
    std::optional<bool> xet;
    if (auto* x = body.if_contains("xetEnabled")) {
        if (!x->is_bool()) throw http_error(400, "", "\"xetEnabled\" must be true or false");
        xet = x->as_bool();
    }
    if (priv || gated || xet)
        store_.update_state(*r, [&](repo_state& s) {
            if (priv) s.is_private = *priv;
            if (gated) s.gated = *gated;
            if (xet) s.xet_enabled = *xet;
        });
    return empty_ok();
}

response hub::auth_check(ctx& c, repo_type t, const std::string& id, bool write) {
    if (write) writable(c, t, id);
    else downloadable(c, t, id);
    return empty_ok();
}

response hub::access_grant(ctx& c, repo_type t, const std::string& id) {
    auto r = writable(c, t, id);
    json::object body = parse_object(c.req.body, false);
    auto name = opt_string(body, "user");
    if (!name || name->empty()) throw http_error(400, "", "'user' is required");
    if (!auth_.has_user(*name)) throw http_error(404, "", "User " + *name + " not found");
    store_.update_state(*r, [&](repo_state& s) {
        if (std::find(s.gate_access.begin(), s.gate_access.end(), *name) == s.gate_access.end())
            s.gate_access.push_back(*name);
    });
    return empty_ok();
}
response hub::move_repo(ctx& c) {
    json::object body = parse_object(c.req.body, false);
    auto from = opt_string(body, "fromRepo"), to = opt_string(body, "toRepo");
    if (!from || !to) throw http_error(400, "", "'fromRepo' and 'toRepo' are required");
    repo_type t = repo_type::model;
    if (auto ts = opt_string(body, "type")) {
        auto p = parse_type(*ts);
        if (!p) throw http_error(400, "", "Invalid repo type '" + *ts + "'");
        t = *p;
    }
    auto slash = to->find('/');
    if (slash == std::string::npos || !util::valid_repo_name_part(to->substr(0, slash)) ||
        !util::valid_repo_name_part(to->substr(slash + 1)))
        throw http_error(400, "", "Invalid repo id '" + *to + "': use namespace/name");
    auto r = writable(c, t, *from);
    if (!auth_.may_write(c.who, to->substr(0, slash)))
        throw http_error(403, "", "You don't have the rights to move a repo to \"" + to->substr(0, slash) + "\"");
    store_.move(*r, *to);
    return empty_ok();
}

response hub::super_squash(ctx& c, repo_type t, const std::string& id, const std::string& branch) {
    auto r = writable(c, t, id);
    json::object body = parse_object(c.req.body);
    auto message = opt_string(body, "message").value_or("Super-squash branch '" + branch + "'");
    std::string commit = store_.super_squash(*r, branch, message, c.who.who ? c.who.who->name : "local");
    return json_response(200, json::serialize(json::object{{"commitId", commit}}));
}

}  // namespace hfhub::server
