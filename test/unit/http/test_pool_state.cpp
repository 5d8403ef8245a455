// The pool's bookkeeping without sockets: slots and caps, reuse newest first, dead and expired
// idle connections, the eviction of another host's idle connection at the total cap, counters.
#include "http/pool_state.hpp"

#include <boost/test/unit_test.hpp>

#include <map>
#include <sstream>
#include <string>
#include <vector>

using namespace hfhub;
using namespace hfhub::http;

namespace {

struct fake_conn {
    int id = 0;
    bool alive = true;
};

using state = pool_state<fake_conn>;

struct op {
    enum class kind {
        take,        // a lease for `key`; a slot gets connection `id`
        give,        // connection `id` back, reusable
        give_spent,  // connection `id` back, not reusable (its body was not read whole)
        give_empty,  // a slot back without a connection (opening failed)
        kill,        // the peer closes idle connection `id`
        clear,
    } what;
    std::string key;
    int id = 0;
    int at = 0;  // seconds from the start
    std::string want;
};

std::string ids(const std::vector<std::unique_ptr<fake_conn>>& v) {
    std::string out;
    for (auto& c : v) out += (out.empty() ? "" : ",") + std::to_string(c->id);
    return out;
}

struct harness {
    state s;
    std::map<int, std::unique_ptr<fake_conn>> in_use;
    std::map<int, fake_conn*> all;
    std::map<int, std::string> key_of;
    std::chrono::steady_clock::time_point t0 = std::chrono::steady_clock::now();

    explicit harness(const pool_config& cfg) : s(cfg) {}

    std::string take(const op& o, std::chrono::steady_clock::time_point now) {
        auto r = s.take(o.key, now, [](fake_conn& c) { return c.alive; });
        std::string out;
        if (r.what == state::taken::kind::reused) {
            int id = r.conn->id;
            in_use[id] = std::move(r.conn);
            out = "reused " + std::to_string(id);
        } else if (r.what == state::taken::kind::slot) {
            auto c = std::make_unique<fake_conn>(fake_conn{o.id});
            all[o.id] = c.get();
            key_of[o.id] = o.key;
            in_use[o.id] = std::move(c);
            s.note_opened();
            out = "slot";
        } else {
            out = "full";
        }
        if (!r.closed.empty()) out += " closed " + ids(r.closed);
        return out;
    }

    std::string give(const op& o, std::chrono::steady_clock::time_point now) {
        std::unique_ptr<fake_conn> c;
        std::string key = o.key;
        if (o.what != op::kind::give_empty) {
            c = std::move(in_use.at(o.id));
            in_use.erase(o.id);
            key = key_of.at(o.id);
        }
        auto closed = s.give_back(key, std::move(c), o.what == op::kind::give, now);
        if (!closed) return o.what == op::kind::give_empty ? "freed" : "idle";
        return "closed " + std::to_string(closed->id);
    }

    std::string apply(const op& o) {
        auto now = t0 + std::chrono::seconds(o.at);
        std::string out;
        switch (o.what) {
        case op::kind::take: out = take(o, now); break;
        case op::kind::give:
        case op::kind::give_spent:
        case op::kind::give_empty: out = give(o, now); break;
        case op::kind::kill: all.at(o.id)->alive = false; break;
        case op::kind::clear: out = "closed " + ids(s.clear()); break;
        }
        auto st = s.stats();
        std::ostringstream o2;
        o2 << out << " | open " << st.open << " idle " << st.idle << " opened " << st.opened << " reused " << st.reused
           << " peak " << st.peak_open;
        return o2.str();
    }
};

struct scenario {
    const char* name;
    pool_config cfg;
    std::vector<op> ops;
};

pool_config caps(std::size_t per_host, std::size_t total, int idle_seconds = 60) {
    pool_config c;
    c.per_host = per_host;
    c.total = total;
    c.idle_timeout = std::chrono::seconds(idle_seconds);
    return c;
}

void run(const scenario& sc) {
    harness h(sc.cfg);
    for (std::size_t i = 0; i < sc.ops.size(); ++i)
        BOOST_TEST_CONTEXT(sc.name << ", op " << i) { BOOST_TEST(h.apply(sc.ops[i]) == sc.ops[i].want); }
}

using k = op::kind;

}  // namespace

BOOST_AUTO_TEST_SUITE(http_pool_state)

