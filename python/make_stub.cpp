// Writes the type stub of backprop._backprop: the template python/backprop/_backprop.pyi.in with its line
// "# {training settings}" replaced by Network.fit's keyword of each training setting, from the list that
// declares them (nn/setting_list.hpp), so that a new setting needs no edit of the stub. A setting that the
// template's fit already names (class_weight: also a dict) keeps the template's annotation.
//   backprop_stub TEMPLATE OUT
#include <cstdint>
#include <cstdio>
#include <fstream>
#include <sstream>
#include <string>
#include <string_view>

#include "backprop/nn/setting_list.hpp"
#include "backprop/nn/settings.hpp"

namespace {

struct Keyword {
  std::string_view name;
  std::string_view type;  // "int", "float", "text" (str)
};

#define BACKPROP_KEYWORD(name, Type, ...) Keyword{#name, backprop::setting_type<Type>()},
constexpr Keyword kKeywords[] = {BACKPROP_TRAINING_SETTINGS(BACKPROP_KEYWORD, BACKPROP_KEYWORD)};
#undef BACKPROP_KEYWORD

constexpr std::string_view kMarker = "        # {training settings}\n";

}  // namespace

int main(int argc, char** argv) {
  if (argc != 3) {
    std::fprintf(stderr, "usage: backprop_stub TEMPLATE OUT\n");
    return 2;
  }
  std::ifstream in(argv[1], std::ios::binary);
  std::stringstream read;
  read << in.rdbuf();
  const std::string text = read.str();
  const std::size_t marker = text.find(kMarker);
  const std::size_t fit = text.rfind("    def fit(", marker);
  if (!in || marker == std::string::npos || fit == std::string::npos) {
    std::fprintf(stderr, "%s: expected a line \"# {training settings}\" in Network.fit's keywords\n", argv[1]);
    return 2;
  }
  const std::string_view signature = std::string_view(text).substr(fit, marker - fit);
  std::string keywords;
  for (const Keyword& keyword : kKeywords) {
    const std::string line = "        " + std::string(keyword.name) + ":";
    if (signature.find("\n" + line) == std::string_view::npos)
      keywords += line + " Optional[" + std::string(keyword.type == "text" ? "str" : keyword.type) + "] = None,\n";
  }
  const std::string stub = text.substr(0, marker) + keywords + text.substr(marker + kMarker.size());
  std::ofstream out(argv[2], std::ios::binary | std::ios::trunc);
  out << stub;
  out.close();
  if (!out) {
    std::fprintf(stderr, "%s: could not write the stub\n", argv[2]);
    return 1;
  }
  return 0;
}
