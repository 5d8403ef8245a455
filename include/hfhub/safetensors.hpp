// The safetensors format: read (mmap, zero-copy views), write, validate, shard.
//
// A file is an 8-byte little-endian header length N, N bytes of JSON header
//   {"__metadata__": {str: str}?, name: {"dtype", "shape", "data_offsets": [begin, end]}, ...}
// padded with spaces to 8-byte alignment, then the byte buffer the offsets point into.
//
// Writing is deterministic and matches the reference (Rust) writer for the same tensors:
// tensors are laid out by dtype, widest-aligned first in the order U64, I64, F64, F32, U32, I32,
// BF16, F16, U16, I16, F8_E4M3, F8_E5M2, I8, U8, BOOL (the spec's list reversed), then by name;
// the header is compact JSON with "__metadata__" first (its keys sorted), then the tensors in
// buffer order, each as {"dtype","shape","data_offsets"}.
//
// Every problem in a file is a hfhub::error with a safetensors_errc code; its message names the
// tensor and the offending values, and diag().url holds the file's path when there is one.
#pragma once

#include <hfhub/error.hpp>

#include <cstddef>
#include <cstdint>
#include <filesystem>
#include <map>
#include <memory>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <system_error>
#include <utility>
#include <vector>

namespace hfhub {

enum class safetensors_errc {
    truncated = 1,     // shorter than 8 bytes, or than the header length says
    header_too_large,  // N above max_header_size
    invalid_header,    // not UTF-8 JSON, not an object, not starting with '{'
    invalid_tensor,    // an entry without dtype/shape/data_offsets, or with the wrong types
    unknown_dtype,
    size_mismatch,     // end - begin != product(shape) * dtype size (or the product overflows)
    invalid_offsets,   // begin > end, overlapping or with gaps between tensors
    out_of_bounds,     // the tensors don't cover the buffer exactly
    invalid_metadata,  // "__metadata__" not a {str: str} object
    tensor_not_found,
    duplicate_tensor,  // a name given twice to a writer, or in two shards
    invalid_index,     // model.safetensors.index.json malformed, or naming a missing shard
    io_error,          // open/mmap/write failed (the message has the OS error)
};

const std::error_category& safetensors_category() noexcept;
std::error_code make_error_code(safetensors_errc e) noexcept;

}  // namespace hfhub

template <>
struct std::is_error_code_enum<hfhub::safetensors_errc> : std::true_type {};

namespace hfhub::safetensors {

// In the spec's order; the writer lays tensors out in the reverse of it.
enum class dtype : std::uint8_t { BOOL, U8, I8, F8_E5M2, F8_E4M3, I16, U16, F16, BF16, I32, U32, F32, F64, I64, U64 };

std::string_view to_string(dtype t) noexcept;
std::optional<dtype> parse_dtype(std::string_view s) noexcept;
std::size_t dtype_size(dtype t) noexcept;  // bytes per element

// Like the reference reader: headers above 100 MB are refused before any parsing.
inline constexpr std::uint64_t max_header_size = 100'000'000;

// One tensor's bytes, viewed in place (in a mapped file or the caller's memory).
struct tensor_view {
    dtype type = dtype::F32;
    std::vector<std::uint64_t> shape;  // empty: a scalar
    std::span<const std::byte> data;

