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

// "sgd, momentum, ...": for messages and help that list the choices; `last` goes before the last one ("none,
// standard or minmax").
template <typename Enum, std::size_t N>
std::string names_of(const KindName<Enum> (&table)[N], std::string_view last = ", ") {
  std::string names;
  for (std::size_t i = 0; i < N; ++i)
    names += std::string(i == 0 ? "" : i + 1 == N ? last : ", ") + table[i].name;
  return names;
}

}  // namespace backprop::detail
