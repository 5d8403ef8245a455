#include <hfhub/safetensors.hpp>

#include "mixin/json_text.hpp"
#include "util/fs.hpp"

#include <boost/json.hpp>

#include <algorithm>
#include <array>
#include <cerrno>
#include <cstring>
#include <numeric>
#include <regex>
#include <set>

#include <fcntl.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

namespace hfhub {

namespace {

class safetensors_category_impl final : public std::error_category {
public:
    const char* name() const noexcept override { return "hfhub.safetensors"; }
    std::string message(int v) const override {
        switch (static_cast<safetensors_errc>(v)) {
        case safetensors_errc::truncated: return "file shorter than its header says";
        case safetensors_errc::header_too_large: return "header too large";
        case safetensors_errc::invalid_header: return "invalid header";
        case safetensors_errc::invalid_tensor: return "invalid tensor entry";
        case safetensors_errc::unknown_dtype: return "unknown dtype";
        case safetensors_errc::size_mismatch: return "tensor size does not match its shape and dtype";
        case safetensors_errc::invalid_offsets: return "invalid data offsets";
        case safetensors_errc::out_of_bounds: return "tensors do not cover the data buffer";
        case safetensors_errc::invalid_metadata: return "invalid __metadata__";
        case safetensors_errc::tensor_not_found: return "tensor not found";
        case safetensors_errc::duplicate_tensor: return "duplicate tensor name";
        case safetensors_errc::invalid_index: return "invalid safetensors index";
        case safetensors_errc::io_error: return "I/O error";
        }
        return "safetensors error";
    }
};

}  // namespace

const std::error_category& safetensors_category() noexcept {
    static const safetensors_category_impl c;
    return c;
}
std::error_code make_error_code(safetensors_errc e) noexcept { return {static_cast<int>(e), safetensors_category()}; }

}  // namespace hfhub

