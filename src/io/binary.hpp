// Little-endian integers and the FNV-1a checksum shared by the binary files (models, checkpoints).
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>

namespace backprop::io {

// FNV-1a, 64 bit (Fowler, Noll, Vo): small, no table, enough to catch damage (not an adversary).
struct Fnv1a {
  std::uint64_t hash = 0xcbf29ce484222325ULL;
  void add(const void* data, std::size_t size) {
    const auto* bytes = static_cast<const unsigned char*>(data);
    for (std::size_t i = 0; i < size; ++i) {
      hash ^= bytes[i];
      hash *= 0x100000001b3ULL;
    }
  }
  // A text with its length first, so that ("ab", "c") and ("a", "bc") differ.
  void add(std::string_view text) {
    const std::uint64_t size = text.size();
    add(&size, sizeof size);
    add(text.data(), text.size());
  }
};

inline std::uint64_t fnv1a_64(std::string_view bytes) {
  Fnv1a f;
  f.add(bytes.data(), bytes.size());
  return f.hash;
}

inline void append_u32(std::string& out, std::uint32_t value) {
  for (int i = 0; i < 4; ++i) out.push_back(static_cast<char>((value >> (8 * i)) & 0xff));
}

inline void append_u64(std::string& out, std::uint64_t value) {
  for (int i = 0; i < 8; ++i) out.push_back(static_cast<char>((value >> (8 * i)) & 0xff));
}

inline std::uint32_t read_u32(std::string_view bytes, std::size_t offset) {
  std::uint32_t value = 0;
  for (int i = 0; i < 4; ++i)
    value |= static_cast<std::uint32_t>(static_cast<unsigned char>(bytes[offset + i])) << (8 * i);
  return value;
}

inline std::uint64_t read_u64(std::string_view bytes, std::size_t offset) {
  std::uint64_t value = 0;
  for (int i = 0; i < 8; ++i)
    value |= static_cast<std::uint64_t>(static_cast<unsigned char>(bytes[offset + i])) << (8 * i);
  return value;
}

}  // namespace backprop::io
