// The training report: one HTML page with inline CSS and SVG charts (report.hpp says what it shows).
// Nothing in the page is fetched: no script, no external style sheet, font or image, and the SVG is
// inline HTML (no xmlns needed), so the page opens the same offline. Every text that comes from the
// caller (file names, class names, settings) or from numbers goes through html_escape.
#include "backprop/train/report.hpp"

#include <algorithm>
#include <cmath>
#include <string>

#include "backprop/base/error.hpp"
#include "backprop/base/text.hpp"
#include "backprop/io/write_file.hpp"

namespace backprop {
namespace {

constexpr const char* kTrainColor = "#1f77b4";       // blue
constexpr const char* kValidationColor = "#ff7f0e";  // orange

// A metric for a table: fixed digits, "-" when not applicable (NaN).
std::string metric_text(double value, int digits = 4) {
  if (!std::isfinite(value)) return "-";
  return format_fixed(value, digits);
}

std::string coordinate(double value) { return format_fixed(value, 1); }

std::string activation_text(const LayerSpec& layer) {
  std::string text(to_string(layer.activation));
  if (layer.activation == Activation::leaky_relu) text += " (slope " + format_double(layer.slope) + ")";
  return text;
}

// ---- line charts ----

struct Series {
  std::string name;
  const char* color;
  std::vector<double> values;  // (epochs); NaN where there is no value
};

// A round step (1, 2 or 5 times a power of ten) that cuts range into about `ticks` parts.
double nice_step(double range, int ticks) {
  const double raw = range / ticks;
  const double power = std::pow(10.0, std::floor(std::log10(raw)));
  const double fraction = raw / power;
  return (fraction <= 1 ? 1 : fraction <= 2 ? 2 : fraction <= 5 ? 5 : 10) * power;
}

// An SVG line chart of per-epoch values (x: epoch 1..epochs), with a dashed line at the best epoch.
std::string line_chart(const std::string& label, const std::vector<Series>& series, int epochs, int best_epoch) {
  constexpr double width = 640, height = 320, left = 68, right = 18, top = 38, bottom = 46;
  const double plot_width = width - left - right, plot_height = height - top - bottom;

  double low = INFINITY, high = -INFINITY;
  for (const auto& s : series)
    for (double v : s.values)
      if (std::isfinite(v)) low = std::min(low, v), high = std::max(high, v);
  if (!(low <= high) || epochs < 1) return "<p class=\"note\">No values to plot.</p>\n";
  if (high - low <= 1e-12 * std::max(1.0, std::fabs(high))) {  // a flat line: give it a range to sit in
    const double pad = std::max(std::fabs(high) * 0.05, 1e-3);
    low -= pad;
    high += pad;
  }
  const double step = nice_step(high - low, 5);
  low = std::floor(low / step) * step;
  high = std::ceil(high / step) * step;
  const int y_ticks = static_cast<int>(std::lround((high - low) / step));

  auto x_of = [&](double epoch) {
    return epochs == 1 ? left + plot_width / 2 : left + (epoch - 1) / (epochs - 1) * plot_width;
  };
  auto y_of = [&](double value) { return top + (high - value) / (high - low) * plot_height; };

  std::string svg = "<svg class=\"chart\" viewBox=\"0 0 640 320\" width=\"640\" height=\"320\" role=\"img\" aria-label=\"" +
                    html_escape(label + " per epoch") + "\">\n";
  // Grid and y labels.
  for (int i = 0; i <= y_ticks; ++i) {
    const double value = low + i * step;
    const std::string y = coordinate(y_of(value));
    svg += "<line class=\"grid\" x1=\"" + coordinate(left) + "\" x2=\"" + coordinate(left + plot_width) + "\" y1=\"" + y +
           "\" y2=\"" + y + "\"/>";
    svg += "<text class=\"tick\" x=\"" + coordinate(left - 6) + "\" y=\"" + y + "\" text-anchor=\"end\" dy=\"0.32em\">" +
           html_escape(format_general(std::fabs(value) < step * 1e-6 ? 0.0 : value, 4)) + "</text>\n";
  }
  // x ticks: epoch 1 and multiples of a round step.
  const int x_step = std::max(1, static_cast<int>(nice_step(std::max(epochs - 1, 1), 8)));
  for (int epoch = 1; epoch <= epochs; epoch = epoch == 1 && x_step > 1 ? x_step : epoch + x_step) {
    const std::string x = coordinate(x_of(epoch));
    svg += "<line class=\"axis\" x1=\"" + x + "\" x2=\"" + x + "\" y1=\"" + coordinate(top + plot_height) + "\" y2=\"" +
           coordinate(top + plot_height + 5) + "\"/>";
    svg += "<text class=\"tick\" x=\"" + x + "\" y=\"" + coordinate(top + plot_height + 18) +
           "\" text-anchor=\"middle\">" + std::to_string(epoch) + "</text>\n";
  }
  svg += "<line class=\"axis\" x1=\"" + coordinate(left) + "\" x2=\"" + coordinate(left + plot_width) + "\" y1=\"" +
         coordinate(top + plot_height) + "\" y2=\"" + coordinate(top + plot_height) + "\"/>\n";
  svg += "<text class=\"label\" x=\"" + coordinate(left + plot_width / 2) + "\" y=\"" + coordinate(height - 8) +
         "\" text-anchor=\"middle\">epoch</text>\n";
  svg += "<text class=\"label\" transform=\"translate(16 " + coordinate(top + plot_height / 2) +
         ") rotate(-90)\" text-anchor=\"middle\">" + html_escape(label) + "</text>\n";
  if (best_epoch >= 1 && best_epoch <= epochs) {
    const std::string x = coordinate(x_of(best_epoch));
    svg += "<line class=\"best\" x1=\"" + x + "\" x2=\"" + x + "\" y1=\"" + coordinate(top) + "\" y2=\"" +
           coordinate(top + plot_height) + "\"/>";
    svg += "<text class=\"tick\" x=\"" + x + "\" y=\"" + coordinate(top - 4) + "\" text-anchor=\"middle\">best</text>\n";
  }
  // The series: a polyline per run of finite values, and dots when there are few epochs.
  double legend_x = left + 60;
  for (const auto& s : series) {
    if (std::none_of(s.values.begin(), s.values.end(), [](double v) { return std::isfinite(v); })) continue;
    std::string points;
    auto flush = [&] {
      if (!points.empty())
        svg += "<polyline class=\"series\" stroke=\"" + std::string(s.color) + "\" points=\"" + points + "\"/>\n";
      points.clear();
    };
    for (std::size_t e = 0; e < s.values.size(); ++e) {
      if (!std::isfinite(s.values[e])) {
        flush();
        continue;
      }
      points += (points.empty() ? "" : " ") + coordinate(x_of(static_cast<double>(e + 1))) + "," +
                coordinate(y_of(s.values[e]));
    }
    flush();
    if (epochs <= 60)
      for (std::size_t e = 0; e < s.values.size(); ++e)
        if (std::isfinite(s.values[e]))
          svg += "<circle cx=\"" + coordinate(x_of(static_cast<double>(e + 1))) + "\" cy=\"" + coordinate(y_of(s.values[e])) +
                 "\" r=\"3\" fill=\"" + std::string(s.color) + "\"><title>" +
                 html_escape(s.name + ", epoch " + std::to_string(e + 1) + ": " + format_general(s.values[e], 6)) +
                 "</title></circle>";
    svg += "\n<line x1=\"" + coordinate(legend_x) + "\" x2=\"" + coordinate(legend_x + 22) + "\" y1=\"14\" y2=\"14\" stroke=\"" +
           std::string(s.color) + "\" stroke-width=\"3\"/>";
    svg += "<text class=\"legend\" x=\"" + coordinate(legend_x + 28) + "\" y=\"14\" dy=\"0.32em\">" + html_escape(s.name) +
           "</text>\n";
    legend_x += 40 + 7.5 * static_cast<double>(s.name.size());
  }
  return svg + "</svg>\n";
}

std::vector<double> column(const std::vector<EpochMetrics>& history, double (*pick)(const EpochMetrics&)) {
  std::vector<double> values;
  values.reserve(history.size());
  for (const auto& m : history) values.push_back(pick(m));
  return values;
}

// ---- tables ----

std::string settings_table(const ReportSettings& rows) {
  std::string html = "<table class=\"settings\">\n";
  for (const auto& [name, value] : rows)
    html += "<tr><th>" + html_escape(name) + "</th><td>" + html_escape(value) + "</td></tr>\n";
  return html + "</table>\n";
}

std::string network_table(const NetworkSpec& spec) {
  std::string html =
      "<table class=\"data\">\n<tr><th>layer</th><th>inputs &rarr; units</th><th>activation</th><th>dropout</th>"
      "<th>weights</th><th>biases</th><th>parameters</th></tr>\n";
  std::size_t total = 0;
  for (std::size_t l = 0; l < spec.layers.size(); ++l) {
    const LayerSpec& layer = spec.layers[l];
    const auto in = static_cast<std::size_t>(spec.layer_input(l));
    const auto out = static_cast<std::size_t>(layer.units);
    total += in * out + out;
    html += "<tr><td>" + std::to_string(l + 1) + "</td><td>" + std::to_string(in) + " &rarr; " + std::to_string(out) +
            "</td><td>" + html_escape(activation_text(layer)) + "</td><td>" +
            (layer.dropout > 0 ? html_escape(format_double(layer.dropout)) : "-") + "</td><td class=\"number\">" +
            std::to_string(in * out) + "</td><td class=\"number\">" + std::to_string(out) + "</td><td class=\"number\">" +
            std::to_string(in * out + out) + "</td></tr>\n";
  }
  html += "<tr class=\"total\"><td colspan=\"6\">total</td><td class=\"number\">" + std::to_string(total) + "</td></tr>\n";
  return html + "</table>\n";
}

std::string confusion_table(const std::vector<std::size_t>& counts, const std::vector<std::string>& names) {
  const std::size_t k = names.size();
  std::size_t correct = 0, all = 0;
  for (std::size_t t = 0; t < k; ++t)
    for (std::size_t p = 0; p < k; ++p) (t == p ? correct : all) += counts[t * k + p];
  all += correct;

  std::string html = "<table class=\"confusion\">\n<tr><th class=\"corner\">true &darr; predicted &rarr;</th>";
  for (const auto& name : names) html += "<th>" + html_escape(name) + "</th>";
  html += "<th>rows</th><th>recall</th></tr>\n";
  for (std::size_t t = 0; t < k; ++t) {
    std::size_t row_total = 0;
    for (std::size_t p = 0; p < k; ++p) row_total += counts[t * k + p];
    html += "<tr><th>" + html_escape(names[t]) + "</th>";
    for (std::size_t p = 0; p < k; ++p) {
      const std::size_t count = counts[t * k + p];
      const double share = row_total ? static_cast<double>(count) / static_cast<double>(row_total) : 0.0;
      // Shade by the share of the row: blue on the diagonal (right), red off it (wrong).
      const char* rgb = t == p ? "31,119,180" : "214,39,40";
      html += "<td class=\"number\" style=\"background:rgba(" + std::string(rgb) + "," + format_fixed(share, 3) + ")" +
              (share > 0.55 ? ";color:#fff" : "") + "\">" + std::to_string(count) + "</td>";
    }
    html += "<td class=\"number\">" + std::to_string(row_total) + "</td><td class=\"number\">" +
            (row_total ? metric_text(static_cast<double>(counts[t * k + t]) / static_cast<double>(row_total), 3) : "-") +
            "</td></tr>\n";
  }
  html += "</table>\n<p class=\"note\">" + std::to_string(correct) + " of " + std::to_string(all) + " right (accuracy " +
          (all ? metric_text(static_cast<double>(correct) / static_cast<double>(all)) : std::string("-")) + ")</p>\n";
  return html;
}

std::string epoch_table(const std::vector<EpochMetrics>& history, bool classification) {
  const char* metric = classification ? "accuracy" : "RMSE";
  std::string html = std::string("<table class=\"data\">\n<tr><th>epoch</th><th>learning rate</th><th>seconds</th>") +
                     "<th>training loss</th><th>training " + metric + "</th><th>validation loss</th><th>validation " +
                     metric + "</th></tr>\n";
  for (const auto& m : history) {
    const double train_metric = classification ? m.train.accuracy : m.train.rmse;
    const double validation_metric = classification ? m.validation.accuracy : m.validation.rmse;
    html += "<tr><td>" + std::to_string(m.epoch) + "</td><td class=\"number\">" +
            html_escape(format_general(m.learning_rate, 4)) + "</td><td class=\"number\">" + metric_text(m.seconds, 2) +
            "</td><td class=\"number\">" + metric_text(m.train.loss, 6) + "</td><td class=\"number\">" +
            metric_text(train_metric) + "</td><td class=\"number\">" +
            (m.has_validation ? metric_text(m.validation.loss, 6) : "-") + "</td><td class=\"number\">" +
            (m.has_validation ? metric_text(validation_metric) : "-") + "</td></tr>\n";
  }
  return html + "</table>\n";
}

constexpr const char* kStyle = R"(
body { font-family: system-ui, -apple-system, "Segoe UI", Roboto, "DejaVu Sans", sans-serif; color: #1d2430;
       background: #f4f6f9; margin: 0; }
main { max-width: 1100px; margin: 0 auto; padding: 24px 32px 48px; }
h1 { font-size: 26px; margin: 8px 0 4px; }
h2 { font-size: 18px; margin: 0 0 12px; }
.subtitle { color: #5b6576; margin: 0 0 20px; }
section { background: #fff; border: 1px solid #dde2ea; border-radius: 8px; padding: 16px 20px; margin: 0 0 18px; }
.cards { display: flex; flex-wrap: wrap; gap: 12px; margin: 0 0 18px; }
.card { background: #fff; border: 1px solid #dde2ea; border-radius: 8px; padding: 10px 16px; min-width: 120px; }
.card .value { font-size: 22px; font-weight: 600; }
.card .name { color: #5b6576; font-size: 13px; }
.charts { display: flex; flex-wrap: wrap; gap: 18px; }
.charts section { flex: 1 1 480px; margin: 0; }
svg.chart { width: 100%; height: auto; max-width: 640px; }
svg .grid { stroke: #e6e9ef; stroke-width: 1; }
svg .axis { stroke: #8a93a3; stroke-width: 1; }
svg .best { stroke: #7a8394; stroke-width: 1; stroke-dasharray: 4 4; }
svg .series { fill: none; stroke-width: 2.5; stroke-linejoin: round; }
svg text { font-size: 12px; fill: #3b4454; }
svg .label { font-size: 13px; fill: #1d2430; }
svg .legend { font-size: 13px; }
table { border-collapse: collapse; font-size: 14px; }
th, td { padding: 5px 10px; border-bottom: 1px solid #e6e9ef; text-align: left; }
td.number { text-align: right; font-variant-numeric: tabular-nums; }
table.data th, table.data td { white-space: nowrap; }
table.settings th { color: #5b6576; font-weight: 500; white-space: nowrap; }
table.confusion td, table.confusion th { border: 1px solid #dde2ea; text-align: center; min-width: 44px; }
table.confusion th.corner { font-weight: 500; color: #5b6576; font-size: 12px; }
tr.total td { font-weight: 600; }
.note { color: #5b6576; font-size: 13px; }
details summary { cursor: pointer; color: #2c5d8f; margin: 4px 0 8px; }
.columns { display: flex; flex-wrap: wrap; gap: 18px; }
.columns section { flex: 1 1 420px; margin: 0 0 18px; }
svg.curve { width: 100%; height: auto; max-width: 360px; }
svg .chance { stroke: #b7bfcc; stroke-width: 1; stroke-dasharray: 4 4; }
td.bar { width: 240px; }
td.bar div { background: #3b7dd8; height: 12px; border-radius: 2px; }
svg .count { fill: #c9d3e0; }
)";

// The colours of one curve per class (matplotlib's "tab10"), in class order, cycling past ten.
constexpr const char* kPalette[] = {"#1f77b4", "#ff7f0e", "#2ca02c", "#d62728", "#9467bd",
                                    "#8c564b", "#e377c2", "#7f7f7f", "#bcbd22", "#17becf"};

// A plot's numbers at full precision, for a data-values attribute: "x y;x y;...".
std::string data_values(const std::vector<CurvePoint>& points) {
  std::string text;
  for (const CurvePoint& p : points)
    text += (text.empty() ? "" : ";") + format_general(p.x, 17) + " " + format_general(p.y, 17);
  return text;
}

struct NamedCurve {
  std::string key;     // data-name: "roc", "precision_recall", "roc:CLASS", ...
  std::string legend;  // empty: none
  const char* color;
  const std::vector<CurvePoint>* points;
};

// The unit square's axes, grid and labels (0 to 1 by 0.2), from a 330 x 330 SVG's opening tag; ROC and the
// reliability plot add the diagonal. x_of and y_of map a point into it.
constexpr double kSquareLeft = 52, kSquareTop = 16, kSquareSize = 260;
double square_x(double x) { return kSquareLeft + x * kSquareSize; }
double square_y(double y) { return kSquareTop + (1 - y) * kSquareSize; }

std::string unit_square(const std::string& x_label, const std::string& y_label, bool diagonal) {
  std::string svg = "<svg class=\"curve\" viewBox=\"0 0 330 330\" width=\"330\" height=\"330\" role=\"img\" "
                    "aria-label=\"" + html_escape(y_label + " against " + x_label) + "\">\n";
  for (int i = 0; i <= 5; ++i) {
    const std::string at = format_fixed(i * 0.2, 1);
    svg += "<line class=\"grid\" x1=\"" + coordinate(square_x(0)) + "\" x2=\"" + coordinate(square_x(1)) +
           "\" y1=\"" + coordinate(square_y(i * 0.2)) + "\" y2=\"" + coordinate(square_y(i * 0.2)) + "\"/>\n";
    svg += "<text class=\"tick\" x=\"" + coordinate(kSquareLeft - 6) + "\" y=\"" + coordinate(square_y(i * 0.2)) +
           "\" text-anchor=\"end\" dy=\"0.32em\">" + at + "</text>\n";
    svg += "<text class=\"tick\" x=\"" + coordinate(square_x(i * 0.2)) + "\" y=\"" +
           coordinate(kSquareTop + kSquareSize + 16) + "\" text-anchor=\"middle\">" + at + "</text>\n";
  }
  svg += "<line class=\"axis\" x1=\"" + coordinate(kSquareLeft) + "\" x2=\"" + coordinate(kSquareLeft) + "\" y1=\"" +
         coordinate(kSquareTop) + "\" y2=\"" + coordinate(kSquareTop + kSquareSize) + "\"/>\n";
  if (diagonal)
    svg += "<line class=\"chance\" x1=\"" + coordinate(square_x(0)) + "\" x2=\"" + coordinate(square_x(1)) +
           "\" y1=\"" + coordinate(square_y(0)) + "\" y2=\"" + coordinate(square_y(1)) + "\"/>\n";
  svg += "<text class=\"label\" x=\"" + coordinate(kSquareLeft + kSquareSize / 2) +
         "\" y=\"324\" text-anchor=\"middle\">" + html_escape(x_label) + "</text>\n";
  svg += "<text class=\"label\" transform=\"translate(14 " + coordinate(kSquareTop + kSquareSize / 2) +
         ") rotate(-90)\" text-anchor=\"middle\">" + html_escape(y_label) + "</text>\n";
  return svg;
}

// Curves in the unit square (ROC: with the diagonal of chance), each a polyline whose data-values are its
// points; a legend where they are named.
std::string curve_chart(const std::string& x_label, const std::string& y_label, const std::vector<NamedCurve>& curves,
                        bool diagonal) {
  std::string svg = unit_square(x_label, y_label, diagonal);
  // The legend where the curves seldom go: bottom right for ROC (above the diagonal), bottom left for
  // precision-recall.
  double legend_y = square_y(0) - 12 - 15 * static_cast<double>(curves.size() - 1);
  const double legend_x = diagonal ? square_x(1) - 96 : square_x(0) + 10;
  for (const NamedCurve& curve : curves) {
    std::string points;
    for (const CurvePoint& p : *curve.points) points += coordinate(square_x(p.x)) + "," + coordinate(square_y(p.y)) + " ";
    svg += "<polyline class=\"series\" stroke=\"" + std::string(curve.color) + "\" data-name=\"" +
           html_escape(curve.key) + "\" data-values=\"" + data_values(*curve.points) + "\" points=\"" + points +
           "\"><title>" + html_escape(curve.legend) + "</title></polyline>\n";
    if (curve.legend.empty()) continue;
    svg += "<line x1=\"" + coordinate(legend_x) + "\" x2=\"" + coordinate(legend_x + 16) + "\" y1=\"" +
           coordinate(legend_y) + "\" y2=\"" + coordinate(legend_y) + "\" stroke=\"" + curve.color +
           "\" stroke-width=\"3\"/><text class=\"tick\" x=\"" + coordinate(legend_x + 20) + "\" y=\"" +
           coordinate(legend_y) + "\" dy=\"0.32em\">" + html_escape(curve.legend) + "</text>\n";
    legend_y += 15;
  }
  return svg + "</svg>\n";
}

// The reliability plot: each bin's mean predicted probability against its fraction of positives (the
// diagonal is a calibrated model), the bins' row counts as bars along the bottom, and a table of the bins.
std::string calibration_section(const TrainingReport& report, const std::string& rows) {
  const std::vector<CalibrationBin>& bins = report.calibration;
  std::vector<CurvePoint> points;
  std::size_t most = 1;
  std::string values;
  for (const CalibrationBin& b : bins) {
    points.push_back({b.mean_predicted, b.fraction_positive});
    most = std::max(most, b.count);
    values += (values.empty() ? "" : ";") + format_general(b.mean_predicted, 17) + " " +
              format_general(b.fraction_positive, 17) + " " + std::to_string(b.count);
  }
  std::string svg = unit_square("mean predicted probability", "fraction of positives", true);
  for (const CalibrationBin& b : bins) {  // the counts: bars up to a fifth of the square
    const double height = 0.2 * kSquareSize * static_cast<double>(b.count) / static_cast<double>(most);
    svg += "<rect class=\"count\" x=\"" + coordinate(square_x(b.low) + 1) + "\" y=\"" +
           coordinate(square_y(0) - height) + "\" width=\"" + coordinate((b.high - b.low) * kSquareSize - 2) +
           "\" height=\"" + coordinate(height) + "\"><title>" + std::to_string(b.count) + " rows</title></rect>\n";
  }
  std::string line;
  for (const CurvePoint& p : points) line += coordinate(square_x(p.x)) + "," + coordinate(square_y(p.y)) + " ";
  svg += "<polyline class=\"series\" stroke=\"" + std::string(kTrainColor) + "\" data-name=\"calibration\" "
         "data-values=\"" + values + "\" points=\"" + line + "\"/>\n";
  for (const CalibrationBin& b : bins)
    svg += "<circle cx=\"" + coordinate(square_x(b.mean_predicted)) + "\" cy=\"" +
           coordinate(square_y(b.fraction_positive)) + "\" r=\"3.5\" fill=\"" + kTrainColor + "\"><title>" +
           html_escape(format_fixed(b.low, 1) + " to " + format_fixed(b.high, 1) + ": " + std::to_string(b.count) +
                       " rows, mean predicted " + metric_text(b.mean_predicted) + ", positives " +
                       metric_text(b.fraction_positive)) +
           "</title></circle>\n";
  std::string table = "<table class=\"data\">\n<tr><th>bin</th><th>rows</th><th>mean predicted</th>"
                      "<th>fraction of positives</th></tr>\n";
  for (const CalibrationBin& b : bins)
    table += "<tr><td>" + format_fixed(b.low, 1) + " to " + format_fixed(b.high, 1) + "</td><td class=\"number\">" +
             std::to_string(b.count) + "</td><td class=\"number\">" + metric_text(b.mean_predicted) +
             "</td><td class=\"number\">" + metric_text(b.fraction_positive) + "</td></tr>\n";
  return "<section>\n<h2>Reliability (calibration) plot" + rows + "</h2>\n<p class=\"note\">" +
         html_escape(report.calibration_of) + ", in 10 equal bins; bars: the rows in each bin.</p>\n<div class=\"columns\">" +
         svg + "</svg>\n" + table + "</table>\n</div>\n</section>\n";
}

// Regression: each drawn row's residual (prediction - target) against its prediction, with the zero line.
std::string residual_section(const TrainingReport& report, const std::string& rows) {
  const std::vector<CurvePoint>& points = report.residuals;
  constexpr double width = 640, height = 320, left = 68, right = 18, top = 18, bottom = 46;
  double x_low = INFINITY, x_high = -INFINITY, y_low = 0, y_high = 0;
  for (const CurvePoint& p : points)
    x_low = std::min(x_low, p.x), x_high = std::max(x_high, p.x), y_low = std::min(y_low, p.y),
    y_high = std::max(y_high, p.y);
  if (!(x_low < x_high)) x_low -= 1, x_high += 1;
  if (!(y_low < y_high)) y_low -= 1, y_high += 1;
  auto x_of = [&](double x) { return left + (x - x_low) / (x_high - x_low) * (width - left - right); };
  auto y_of = [&](double y) { return top + (y_high - y) / (y_high - y_low) * (height - top - bottom); };
  std::string svg = "<svg class=\"chart\" viewBox=\"0 0 640 320\" width=\"640\" height=\"320\" role=\"img\" "
                    "aria-label=\"residual against prediction\">\n";
  for (int i = 0; i <= 4; ++i) {
    const double x = x_low + (x_high - x_low) * i / 4, y = y_low + (y_high - y_low) * i / 4;
    svg += "<line class=\"grid\" x1=\"" + coordinate(left) + "\" x2=\"" + coordinate(width - right) + "\" y1=\"" +
           coordinate(y_of(y)) + "\" y2=\"" + coordinate(y_of(y)) + "\"/><text class=\"tick\" x=\"" +
           coordinate(left - 6) + "\" y=\"" + coordinate(y_of(y)) + "\" text-anchor=\"end\" dy=\"0.32em\">" +
           html_escape(format_general(y, 4)) + "</text><text class=\"tick\" x=\"" + coordinate(x_of(x)) + "\" y=\"" +
           coordinate(height - bottom + 16) + "\" text-anchor=\"middle\">" + html_escape(format_general(x, 4)) +
           "</text>\n";
  }
  svg += "<line class=\"chance\" x1=\"" + coordinate(left) + "\" x2=\"" + coordinate(width - right) + "\" y1=\"" +
         coordinate(y_of(0)) + "\" y2=\"" + coordinate(y_of(0)) + "\"/>\n<g class=\"points\" fill=\"" + kTrainColor +
         "\" data-name=\"residuals\" data-values=\"" + data_values(points) + "\">\n";
  for (const CurvePoint& p : points)
    svg += "<circle cx=\"" + coordinate(x_of(p.x)) + "\" cy=\"" + coordinate(y_of(p.y)) + "\" r=\"2\"/>";
  svg += "\n</g>\n<text class=\"label\" x=\"" + coordinate((left + width - right) / 2) + "\" y=\"" +
         coordinate(height - 8) + "\" text-anchor=\"middle\">prediction</text>\n<text class=\"label\" "
         "transform=\"translate(16 " + coordinate(top + (height - top - bottom) / 2) +
         ") rotate(-90)\" text-anchor=\"middle\">residual (prediction - target)</text>\n</svg>\n";
  const std::string drawn = points.size() < report.residual_rows ? " (every few rows drawn)" : "";
  return "<section>\n<h2>Residuals" + rows + "</h2>\n" + svg + "<p class=\"note\">" +
         std::to_string(report.residual_rows) + " rows" + drawn + "; the dashed line is a residual of 0.</p>\n</section>\n";
}

// Permutation importance: each input column's mean drop with its standard deviation, a bar of the mean.
std::string importance_section(const TrainingReport& report, const std::string& rows) {
  double most = 0;
  for (const ColumnImportance& c : report.importance) most = std::max(most, c.mean);
  std::string table = "<table class=\"data\">\n<tr><th>column</th><th>mean drop</th><th>std</th><th></th></tr>\n";
  for (const ColumnImportance& c : report.importance)
    table += "<tr data-values=\"" + format_general(c.mean, 17) + " " + format_general(c.std, 17) + "\"><td>" +
             html_escape(c.name) + "</td><td class=\"number\">" + metric_text(c.mean) + "</td><td class=\"number\">" +
             metric_text(c.std) + "</td><td class=\"bar\"><div style=\"width:" +
             format_fixed(most > 0 ? 100 * std::clamp(c.mean / most, 0.0, 1.0) : 0.0, 1) + "%\"></div></td></tr>\n";
  return "<section>\n<h2>Permutation importance" + rows + "</h2>\n<p class=\"note\">" +
         html_escape("The drop of " + report.importance_metric + " when a column's values are shuffled among the "
                     "rows, over " + std::to_string(report.importance_repeats) + " shuffles (backprop importance).") +
         "</p>\n" + table + "</table>\n</section>\n";
}

// Each class's precision, recall and F1, with a bar of its F1.
std::string class_scores_table(const std::vector<ClassScores>& classes) {
  std::string table = "<table class=\"data\">\n<tr><th>class</th><th>precision</th><th>recall</th><th>F1</th>"
                      "<th>support</th><th></th></tr>\n";
  for (const ClassScores& c : classes)
    table += "<tr><td>" + html_escape(c.name) + "</td><td class=\"number\">" + metric_text(c.precision) +
             "</td><td class=\"number\">" + metric_text(c.recall) + "</td><td class=\"number\">" +
             metric_text(c.f1) + "</td><td class=\"number\">" + std::to_string(c.support) +
             "</td><td class=\"bar\"><div style=\"width:" + format_fixed(100 * std::clamp(c.f1, 0.0, 1.0), 1) +
             "%\"></div></td></tr>\n";
  return table + "</table>\n";
}

// The per-class scores, the ROC and precision-recall curves (of P(second class), or of each class against the
// rest), the reliability plot, the residuals and the importance: what the report has of them (on the confusion
// matrix's rows, or the regression's).
std::string evaluation_sections(const TrainingReport& report) {
  std::string html;
  const std::string rows =
      report.confusion_data.empty() ? std::string() : " (" + html_escape(report.confusion_data) + ")";
  if (!report.class_scores.empty())
    html += "<section>\n<h2>Precision, recall and F1 per class" + rows + "</h2>\n" +
            class_scores_table(report.class_scores) + "</section>\n";
  if (!report.roc.empty())
    html += "<div class=\"charts\">\n<section>\n<h2>ROC curve (AUC " + metric_text(report.roc_auc) + ")</h2>\n" +
            curve_chart("false positive rate", "true positive rate", {{"roc", "", kTrainColor, &report.roc}}, true) +
            "</section>\n<section>\n<h2>Precision-recall curve (average precision " +
            metric_text(report.average_precision) + ")</h2>\n" +
            curve_chart("recall", "precision", {{"precision_recall", "", kTrainColor, &report.precision_recall}}, false) +
            "</section>\n</div>\n";
  if (!report.class_curves.empty()) {
    std::vector<NamedCurve> roc, precision_recall;
    for (std::size_t c = 0; c < report.class_curves.size(); ++c) {
      const TrainingReport::ClassCurves& curves = report.class_curves[c];
      const char* color = kPalette[c % std::size(kPalette)];
      roc.push_back({"roc:" + curves.name, curves.name + " (" + metric_text(curves.roc_auc, 3) + ")", color,
                     &curves.roc});
      precision_recall.push_back({"precision_recall:" + curves.name,
                                  curves.name + " (" + metric_text(curves.average_precision, 3) + ")", color,
                                  &curves.precision_recall});
    }
    html += "<div class=\"charts\">\n<section>\n<h2>ROC curves, each class against the rest" + rows + "</h2>\n" +
            curve_chart("false positive rate", "true positive rate", roc, true) +
            "<p class=\"note\">In brackets: each class's AUC.</p>\n</section>\n<section>\n<h2>Precision-recall "
            "curves, each class against the rest</h2>\n" + curve_chart("recall", "precision", precision_recall, false) +
            "<p class=\"note\">In brackets: each class's average precision.</p>\n</section>\n</div>\n";
  }
  if (!report.calibration.empty()) html += calibration_section(report, rows);
  if (!report.residuals.empty()) html += residual_section(report, rows);
  if (!report.importance.empty()) html += importance_section(report, rows);
  return html;
}

std::string card(const std::string& name, const std::string& value) {
  return "<div class=\"card\"><div class=\"value\">" + html_escape(value) + "</div><div class=\"name\">" +
         html_escape(name) + "</div></div>\n";
}

}  // namespace

ReportSettings recipe_settings(const NetworkSpec& spec, ScalingKind scaling) {
  ReportSettings rows;
  const OptimizerSpec& o = spec.optimizer;
  const auto number = [](double v) { return format_double(v); };
  std::string optimizer = std::string(to_string(o.type)) + ": learning rate " + number(o.learning_rate);
  switch (o.type) {
    case OptimizerKind::sgd: break;
    case OptimizerKind::momentum:
    case OptimizerKind::nesterov: optimizer += ", momentum " + number(o.momentum_or_default()); break;
    case OptimizerKind::adam:
    case OptimizerKind::adamw:
      optimizer += ", beta1 " + number(o.beta1) + ", beta2 " + number(o.beta2) + ", epsilon " + number(o.epsilon);
      break;
    case OptimizerKind::rmsprop:
      optimizer += ", alpha " + number(o.alpha) + ", epsilon " + number(o.epsilon) + ", momentum " +
                   number(o.momentum_or_default()) + (o.centered ? ", centered" : "");
      break;
  }
  const double decay = o.weight_decay_or_default();
  if (decay > 0) optimizer += (decoupled_weight_decay(o.type) ? ", decoupled weight decay " : ", weight decay (L2) ") + number(decay);
  rows.emplace_back("optimizer", optimizer);

  const TrainingSpec& t = spec.training;
  std::string schedule(to_string(t.schedule.kind));
  if (t.schedule.kind == ScheduleKind::step)
    schedule += ": gamma " + number(t.schedule.gamma) + " every " +
                (t.schedule.step_size > 0 ? std::to_string(t.schedule.step_size) + " steps" : std::string("third of the run"));
  if (t.schedule.kind == ScheduleKind::cosine) schedule += " to " + number(t.schedule.min_learning_rate);
  if (t.schedule.kind == ScheduleKind::one_cycle)
    schedule += ": from / " + number(t.schedule.div_factor) + " up over " + number(t.schedule.pct_start * 100) +
                "% of the steps, then down to / " + number(t.schedule.div_factor * t.schedule.final_div_factor);
  if (t.schedule.warmup_steps > 0) schedule += ", warm-up " + std::to_string(t.schedule.warmup_steps) + " steps";
  rows.emplace_back("schedule", schedule);
  rows.emplace_back("batch size", std::to_string(t.batch_size));
  rows.emplace_back("epochs", std::to_string(t.epochs));
  rows.emplace_back("loss", std::string(to_string(spec.loss)) +
                                (t.label_smoothing > 0 ? ", label smoothing " + number(t.label_smoothing) : ""));
  if (!t.class_weight.empty()) {
    std::string weights = t.class_weight.balanced ? "balanced" : "";
    for (const auto& [label, weight] : t.class_weight.labels)
      weights += (weights.empty() ? "" : ", ") + label + " " + number(weight);
    rows.emplace_back("class weights", weights);
  }
  rows.emplace_back("gradient clipping", t.clip_grad_norm > 0 ? "global norm " + number(t.clip_grad_norm) : "off");
  rows.emplace_back("early stopping", t.early_stopping > 0 ? "patience " + std::to_string(t.early_stopping) + " epochs" : "off");
  rows.emplace_back("scaling", std::string(to_string(scaling)));
  rows.emplace_back("seed", std::to_string(spec.seed));
  return rows;
}

std::string training_report_html(const TrainingReport& report) {
  const auto& history = report.result.history;
  const std::size_t k = report.class_names.size();
  if (report.confusion.size() != k * k)
    throw_bad_input("training report: expected a " + std::to_string(k) + " x " + std::to_string(k) +
                    " confusion matrix, got " + std::to_string(report.confusion.size()) + " counts");
  const bool classification =
      k > 0 || (!history.empty() && std::isfinite(history.front().train.accuracy));
  const bool has_validation =
      std::any_of(history.begin(), history.end(), [](const EpochMetrics& m) { return m.has_validation; });
  const int epochs = static_cast<int>(history.size());
  const int best = report.result.best_epoch;

  std::string architecture = std::to_string(report.spec.input);
  for (const auto& layer : report.spec.layers) architecture.append("-").append(std::to_string(layer.units));

  std::string html = "<!DOCTYPE html>\n<html lang=\"en\">\n<head>\n<meta charset=\"utf-8\">\n"
                     "<meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\n<title>" +
                     html_escape("Training report: " + report.title) + "</title>\n<style>" + kStyle +
                     "</style>\n</head>\n<body>\n<main>\n";
  html += "<h1>Training report</h1>\n<p class=\"subtitle\">" +
          html_escape(report.title + " \u00b7 network " + architecture + " \u00b7 " +
                      std::string(to_string(classification ? TaskKind::classification : TaskKind::regression)) + " \u00b7 loss " +
                      std::string(to_string(report.spec.loss))) +
          "</p>\n";

  // The figures of the best epoch (the parameters the model holds).
  html += "<div class=\"cards\">\n";
  html += card("epochs run", std::to_string(epochs));
  html += card("best epoch", std::to_string(best));
  if (best >= 1 && best <= epochs) {
    const EpochMetrics& m = history[static_cast<std::size_t>(best - 1)];
    html += card("training loss", metric_text(m.train.loss));
    if (m.has_validation) html += card("validation loss", metric_text(m.validation.loss));
    const Metrics& shown = m.has_validation ? m.validation : m.train;
    const std::string where = m.has_validation ? "validation " : "training ";
    if (classification)
      html += card(where + "accuracy", metric_text(shown.accuracy));
    else
      html += card(where + "RMSE", metric_text(shown.rmse));
  }
  html += card("stopped early", report.result.stopped_early ? "yes" : "no");
  html += "</div>\n";

  const auto train_loss = column(history, [](const EpochMetrics& m) { return m.train.loss; });
  const auto validation_loss =
      column(history, [](const EpochMetrics& m) { return m.has_validation ? m.validation.loss : kNotApplicable; });
  std::vector<Series> loss_series = {{"training", kTrainColor, train_loss}};
  if (has_validation) loss_series.push_back({"validation", kValidationColor, validation_loss});

  std::vector<Series> metric_series;
  if (classification) {
    metric_series.push_back({"training", kTrainColor, column(history, [](const EpochMetrics& m) { return m.train.accuracy; })});
    if (has_validation)
      metric_series.push_back({"validation", kValidationColor, column(history, [](const EpochMetrics& m) {
                                 return m.has_validation ? m.validation.accuracy : kNotApplicable;
                               })});
  } else {
    metric_series.push_back({"training", kTrainColor, column(history, [](const EpochMetrics& m) { return m.train.rmse; })});
    if (has_validation)
      metric_series.push_back({"validation", kValidationColor, column(history, [](const EpochMetrics& m) {
                                 return m.has_validation ? m.validation.rmse : kNotApplicable;
                               })});
  }
  const std::string metric_name = classification ? "accuracy" : "RMSE";
  const double smoothing = report.spec.training.label_smoothing;
  html += "<div class=\"charts\">\n<section>\n<h2>Loss</h2>\n" + line_chart("loss", loss_series, epochs, best) +
          "</section>\n<section>\n<h2>" + html_escape(classification ? "Accuracy" : "RMSE") + "</h2>\n" +
          line_chart(metric_name, metric_series, epochs, best) + "</section>\n</div>\n";
  html += "<p class=\"note\">Training figures are averaged over each epoch's batches as it ran (dropout on); "
          "validation figures are a pass after the epoch. The dashed line marks the best epoch, whose "
          "parameters the model keeps." +
          (smoothing > 0 ? " Both losses are the training objective, the cross-entropy against the targets "
                           "smoothed by " + html_escape(format_double(smoothing)) +
                           " (backprop eval reports the plain cross-entropy)."
                         : std::string()) +
          "</p>\n";

  if (k > 0)
    html += "<section>\n<h2>Confusion matrix" +
            (report.confusion_data.empty() ? std::string() : " (" + html_escape(report.confusion_data) + ")") +
            "</h2>\n" + confusion_table(report.confusion, report.class_names) + "</section>\n";

  html += evaluation_sections(report);

  ReportSettings run = report.settings;
  run.emplace_back("best epoch", std::to_string(best) + " of " + std::to_string(epochs));
  run.emplace_back("stopped early", report.result.stopped_early ? "yes" : "no");
  html += "<div class=\"columns\">\n<section>\n<h2>Network</h2>\n" + network_table(report.spec) +
          "<p class=\"note\">loss " + html_escape(std::string(to_string(report.spec.loss))) + ", input " +
          std::to_string(report.spec.input) + " features</p>\n</section>\n";
  html += "<section>\n<h2>Settings</h2>\n" + settings_table(run) + "</section>\n</div>\n";
  if (!report.table.empty())
    html += "<section>\n<h2>Columns of the table</h2>\n<pre>" + html_escape(report.table) + "</pre>\n</section>\n";
  html += "<section>\n<h2>Epochs</h2>\n<details" + std::string(epochs <= 20 ? " open" : "") +
          "><summary>every epoch's figures</summary>\n" + epoch_table(history, classification) + "</details>\n</section>\n";
  html += "<p class=\"note\">Written by backprop.</p>\n</main>\n</body>\n</html>\n";
  return html;
}

void write_training_report(const std::filesystem::path& path, const TrainingReport& report) {
  io::write_file_atomically(path, training_report_html(report));
}

}  // namespace backprop
