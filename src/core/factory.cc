#include "adamant/factory.h"

#include <functional>
#include <set>
#include <stdexcept>
#include <string>

namespace adamant {
namespace {

// Options of optimizer Opt from `list`, on top of its defaults. `hidden` is an option the optimizer does
// not offer, and why (a variant's fixed option), or null.
template <class Opt, class Options>
std::unique_ptr<Optimizer> Build(std::vector<ParamView> params, Options options, const OptionList& list,
                                 std::string_view name, const char* hidden = nullptr, const char* why = nullptr) {
  std::set<std::string> seen;
  for (const auto& entry : list) {
    const std::string& key = entry.first;  // not a structured binding: clang 14 cannot capture those
    const std::string& value = entry.second;
    if (!seen.insert(key).second) {
      throw std::invalid_argument("option '" + key + "' given twice for " + std::string(name));
    }
    bool found = false;
    if (hidden != nullptr && key == hidden) {
      throw std::invalid_argument("unknown option '" + key + "' for " + std::string(name) + " (" + why + ")");
    }
    VisitOptions(options, [&](std::string_view k, auto& field) {
      if (k == key) OptionFromString(k, value, field), found = true;
    });
    if (!found) {
      std::string valid;
      VisitOptions(options, [&](std::string_view k, auto&) { valid += (valid.empty() ? "" : ", ") + std::string(k); });
      throw std::invalid_argument("unknown option '" + key + "' for " + std::string(name) + " (valid: " + valid + ")");
    }
  }
  return std::make_unique<Opt>(std::move(params), options);
}

struct Entry {
  std::string_view name;
  std::function<std::unique_ptr<Optimizer>(std::vector<ParamView>, const OptionList&)> make;
};

const std::vector<Entry>& Registry() {
#define ADAMANT_ENTRY(Class, name) \
  {name, [](auto p, const auto& l) { return Build<Class>(std::move(p), Class##Options{}, l, name); }},
#define ADAMANT_VARIANT_ENTRY(Class, name, Base)                                                   \
  {name, [](auto p, const auto& l) {                                                               \
     return Build<Class>(std::move(p), Class##Options{}, l, name, Class##Fixed::kHiddenOption,     \
                         Class##Fixed::kWhyHidden);                                                \
   }},
  static const std::vector<Entry> registry = {ADAMANT_OPTIMIZERS(ADAMANT_ENTRY, ADAMANT_VARIANT_ENTRY)};
#undef ADAMANT_ENTRY
#undef ADAMANT_VARIANT_ENTRY
  return registry;
}

}  // namespace

std::vector<std::string_view> AlgorithmNames() {
  std::vector<std::string_view> names;
  for (const Entry& e : Registry()) names.push_back(e.name);
  return names;
}

std::unique_ptr<Optimizer> CreateOptimizer(std::string_view name, std::vector<ParamView> params,
                                           const OptionList& options) {
  for (const Entry& e : Registry()) {
    if (e.name == name) return e.make(std::move(params), options);
  }
  std::string known;
  for (std::string_view n : AlgorithmNames()) known += (known.empty() ? "" : ", ") + std::string(n);
  throw std::invalid_argument("unknown optimizer '" + std::string(name) + "' (known: " + known + ")");
}

OptionList ParseOptionList(std::string_view text) {
  OptionList out;
  size_t i = 0;
  while (i < text.size()) {
    while (i < text.size() && (text[i] == ' ' || text[i] == ';' || text[i] == '\t')) ++i;
    size_t j = i;
    while (j < text.size() && text[j] != ' ' && text[j] != ';' && text[j] != '\t') ++j;
    if (j > i) {
      const std::string_view entry = text.substr(i, j - i);
      const size_t eq = entry.find('=');
      if (eq == std::string_view::npos || eq == 0) {
        throw std::invalid_argument("option '" + std::string(entry) + "' is not of the form key=value");
      }
      out.emplace_back(std::string(entry.substr(0, eq)), std::string(entry.substr(eq + 1)));
    }
    i = j;
  }
  return out;
}

}  // namespace adamant
