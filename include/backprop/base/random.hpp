// The project's random numbers, reproducible on every platform: the generator is std::mt19937_64's (whose
// sequence the C++ standard fixes) and the uniform and normal draws are written here rather than taken from
// <random>'s distributions, whose output the standard leaves to each library. Weight initializers, the
// order of training rows and dropout masks all draw from it.
#pragma once

#include <cstddef>
#include <algorithm>
#include <cstdint>
#include <iosfwd>
#include <string>

namespace backprop {

// std::mt19937_64, numbers and state alike (tests check each number against it, and the text form of its state
// against libstdc++'s, which checkpoints hold), written here so that a run of its numbers is tempered many at a
// time in vectors (Random::bits53): a dropout mask takes one number per unit, and one at a time they were most of
// the mask's cost (docs/performance.md, "The main job's dropout draws").
class MersenneTwister64 {
 public:
  static constexpr std::size_t kWords = 312;
  explicit MersenneTwister64(std::uint64_t seed);
  std::uint64_t operator()() {
    if (next_ >= kWords) regenerate();
    return temper(words_[next_++]);
  }
  // The next n numbers, each shifted right by `shift` bits: n calls' worth.
  void numbers(std::uint64_t* out, std::size_t n, int shift);

  // libstdc++'s text form: the 312 words, then the index of the next one, separated by spaces. Reading sets the
  // stream's failbit for text that is not one (an index past 312 included).
  friend std::ostream& operator<<(std::ostream& out, const MersenneTwister64& engine);
  friend std::istream& operator>>(std::istream& in, MersenneTwister64& engine);

 private:
  static std::uint64_t temper(std::uint64_t z) {
    z ^= (z >> 29) & 0x5555555555555555u;
    z ^= (z << 17) & 0x71D67FFFEDA60000u;
    z ^= (z << 37) & 0xFFF7EEE000000000u;
    return z ^ (z >> 43);
  }
  void regenerate();

  std::uint64_t words_[kWords];
  std::size_t next_ = kWords;
};

// The twist of all 312 words at once, as std::mt19937_64 makes it; its loops are vectorised (the second reads
// words the first wrote 156 places back). Inline, as numbers() is: a copy of a loop compiled for a CPU level
// (base/clones.hpp) takes them in, where a function of the library's own could not be inlined (-fPIC).
inline void MersenneTwister64::regenerate() {
  constexpr std::size_t kShift = 156;
  constexpr std::uint64_t kUpper = ~std::uint64_t{0} << 31, kLower = ~kUpper, kMatrix = 0xB5026F5AA96619E9u;
  const auto twist = [](std::uint64_t word, std::uint64_t next, std::uint64_t far) {
    const std::uint64_t y = (word & kUpper) | (next & kLower);
    return far ^ (y >> 1) ^ ((y & 1) != 0 ? kMatrix : 0);
  };
  for (std::size_t k = 0; k < kWords - kShift; ++k) words_[k] = twist(words_[k], words_[k + 1], words_[k + kShift]);
  for (std::size_t k = kWords - kShift; k < kWords - 1; ++k)
    words_[k] = twist(words_[k], words_[k + 1], words_[k - (kWords - kShift)]);
  words_[kWords - 1] = twist(words_[kWords - 1], words_[0], words_[kShift - 1]);
  next_ = 0;
}

inline void MersenneTwister64::numbers(std::uint64_t* out, std::size_t n, int shift) {
  while (n > 0) {
    if (next_ >= kWords) regenerate();
    const std::size_t count = std::min(n, kWords - next_);
    const std::uint64_t* words = words_ + next_;
    for (std::size_t i = 0; i < count; ++i) out[i] = temper(words[i]) >> shift;
    next_ += count;
    out += count;
    n -= count;
  }
}

class Random {
 public:
  explicit Random(std::uint64_t seed) : engine_(seed) {}
  double uniform();                       // [0, 1), 53 random bits
  // The integers k of n calls of uniform() (uniform() is k 2^-53), and the least k whose uniform() is at least
  // p (p in [0, 1]): uniform() < p exactly when k < bits53_below(p), so a draw compared as an integer.
  void bits53(std::uint64_t* out, std::size_t n);
  static std::uint64_t bits53_below(double p);
  double uniform(double low, double high);
  double normal();                        // N(0, 1) by the Box-Muller transform
  std::uint64_t next() { return engine_(); }
  std::uint64_t below(std::uint64_t n);  // uniform integer in [0, n), unbiased

  // The whole state as text (the engine's standard text form, then the spare normal's bits), and back, so
  // that a checkpoint resumes the same sequence. set_state throws Error(bad_input) for text that is not one.
  std::string state() const;
  void set_state(const std::string& text);

 private:
  MersenneTwister64 engine_;
  bool has_spare_normal_ = false;
  double spare_normal_ = 0.0;
};

}  // namespace backprop
