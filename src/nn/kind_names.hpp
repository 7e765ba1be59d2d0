// Looking up a kind's name and a name's kind in a table of KindName (base/kinds.hpp). The tables are made with
// their enums, in the enum's order, so a kind's value indexes its name.
#pragma once

#include <cstddef>
#include <optional>
#include <string>
#include <string_view>

#include "backprop/base/kinds.hpp"

namespace backprop::detail {

template <typename Enum, std::size_t N>
std::string_view name_of(const KindName<Enum> (&table)[N], Enum value) {
  return table[static_cast<std::size_t>(value)].name;
}

template <typename Enum, std::size_t N>
std::optional<Enum> value_of(const KindName<Enum> (&table)[N], std::string_view name) {
  for (const auto& [kind, n] : table)
    if (n == name) return kind;
  return std::nullopt;
}

// "sgd, momentum, ...": for messages and help that list the choices.
template <typename Enum, std::size_t N>
std::string names_of(const KindName<Enum> (&table)[N]) {
  std::string names;
  for (const auto& [kind, name] : table) names += (names.empty() ? "" : ", ") + std::string(name);
  return names;
}

}  // namespace backprop::detail
