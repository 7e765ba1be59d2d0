// Random (base/random.hpp).
#include "backprop/base/random.hpp"

#include <algorithm>
#include <bit>
#include <climits>
#include <cmath>
#include <iostream>
#include <locale>
#include <numbers>
#include <sstream>

#include "backprop/base/error.hpp"
#include "base/clones.hpp"

namespace backprop {

MersenneTwister64::MersenneTwister64(std::uint64_t seed) {
  words_[0] = seed;
  for (std::size_t i = 1; i < kWords; ++i)
    words_[i] = 6364136223846793005u * (words_[i - 1] ^ (words_[i - 1] >> 62)) + i;
}

std::ostream& operator<<(std::ostream& out, const MersenneTwister64& engine) {
  for (const std::uint64_t word : engine.words_) out << word << ' ';
  return out << engine.next_;
}

std::istream& operator>>(std::istream& in, MersenneTwister64& engine) {
  MersenneTwister64 read(0);
  for (std::uint64_t& word : read.words_) in >> word;
  in >> read.next_;
  if (read.next_ > MersenneTwister64::kWords) in.setstate(std::ios::failbit);
  if (in) engine = read;
  return in;
}

double Random::uniform() { return static_cast<double>(engine_() >> 11) * 0x1.0p-53; }

namespace {

// n numbers of the engine, shifted, compiled for each CPU level with the engine's regeneration and tempering inlined
// (base/clones.hpp), so that both are vectorised on the CPU that runs them.
void draw_numbers(MersenneTwister64& engine, std::uint64_t* out, std::size_t n, int shift) {
  engine.numbers(out, n, shift);
}

}  // namespace

void Random::bits53(std::uint64_t* out, std::size_t n) { clones::run<&draw_numbers>(engine_, out, n, 11); }

std::uint64_t Random::bits53_below(double p) {
  // k 2^-53 < p exactly when k < p 2^53 (exact: a power of two), which for a whole k is k < ceil(p 2^53).
  return static_cast<std::uint64_t>(std::ceil(std::clamp(p, 0.0, 1.0) * 0x1.0p53));
}

double Random::uniform(double low, double high) { return low + (high - low) * uniform(); }

double Random::normal() {
  if (has_spare_normal_) {
    has_spare_normal_ = false;
    return spare_normal_;
  }
  const double u1 = 1.0 - uniform();  // (0, 1]: log(u1) is finite
  const double u2 = uniform();
  const double radius = std::sqrt(-2.0 * std::log(u1));
  const double angle = 2.0 * std::numbers::pi * u2;
  spare_normal_ = radius * std::sin(angle);
  has_spare_normal_ = true;
  return radius * std::cos(angle);
}

std::string Random::state() const {
  std::ostringstream out;
  out.imbue(std::locale::classic());  // digits only, whatever the global locale
  out << engine_ << ' ' << (has_spare_normal_ ? 1 : 0) << ' ' << std::bit_cast<std::uint64_t>(spare_normal_);
  return out.str();
}

void Random::set_state(const std::string& text) {
  std::istringstream in(text);
  in.imbue(std::locale::classic());
  MersenneTwister64 engine(0);
  int has_spare = 0;
  std::uint64_t spare_bits = 0;
  in >> engine >> has_spare >> spare_bits;
  if (in.fail() || (has_spare != 0 && has_spare != 1) || !(in >> std::ws).eof())
    throw_bad_input("not a random generator state (" + std::to_string(text.size()) + " characters)");
  engine_ = engine;
  has_spare_normal_ = has_spare == 1;
  spare_normal_ = std::bit_cast<double>(spare_bits);
}

std::uint64_t Random::below(std::uint64_t n) {
  // Rejection of the top partial block keeps every value equally likely.
  const std::uint64_t limit = UINT64_MAX - UINT64_MAX % n;
  std::uint64_t x;
  do {
    x = engine_();
  } while (x >= limit);
  return x % n;
}

}  // namespace backprop
