// The running sums behind a pass's metrics (loss, accuracy, RMSE, MAE), one struct for every step: the CPU
// steps add to it on the host, a device's loss kernel on the device, MPI ranks add theirs together, and a
// checkpoint (TrainingState) saves it. Plain doubles, so that the CUDA backend (nvcc, C++17) uses the same
// struct; train/ turns it into Metrics.
#pragma once

#if defined(__CUDACC__)
#define BACKPROP_SUMS_HD __host__ __device__
#else
#define BACKPROP_SUMS_HD
#endif

namespace backprop {

struct MetricSums {
  double loss = 0;            // sum over batches of (the batch's loss averaged over its rows) x its rows
  double correct = 0;         // classification: rows whose predicted class is the label
  double squared_error = 0;   // regression: sum over rows and outputs of (a - y)^2
  double absolute_error = 0;  // regression: sum over rows and outputs of |a - y|
  double rows = 0;
  double values = 0;          // regression: rows x outputs

  BACKPROP_SUMS_HD void add(const MetricSums& other) {
    loss += other.loss, correct += other.correct, squared_error += other.squared_error;
    absolute_error += other.absolute_error, rows += other.rows, values += other.values;
  }

  // The fields in a fixed order (loss, correct, squared_error, absolute_error, rows, values), for the sums
  // that reduce arrays of doubles (an MPI allreduce, a device's block partials), and back.
  static constexpr int kFields = 6;
  BACKPROP_SUMS_HD void to_array(double (&out)[kFields]) const {
    out[0] = loss, out[1] = correct, out[2] = squared_error, out[3] = absolute_error, out[4] = rows, out[5] = values;
  }
  BACKPROP_SUMS_HD void from_array(const double (&in)[kFields]) {
    loss = in[0], correct = in[1], squared_error = in[2], absolute_error = in[3], rows = in[4], values = in[5];
  }
};

}  // namespace backprop
