// Repo metadata and management: info, refs, commits, whoami, create/delete, settings,
// branches, tags, discussions.
#include "server/hub.hpp"

#include "util/hash.hpp"
#include "util/paths.hpp"

#include <boost/json.hpp>

namespace hfhub::server {

namespace json = boost::json;

namespace {

json::object parse_object(const std::string& body, bool allow_empty = true) {
    if (body.empty() && allow_empty) return {};
    boost::system::error_code ec;
    json::value v = json::parse(body, ec);
    if (ec || !v.is_object()) throw http_error(400, "", "Expected a JSON object body");
    return std::move(v.as_object());
}

std::optional<std::string> opt_string(const json::object& o, std::string_view key) {
    auto* v = o.if_contains(key);
    if (!v || v->is_null()) return std::nullopt;
    if (!v->is_string()) throw http_error(400, "", "'" + std::string(key) + "' must be a string");
    return json::value_to<std::string>(*v);
}

bool opt_bool(const json::object& o, std::string_view key) {
    auto* v = o.if_contains(key);
    return v && v->is_bool() && v->as_bool();
}

response empty_ok() { return json_response(200, "{}"); }

}  // namespace

response hub::repo_info(ctx& c, repo_type t, const std::string& id, std::optional<std::string> rev) {
    auto r = readable(c, t, id);
    auto res = must_resolve(*r, rev.value_or("main"));
    auto cm = must_load(*r, res.commit);
    auto st = r->state();
    bool blobs = c.req.query_param("blobs") == std::optional<std::string>("true");
    for (auto& e : c.req.query_params("expand"))
        if (e == "siblings") blobs = true;
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
                   {"gated", false},
                   {"disabled", false},
                   {"downloads", 0},
                   {"likes", 0},
                   {"tags", json::array{}},
                   {"siblings", std::move(siblings)},
                   {"usedStorage", used}};
    if (t == repo_type::model) o["modelId"] = r->id;
    if (t == repo_type::space) o["sdk"] = "static";
    return json_response(200, json::serialize(o));
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
    auto inc = c.req.query_param("include_prs");
    if (inc && (*inc == "1" || *inc == "true" || *inc == "True")) {
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
    try {
        auto r = store_.create(t, id, priv, c.who.who->name, files);
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
    if (priv) store_.update_state(*r, [&](repo_state& s) { s.is_private = *priv; });
    return empty_ok();
}

response hub::branch(ctx& c, repo_type t, const std::string& id, const std::string& name) {
    auto r = writable(c, t, id);
    if (c.req.method == "DELETE") {
        if (name == "main") throw http_error(403, "", "Cannot delete refs/heads/main");
        store_.update_state(*r, [&](repo_state& s) {
            if (!s.branches.erase(name)) throw http_error(404, "RevisionNotFound", "Invalid rev id: " + name);
        });
        return empty_ok();
    }
    // "HEAD" is the alias for main in every revision lookup: a branch of that name would be unreachable.
    if (!util::valid_ref_name(name) || name == "HEAD")
        throw http_error(400, "", "Invalid branch name '" + name + "'");
    json::object body = parse_object(c.req.body);
    auto start = opt_string(body, "startingPoint");
    bool overwrite = opt_bool(body, "overwrite");
    std::string target;
    if (opt_bool(body, "emptyBranch")) {
        throw http_error(400, "", "Empty branches are not supported by this server");
    } else {
        target = must_resolve(*r, start.value_or("main")).commit;
    }
    store_.update_state(*r, [&](repo_state& s) {
        if (s.branches.count(name) && !overwrite)
            throw http_error(409, "", "Reference refs/heads/" + name + " already exists");
        s.branches[name] = target;
    });
    return empty_ok();
}

response hub::tag(ctx& c, repo_type t, const std::string& id, const std::string& name) {
    auto r = writable(c, t, id);
    if (c.req.method == "DELETE") {
        store_.update_state(*r, [&](repo_state& s) {
            if (!s.tags.erase(name)) throw http_error(404, "RevisionNotFound", "Invalid rev id: " + name);
        });
        return empty_ok();
    }
    // POST .../tag/{revision} with {"tag": name}
    json::object body = parse_object(c.req.body, false);
    auto tag_name = opt_string(body, "tag");
    if (!tag_name || !util::valid_ref_name(*tag_name) || *tag_name == "HEAD")
        throw http_error(400, "", "Invalid or missing tag name");
    std::string target = must_resolve(*r, name).commit;
    std::string message = opt_string(body, "message").value_or("");
    store_.update_state(*r, [&](repo_state& s) {
        if (s.tags.count(*tag_name)) throw http_error(409, "", "Tag " + *tag_name + " already exists");
        s.tags[*tag_name] = {target, message};
    });
    return empty_ok();
}

response hub::discussions(ctx& c, repo_type t, const std::string& id, std::optional<int> num) {
    auto r = readable(c, t, id);
    auto describe = [&](const discussion& d, bool details) {
        json::object o{{"num", d.num},
                       {"title", d.title},
                       {"status", d.status},
                       {"author", json::object{{"name", d.author}}},
                       {"createdAt", iso_time(d.created)},
                       {"isPullRequest", d.is_pr},
                       {"pinned", false},
                       {"numComments", 0},
                       {"repo", json::object{{"name", r->id}, {"type", type_name(t)}}}};
        if (details) {
            o["events"] = json::array{};
            if (d.is_pr) {
                o["changes"] = json::object{{"base", "refs/heads/main"}, {"mergeCommitId", nullptr}};
                o["filesWithConflicts"] = json::array{};
            }
            o["diff"] = "";
        }
        return o;
    };
    if (num) {
        auto st = r->state();
        auto* d = st->find_discussion(*num);
        if (!d) throw http_error(404, "", "Discussion not found");
        return json_response(200, json::serialize(describe(*d, true)));
    }
    if (c.req.method == "GET") {
        auto st = r->state();
        json::array list;
        for (auto it = st->discussions.rbegin(); it != st->discussions.rend(); ++it) list.push_back(describe(*it, false));
        json::object o{{"discussions", std::move(list)}, {"count", st->discussions.size()}, {"start", 0},
                       {"numClosedDiscussions", 0}};
        return json_response(200, json::serialize(o));
    }
    if (c.who.what != identity::kind::user) throw http_error(401, "", "You must be authenticated to open a discussion");
    json::object body = parse_object(c.req.body, false);
    auto title = opt_string(body, "title");
    if (!title || title->empty()) throw http_error(400, "", "'title' is required");
    bool pr = opt_bool(body, "pullRequest");
    if (pr && !auth_.may_write(c.who, r->ns()))
        throw http_error(403, "", "You don't have the rights to open a pull request on " + id);
    std::string head = must_resolve(*r, "main").commit;
    int made = 0;
    store_.update_state(*r, [&](repo_state& s) {
        int n = 1;
        for (auto& d : s.discussions) n = std::max(n, d.num + 1);
        s.discussions.push_back({n, *title, opt_string(body, "description").value_or(""), c.who.who->name, pr, "open",
                                 std::chrono::duration_cast<std::chrono::seconds>(
                                     std::chrono::system_clock::now().time_since_epoch())
                                     .count(),
                                 pr ? head : std::string()});
        made = n;
    });
    return json_response(200, json::serialize(json::object{
                                  {"num", made},
                                  {"pullRequest", pr},
                                  {"url", repo_url(t, id) + "/discussions/" + std::to_string(made)}}));
}

}  // namespace hfhub::server