BOOST_AUTO_TEST_CASE(slots_and_reuse) {
    const scenario rows[] = {
        {"open, give back, reuse",
         caps(2, 4),
         {{k::take, "a", 1, 0, "slot | open 1 idle 0 opened 1 reused 0 peak 1"},
          {k::give, "a", 1, 0, "idle | open 1 idle 1 opened 1 reused 0 peak 1"},
          {k::take, "a", 9, 0, "reused 1 | open 1 idle 0 opened 1 reused 1 peak 1"}}},
        {"newest first",
         caps(2, 4),
         {{k::take, "a", 1, 0, "slot | open 1 idle 0 opened 1 reused 0 peak 1"},
          {k::take, "a", 2, 0, "slot | open 2 idle 0 opened 2 reused 0 peak 2"},
          {k::give, "a", 1, 0, "idle | open 2 idle 1 opened 2 reused 0 peak 2"},
          {k::give, "a", 2, 1, "idle | open 2 idle 2 opened 2 reused 0 peak 2"},
          {k::take, "a", 9, 2, "reused 2 | open 2 idle 1 opened 2 reused 1 peak 2"}}},
        {"keys do not share connections",
         caps(2, 4),
         {{k::take, "a", 1, 0, "slot | open 1 idle 0 opened 1 reused 0 peak 1"},
          {k::give, "a", 1, 0, "idle | open 1 idle 1 opened 1 reused 0 peak 1"},
          {k::take, "b", 2, 0, "slot | open 2 idle 1 opened 2 reused 0 peak 2"}}},
        {"the per-host cap",
         caps(2, 4),
         {{k::take, "a", 1, 0, "slot | open 1 idle 0 opened 1 reused 0 peak 1"},
          {k::take, "a", 2, 0, "slot | open 2 idle 0 opened 2 reused 0 peak 2"},
          {k::take, "a", 3, 0, "full | open 2 idle 0 opened 2 reused 0 peak 2"},
          {k::take, "b", 3, 0, "slot | open 3 idle 0 opened 3 reused 0 peak 3"}}},
        {"caps of zero mean one",
         caps(0, 0),
         {{k::take, "a", 1, 0, "slot | open 1 idle 0 opened 1 reused 0 peak 1"},
          {k::take, "a", 2, 0, "full | open 1 idle 0 opened 1 reused 0 peak 1"},
          {k::take, "b", 2, 0, "full | open 1 idle 0 opened 1 reused 0 peak 1"}}},
        {"a connection that is not reusable is closed and frees its slot",
         caps(1, 4),
         {{k::take, "a", 1, 0, "slot | open 1 idle 0 opened 1 reused 0 peak 1"},
          {k::give_spent, "a", 1, 0, "closed 1 | open 0 idle 0 opened 1 reused 0 peak 1"},
          {k::take, "a", 2, 0, "slot | open 1 idle 0 opened 2 reused 0 peak 1"}}},
        {"a slot whose opening failed is freed",
         caps(1, 4),
         {{k::take, "a", 1, 0, "slot | open 1 idle 0 opened 1 reused 0 peak 1"},
          {k::give_empty, "a", 0, 0, "freed | open 0 idle 0 opened 1 reused 0 peak 1"}}},
    };
    for (const auto& r : rows) run(r);
}

