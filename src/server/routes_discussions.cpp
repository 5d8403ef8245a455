// Branches, tags, and discussions with the pull requests they open (refs/pr/N).
#include "server/hub.hpp"
#include "server/json_body.hpp"

#include "util/hash.hpp"
#include "util/paths.hpp"

#include <boost/json.hpp>

#include <algorithm>
#include <functional>

namespace hfhub::server {

namespace json = boost::json;

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
    // The revision first, as the Hub: a missing one is a 404 whatever the tag's name.
    std::string target = must_resolve(*r, name).commit;
    auto tag_name = opt_string(body, "tag");
    if (!tag_name || !util::valid_ref_name(*tag_name) || *tag_name == "HEAD")
        throw http_error(400, "", "Invalid or missing tag name");
    std::string message = opt_string(body, "message").value_or("");
    store_.update_state(*r, [&](repo_state& s) {
        if (s.tags.count(*tag_name)) throw http_error(409, "", "Tag " + *tag_name + " already exists");
        s.tags[*tag_name] = {target, message};
    });
    return empty_ok();
}

namespace {

json::object event_json(const discussion_event& e) {
    json::object data;
    if (e.type == "comment") data = {{"edited", false}, {"hidden", false}, {"latest", json::object{{"raw", e.text}}}};
    else if (e.type == "status-change") data = {{"status", e.text}};
    else if (e.type == "title-change") data = {{"from", e.old}, {"to", e.text}};
    else if (e.type == "commit") data = {{"subject", e.text}, {"oid", e.old}};
    return {{"id", e.id},
            {"type", e.type},
            {"createdAt", iso_time(e.time)},
            {"author", json::object{{"name", e.author}}},
            {"data", std::move(data)}};
}

}  // namespace

