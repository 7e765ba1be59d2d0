// A PNG decoder for the screenshots headless Chromium takes of the generated pages (the training report, the
// trace page), and a count of the pixels near a colour: enough to tell that a page drew what it should.
#pragma once

#include <algorithm>
#include <array>
#include <cstdint>
#include <cstdlib>
#include <filesystem>
#include <string>
#include <vector>

#include <zlib.h>

namespace backprop::testing {

struct Image {
  int width = 0, height = 0;
  std::vector<std::array<std::uint8_t, 3>> pixels;  // (height * width) RGB
};

inline std::uint32_t big_endian_u32(const std::string& bytes, std::size_t at) {
  return (std::uint32_t(std::uint8_t(bytes[at])) << 24) | (std::uint32_t(std::uint8_t(bytes[at + 1])) << 16) |
         (std::uint32_t(std::uint8_t(bytes[at + 2])) << 8) | std::uint32_t(std::uint8_t(bytes[at + 3]));
}

inline int paeth(int a, int b, int c) {
  const int p = a + b - c, pa = std::abs(p - a), pb = std::abs(p - b), pc = std::abs(p - c);
  return pa <= pb && pa <= pc ? a : pb <= pc ? b : c;
}

// A non-interlaced 8-bit RGB or RGBA PNG (what Chromium writes); an empty image for anything else.
inline Image decode_png(const std::string& bytes) {
  Image image;
  if (bytes.size() < 33 || bytes.compare(0, 8, "\x89PNG\r\n\x1a\n") != 0) return image;
  int bit_depth = 0, color_type = 0, interlace = 0;
  std::string compressed;
  for (std::size_t at = 8; at + 12 <= bytes.size();) {
    const std::uint32_t length = big_endian_u32(bytes, at);
    const std::string type = bytes.substr(at + 4, 4);
    if (at + 12 + length > bytes.size()) return Image{};
    if (type == "IHDR") {
      image.width = static_cast<int>(big_endian_u32(bytes, at + 8));
      image.height = static_cast<int>(big_endian_u32(bytes, at + 12));
      bit_depth = std::uint8_t(bytes[at + 16]);
      color_type = std::uint8_t(bytes[at + 17]);
      interlace = std::uint8_t(bytes[at + 20]);
    } else if (type == "IDAT") {
      compressed += bytes.substr(at + 8, length);
    }
    at += 12 + length;
  }
  const int channels = color_type == 2 ? 3 : color_type == 6 ? 4 : 0;
  if (bit_depth != 8 || channels == 0 || interlace != 0 || image.width <= 0 || image.height <= 0) return Image{};
  const std::size_t stride = static_cast<std::size_t>(image.width) * channels;
  std::vector<std::uint8_t> raw(static_cast<std::size_t>(image.height) * (stride + 1));
  uLongf raw_size = raw.size();
  if (uncompress(raw.data(), &raw_size, reinterpret_cast<const Bytef*>(compressed.data()), compressed.size()) != Z_OK ||
      raw_size != raw.size())
    return Image{};
  // Undo the per-row filters (PNG spec, section 9) in place; a byte's left neighbour is `channels` back.
  std::vector<std::uint8_t> previous(stride, 0);
  for (int y = 0; y < image.height; ++y) {
    std::uint8_t* row = raw.data() + y * (stride + 1);
    const int filter = row[0];
    std::uint8_t* line = row + 1;
    for (std::size_t i = 0; i < stride; ++i) {
      const int left = i >= static_cast<std::size_t>(channels) ? line[i - channels] : 0;
      const int up = previous[i];
      const int up_left = i >= static_cast<std::size_t>(channels) ? previous[i - channels] : 0;
      const int predictor = filter == 1 ? left : filter == 2 ? up : filter == 3 ? (left + up) / 2 : filter == 4 ? paeth(left, up, up_left) : 0;
      line[i] = static_cast<std::uint8_t>(line[i] + predictor);
    }
    std::copy(line, line + stride, previous.begin());
    for (int x = 0; x < image.width; ++x)
      image.pixels.push_back({line[x * channels], line[x * channels + 1], line[x * channels + 2]});
  }
  return image;
}

inline std::size_t count_pixels_near(const Image& image, int r, int g, int b, int tolerance) {
  std::size_t count = 0;
  for (const auto& p : image.pixels)
    if (std::abs(p[0] - r) <= tolerance && std::abs(p[1] - g) <= tolerance && std::abs(p[2] - b) <= tolerance) ++count;
  return count;
}

// The start of a command line for headless Chromium with a fresh profile that fetches nothing; `timeout` so
// that a hung browser fails the test rather than the run. Add --screenshot=... or --dump-dom and the address.
inline std::string headless_chromium(const std::filesystem::path& chromium, const std::filesystem::path& profile) {
  return "timeout 120 '" + chromium.string() +
         "' --headless --no-sandbox --disable-gpu --disable-quic --no-first-run"
         " --disable-background-networking --disable-component-update --disable-sync"
         " --disable-dev-shm-usage --user-data-dir='" + profile.string() + "'";
}

}  // namespace backprop::testing
