// Private to src/io/: the network-file reader over an already-parsed JSON document. A model file's header
// and its JSON export are a network file plus a few keys, so they reuse the network reader's checks and
// messages rather than repeating them. Keeps nlohmann/json.hpp out of the public headers.
#pragma once

#include <optional>
#include <span>
#include <string>
#include <string_view>

#include <nlohmann/json.hpp>

#include "backprop/nn/spec.hpp"

namespace backprop::io::detail {

// The keys a JSON model export adds to a network file (io/model_file.hpp). parse_network allows them
// when the document has a "format" key, so that an exported model loads back as a network file.
inline constexpr std::string_view kModelJsonKeys[] = {"format",  "version",  "scaling", "classes",
                                                      "targets", "features", "inputs", "threshold",
                                                      "table"};

// One JSON document; throws Error(bad_input) "SOURCE:LINE:COLUMN: syntax error ..." when malformed, and
// "SOURCE:LINE:COLUMN: duplicate key 'input' ..." for a key written twice in one object (nlohmann would keep
// the last, silently).
nlohmann::json parse_json_document(std::string_view text, const std::string& source);

// A key written twice in one object of text, which is well-formed JSON: the key and its second offset.
struct DuplicateKey {
  std::string key;
  std::size_t offset = 0;
};
std::optional<DuplicateKey> first_duplicate_key(std::string_view text);

// The network that `root` describes, validated; errors read "SOURCE: layers[1].weights: expected ...".
// Top-level keys named in `extra_keys` are allowed and left to the caller; any other unknown key is an error.
NetworkSpec network_from_json(const nlohmann::json& root, const std::string& source,
                              std::span<const std::string_view> extra_keys = {});

}  // namespace backprop::io::detail
