// The project's random numbers, reproducible on every platform: the generator is std::mt19937_64 (whose
// sequence the C++ standard fixes) and the uniform and normal draws are written here rather than taken from
// <random>'s distributions, whose output the standard leaves to each library. Weight initializers, the
// order of training rows and dropout masks all draw from it.
#pragma once

#include <cstddef>
#include <cstdint>
#include <random>
#include <string>

namespace backprop {

class Random {
 public:
  explicit Random(std::uint64_t seed) : engine_(seed) {}
  double uniform();                       // [0, 1), 53 random bits
  void uniforms(double* out, std::size_t n);  // n of them: the numbers of n calls of uniform()
  double uniform(double low, double high);
  double normal();                        // N(0, 1) by the Box-Muller transform
  std::uint64_t next() { return engine_(); }
  std::uint64_t below(std::uint64_t n);  // uniform integer in [0, n), unbiased

  // The whole state as text (the engine's standard text form, then the spare normal's bits), and back, so
  // that a checkpoint resumes the same sequence. set_state throws Error(bad_input) for text that is not one.
  std::string state() const;
  void set_state(const std::string& text);

 private:
  std::mt19937_64 engine_;
  bool has_spare_normal_ = false;
  double spare_normal_ = 0.0;
};

}  // namespace backprop
