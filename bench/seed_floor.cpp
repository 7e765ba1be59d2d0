// The floor of the seed network's per-sample step on this CPU: the tutorial's 4-2-3-1 sigmoid network
// trained one sample at a time with SGD (learning rate 0.1, mse with the 1/2), written out by hand with its
// 23 parameters in local variables, so that the compiler keeps them in registers and nothing but the
// arithmetic is left: no data set, no shuffling, no metrics, no calls but expf. It is not backprop and not
// a peer; bench/run.py prints it beside backprop's seed-net figure to show how much of a step is arithmetic.
// Same formulas and order of operations as backprop's step, on the sample bench/run.py trains on
// (x = 1, 2, 3, 4; y = 1).
//
//   g++ -O3 -march=native bench/seed_floor.cpp -o seed_floor && ./seed_floor [updates]
#include <chrono>
#include <cmath>
#include <cstdio>
#include <cstdlib>

static inline float sigmoid(float z) { return 1.0f / (1.0f + std::exp(-z)); }

int main(int argc, char** argv) {
  const long updates = argc > 1 ? std::atol(argv[1]) : 4000000;
  // The tutorial's initial values (bench/seed-net.json), W stored (IN, OUT).
  float w1[8] = {0.1f, 0.2f, 0.3f, 0.4f, 0.5f, 0.6f, 0.7f, 0.8f}, b1[2] = {0.1f, 0.1f};
  float w2[6] = {0.1f, 0.2f, 0.3f, 0.4f, 0.5f, 0.6f}, b2[3] = {0.1f, 0.1f, 0.1f};
  float w3[3] = {0.1f, 0.2f, 0.3f}, b3 = 0.1f;
  volatile float sample[5] = {1, 2, 3, 4, 1};  // read each step, as a data set would be
  const float lr = 0.1f;
  double loss_sum = 0;
  const auto start = std::chrono::steady_clock::now();
  for (long step = 0; step < updates; ++step) {
    const float x[4] = {sample[0], sample[1], sample[2], sample[3]};
    const float y = sample[4];
    float a1[2], a2[3];
    for (int o = 0; o < 2; ++o) {
      float z = b1[o];
      for (int i = 0; i < 4; ++i) z += x[i] * w1[i * 2 + o];
      a1[o] = sigmoid(z);
    }
    for (int o = 0; o < 3; ++o) {
      float z = b2[o];
      for (int i = 0; i < 2; ++i) z += a1[i] * w2[i * 3 + o];
      a2[o] = sigmoid(z);
    }
    float z3 = b3;
    for (int i = 0; i < 3; ++i) z3 += a2[i] * w3[i];
    const float a3 = sigmoid(z3);
    const double e = static_cast<double>(a3) - y;
    loss_sum += static_cast<float>(e * e / 2.0);
    const float d3 = (a3 - y) * 1.0f * a3 * (1.0f - a3);
    float d2[3], d1[2];
    for (int i = 0; i < 3; ++i) {
      float s = 0;
      s += d3 * w3[i];
      d2[i] = s * a2[i] * (1.0f - a2[i]);
    }
    for (int i = 0; i < 2; ++i) {
      float s = 0;
      for (int o = 0; o < 3; ++o) s += d2[o] * w2[i * 3 + o];
      d1[i] = s * a1[i] * (1.0f - a1[i]);
    }
    for (int i = 0; i < 3; ++i) w3[i] = w3[i] - lr * (a2[i] * d3 + 0.0f * w3[i]);
    b3 = b3 - lr * (d3 + 0.0f * b3);
    for (int i = 0; i < 2; ++i)
      for (int o = 0; o < 3; ++o) w2[i * 3 + o] = w2[i * 3 + o] - lr * (a1[i] * d2[o] + 0.0f * w2[i * 3 + o]);
    for (int o = 0; o < 3; ++o) b2[o] = b2[o] - lr * (d2[o] + 0.0f * b2[o]);
    for (int i = 0; i < 4; ++i)
      for (int o = 0; o < 2; ++o) w1[i * 2 + o] = w1[i * 2 + o] - lr * (x[i] * d1[o] + 0.0f * w1[i * 2 + o]);
    for (int o = 0; o < 2; ++o) b1[o] = b1[o] - lr * (d1[o] + 0.0f * b1[o]);
  }
  const double seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  std::printf("seed-net floor: %.0f updates/s (%.1f ns/update), mean loss %.6g, w1[0] %.9g, b3 %.9g\n",
              updates / seconds, seconds / updates * 1e9, loss_sum / updates, w1[0], b3);
  return 0;
}