namespace hfhub::safetensors {

namespace fs = std::filesystem;
namespace json = boost::json;

namespace {

[[noreturn]] void fail(safetensors_errc e, std::string msg, const fs::path& where = {}) {
    diagnostics d;
    d.url = where.string();
    d.client_message = std::move(msg);
    throw error(make_error_code(e), std::move(d));
}

constexpr std::array<std::string_view, 15> dtype_names = {"BOOL", "U8",   "I8",  "F8_E5M2", "F8_E4M3",
                                                          "I16",  "U16",  "F16", "BF16",    "I32",
                                                          "U32",  "F32",  "F64", "I64",     "U64"};
constexpr std::array<std::size_t, 15> dtype_sizes = {1, 1, 1, 1, 1, 2, 2, 2, 2, 4, 4, 4, 8, 8, 8};

std::string quote_name(std::string_view s) {
    std::string out;
    mixin_detail::append_compact_string(out, s);
    return out;
}

// Elements times bytes per element, or nullopt on overflow.
std::optional<std::uint64_t> byte_size(dtype t, const std::vector<std::uint64_t>& shape) {
    std::uint64_t n = dtype_size(t);
    for (auto d : shape) {
        if (d != 0 && n > UINT64_MAX / d) return std::nullopt;
        n *= d;
    }
    return n;
}

std::string shape_text(const std::vector<std::uint64_t>& shape) {
    std::string s = "[";
    for (std::size_t i = 0; i < shape.size(); ++i) s += (i ? "," : "") + std::to_string(shape[i]);
    return s + "]";
}

std::optional<std::uint64_t> as_u64(const json::value& v) {
    if (v.is_uint64()) return v.get_uint64();
    if (v.is_int64() && v.get_int64() >= 0) return static_cast<std::uint64_t>(v.get_int64());
    return std::nullopt;
}

std::vector<std::uint64_t> u64_array(const json::value* v, std::string_view name, std::string_view field) {
    if (!v || !v->is_array())
        fail(safetensors_errc::invalid_tensor, "tensor " + quote_name(name) + ": \"" + std::string(field) + "\" must be an array of non-negative integers");
    std::vector<std::uint64_t> out;
    for (const auto& e : v->get_array()) {
        auto n = as_u64(e);
        if (!n)
            fail(safetensors_errc::invalid_tensor, "tensor " + quote_name(name) + ": \"" + std::string(field) + "\" must be an array of non-negative integers");
        out.push_back(*n);
    }
    return out;
}

// Tensors in the writer's layout: dtype widest first (reverse spec order), then name.
std::vector<std::size_t> layout_order(const tensor_list& tensors) {
    std::vector<std::size_t> idx(tensors.size());
    std::iota(idx.begin(), idx.end(), std::size_t{0});
    std::sort(idx.begin(), idx.end(), [&](std::size_t a, std::size_t b) {
        const auto& x = tensors[a];
        const auto& y = tensors[b];
        if (x.second.type != y.second.type) return x.second.type > y.second.type;
        return x.first < y.first;
    });
    return idx;
}

// The header (padded) and, per layout position, the tensor index.
std::pair<std::string, std::vector<std::size_t>> build_header(const tensor_list& tensors,
                                                              const std::optional<metadata_map>& metadata) {
    std::set<std::string_view> seen;
    for (const auto& [name, view] : tensors) {
        if (!seen.insert(name).second) fail(safetensors_errc::duplicate_tensor, "tensor " + quote_name(name) + " given twice");
        auto want = byte_size(view.type, view.shape);
        if (!want || *want != view.data.size())
            fail(safetensors_errc::size_mismatch, "tensor " + quote_name(name) + ": " + std::string(to_string(view.type)) +
                                                      shape_text(view.shape) + " needs " +
                                                      (want ? std::to_string(*want) : std::string("too many")) +
                                                      " bytes, the view has " + std::to_string(view.data.size()));
    }
    auto order = layout_order(tensors);
    std::string h = "{";
    bool first = true;
    if (metadata) {
        h += "\"__metadata__\":{";
        bool f2 = true;
        for (const auto& [k, v] : *metadata) {
            if (!f2) h += ',';
            f2 = false;
            mixin_detail::append_compact_string(h, k);
            h += ':';
            mixin_detail::append_compact_string(h, v);
        }
        h += '}';
        first = false;
    }
    std::uint64_t offset = 0;
    for (auto i : order) {
        const auto& [name, view] = tensors[i];
        if (!first) h += ',';
        first = false;
        mixin_detail::append_compact_string(h, name);
        h += ":{\"dtype\":\"";
        h += to_string(view.type);
        h += "\",\"shape\":";
        h += shape_text(view.shape);
        h += ",\"data_offsets\":[" + std::to_string(offset) + "," + std::to_string(offset + view.data.size()) + "]}";
        offset += view.data.size();
    }
    h += '}';
    h.append((8 - h.size() % 8) % 8, ' ');
    std::string out(8, '\0');
    std::uint64_t n = h.size();
    for (int b = 0; b < 8; ++b) out[b] = static_cast<char>((n >> (8 * b)) & 0xff);
    out += h;
    return {std::move(out), std::move(order)};
}

}  // namespace

std::string_view to_string(dtype t) noexcept { return dtype_names[static_cast<std::size_t>(t)]; }

std::optional<dtype> parse_dtype(std::string_view s) noexcept {
    for (std::size_t i = 0; i < dtype_names.size(); ++i)
        if (dtype_names[i] == s) return static_cast<dtype>(i);
    return std::nullopt;
}

std::size_t dtype_size(dtype t) noexcept { return dtype_sizes[static_cast<std::size_t>(t)]; }

std::uint64_t tensor_view::element_count() const noexcept {
    std::uint64_t n = 1;
    for (auto d : shape) n *= d;
    return n;
}

void tensor_view::check_as(std::size_t size, std::size_t align) const {
    if (size != dtype_size(type) || reinterpret_cast<std::uintptr_t>(data.data()) % align != 0) {
        diagnostics d;
        d.client_message = "tensor of " + std::string(to_string(type)) + " viewed as a " + std::to_string(size) +
                           "-byte type, or misaligned";
        throw error(make_error_code(client_errc::invalid_argument), std::move(d));
    }
}

header parse_header(std::span<const std::byte> bytes) {
    if (bytes.size() < 8)
        fail(safetensors_errc::truncated, std::to_string(bytes.size()) + " bytes, less than the 8-byte header length");
    std::uint64_t n = 0;
    for (int b = 7; b >= 0; --b) n = (n << 8) | std::to_integer<std::uint64_t>(bytes[b]);
    if (n > max_header_size)
        fail(safetensors_errc::header_too_large, "header length " + std::to_string(n) + " is above " + std::to_string(max_header_size));
    if (n > bytes.size() - 8)
        fail(safetensors_errc::truncated, "header length " + std::to_string(n) + " but only " + std::to_string(bytes.size() - 8) + " bytes follow");
    std::string_view text(reinterpret_cast<const char*>(bytes.data()) + 8, n);
    if (text.empty() || text.front() != '{') fail(safetensors_errc::invalid_header, "the header does not start with '{'");
    boost::system::error_code ec;
    json::value root = json::parse(text, ec);
    if (ec) fail(safetensors_errc::invalid_header, "the header is not JSON: " + ec.message());
    if (!root.is_object()) fail(safetensors_errc::invalid_header, "the header is not a JSON object");

    header h;
    h.data_start = 8 + n;
    h.data_size = bytes.size() - h.data_start;
    for (const auto& kv : root.get_object()) {
        std::string_view name = kv.key();
        const json::value& v = kv.value();
        if (name == "__metadata__") {
            if (!v.is_object()) fail(safetensors_errc::invalid_metadata, "\"__metadata__\" must be an object of strings");
            metadata_map m;
            for (const auto& e : v.get_object()) {
                if (!e.value().is_string())
                    fail(safetensors_errc::invalid_metadata, "\"__metadata__\" value for " + quote_name(e.key()) + " is not a string");
                m.emplace(e.key(), e.value().get_string());
            }
            h.metadata = std::move(m);
            continue;
        }
        if (!v.is_object()) fail(safetensors_errc::invalid_tensor, "tensor " + quote_name(name) + " is not an object");
        const auto& o = v.get_object();
        const json::value* dt = o.if_contains("dtype");
        if (!dt || !dt->is_string()) fail(safetensors_errc::invalid_tensor, "tensor " + quote_name(name) + ": \"dtype\" missing or not a string");
        auto type = parse_dtype(dt->get_string());
        if (!type) fail(safetensors_errc::unknown_dtype, "tensor " + quote_name(name) + ": dtype " + quote_name(dt->get_string()));
        header_entry e;
        e.name = name;
        e.type = *type;
        e.shape = u64_array(o.if_contains("shape"), name, "shape");
        auto offs = u64_array(o.if_contains("data_offsets"), name, "data_offsets");
        if (offs.size() != 2) fail(safetensors_errc::invalid_tensor, "tensor " + quote_name(name) + ": \"data_offsets\" must be [begin, end]");
        e.begin = offs[0];
        e.end = offs[1];
        h.tensors.push_back(std::move(e));
    }
    std::stable_sort(h.tensors.begin(), h.tensors.end(),
                     [](const header_entry& a, const header_entry& b) { return std::tie(a.begin, a.end) < std::tie(b.begin, b.end); });
    std::uint64_t expect = 0;
    for (const auto& e : h.tensors) {
        if (e.begin > e.end)
            fail(safetensors_errc::invalid_offsets, "tensor " + quote_name(e.name) + ": begin " + std::to_string(e.begin) + " > end " + std::to_string(e.end));
        if (e.begin != expect)
            fail(safetensors_errc::invalid_offsets, "tensor " + quote_name(e.name) + " starts at " + std::to_string(e.begin) +
                                                        (e.begin < expect ? ", overlapping the previous tensor which ends at " : ", leaving a gap after ") +
                                                        std::to_string(expect));
        auto want = byte_size(e.type, e.shape);
        if (!want || *want != e.end - e.begin)
            fail(safetensors_errc::size_mismatch, "tensor " + quote_name(e.name) + ": " + std::string(to_string(e.type)) + shape_text(e.shape) +
                                                      " needs " + (want ? std::to_string(*want) : std::string("too many")) +
                                                      " bytes, data_offsets span " + std::to_string(e.end - e.begin));
        expect = e.end;
    }
    if (expect != h.data_size)
        fail(safetensors_errc::out_of_bounds, "tensors end at " + std::to_string(expect) + " but the data buffer holds " + std::to_string(h.data_size) + " bytes");
    return h;
}

std::string serialize(const tensor_list& tensors, const std::optional<metadata_map>& metadata) {
    auto [out, order] = build_header(tensors, metadata);
    for (auto i : order) out.append(reinterpret_cast<const char*>(tensors[i].second.data.data()), tensors[i].second.data.size());
    return out;
}

void save_file(const tensor_list& tensors, const fs::path& path, const std::optional<metadata_map>& metadata) {
    auto [head, order] = build_header(tensors, metadata);
    auto dir = path.parent_path().empty() ? fs::path(".") : path.parent_path();
    fs::path tmp = dir / ("." + path.filename().string() + "." + util::unique_suffix() + ".tmp");
    try {
        util::unique_fd fd(::open(tmp.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0644));
        if (!fd) util::throw_errno("create", tmp);
        util::write_all(fd.get(), head.data(), head.size(), tmp);
        for (auto i : order) util::write_all(fd.get(), tensors[i].second.data.data(), tensors[i].second.data.size(), tmp);
        util::fsync_fd(fd.get(), tmp);
        fd = util::unique_fd();
        util::rename_durable(tmp, path);
    } catch (const std::system_error& e) {
        std::error_code ignored;
        fs::remove(tmp, ignored);
        if (e.code().category() == safetensors_category()) throw;
        fail(safetensors_errc::io_error, e.what(), path);
    }
}

// ---- file ----

struct file::mapping {
    void* addr = nullptr;
    std::size_t size = 0;
    ~mapping() {
        if (addr) ::munmap(addr, size);
    }
};

file::file(file&&) noexcept = default;
file& file::operator=(file&&) noexcept = default;
file::~file() = default;

file file::over(std::span<const std::byte> bytes) {
    file f;
    f.header_ = parse_header(bytes);
    f.bytes_ = bytes;
    for (std::size_t i = 0; i < f.header_.tensors.size(); ++i) f.by_name_.emplace(f.header_.tensors[i].name, i);
    return f;
}

file file::open(const fs::path& path) {
    util::unique_fd fd(::open(path.c_str(), O_RDONLY | O_CLOEXEC));
    if (!fd) fail(safetensors_errc::io_error, std::string("open: ") + std::strerror(errno), path);
    struct stat st {};
    if (::fstat(fd.get(), &st) != 0) fail(safetensors_errc::io_error, std::string("stat: ") + std::strerror(errno), path);
    auto m = std::make_unique<mapping>();
    m->size = static_cast<std::size_t>(st.st_size);
    if (m->size > 0) {
        void* a = ::mmap(nullptr, m->size, PROT_READ, MAP_PRIVATE, fd.get(), 0);
        if (a == MAP_FAILED) fail(safetensors_errc::io_error, std::string("mmap: ") + std::strerror(errno), path);
        m->addr = a;
    }
    std::span<const std::byte> bytes(static_cast<const std::byte*>(m->addr), m->size);
    try {
        file f = over(bytes);
        f.map_ = std::move(m);
        return f;
    } catch (const error& e) {
        // Name the file in the error.
        diagnostics d = e.diag();
        d.url = path.string();
        throw error(e.code(), std::move(d));
    }
}

std::vector<std::string> file::names() const {
    std::vector<std::string> out;
    for (const auto& [n, i] : by_name_) out.push_back(n);
    return out;
}

std::optional<tensor_view> file::find(std::string_view name) const {
    auto it = by_name_.find(name);
    if (it == by_name_.end()) return std::nullopt;
    const auto& e = header_.tensors[it->second];
    return tensor_view{e.type, e.shape, bytes_.subspan(header_.data_start + e.begin, e.end - e.begin)};
}

tensor_view file::at(std::string_view name) const {
    auto v = find(name);
    if (!v) fail(safetensors_errc::tensor_not_found, "no tensor " + quote_name(name));
    return *v;
}

tensor_list file::tensors() const {
    tensor_list out;
    for (const auto& e : header_.tensors) out.emplace_back(e.name, *find(e.name));
    return out;
}

// ---- sharding ----

namespace {

// Removes <prefix>.safetensors, <prefix>-NNNNN-of-NNNNN.safetensors and the index when a save
// did not just write them: a loader must never see two checkpoints in one folder.
void remove_stale(const fs::path& dir, const std::string& prefix, const std::vector<fs::path>& written) {
    std::set<std::string> keep;
    for (const auto& p : written) keep.insert(p.filename().string());
    for (const auto& e : fs::directory_iterator(dir)) {
        std::string name = e.path().filename().string();
        if (keep.contains(name) || !name.starts_with(prefix)) continue;
        std::string_view rest = std::string_view(name).substr(prefix.size());
        static const std::regex shard(R"(-[0-9]{5}-of-[0-9]{5}\.safetensors)");
        if (rest == ".safetensors" || rest == ".safetensors.index.json" || std::regex_match(std::string(rest), shard))
            fs::remove(e.path());
    }
}

}  // namespace

std::vector<fs::path> save_sharded(const tensor_list& tensors, const fs::path& dir, const shard_options& opts) {
    if (opts.max_shard_size == 0) {
        diagnostics d;
        d.client_message = "max_shard_size must be positive";
        throw error(make_error_code(client_errc::invalid_argument), std::move(d));
    }
    std::set<std::string_view> seen;
    for (const auto& t : tensors)
        if (!seen.insert(t.first).second) fail(safetensors_errc::duplicate_tensor, "tensor " + quote_name(t.first) + " given twice");

    // Greedy in the given order; a tensor bigger than the limit gets a shard of its own.
    std::vector<tensor_list> shards;
    tensor_list current;
    std::uint64_t current_size = 0, total = 0;
    for (const auto& t : tensors) {
        std::uint64_t sz = t.second.data.size();
        total += sz;
        if (sz > opts.max_shard_size) {
            shards.push_back({t});
            continue;
        }
        if (current_size + sz > opts.max_shard_size && !current.empty()) {
            shards.push_back(std::move(current));
            current.clear();
            current_size = 0;
        }
        current.push_back(t);
        current_size += sz;
    }
    if (!current.empty() || shards.empty()) shards.push_back(std::move(current));

    fs::create_directories(dir);
    std::vector<fs::path> written;
    if (shards.size() == 1) {
        written.push_back(dir / (opts.prefix + ".safetensors"));
        save_file(shards[0], written.back(), opts.metadata);
        remove_stale(dir, opts.prefix, written);
        return written;
    }
    json::object weight_map;
    for (std::size_t i = 0; i < shards.size(); ++i) {
        char name[64];
        std::snprintf(name, sizeof name, "-%05zu-of-%05zu.safetensors", i + 1, shards.size());
        std::string fname = opts.prefix + name;
        written.push_back(dir / fname);
        save_file(shards[i], written.back(), opts.metadata);
        for (const auto& t : shards[i]) weight_map[t.first] = fname;
    }
    json::object index;
    index["metadata"] = json::object{{"total_size", total}};
    index["weight_map"] = std::move(weight_map);
    written.push_back(dir / (opts.prefix + ".safetensors.index.json"));
    util::write_file_atomic(written.back(), mixin_detail::python_json_dumps(index, true, 2) + "\n");
    remove_stale(dir, opts.prefix, written);
    return written;
}

// The index parsed, with a "weight_map" of tensor names to plain file names (checked).
static json::value read_index(const fs::path& index) {
    auto text = util::read_file(index);
    if (!text) fail(safetensors_errc::io_error, "cannot read the index", index);
    boost::system::error_code ec;
    json::value v = json::parse(*text, ec);
    const json::object* wm = nullptr;
    if (!ec && v.is_object())
        if (auto* p = v.get_object().if_contains("weight_map"); p && p->is_object()) wm = &p->get_object();
    if (!wm) fail(safetensors_errc::invalid_index, "expected {\"weight_map\": {tensor: file}}", index);
    for (const auto& kv : *wm) {
        if (!kv.value().is_string()) fail(safetensors_errc::invalid_index, "weight_map value for " + quote_name(kv.key()) + " is not a string", index);
        std::string_view f = kv.value().get_string();
        // Shards sit beside the index: no paths that could leave the folder.
        if (f.empty() || f.find('/') != std::string::npos || f.find('\\') != std::string::npos || f == "." || f == "..")
            fail(safetensors_errc::invalid_index, "shard name " + quote_name(f) + " is not a plain file name", index);
    }
    return v;
}

std::vector<std::string> index_shards(const fs::path& index) {
    json::value v = read_index(index);
    std::set<std::string> names;
    for (const auto& kv : v.get_object().at("weight_map").get_object()) names.emplace(kv.value().get_string());
    return {names.begin(), names.end()};
}

checkpoint checkpoint::open(const fs::path& path, std::string_view prefix) {
    fs::path single = path, index;
    if (fs::is_directory(path)) {
        single = path / (std::string(prefix) + ".safetensors");
        index = path / (std::string(prefix) + ".safetensors.index.json");
        if (fs::exists(single))
            index.clear();
        else if (!fs::exists(index))
            fail(safetensors_errc::io_error, "neither " + single.filename().string() + " nor " + index.filename().string() + " is there", path);
    } else if (path.filename().string().ends_with(".index.json")) {
        index = path;
    }
    checkpoint c;
    if (index.empty()) {
        c.files_.push_back(file::open(single));
        for (const auto& n : c.files_[0].names()) c.where_.emplace(n, 0);
        return c;
    }
    json::value v = read_index(index);
    const json::object& wm = v.get_object().at("weight_map").get_object();
    std::map<std::string, std::size_t> file_index;
    for (auto& f : index_shards(index)) file_index.emplace(std::move(f), 0);
    for (auto& [f, i] : file_index) {
        i = c.files_.size();
        c.files_.push_back(file::open(index.parent_path() / f));
    }
    for (const auto& kv : wm) {
        std::size_t i = file_index.at(std::string(kv.value().get_string()));
        if (!c.files_[i].find(kv.key()))
            fail(safetensors_errc::invalid_index, "weight_map puts " + quote_name(kv.key()) + " in " + std::string(kv.value().get_string()) + ", which lacks it", index);
        c.where_.emplace(kv.key(), i);
    }
    return c;
}

std::vector<std::string> checkpoint::names() const {
    std::vector<std::string> out;
    for (const auto& [n, i] : where_) out.push_back(n);
    return out;
}

std::optional<tensor_view> checkpoint::find(std::string_view name) const {
    auto it = where_.find(name);
    if (it == where_.end()) return std::nullopt;
    return files_[it->second].find(name);
}

tensor_view checkpoint::at(std::string_view name) const {
    auto v = find(name);
    if (!v) fail(safetensors_errc::tensor_not_found, "no tensor " + quote_name(name));
    return *v;
}

std::uint64_t checkpoint::total_size() const noexcept {
    std::uint64_t n = 0;
    for (const auto& [name, i] : where_)
        if (auto v = files_[i].find(name)) n += v->data.size();
    return n;
}

}  // namespace hfhub::safetensors
