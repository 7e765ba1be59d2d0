// The trace drawn: a self-contained HTML page (the network as SVG, controls that step through the phases and
// the steps, the working of any unit or weight on a click) and a Graphviz graph of the last step.
//
// The page loads nothing: its style and its small script are written here, and every element it shows is in
// the page from the start; the script only highlights, reveals and resizes. Element ids: unit_id and weight_id
// (trace_text.hpp). Each entry's lines, units, panels and graph nodes are drawn as its kind's TraceWriting<K>
// says, in the kind's own file.
#include <algorithm>
#include <cmath>
#include <map>
#include <sstream>
#include <string>

#include "backprop/base/error.hpp"
#include "backprop/io/model_io.hpp"
#include "backprop/base/text.hpp"
#include "trace_derivation.hpp"
#include "trace_text.hpp"

namespace backprop::io::trace_detail {
namespace {

// The worked figures of one step, by the element they belong to, in the order of the phases (within a phase, in
// the order each entry's kind lists them).
std::map<std::string, std::vector<const Worked*>> by_element(const TraceStep& traced, const StepDerivation& step) {
  std::map<std::string, std::vector<const Worked*>> out;
  std::vector<const Worked*> all;
  for (std::size_t l = 0; l < step.layers.size(); ++l) {
    const auto parts = with_layer_kind(traced.layers[l].kind, [&](auto k) {
      return TraceWriting<decltype(k)::value>::worked_parts(step.layers[l]);
    });
    for (const std::vector<Worked>* part : parts)
      for (const Worked& worked : *part) all.push_back(&worked);
  }
  all.push_back(&step.loss);
  std::stable_sort(all.begin(), all.end(), [](const Worked* a, const Worked* b) { return a->phase < b->phase; });
  for (const Worked* worked : all) out[worked->element].push_back(worked);
  return out;
}

std::string phase_name(const Phases& phases, int phase) {
  if (phase == phases.loss()) return "the loss";
  if (phase == phases.update()) return "the update";
  if (phase < phases.loss()) return "forward, layer " + std::to_string(phase + 1);
  return "backward, layer " + std::to_string(phases.layers - (phase - phases.loss() - 1));
}

constexpr const char* kStyle = R"(
body { font: 15px/1.45 system-ui, sans-serif; margin: 0; background: #f4f6f9; color: #1d2330; }
header, main { max-width: 1100px; margin: 0 auto; padding: 12px 20px; }
h1 { font-size: 20px; margin: 8px 0; } h3 { font-size: 15px; margin: 4px 0 8px; }
.panel { background: #fff; border: 1px solid #d8dde6; border-radius: 6px; padding: 12px 16px; margin: 12px 0; }
#controls button { font: inherit; margin-right: 6px; padding: 4px 10px; }
#where { margin-left: 10px; font-weight: 600; }
svg .weight { cursor: pointer; stroke-linecap: round; opacity: 0.55; }
svg .unit { cursor: pointer; fill: #2ca02c; stroke: #16501a; stroke-width: 2; }
svg .unit.input { fill: #9aa5b8; stroke: #4a5568; }
svg .weight.active { opacity: 1; }
svg .unit.active { stroke: #ff7f0e; stroke-width: 5; }
svg .selected { stroke: #111 !important; stroke-width: 5 !important; opacity: 1; }
svg text { font-size: 12px; fill: #1d2330; pointer-events: none; }
.line { font-family: ui-monospace, monospace; font-size: 13px; white-space: pre-wrap; margin: 2px 0; }
.n { border-bottom: 1px dotted #8895aa; }
)";

// Reads the state from the address (#step=1&phase=2&el=u3-0), so that a link opens on a figure.
constexpr const char* kScript = R"(
(function () {
  var data = JSON.parse(document.getElementById('trace-data').textContent);
  var state = { step: 1, phase: data.phases - 1, el: '' };
  location.hash.replace(/^#/, '').split('&').forEach(function (pair) {
    var kv = pair.split('=');
    if (kv[0] === 'step') state.step = Math.min(data.steps, Math.max(1, parseInt(kv[1], 10) || 1));
    if (kv[0] === 'phase') state.phase = Math.min(data.phases - 1, Math.max(0, parseInt(kv[1], 10) || 0));
    if (kv[0] === 'el') state.el = decodeURIComponent(kv[1] || '');
  });
  function each(selector, f) { Array.prototype.forEach.call(document.querySelectorAll(selector), f); }
  function layersOf(phase) {  // the layer a phase works on, -1 for the loss, 0 for the update (all)
    if (phase < data.layers) return phase + 1;
    if (phase === data.layers) return -1;
    if (phase === data.phases - 1) return 0;
    return data.layers - (phase - data.layers - 1);
  }
  function show() {
    var layer = layersOf(state.phase);
    each('svg .weight', function (line) {
      line.setAttribute('stroke-width', line.getAttribute('data-width').split(' ')[state.step - 1]);
      line.setAttribute('stroke', line.getAttribute('data-colour').split(' ')[state.step - 1]);
      var l = +line.getAttribute('data-layer');
      line.classList.toggle('active', layer === 0 || l === layer);
    });
    each('svg .unit', function (unit) {
      var l = +unit.getAttribute('data-layer');
      unit.classList.toggle('active', (layer > 0 && l === layer) || (layer === -1 && l === data.layers));
      unit.classList.toggle('selected', unit.id === state.el);
    });
    each('svg .weight', function (line) { line.classList.toggle('selected', line.id === state.el); });
    each('.phase-panel', function (p) {
      p.hidden = !(+p.getAttribute('data-step') === state.step && +p.getAttribute('data-phase') === state.phase);
    });
    each('.element-panel', function (p) {
      p.hidden = !(+p.getAttribute('data-step') === state.step && p.getAttribute('data-el') === state.el);
    });
    document.getElementById('where').textContent =
      'step ' + state.step + ' of ' + data.steps + ': ' + data.phaseNames[state.phase];
    document.getElementById('hint').hidden = state.el !== '';
  }
  function move(by) {
    var at = (state.step - 1) * data.phases + state.phase + by;
    at = Math.min(data.steps * data.phases - 1, Math.max(0, at));
    state.step = Math.floor(at / data.phases) + 1;
    state.phase = at % data.phases;
    show();
  }
  document.getElementById('back').onclick = function () { move(-1); };
  document.getElementById('next').onclick = function () { move(1); };
  document.getElementById('previous-step').onclick = function () { move(-data.phases); };
  document.getElementById('next-step').onclick = function () { move(data.phases); };
  each('svg .unit, svg .weight', function (e) {
    e.addEventListener('click', function () { state.el = e.id; show(); });
  });
  show();
  document.body.setAttribute('data-ready', 'yes');
})();
)";

// The SVG: each entry's lines from the column before as its kind draws them (the widths scaled by each step's
// largest drawn weight), every unit as a <circle>.
void write_network_svg(std::ostream& out, const Trace& trace, const PageLayout& layout) {
  const int last = static_cast<int>(trace.spec.layers.size());
  out << "<svg id=\"network\" viewBox=\"0 0 " << layout.width << " " << layout.height << "\" width=\"" << layout.width
      << "\" height=\"" << layout.height << "\" role=\"img\" aria-label=\"the network\">\n";
  std::vector<double> largest(trace.steps.size(), 0.0);  // each step's largest |w| drawn, for the widths
  for (std::size_t s = 0; s < trace.steps.size(); ++s)
    for (const TraceLayer& layer : trace.steps[s].layers)
      largest[s] = std::max(largest[s], with_layer_kind(layer.kind, [&](auto k) {
                              return TraceWriting<decltype(k)::value>::largest_drawn_weight(layer);
                            }));
  for (int l = 1; l <= last; ++l)
    with_layer_kind(trace.steps[0].layers[l - 1].kind, [&](auto k) {
      TraceWriting<decltype(k)::value>::svg_lines(out, trace, layout, l, largest);
    });
  for (int l = 0; l <= last; ++l) {
    auto part = [&](auto member) {
      return with_layer_kind(trace.steps[0].layers[l - 1].kind, [&](auto k) { return member(k); });
    };
    const std::string title = l == 0 ? "" : part([](auto k) { return TraceWriting<decltype(k)::value>::unit_title(); });
    const std::string style = l == 0 ? "" : part([](auto k) { return TraceWriting<decltype(k)::value>::unit_style(); });
    for (int j = 0; j < layout.sizes[l]; ++j) {
      const std::string name = (l == 0 ? "x" : title + std::to_string(l) + ".") + std::to_string(j);
      out << "<circle class=\"unit" << (l == 0 ? " input" : "") << "\" id=\"" << unit_id(l, j) << "\" data-layer=\""
          << l << "\" cx=\"" << layout.x(l) << "\" cy=\"" << layout.y(l, j) << "\" r=\"18\"" << style << "><title>"
          << name << "</title></circle>\n";
      out << "<text x=\"" << layout.x(l) - 14 << "\" y=\"" << layout.y(l, j) + 34 << "\">"
          << (l == 0 ? "x[" : "a" + std::to_string(l) + "[") << j << "]</text>\n";
    }
  }
  out << "</svg>\n";
}

void write_lines(std::ostream& out, const std::vector<const Worked*>& lines, const NumberFormat& f) {
  for (const Worked* worked : lines) out << "<div class=\"line\">" << worked_html(*worked, f) << "</div>\n";
}

}  // namespace

std::string render_html(const Trace& trace, const std::vector<StepDerivation>& steps, const NumberFormat& f,
                        const std::string& source) {
  const int last = static_cast<int>(trace.spec.layers.size());
  const Phases phases{last};
  PageLayout layout;
  layout.sizes.push_back(trace.spec.input);
  for (const LayerSpec& layer : trace.spec.layers) layout.sizes.push_back(layer.units);
  layout.height = 60 + 56 * *std::max_element(layout.sizes.begin(), layout.sizes.end());

  std::ostringstream out;
  const std::string title = "backprop trace of " + html_escape(source);
  out << "<!DOCTYPE html>\n<html lang=\"en\">\n<head>\n<meta charset=\"utf-8\">\n<title>" << title
      << "</title>\n<style>" << kStyle << "</style>\n</head>\n<body>\n<header>\n<h1>" << title << "</h1>\n<p>Network "
      << html_escape(architecture(trace.spec)) << ", loss " << to_string(trace.spec.loss) << ", plain SGD with learning rate "
      << format_double(trace.learning_rate) << ", " << trace.steps.size() << " step(s) on a batch of " << trace.batch
      << " row(s). Figures to " << f.digits()
      << " decimals; hover over one for its full precision. Click a unit or a weight for its working.</p>\n";
  // Each kind's note on the page, the kinds of the network in the reverse of the list's order (the graph's
  // heading takes the list's).
  for (int k = kLayerKindCount - 1; k >= 0; --k)
    if (trace.spec.has(kLayerKinds[k].kind))
      out << with_layer_kind(kLayerKinds[k].kind, [](auto kind) { return TraceWriting<decltype(kind)::value>::html_note(); });
  out << "<div id=\"controls\"><button id=\"previous-step\">&laquo; step</button><button id=\"back\">&#x25C0; "
         "back</button><button id=\"next\">next &#x25B6;</button><button id=\"next-step\">step &raquo;</button>"
         "<span id=\"where\"></span></div>\n</header>\n<main>\n<div class=\"panel\">\n";
  write_network_svg(out, trace, layout);
  out << "<p>Blue lines are positive weights, red negative; the wider, the larger (as they stand during the step)."
         "</p>\n</div>\n<div class=\"panel\" id=\"elements\">\n<p id=\"hint\">Click a unit or a weight to see its "
         "working.</p>\n";
  for (std::size_t s = 0; s < steps.size(); ++s) {
    const auto elements = by_element(trace.steps[s], steps[s]);
    for (int l = 0; l <= last; ++l) {
      for (int j = 0; j < layout.sizes[l]; ++j) {
        const std::string id = unit_id(l, j);
        std::string heading = "input ";
        bool weight_panels = false;
        if (l > 0)
          with_layer_kind(trace.steps[s].layers[l - 1].kind, [&](auto k) {
            heading = "layer " + std::to_string(l) + TraceWriting<decltype(k)::value>::panel_heading();
            weight_panels = TraceWriting<decltype(k)::value>::weight_panels();
          });
        out << "<div class=\"element-panel\" data-step=\"" << s + 1 << "\" data-el=\"" << id << "\" hidden>\n<h3>Step "
            << s + 1 << ", " << heading << j << "</h3>\n";
        if (l == 0) {
          for (int r = 0; r < trace.batch; ++r)
            out << "<div class=\"line\">a0" << index_suffix(trace.batch, r, j) << " = x" << index_suffix(trace.batch, r, j)
                << " = " << f.number(trace.input[r * trace.spec.input + j]).html << "</div>\n";
        } else if (auto found = elements.find(id); found != elements.end()) {
          write_lines(out, found->second, f);
          if (l == last) write_lines(out, {&steps[s].loss}, f);
        }
        out << "</div>\n";
        if (!weight_panels) continue;  // the inputs have none; another kind's are in its units' panels
        for (int i = 0; i < layout.sizes[l - 1]; ++i) {
          const std::string wid = weight_id(l, i, j);
          const double before = trace.steps[s].layers[l - 1].weights_before[i * layout.sizes[l] + j];
          out << "<div class=\"element-panel\" data-step=\"" << s + 1 << "\" data-el=\"" << wid << "\" hidden>\n<h3>Step "
              << s + 1 << ", weight W" << l << "[" << i << "][" << j << "] = " << f.number(before).html << "</h3>\n";
          if (auto found = elements.find(wid); found != elements.end()) write_lines(out, found->second, f);
          out << "</div>\n";
        }
      }
    }
  }
  out << "</div>\n<div class=\"panel\" id=\"phases\">\n";
  for (std::size_t s = 0; s < steps.size(); ++s) {
    std::vector<std::vector<const Worked*>> by_phase(phases.count());
    for (const auto& [id, lines] : by_element(trace.steps[s], steps[s]))
      for (const Worked* worked : lines) by_phase[worked->phase].push_back(worked);
    for (int p = 0; p < phases.count(); ++p) {
      out << "<div class=\"phase-panel\" data-step=\"" << s + 1 << "\" data-phase=\"" << p << "\" hidden>\n<h3>Step "
          << s + 1 << ": " << phase_name(phases, p) << "</h3>\n";
      write_lines(out, by_phase[p], f);
      out << "</div>\n";
    }
  }
  std::string names;
  for (int p = 0; p < phases.count(); ++p) names += (p ? ", \"" : "\"") + phase_name(phases, p) + "\"";
  out << "</div>\n</main>\n<script type=\"application/json\" id=\"trace-data\">{\"steps\": " << steps.size()
      << ", \"layers\": " << last << ", \"phases\": " << phases.count() << ", \"phaseNames\": [" << names
      << "]}</script>\n<script>" << kScript << "</script>\n</body>\n</html>\n";
  return out.str();
}

std::string unit_id(int layer, int unit) { return "u" + std::to_string(layer) + "-" + std::to_string(unit); }
std::string weight_id(int layer, int in, int out) {
  return "w" + std::to_string(layer) + "-" + std::to_string(in) + "-" + std::to_string(out);
}

std::string dot_string(const std::string& text) {
  std::string out = "\"";
  for (char c : text) {
    if (c == '\n') {
      out += "\\n";
      continue;
    }
    if (c == '"' || c == '\\') out += '\\';
    out += c;
  }
  return out + "\"";
}

// The full working goes in the tooltips: an SVG shows it on hover.
std::pair<std::string, std::string> dot_label(const std::vector<const Worked*>& lines, const NumberFormat& f,
                                              const std::string& heading) {
  std::string label = heading, tooltip = heading;
  for (const Worked* worked : lines) {
    label += "\n" + worked->name.text + " = " + f.fixed(worked->value);
    tooltip += "\n" + worked_text(*worked, f);
  }
  return {label, tooltip};
}

std::vector<const Worked*> DotEntry::lines_of(const std::string& id) const {
  auto found = elements.find(id);
  return found == elements.end() ? std::vector<const Worked*>{} : found->second;
}

std::string render_dot(const Trace& trace, const std::vector<StepDerivation>& steps, const NumberFormat& f,
                       const std::string& source) {
  const int last = static_cast<int>(trace.spec.layers.size());
  const TraceStep& step = trace.steps.back();
  const auto elements = by_element(trace.steps.back(), steps.back());
  std::ostringstream out;
  out << "// backprop trace of " << source << ": step " << step.step << " of " << trace.steps.size()
      << " (the last); each unit's z, a, delta, grad b and updated b, each weight's grad and updated value";
  for (const LayerKindEntry& entry : kLayerKinds)
    if (trace.spec.has(entry.kind))
      out << with_layer_kind(entry.kind, [](auto k) { return TraceWriting<decltype(k)::value>::dot_note(); });
  out << "\n"
      << "digraph trace {\n  rankdir=LR;\n  splines=line;\n  nodesep=0.4;\n  ranksep=2.2;\n"
      << "  node [shape=box, style=\"rounded,filled\", fillcolor=\"#e8f5e9\", fontname=\"Helvetica\", fontsize=10];\n"
      << "  edge [fontname=\"Helvetica\", fontsize=9, arrowsize=0.6];\n"
      << "  label=" << dot_string("backprop trace of " + source + ", step " + std::to_string(step.step) + ", loss " +
                                  std::string(to_string(trace.spec.loss)) + " = " + f.fixed(step.loss))
      << ";\n  labelloc=t;\n";
  for (int j = 0; j < trace.spec.input; ++j) {
    std::string label = "x[" + std::to_string(j) + "]";
    for (int r = 0; r < trace.batch; ++r) label += "\n" + f.fixed(trace.input[r * trace.spec.input + j]);
    out << "  " << "u0_" << j << " [label=" << dot_string(label) << ", fillcolor=\"#e2e8f0\"];\n";
  }
  for (int l = 1; l <= last; ++l) {
    const TraceLayer& layer = step.layers[l - 1];
    out << "  subgraph layer" << l << " { rank=same;";
    for (int j = 0; j < layer.out; ++j) out << " u" << l << "_" << j << ";";
    out << " }\n";
    with_layer_kind(layer.kind, [&](auto k) {
      TraceWriting<decltype(k)::value>::dot_entry({out, layer, l, f, elements, l == last ? &steps.back().loss : nullptr});
    });
  }
  out << "}\n";
  return out.str();
}

}  // namespace backprop::io::trace_detail