    std::uint64_t element_count() const noexcept;
    // The bytes as T, when sizeof(T) == dtype_size(type) and the data is aligned for T
    // (always true for a mapped file the writer made); else client_errc::invalid_argument.
    template <class T>
    std::span<const T> as() const {
        check_as(sizeof(T), alignof(T));
        return {reinterpret_cast<const T*>(data.data()), data.size() / sizeof(T)};
    }

private:
    void check_as(std::size_t size, std::size_t align) const;
};

// Views over contiguous values; the caller keeps them alive while the view is used.
template <class T>
tensor_view make_view(dtype t, std::vector<std::uint64_t> shape, std::span<const T> values) {
    return {t, std::move(shape), std::as_bytes(values)};
}

using metadata_map = std::map<std::string, std::string>;
using tensor_list = std::vector<std::pair<std::string, tensor_view>>;

struct header_entry {
    std::string name;
    dtype type = dtype::F32;
    std::vector<std::uint64_t> shape;
    std::uint64_t begin = 0;  // relative to the buffer after the header
    std::uint64_t end = 0;
};

struct header {
    std::vector<header_entry> tensors;  // in buffer order
    std::optional<metadata_map> metadata;
    std::uint64_t data_start = 0;  // 8 + N
    std::uint64_t data_size = 0;
};

// Parses and fully validates the header of a whole file's bytes. Pure: the fuzz target.
header parse_header(std::span<const std::byte> file);

// The exact bytes the writer produces for `tensors` (see the top of this file). Errors:
// duplicate_tensor, size_mismatch (a view's size disagrees with its shape and dtype).
std::string serialize(const tensor_list& tensors, const std::optional<metadata_map>& metadata = std::nullopt);

// Writes serialize()'s bytes to `path` (temp file, fsync, rename), streaming the tensor bytes.
void save_file(const tensor_list& tensors, const std::filesystem::path& path,
               const std::optional<metadata_map>& metadata = std::nullopt);

// A validated file: mapped read-only (open) or over caller-owned bytes (over).
class file {
public:
    static file open(const std::filesystem::path& path);
    static file over(std::span<const std::byte> bytes);  // the bytes must outlive the file

    file(file&&) noexcept;
    file& operator=(file&&) noexcept;
    ~file();

    const header& info() const noexcept { return header_; }
    const std::optional<metadata_map>& metadata() const noexcept { return header_.metadata; }
    std::vector<std::string> names() const;  // sorted
    std::optional<tensor_view> find(std::string_view name) const;
    tensor_view at(std::string_view name) const;  // tensor_not_found
    tensor_list tensors() const;                  // in buffer order

private:
    file() = default;
    struct mapping;
    std::unique_ptr<mapping> map_;
    header header_;
    std::span<const std::byte> bytes_;
    std::map<std::string, std::size_t, std::less<>> by_name_;
};

struct shard_options {
    // A shard holds at most this many tensor bytes, unless one tensor alone is bigger.
    // Python's default is "5GB", 5 * 10^9.
    std::uint64_t max_shard_size = 5'000'000'000ull;
    std::string prefix = "model";  // model.safetensors, model-00001-of-00003.safetensors
    std::optional<metadata_map> metadata;  // written into every file
};

// Writes `tensors` into `dir`: one <prefix>.safetensors when they fit in max_shard_size, else
// <prefix>-0000i-of-0000n.safetensors, filled greedily in the given order, plus
// <prefix>.safetensors.index.json: {"metadata": {"total_size": bytes}, "weight_map": {name: file}}
// (keys sorted, indent 2, trailing newline, as transformers writes it). Files of an earlier save
// with the same prefix (the other layout, or another shard count) are removed, so the directory
// holds one checkpoint. Returns the files written.
std::vector<std::filesystem::path> save_sharded(const tensor_list& tensors, const std::filesystem::path& dir,
                                                const shard_options& opts = {});

// The shard file names an index (<prefix>.safetensors.index.json) maps tensors to, sorted and
// unique. Errors: invalid_index (malformed, or a name that is not a plain file name), io_error.
std::vector<std::string> index_shards(const std::filesystem::path& index_file);

// A single file or a sharded set, opened together. open() takes a .safetensors file, an index
// file, or a directory holding <prefix>.safetensors or <prefix>.safetensors.index.json.
class checkpoint {
public:
    static checkpoint open(const std::filesystem::path& path, std::string_view prefix = "model");

    std::vector<std::string> names() const;  // sorted
    std::optional<tensor_view> find(std::string_view name) const;
    tensor_view at(std::string_view name) const;  // tensor_not_found
    const std::vector<file>& files() const noexcept { return files_; }
    std::uint64_t total_size() const noexcept;  // tensor bytes

private:
    std::vector<file> files_;
    std::map<std::string, std::size_t, std::less<>> where_;  // name -> files_ index
};

}  // namespace hfhub::safetensors
