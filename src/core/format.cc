// Reading and printing option values.
#include <algorithm>
#include <cctype>
#include <cerrno>
#include <charconv>
#include <cmath>
#include <cstdlib>
#include <stdexcept>
#include <string>
#include <system_error>

#include "adamant/option_text.h"

namespace adamant {
namespace {

[[noreturn]] void ThrowBadValue(std::string_view key, std::string_view text, std::string_view expected) {
  throw std::invalid_argument("invalid value for option '" + std::string(key) + "': '" + std::string(text) +
                              "' (expected " + std::string(expected) + ")");
}

std::string_view Trim(std::string_view s) {
  while (!s.empty() && std::isspace(static_cast<unsigned char>(s.front()))) s.remove_prefix(1);
  while (!s.empty() && std::isspace(static_cast<unsigned char>(s.back()))) s.remove_suffix(1);
  return s;
}

bool ParseDouble(std::string_view text, double& out) {
  text = Trim(text);
  if (text.empty()) return false;
  // strtod accepts "inf" and "nan" as Python's float() does; from_chars would too, but not a leading '+'.
  const std::string s(text);
  char* end = nullptr;
  out = std::strtod(s.c_str(), &end);
  return end == s.c_str() + s.size();
}

}  // namespace

std::string FormatNumber(double value) {
  if (std::isnan(value)) return "nan";
  if (std::isinf(value)) return value > 0 ? "inf" : "-inf";
  // Shortest round-trip digits, then laid out as Python's repr: positional for 1e-4 <= |x| < 1e16,
  // otherwise d.ddde-XX with at least two exponent digits; integral values keep a ".0".
  char buf[64];
  auto res = std::to_chars(buf, buf + sizeof(buf), value, std::chars_format::scientific);
  std::string sci(buf, res.ptr);
  const size_t e_pos = sci.find('e');
  std::string mantissa = sci.substr(0, e_pos);
  const int exponent = std::stoi(sci.substr(e_pos + 1));
  const bool negative = mantissa[0] == '-';
  if (negative) mantissa.erase(0, 1);
  std::string digits;
  for (char c : mantissa) {
    if (c != '.') digits += c;
  }
  std::string out;
  if (exponent >= -5 && exponent < 16) {
    // Python switches to exponent notation below 1e-4 (repr(0.0001) is '0.0001', repr(1e-05) is '1e-05').
    if (exponent < -4) {
      out = "";
    } else if (exponent < 0) {
      out = "0." + std::string(static_cast<size_t>(-exponent - 1), '0') + digits;
    } else if (static_cast<int>(digits.size()) <= exponent + 1) {
      out = digits + std::string(static_cast<size_t>(exponent + 1 - static_cast<int>(digits.size())), '0') + ".0";
    } else {
      out = digits.substr(0, static_cast<size_t>(exponent + 1)) + "." + digits.substr(static_cast<size_t>(exponent + 1));
    }
  }
  if (out.empty()) {
    out = digits.substr(0, 1);
    if (digits.size() > 1) out += "." + digits.substr(1);
    const int abs_exp = std::abs(exponent);
    out += exponent < 0 ? "e-" : "e+";
    if (abs_exp < 10) out += '0';
    out += std::to_string(abs_exp);
  }
  return negative ? "-" + out : out;
}

std::string OptionToString(double value) { return FormatNumber(value); }
std::string OptionToString(int64_t value) { return std::to_string(value); }
std::string OptionToString(bool value) { return value ? "true" : "false"; }
std::string OptionToString(const Betas& value) {
  return FormatNumber(value[0]) + "," + FormatNumber(value[1]);
}
std::string OptionToString(EpsMode value) { return std::string(EpsModeName(value)); }
std::string OptionToString(const StateDTypes& value) {
  if (value.by_name.empty()) return std::string(StateStorageName(value.all));
  std::string out;
  for (const auto& [name, storage] : value.by_name) {
    out += (out.empty() ? "" : ",") + name + ":" + std::string(StateStorageName(storage));
  }
  // Buffers not named keep `all`: written as a last entry without a name when it is not the default.
  if (value.all != StateStorage::kFull) out += "," + std::string(StateStorageName(value.all));
  return out;
}

void OptionFromString(std::string_view key, std::string_view text, double& out) {
  double v = 0;
  if (!ParseDouble(text, v)) ThrowBadValue(key, text, "a number");
  out = v;
}

void OptionFromString(std::string_view key, std::string_view text, int64_t& out) {
  const std::string t(Trim(text));
  errno = 0;
  char* end = nullptr;
  const long long v = t.empty() ? 0 : std::strtoll(t.c_str(), &end, 10);
  if (t.empty() || end != t.c_str() + t.size() || errno == ERANGE) ThrowBadValue(key, text, "an integer");
  out = static_cast<int64_t>(v);
}

void OptionFromString(std::string_view key, std::string_view text, bool& out) {
  std::string t(Trim(text));
  std::transform(t.begin(), t.end(), t.begin(), [](unsigned char c) { return std::tolower(c); });
  if (t == "true" || t == "1" || t == "yes" || t == "on") {
    out = true;
  } else if (t == "false" || t == "0" || t == "no" || t == "off") {
    out = false;
  } else {
    ThrowBadValue(key, text, "true or false");
  }
}

void OptionFromString(std::string_view key, std::string_view text, Betas& out) {
  std::string_view t = Trim(text);
  if (!t.empty() && (t.front() == '(' || t.front() == '[')) t = t.substr(1);
  if (!t.empty() && (t.back() == ')' || t.back() == ']')) t = t.substr(0, t.size() - 1);
  const size_t comma = t.find(',');
  Betas b{};
  if (comma == std::string_view::npos || t.find(',', comma + 1) != std::string_view::npos ||
      !ParseDouble(t.substr(0, comma), b[0]) || !ParseDouble(t.substr(comma + 1), b[1])) {
    ThrowBadValue(key, text, "two numbers separated by a comma, e.g. 0.9,0.999");
  }
  out = b;
}

void OptionFromString(std::string_view key, std::string_view text, EpsMode& out) {
  const std::string_view t = Trim(text);
  if (t == "pytorch") {
    out = EpsMode::kPyTorch;
  } else if (t == "tensorflow") {
    out = EpsMode::kTensorFlow;
  } else {
    ThrowBadValue(key, text, "pytorch or tensorflow");
  }
}

namespace {

bool ParseStateStorage(std::string_view text, StateStorage& out) {
  for (const StateStorage s :
       {StateStorage::kFull, StateStorage::kBFloat16, StateStorage::kBFloat16Stochastic, StateStorage::kInt8}) {
    if (text == StateStorageName(s)) {
      out = s;
      return true;
    }
  }
  return false;
}

}  // namespace

void OptionFromString(std::string_view key, std::string_view text, StateDTypes& out) {
  constexpr const char* kExpected =
      "float32, bfloat16, bfloat16_stochastic or int8, or name:dtype pairs separated by commas";
  StateDTypes result;
  bool all_given = false;
  std::string_view rest = text;
  while (true) {
    const size_t comma = rest.find(',');
    const std::string_view item = Trim(rest.substr(0, comma));
    const size_t colon = item.find(':');
    StateStorage storage{};
    if (colon == std::string_view::npos) {
      // A dtype without a name: every buffer not named (at most once).
      if (all_given || !ParseStateStorage(item, storage)) ThrowBadValue(key, text, kExpected);
      result.all = storage;
      all_given = true;
    } else {
      const std::string name(Trim(item.substr(0, colon)));
      if (name.empty() || !ParseStateStorage(Trim(item.substr(colon + 1)), storage) ||
          std::any_of(result.by_name.begin(), result.by_name.end(), [&](const auto& e) { return e.first == name; })) {
        ThrowBadValue(key, text, kExpected);
      }
      result.by_name.emplace_back(name, storage);
    }
    if (comma == std::string_view::npos) break;
    rest = rest.substr(comma + 1);
  }
  out = std::move(result);
}

}  // namespace adamant
