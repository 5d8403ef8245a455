// A run of a file's consecutive chunks, aggregated as far as its unknown neighbours allow
// (xet-core's MerkleHashSubtree): the wire form of the file-chunk-hashes API's hashRanges.
// Runs that together cover a file merge into the file's aggregated hash (xorb_hash of all
// its chunks) without anyone holding every chunk hash.
//
// Each level of the tree keeps the nodes that can't be grouped yet: those before the first
// group boundary that no left context can move (unless the run starts the file), and those
// after the last one no right context can move (unless it ends the file). The rest are
// grouped and their parents go up a level. A boundary is fixed once three natural cuts
// follow each other at gaps of 3..7 nodes: the middle one then ends a group whatever else
// surrounds them.
#pragma once

#include <boost/json/value.hpp>

#include <cstddef>
#include <optional>
#include <span>
#include <vector>

#include "xet/error.hpp"
#include "xet/hash.hpp"

namespace hfhub::xet {

class merkle_subtree {
public:
    // `at_start`: chunks[0] is the file's first chunk; `at_end`: the last one is its last.
    static merkle_subtree from_chunks(bool at_start, std::span<const hash_and_size> chunks, bool at_end);

    // Appends the run that follows this one. errc::invalid_subtree (and no change) when this
    // run ends the file or `right` starts it.
    std::error_code merge(const merkle_subtree& right);

    // The aggregated hash once the run is the whole file (all zeros for no chunks); nullopt
    // while a side is open.
    std::optional<merkle_hash> root() const;

    bool empty() const noexcept;
    bool at_start() const noexcept { return at_start_; }
    bool at_end() const noexcept { return at_end_; }

    // xet-core's JSON form: {"nodes":[{"hash","size"}...],"levels":[[left,right]...],
    // "at_start","at_end"}, the nodes every level's left ones from the bottom up, then every
    // level's right ones from the top down.
    boost::json::value to_json() const;
    // errc::invalid_subtree when the shape is wrong or the level counts don't add up to the
    // nodes; errc::invalid_hash for a bad hash.
    static result<merkle_subtree> from_json(const boost::json::value& v);

private:
    struct level {
        std::vector<hash_and_size> left, right;
    };
    std::vector<level> levels_;
    bool at_start_ = false;
    bool at_end_ = false;
};

}  // namespace hfhub::xet