response hub::discussions(ctx& c, repo_type t, const std::string& id, std::optional<int> num) {
    auto r = readable(c, t, id);
    auto describe = [&](const discussion& d, bool details) {
        int comments = static_cast<int>(std::count_if(d.events.begin(), d.events.end(),
                                                      [](auto& e) { return e.type == "comment"; }));
        json::object o{{"num", d.num},
                       {"title", d.title},
                       {"status", d.status},
                       {"author", json::object{{"name", d.author}}},
                       {"createdAt", iso_time(d.created)},
                       {"isPullRequest", d.is_pr},
                       {"pinned", false},
                       {"numComments", comments},
                       {"repo", json::object{{"name", r->id}, {"type", type_name(t)}}}};
        if (details) {
            json::array events;
            for (auto& e : d.events) events.push_back(event_json(e));
            o["events"] = std::move(events);
            if (d.is_pr) {
                json::value merged = d.merge_commit.empty() ? json::value(nullptr) : json::value(d.merge_commit);
                o["changes"] = json::object{{"base", "refs/heads/main"}, {"mergeCommitId", merged}};
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
    if (c.req.method == "GET") return discussion_list(c, *r, describe);
    if (c.who.what != identity::kind::user) throw http_error(401, "", "You must be authenticated to open a discussion");
    json::object body = parse_object(c.req.body, false);
    auto title = opt_string(body, "title");
    if (!title || title->empty()) throw http_error(400, "", "'title' is required");
    // Anyone signed in may open a pull request on a repo they can read, as on the Hub.
    bool pr = opt_bool(body, "pullRequest");
    std::string head = must_resolve(*r, "main").commit;
    int made = 0;
    store_.update_state(*r, [&](repo_state& s) {
        int n = 1;
        for (auto& d : s.discussions) n = std::max(n, d.num + 1);
        discussion d{n, *title, opt_string(body, "description").value_or(""), c.who.who->name, pr, "open", now_seconds(),
                     pr ? head : std::string(), pr ? head : std::string()};
        if (!d.description.empty())
            d.events.push_back({util::random_hex(12), "comment", d.author, d.created, d.description, {}});
        s.discussions.push_back(std::move(d));
        made = n;
    });
    return json_response(200, json::serialize(json::object{
                                  {"num", made},
                                  {"pullRequest", pr},
                                  {"url", repo_url(t, r->id) + "/discussions/" + std::to_string(made)}}));
}

response hub::discussion_list(ctx& c, repo& r, const std::function<json::object(const discussion&, bool)>& describe) {
    auto st = r.state();
    // The filters the official clients send: type (all|discussion|pull_request), status
    // (all|open|closed), author, and the page p (50 a page, newest first).
    auto type = c.req.query_param("type").value_or("all");
    auto status = c.req.query_param("status").value_or("all");
    auto author = c.req.query_param("author");
    if (type != "all" && type != "discussion" && type != "pull_request")
        throw http_error(400, "", "Invalid type '" + type + "'");
    if (status != "all" && status != "open" && status != "closed")
        throw http_error(400, "", "Invalid status '" + status + "'");
    std::vector<const discussion*> hits;
    for (auto it = st->discussions.rbegin(); it != st->discussions.rend(); ++it) {
        const discussion& d = *it;
        if (type != "all" && d.is_pr != (type == "pull_request")) continue;
        bool open = d.status == "open" || d.status == "draft";
        if (status != "all" && open != (status == "open")) continue;
        if (author && !author->empty() && d.author != *author) continue;
        hits.push_back(&d);
    }
    std::size_t page = 0;
    if (auto p = c.req.query_param("p"); p && !p->empty() && p->size() < 7 &&
                                         p->find_first_not_of("0123456789") == std::string::npos)
        page = std::stoul(*p);
    constexpr std::size_t per_page = 50;
    json::array list;
    for (std::size_t i = page * per_page; i < hits.size() && i < (page + 1) * per_page; ++i)
        list.push_back(describe(*hits[i], false));
    std::size_t closed = std::count_if(st->discussions.begin(), st->discussions.end(),
                                       [](auto& d) { return d.status != "open" && d.status != "draft"; });
    json::object o{{"discussions", std::move(list)}, {"count", hits.size()}, {"start", page * per_page},
                   {"numClosedDiscussions", closed}};
    return json_response(200, json::serialize(o));
}

response hub::discussion_action(ctx& c, repo_type t, const std::string& id, int num, const std::string& action) {
    auto r = readable(c, t, id);
    if (c.who.what != identity::kind::user || !c.who.who)
        throw http_error(401, "", "You must be authenticated to take part in a discussion");
    const std::string me = c.who.who->name;
    json::object body = parse_object(c.req.body);
    auto comment = opt_string(body, "comment").value_or("");
    bool writer = auth_.may_write(c.who, r->ns());
    if (action == "merge") {
        if (!writer) throw http_error(403, "", "You don't have the rights to merge into " + r->id);
        std::string merged = store_.merge_pr(*r, num, me, comment);
        return json_response(200, json::serialize(json::object{{"mergeCommitId", merged}}));
    }
    discussion_event ev{util::random_hex(12), "", me, now_seconds(), "", ""};
    if (action == "comment") {
        if (comment.empty()) throw http_error(400, "", "'comment' is required");
        ev.type = "comment";
        ev.text = comment;
    } else if (action == "status") {
        auto st = opt_string(body, "status").value_or("");
        if (st != "open" && st != "closed") throw http_error(400, "", "'status' must be open or closed");
        ev.type = "status-change";
        ev.text = st;
    } else if (action == "title") {
        auto title = opt_string(body, "title").value_or("");
        if (title.empty()) throw http_error(400, "", "'title' is required");
        ev.type = "title-change";
        ev.text = title;
    } else {
        throw http_error(404, "", "Not found: " + c.req.path);
    }
    store_.update_state(*r, [&](repo_state& s) {
        discussion* d = nullptr;
        for (auto& x : s.discussions)
            if (x.num == num) d = &x;
        if (!d) throw http_error(404, "", "Discussion not found");
        // Its author or a writer of the repo may rename, close or reopen it.
        if (ev.type != "comment" && d->author != me && !writer)
            throw http_error(403, "", "Only the author or a writer of " + r->id + " may change this discussion");
        if (ev.type == "status-change" && d->status == "merged")
            throw http_error(400, "", "A merged pull request can't be reopened or closed");
        if (ev.type == "status-change") d->status = ev.text;
        if (ev.type == "title-change") {
            ev.old = d->title;
            d->title = ev.text;
        }
        if (!comment.empty() && ev.type != "comment")
            d->events.push_back({util::random_hex(12), "comment", me, ev.time, comment, {}});
        d->events.push_back(ev);
    });
    const char* key = ev.type == "comment" ? "newMessage" : ev.type == "status-change" ? "newStatus" : "newTitle";
    return json_response(200, json::serialize(json::object{{key, event_json(ev)}}));
}

}  // namespace hfhub::server
