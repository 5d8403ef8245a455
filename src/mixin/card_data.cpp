// Typed card data (Python's ModelCardData and EvalResult) and the model-index they map to.
#include <hfhub/model_card.hpp>

#include <boost/json.hpp>

#include <algorithm>
#include <map>
#include <tuple>

namespace hfhub {

namespace json = boost::json;

namespace {

[[noreturn]] void fail(std::string msg) {
    diagnostics d;
    d.client_message = std::move(msg);
    throw error(make_error_code(client_errc::invalid_argument), std::move(d));
}

std::string kind_name(const json::value& v) {
    switch (v.kind()) {
    case json::kind::null: return "null";
    case json::kind::bool_: return "a bool";
    case json::kind::int64:
    case json::kind::uint64: return "an integer";
    case json::kind::double_: return "a number";
    case json::kind::string: return "a string";
    case json::kind::array: return "a list";
    case json::kind::object: return "a mapping";
    }
    return "a value";
}

// Reads the model-index, naming where it fails.
struct index_reader {
    const json::object& obj(const json::value& v, const std::string& at) const {
        if (!v.is_object()) fail("model-index: " + at + " must be a mapping, not " + kind_name(v));
        return v.get_object();
    }
    const json::array& arr(const json::value& v, const std::string& at) const {
        if (!v.is_array()) fail("model-index: " + at + " must be a list, not " + kind_name(v));
        return v.get_array();
    }
    const json::value& req(const json::object& o, std::string_view key, const std::string& at) const {
        auto* v = o.if_contains(key);
        if (!v) fail("model-index: " + at + "." + std::string(key) + " is required");
        return *v;
    }
    std::string str(const json::object& o, std::string_view key, const std::string& at) const {
        const auto& v = req(o, key, at);
        if (!v.is_string()) fail("model-index: " + at + "." + std::string(key) + " must be a string, not " + kind_name(v));
        return std::string(v.get_string());
    }
    std::optional<std::string> opt_str(const json::object* o, std::string_view key, const std::string& at) const {
        if (!o) return std::nullopt;
        auto* v = o->if_contains(key);
        if (!v || v->is_null()) return std::nullopt;
        if (!v->is_string()) fail("model-index: " + at + "." + std::string(key) + " must be a string, not " + kind_name(*v));
        return std::string(v->get_string());
    }
    std::optional<json::object> opt_obj(const json::object& o, std::string_view key, const std::string& at) const {
        auto* v = o.if_contains(key);
        if (!v || v->is_null()) return std::nullopt;
        return obj(*v, at + "." + std::string(key));
    }
};

// Python's _remove_none: no null values in mappings or lists, recursively.
json::value remove_none(const json::value& v) {
    if (v.is_array()) {
        json::array a;
        for (const auto& e : v.get_array())
            if (!e.is_null()) a.push_back(remove_none(e));
        return a;
    }
    if (v.is_object()) {
        json::object o;
        for (const auto& kv : v.get_object())
            if (!kv.value().is_null()) o[kv.key()] = remove_none(kv.value());
        return o;
    }
    return v;
}

template <class T>
json::value opt(const std::optional<T>& v) {
    if (!v) return nullptr;
    return json::value(*v);
}

json::value to_value(const string_or_list& v) {
    if (auto* s = std::get_if<std::string>(&v)) return json::string(*s);
    json::array a;
    for (const auto& s : std::get<std::vector<std::string>>(v)) a.emplace_back(s);
    return a;
}

std::vector<std::string> string_list(const json::value& v, std::string_view field) {
    if (!v.is_array()) fail("card data '" + std::string(field) + "' must be a list of strings, not " + kind_name(v));
    std::vector<std::string> out;
    for (const auto& e : v.get_array()) {
        if (!e.is_string()) fail("card data '" + std::string(field) + "' must hold strings only, not " + kind_name(e));
        out.emplace_back(e.get_string());
    }
    return out;
}

string_or_list string_or_list_of(const json::value& v, std::string_view field) {
    if (v.is_string()) return std::string(v.get_string());
    if (!v.is_array()) fail("card data '" + std::string(field) + "' must be a string or a list of strings, not " + kind_name(v));
    return string_list(v, field);
}

std::string string_of(const json::value& v, std::string_view field) {
    if (!v.is_string()) fail("card data '" + std::string(field) + "' must be a string, not " + kind_name(v));
    return std::string(v.get_string());
}

}  // namespace

std::pair<std::string, std::vector<eval_result>> model_index_to_eval_results(const json::value& model_index) {
    index_reader r;
    std::string name;
    std::vector<eval_result> out;
    const auto& entries = r.arr(model_index, "the model-index");
    for (std::size_t i = 0; i < entries.size(); ++i) {
        std::string at = "model-index[" + std::to_string(i) + "]";
        const auto& entry = r.obj(entries[i], at);
        name = r.str(entry, "name", at);
        const auto& results = r.arr(r.req(entry, "results", at), at + ".results");
        for (std::size_t j = 0; j < results.size(); ++j) {
            std::string rat = at + ".results[" + std::to_string(j) + "]";
            const auto& res = r.obj(results[j], rat);
            const auto& task = r.obj(r.req(res, "task", rat), rat + ".task");
            const auto& ds = r.obj(r.req(res, "dataset", rat), rat + ".dataset");
            const json::object* source = nullptr;
            if (auto* s = res.if_contains("source"); s && !s->is_null()) source = &r.obj(*s, rat + ".source");
            eval_result base;
            base.task_type = r.str(task, "type", rat + ".task");
            base.task_name = r.opt_str(&task, "name", rat + ".task");
            base.dataset_type = r.str(ds, "type", rat + ".dataset");
            base.dataset_name = r.str(ds, "name", rat + ".dataset");
            base.dataset_config = r.opt_str(&ds, "config", rat + ".dataset");
            base.dataset_split = r.opt_str(&ds, "split", rat + ".dataset");
            base.dataset_revision = r.opt_str(&ds, "revision", rat + ".dataset");
            base.dataset_args = r.opt_obj(ds, "args", rat + ".dataset");
            base.source_name = r.opt_str(source, "name", rat + ".source");
            base.source_url = r.opt_str(source, "url", rat + ".source");
            if (base.source_name && !base.source_url)
                fail("model-index: " + rat + ".source has a name but no url (both or only the url)");
            const auto& metrics = r.arr(r.req(res, "metrics", rat), rat + ".metrics");
            for (std::size_t k = 0; k < metrics.size(); ++k) {
                std::string mat = rat + ".metrics[" + std::to_string(k) + "]";
                const auto& m = r.obj(metrics[k], mat);
                eval_result e = base;
                e.metric_type = r.str(m, "type", mat);
                e.metric_value = r.req(m, "value", mat);
                e.metric_name = r.opt_str(&m, "name", mat);
                e.metric_config = r.opt_str(&m, "config", mat);
                e.metric_args = r.opt_obj(m, "args", mat);
                if (auto* v = m.if_contains("verified"); v && !v->is_null()) {
                    if (!v->is_bool()) fail("model-index: " + mat + ".verified must be a bool, not " + kind_name(*v));
                    e.verified = v->get_bool();
                }
                e.verify_token = r.opt_str(&m, "verifyToken", mat);
                out.push_back(std::move(e));
            }
        }
    }
    if (entries.empty()) fail("model-index: the list is empty (it needs an entry with a name)");
    return {std::move(name), std::move(out)};
}

json::array eval_results_to_model_index(std::string_view model_name, const std::vector<eval_result>& results) {
    // One entry per (task type, dataset type, config, split, revision), in first-seen order.
    using key = std::tuple<std::string, std::string, std::optional<std::string>, std::optional<std::string>,
                           std::optional<std::string>>;
    std::vector<key> order;
    std::map<key, std::vector<const eval_result*>> groups;
    for (const auto& r : results) {
        if (r.source_name && !r.source_url)
            fail("eval result " + r.task_type + "/" + r.dataset_type + "/" + r.metric_type +
                 ": source_name needs source_url");
        key k{r.task_type, r.dataset_type, r.dataset_config, r.dataset_split, r.dataset_revision};
        auto [it, fresh] = groups.try_emplace(k);
        if (fresh) order.push_back(k);
        it->second.push_back(&r);
    }
    json::array data;
    for (const auto& k : order) {
        const auto& group = groups.at(k);
        const eval_result& s = *group.front();
        json::object entry;
        entry["task"] = json::object{{"type", s.task_type}, {"name", opt(s.task_name)}};
        json::object ds;
        ds["name"] = s.dataset_name;
        ds["type"] = s.dataset_type;
        ds["config"] = opt(s.dataset_config);
        ds["split"] = opt(s.dataset_split);
        ds["revision"] = opt(s.dataset_revision);
        ds["args"] = opt(s.dataset_args);
        entry["dataset"] = std::move(ds);
        json::array metrics;
        for (const eval_result* r : group) {
            json::object m;
            m["type"] = r->metric_type;
            m["value"] = r->metric_value;
            m["name"] = opt(r->metric_name);
            m["config"] = opt(r->metric_config);
            m["args"] = opt(r->metric_args);
            m["verified"] = opt(r->verified);
            m["verifyToken"] = opt(r->verify_token);
            metrics.push_back(std::move(m));
        }
        entry["metrics"] = std::move(metrics);
        if (s.source_url) {
            json::object source{{"url", *s.source_url}};
            if (s.source_name) source["name"] = *s.source_name;
            entry["source"] = std::move(source);
        }
        data.push_back(std::move(entry));
    }
    json::array index{json::object{{"name", model_name}, {"results", std::move(data)}}};
    return remove_none(index).as_array();
}

model_card_data model_card_data::from_json(const json::object& data, bool ignore_metadata_errors) {
    model_card_data d;
    for (const auto& kv : data) {
        std::string_view k = kv.key();
        const json::value& v = kv.value();
        if (v.is_null() && k != "model-index") continue;  // Python's None: not set
        if (k == "base_model") d.base_model = string_or_list_of(v, k);
        else if (k == "datasets") d.datasets = string_or_list_of(v, k);
        else if (k == "language") d.language = string_or_list_of(v, k);
        else if (k == "library_name") d.library_name = string_of(v, k);
        else if (k == "license") d.license = string_of(v, k);
        else if (k == "license_name") d.license_name = string_of(v, k);
        else if (k == "license_link") d.license_link = string_of(v, k);
        else if (k == "metrics") d.metrics = string_list(v, k);
        else if (k == "model_name") d.model_name = string_of(v, k);
        else if (k == "pipeline_tag") d.pipeline_tag = string_of(v, k);
        else if (k == "tags") {
            // Python's _to_unique_list: first occurrences, in order.
            std::vector<std::string> unique;
            for (auto& t : string_list(v, k))
                if (std::find(unique.begin(), unique.end(), t) == unique.end()) unique.push_back(std::move(t));
            d.tags = std::move(unique);
        } else if (k == "model-index") {
            if (v.is_null()) continue;
            if (v.is_array() && v.get_array().empty()) {  // Python drops it; kept here, as it is
                d.extra[k] = v;
                continue;
            }
            try {
                auto [name, results] = model_index_to_eval_results(v);
                d.model_name = std::move(name);
                d.eval_results = std::move(results);
            } catch (const error&) {
                if (!ignore_metadata_errors) throw;
                d.extra[k] = v;  // kept as it is rather than lost
            }
        } else {
            d.extra[k] = v;
        }
    }
    return d;
}

json::object model_card_data::to_json() const {
    json::object o;
    auto put = [&](std::string_view k, json::value v) {
        if (!v.is_null()) o[k] = std::move(v);
    };
    if (base_model) put("base_model", to_value(*base_model));
    if (datasets) put("datasets", to_value(*datasets));
    if (language) put("language", to_value(*language));
    put("library_name", opt(library_name));
    put("license", opt(license));
    put("license_name", opt(license_name));
    put("license_link", opt(license_link));
    if (metrics) put("metrics", to_value(*metrics));
    if (eval_results.empty()) put("model_name", opt(model_name));
    put("pipeline_tag", opt(pipeline_tag));
    if (tags) put("tags", to_value(*tags));
    for (const auto& kv : extra)
        if (!o.contains(kv.key()) && !(kv.key() == "model-index" && !eval_results.empty())) o[kv.key()] = kv.value();
    if (!eval_results.empty()) {
        if (!model_name) fail("card data: eval_results need model_name (the model-index's name)");
        o["model-index"] = eval_results_to_model_index(*model_name, eval_results);
    }
    return o;
}

}  // namespace hfhub
