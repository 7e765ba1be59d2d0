// open_plugin, open_library (base/plugin.hpp): dlopen over the candidates, or of one name.
#include "base/plugin.hpp"

#include <dlfcn.h>

#include <cstdlib>

#include "backprop/base/error.hpp"

namespace backprop {

void* open_plugin(const PluginSearch& search) {
  std::vector<std::string> candidates;
  if (const char* path = std::getenv(search.environment.c_str()); path != nullptr && *path != '\0')
    candidates.emplace_back(path);
  candidates.insert(candidates.end(), search.paths.begin(), search.paths.end());
  std::string tried;
  for (const std::string& path : candidates) {
    void* plugin = ::dlopen(path.c_str(), RTLD_NOW | (search.global ? RTLD_GLOBAL : RTLD_LOCAL));
    if (plugin == nullptr) {
      const char* why = ::dlerror();
      tried += "\n  " + path + ": " + (why != nullptr ? why : "not found");
      continue;
    }
    using AbiFunction = int (*)();
    const auto abi = reinterpret_cast<AbiFunction>(::dlsym(plugin, search.abi_symbol.c_str()));
    if (abi != nullptr && abi() == search.abi) return plugin;
    tried += "\n  " + path + ": not this backprop's plugin (another version)";
  }
  throw_runtime_error("cannot load " + search.what + "; tried:" + tried);
}

void* open_library(const char* name, const std::string& what) {
  void* library = ::dlopen(name, RTLD_NOW | RTLD_LOCAL);
  if (library == nullptr) {
    const char* why = ::dlerror();
    throw_runtime_error("cannot load " + what + ": " + (why != nullptr ? why : "not found"));
  }
  return library;
}

void* plugin_function(void* plugin, const char* name, const std::string& what) {
  void* function = ::dlsym(plugin, name);
  if (function == nullptr) throw_runtime_error(what + ": it lacks " + name);
  return function;
}

}  // namespace backprop