BOOST_AUTO_TEST_CASE(dead_expired_and_evicted) {
    const scenario rows[] = {
        {"an idle connection the peer closed is dropped for a new slot",
         caps(1, 4),
         {{k::take, "a", 1, 0, "slot | open 1 idle 0 opened 1 reused 0 peak 1"},
          {k::give, "a", 1, 0, "idle | open 1 idle 1 opened 1 reused 0 peak 1"},
          {k::kill, "a", 1, 0, " | open 1 idle 1 opened 1 reused 0 peak 1"},
          {k::take, "a", 2, 0, "slot closed 1 | open 1 idle 0 opened 2 reused 0 peak 1"}}},
        {"a dead newest one, then a live older one",
         caps(2, 4),
         {{k::take, "a", 1, 0, "slot | open 1 idle 0 opened 1 reused 0 peak 1"},
          {k::take, "a", 2, 0, "slot | open 2 idle 0 opened 2 reused 0 peak 2"},
          {k::give, "a", 1, 0, "idle | open 2 idle 1 opened 2 reused 0 peak 2"},
          {k::give, "a", 2, 0, "idle | open 2 idle 2 opened 2 reused 0 peak 2"},
          {k::kill, "a", 2, 0, " | open 2 idle 2 opened 2 reused 0 peak 2"},
          {k::take, "a", 3, 0, "reused 1 closed 2 | open 1 idle 0 opened 2 reused 1 peak 2"}}},
        {"idle past the timeout: closed",
         caps(1, 4, 30),
         {{k::take, "a", 1, 0, "slot | open 1 idle 0 opened 1 reused 0 peak 1"},
          {k::give, "a", 1, 0, "idle | open 1 idle 1 opened 1 reused 0 peak 1"},
          {k::take, "a", 2, 31, "slot closed 1 | open 1 idle 0 opened 2 reused 0 peak 1"}}},
        {"idle exactly the timeout: kept",
         caps(1, 4, 30),
         {{k::take, "a", 1, 0, "slot | open 1 idle 0 opened 1 reused 0 peak 1"},
          {k::give, "a", 1, 0, "idle | open 1 idle 1 opened 1 reused 0 peak 1"},
          {k::take, "a", 2, 30, "reused 1 | open 1 idle 0 opened 1 reused 1 peak 1"}}},
        {"only the expired ones go, and only the key's own",
         caps(2, 4, 30),
         {{k::take, "a", 1, 0, "slot | open 1 idle 0 opened 1 reused 0 peak 1"},
          {k::take, "a", 2, 0, "slot | open 2 idle 0 opened 2 reused 0 peak 2"},
          {k::take, "b", 3, 0, "slot | open 3 idle 0 opened 3 reused 0 peak 3"},
          {k::give, "a", 1, 0, "idle | open 3 idle 1 opened 3 reused 0 peak 3"},
          {k::give, "b", 3, 0, "idle | open 3 idle 2 opened 3 reused 0 peak 3"},
          {k::give, "a", 2, 20, "idle | open 3 idle 3 opened 3 reused 0 peak 3"},
          {k::take, "a", 9, 35, "reused 2 closed 1 | open 2 idle 1 opened 3 reused 1 peak 3"}}},
        {"at the total cap another host's oldest idle connection gives way",
         caps(2, 3),
         {{k::take, "a", 1, 0, "slot | open 1 idle 0 opened 1 reused 0 peak 1"},
          {k::take, "b", 2, 0, "slot | open 2 idle 0 opened 2 reused 0 peak 2"},
          {k::take, "b", 3, 0, "slot | open 3 idle 0 opened 3 reused 0 peak 3"},
          {k::give, "b", 3, 0, "idle | open 3 idle 1 opened 3 reused 0 peak 3"},
          {k::give, "b", 2, 1, "idle | open 3 idle 2 opened 3 reused 0 peak 3"},
          {k::take, "c", 4, 2, "slot closed 3 | open 3 idle 1 opened 4 reused 0 peak 3"}}},
        {"at the total cap with nothing idle: wait",
         caps(2, 2),
         {{k::take, "a", 1, 0, "slot | open 1 idle 0 opened 1 reused 0 peak 1"},
          {k::take, "b", 2, 0, "slot | open 2 idle 0 opened 2 reused 0 peak 2"},
          {k::take, "c", 3, 0, "full | open 2 idle 0 opened 2 reused 0 peak 2"}}},
        {"at both caps nothing is evicted",
         caps(1, 2),
         {{k::take, "a", 1, 0, "slot | open 1 idle 0 opened 1 reused 0 peak 1"},
          {k::take, "b", 2, 0, "slot | open 2 idle 0 opened 2 reused 0 peak 2"},
          {k::give, "b", 2, 0, "idle | open 2 idle 1 opened 2 reused 0 peak 2"},
          {k::take, "a", 3, 0, "full | open 2 idle 1 opened 2 reused 0 peak 2"}}},
    };
    for (const auto& r : rows) run(r);
}

BOOST_AUTO_TEST_CASE(clearing) {
    const scenario rows[] = {
        {"clear closes the idle ones and keeps the slots in use",
         caps(2, 4),
         {{k::take, "a", 1, 0, "slot | open 1 idle 0 opened 1 reused 0 peak 1"},
          {k::take, "a", 2, 0, "slot | open 2 idle 0 opened 2 reused 0 peak 2"},
          {k::take, "b", 3, 0, "slot | open 3 idle 0 opened 3 reused 0 peak 3"},
          {k::give, "a", 1, 0, "idle | open 3 idle 1 opened 3 reused 0 peak 3"},
          {k::give, "b", 3, 0, "idle | open 3 idle 2 opened 3 reused 0 peak 3"},
          {k::clear, "", 0, 0, "closed 1,3 | open 1 idle 0 opened 3 reused 0 peak 3"},
          {k::give, "a", 2, 0, "idle | open 1 idle 1 opened 3 reused 0 peak 3"}}},
    };
    for (const auto& r : rows) run(r);
}

BOOST_AUTO_TEST_SUITE_END()
