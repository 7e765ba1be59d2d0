// Random (base/random.hpp).
#include "backprop/base/random.hpp"

#include <bit>
#include <climits>
#include <cmath>
#include <locale>
#include <numbers>
#include <sstream>

#include "backprop/base/error.hpp"
#include "base/clones.hpp"

namespace backprop {

double Random::uniform() { return static_cast<double>(engine_() >> 11) * 0x1.0p-53; }

namespace {

// The engine's draws as uniform() makes them, n at a time, compiled for each CPU level with the engine's
// regeneration of its state inlined (base/clones.hpp), so that the regeneration, a third of a dropout mask's cost,
// is vectorised on the CPU that runs it.
void draw_uniforms(std::mt19937_64& engine, double* out, std::size_t n) {
  for (std::size_t i = 0; i < n; ++i) out[i] = static_cast<double>(engine() >> 11) * 0x1.0p-53;
}

}  // namespace

void Random::uniforms(double* out, std::size_t n) { clones::run<&draw_uniforms>(engine_, out, n); }

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
  std::mt19937_64 engine;
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
