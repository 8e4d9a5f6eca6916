// Options as text: FormatNumber prints as Python's repr(float), and OptionFromString/OptionToString read and
// print every option type, with errors naming the key and the text.
#include <gtest/gtest.h>

#include <cmath>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <limits>
#include <random>
#include <stdexcept>
#include <string>
#include <vector>

#include "adamant/option_text.h"
#include "adamant/options.h"

namespace adamant {
namespace {

constexpr double kInf = std::numeric_limits<double>::infinity();
constexpr double kNaN = std::numeric_limits<double>::quiet_NaN();

double ParseC(const std::string& s) {
  char* end = nullptr;
  const double v = std::strtod(s.c_str(), &end);
  EXPECT_EQ(end, s.c_str() + s.size()) << "'" << s << "' is not entirely a number";
  return v;
}

bool SameDouble(double a, double b) { return std::memcmp(&a, &b, sizeof a) == 0; }

// The expected strings are what CPython prints for repr(x) (python3 -c "print(repr(x))").
TEST(FormatNumber, MatchesPythonRepr) {
  struct Case {
    double value;
    const char* repr;
  };
  const Case cases[] = {
      {0.0, "0.0"},
      {-0.0, "-0.0"},
      {1.0, "1.0"},
      {-1.0, "-1.0"},
      {0.5, "0.5"},
      {-0.5, "-0.5"},
      {100.0, "100.0"},
      {0.001, "0.001"},
      {1e-05, "1e-05"},
      {1.5e-05, "1.5e-05"},
      {0.0001, "0.0001"},
      {9.9999e-05, "9.9999e-05"},
      {3e-4, "0.0003"},
      {0.9, "0.9"},
      {0.999, "0.999"},
      {1e15, "1000000000000000.0"},
      {9999999999999998.0, "9999999999999998.0"},
      {1e16, "1e+16"},
      {2.5e16, "2.5e+16"},
      {12345678901234567.0, "1.2345678901234568e+16"},
      {1e22, "1e+22"},
      {1e100, "1e+100"},
      {1e-08, "1e-08"},
      {-1e-08, "-1e-08"},
      {123456.789, "123456.789"},
      {0.1 + 0.2, "0.30000000000000004"},
      {kInf, "inf"},
      {-kInf, "-inf"},
      {kNaN, "nan"},
      {-kNaN, "nan"},
      {5e-324, "5e-324"},
      {1.5e-323, "1.5e-323"},
      {1.7976931348623157e308, "1.7976931348623157e+308"},
  };
  for (const Case& c : cases) EXPECT_EQ(FormatNumber(c.value), c.repr) << "repr of " << c.repr;
}

// The number of significant digits of a repr-style string ("1.25e-05" -> 3, "100.0" -> 1, "0.0003" -> 1).
int SignificantDigits(const std::string& s) {
  std::string digits;
  for (char c : s) {
    if (c == 'e') break;
    if (c >= '0' && c <= '9') digits += c;
  }
  const size_t first = digits.find_first_not_of('0');
  if (first == std::string::npos) return 1;
  const size_t last = digits.find_last_not_of('0');
  return static_cast<int>(last - first + 1);
}

std::string Scientific(double x, int digits) {
  char buf[64];
  std::snprintf(buf, sizeof buf, "%.*e", digits - 1, x);
  return buf;
}

// What repr(x) must look like, checked from properties rather than from a second implementation:
// it reads back to x; no string with fewer significant digits does; with as many digits it is the closest
// one (C's correctly rounded %.*e); exponent notation iff the decimal exponent is < -4 or >= 16, with a
// sign and at least two exponent digits; positional notation always has a '.'.
void CheckRepr(double x) {
  const std::string s = FormatNumber(x);
  SCOPED_TRACE(Scientific(x, 17) + " printed as " + s);
  ASSERT_TRUE(SameDouble(ParseC(s), x));
  const int n = SignificantDigits(s);
  if (n > 1) {
    EXPECT_NE(ParseC(Scientific(x, n - 1)), x) << "a shorter string reads back too";
  }
  const std::string closest = Scientific(x, n);
  const int exponent = std::atoi(closest.c_str() + closest.find('e') + 1);
  if (ParseC(closest) == x) {
    // Same digits as the correctly rounded string of that length.
    std::string want, got;
    for (char c : closest.substr(0, closest.find('e'))) {
      if (c >= '0' && c <= '9') want += c;
    }
    for (char c : s.substr(0, s.find('e'))) {
      if (c >= '0' && c <= '9') got += c;
    }
    want.erase(0, want.find_first_not_of('0') == std::string::npos ? want.size() : want.find_first_not_of('0'));
    got.erase(0, got.find_first_not_of('0') == std::string::npos ? got.size() : got.find_first_not_of('0'));
    while (!want.empty() && want.back() == '0') want.pop_back();
    while (!got.empty() && got.back() == '0') got.pop_back();
    EXPECT_EQ(got, want);
  }
  const bool scientific = x != 0 && (exponent < -4 || exponent >= 16);
  const size_t e = s.find('e');
  EXPECT_EQ(e != std::string::npos, scientific);
  if (scientific) {
    ASSERT_LT(e + 3, s.size() + 1);
    EXPECT_TRUE(s[e + 1] == '+' || s[e + 1] == '-');
    EXPECT_GE(s.size() - (e + 2), 2u);
    EXPECT_EQ(std::atoi(s.c_str() + e + 1), exponent);
    const std::string mantissa = s.substr(0, e);
    EXPECT_NE(mantissa.back(), '0');
    EXPECT_NE(mantissa.back(), '.');
  } else {
    const size_t dot = s.find('.');
    ASSERT_NE(dot, std::string::npos);
    EXPECT_LT(dot + 1, s.size());
    // Only an integral value ends in zero ("100.0"); otherwise no trailing zeros.
    if (s.back() == '0') {
      EXPECT_EQ(s.substr(dot), ".0");
    }
  }
  EXPECT_EQ(s[0] == '-', std::signbit(x));
}

TEST(FormatNumber, ShortestRoundTripInPythonLayoutForRandomBitPatterns) {
  std::mt19937_64 rng(12345);
  int checked = 0;
  for (int i = 0; i < 40000; ++i) {
    const uint64_t bits = rng();
    double x;
    std::memcpy(&x, &bits, sizeof x);
    if (!std::isfinite(x)) continue;
    CheckRepr(x);
    ++checked;
    if (HasFatalFailure() || HasNonfatalFailure()) break;
  }
  EXPECT_GT(checked, 39000);
}

TEST(FormatNumber, ShortestRoundTripInPythonLayoutForTypicalValues) {
  std::mt19937_64 rng(6789);
  std::uniform_real_distribution<double> unit(0.0, 1.0);
  std::uniform_int_distribution<int> exp10(-20, 20);
  std::uniform_int_distribution<int> digits(1, 9999);
  for (int i = 0; i < 20000; ++i) {
    const double a = unit(rng);                                      // 0.xxxxxxxxxxxxxxxx
    const double b = digits(rng) * std::pow(10.0, exp10(rng));       // decimal-looking: 1234e-7
    const double c = std::ldexp(1.0, exp10(rng) * 3);                // powers of two
    const double d = std::nextafter(std::pow(10.0, exp10(rng)), 0.0);  // just below a power of ten
    for (double x : {a, -a, b, -b, c, d}) CheckRepr(x);
    if (HasFailure()) break;
  }
  // Around the switches between the layouts.
  for (double edge : {1e-4, 1e-5, 1e16, 1e15}) {
    double x = edge;
    for (int k = 0; k < 50; ++k) x = std::nextafter(x, 0.0);
    for (int k = 0; k < 100; ++k, x = std::nextafter(x, kInf)) CheckRepr(x);
  }
  for (double x : {std::numeric_limits<double>::denorm_min(), std::numeric_limits<double>::min(),
                   std::numeric_limits<double>::max(), std::numeric_limits<double>::epsilon()}) {
    CheckRepr(x);
    CheckRepr(-x);
  }
}

// ---------------------------------------------------------------------------------------------------------
// OptionToString

TEST(OptionToString, EveryType) {
  EXPECT_EQ(OptionToString(1e-3), "0.001");
  EXPECT_EQ(OptionToString(-1.0), "-1.0");
  EXPECT_EQ(OptionToString(1e-8), FormatNumber(1e-8));
  EXPECT_EQ(OptionToString(true), "true");
  EXPECT_EQ(OptionToString(false), "false");
  EXPECT_EQ(OptionToString(Betas{0.9, 0.999}), "0.9,0.999");
  EXPECT_EQ(OptionToString(Betas{0.0, 1e-05}), "0.0,1e-05");
  EXPECT_EQ(OptionToString(EpsMode::kPyTorch), "pytorch");
  EXPECT_EQ(OptionToString(EpsMode::kTensorFlow), "tensorflow");
}

// ---------------------------------------------------------------------------------------------------------
// OptionFromString

template <class T>
std::string ParseError(std::string_view key, std::string_view text, T& out) {
  try {
    OptionFromString(key, text, out);
  } catch (const std::invalid_argument& e) {
    return e.what();
  }
  return "<no error>";
}

TEST(OptionFromString, Double) {
  struct Case {
    const char* text;
    double value;
  };
  const Case cases[] = {
      {"3e-4", 3e-4}, {"0.001", 0.001}, {"1", 1.0},     {"-1.5", -1.5},   {"+2", 2.0},
      {" 0.5 ", 0.5}, {"1e-08", 1e-8},  {"inf", kInf},  {"-inf", -kInf}, {"1.7976931348623157e+308", 1.7976931348623157e308},
      {"0", 0.0},     {"-0.0", -0.0},
  };
  for (const Case& c : cases) {
    double out = 12345.0;
    EXPECT_EQ(ParseError("lr", c.text, out), "<no error>") << c.text;
    EXPECT_TRUE(SameDouble(out, c.value)) << c.text << " read as " << out;
  }
  double out = 0.0;
  OptionFromString("lr", "nan", out);
  EXPECT_TRUE(std::isnan(out));
}

TEST(OptionFromString, DoubleRoundTripsThroughText) {
  std::mt19937_64 rng(42);
  for (int i = 0; i < 5000; ++i) {
    const uint64_t bits = rng();
    double x;
    std::memcpy(&x, &bits, sizeof x);
    if (std::isnan(x)) continue;
    double back = 0;
    OptionFromString("eps", OptionToString(x), back);
    ASSERT_TRUE(SameDouble(back, x)) << OptionToString(x);
  }
}

TEST(OptionFromString, DoubleErrorsNameKeyAndText) {
  double out = 7.0;
  EXPECT_EQ(ParseError("lr", "fast", out), "invalid value for option 'lr': 'fast' (expected a number)");
  for (const char* bad : {"", "  ", "1.0x", "1 2", "0.9,0.99", "e5", "--1", "1e", "true"}) {
    const std::string msg = ParseError("weight_decay", bad, out);
    EXPECT_EQ(msg, std::string("invalid value for option 'weight_decay': '") + bad + "' (expected a number)");
  }
  EXPECT_EQ(out, 7.0) << "a failed parse must leave the value alone";
}

TEST(OptionFromString, Bool) {
  for (const char* t : {"true", "1", "yes", "on", "True", "TRUE", " on "}) {
    bool out = false;
    EXPECT_EQ(ParseError("amsgrad", t, out), "<no error>") << t;
    EXPECT_TRUE(out) << t;
  }
  for (const char* t : {"false", "0", "no", "off", "False", "OFF"}) {
    bool out = true;
    EXPECT_EQ(ParseError("amsgrad", t, out), "<no error>") << t;
    EXPECT_FALSE(out) << t;
  }
}

TEST(OptionFromString, BoolErrorsNameKeyAndText) {
  bool out = true;
  EXPECT_EQ(ParseError("amsgrad", "maybe", out), "invalid value for option 'amsgrad': 'maybe' (expected true or false)");
  for (const char* bad : {"", "2", "t", "yess", "0.0", "nope"}) {
    EXPECT_EQ(ParseError("maximize", bad, out),
              std::string("invalid value for option 'maximize': '") + bad + "' (expected true or false)");
  }
  EXPECT_TRUE(out);
}

TEST(OptionFromString, Betas) {
  struct Case {
    const char* text;
    Betas value;
  };
  const Case cases[] = {
      {"0.9,0.95", {0.9, 0.95}},      {"(0.9, 0.95)", {0.9, 0.95}},   {"[0.9, 0.95]", {0.9, 0.95}},
      {" 0.8 , 0.99 ", {0.8, 0.99}}, {"0,0", {0.0, 0.0}},
      {"1,2", {1.0, 2.0}},  // parsing does not validate; Validate() reports out-of-range betas
  };
  for (const Case& c : cases) {
    Betas out{-1, -1};
    EXPECT_EQ(ParseError("betas", c.text, out), "<no error>") << c.text;
    EXPECT_EQ(out, c.value) << c.text;
  }
}

TEST(OptionFromString, BetasRoundTripThroughText) {
  std::mt19937_64 rng(7);
  std::uniform_real_distribution<double> u(0.0, 1.0);
  for (int i = 0; i < 1000; ++i) {
    const Betas b{u(rng), 1.0 - std::pow(10.0, -8.0 * u(rng))};
    Betas back{};
    OptionFromString("betas", OptionToString(b), back);
    EXPECT_EQ(back, b) << OptionToString(b);
  }
}

TEST(OptionFromString, BetasErrorsNameKeyAndText) {
  Betas out{0.5, 0.6};
  for (const char* bad : {"0.9", "a,b", "1,2,3", "", ",", "0.9,", ",0.9", "0.9;0.99", "(0.9)"}) {
    EXPECT_EQ(ParseError("betas", bad, out),
              std::string("invalid value for option 'betas': '") + bad +
                  "' (expected two numbers separated by a comma, e.g. 0.9,0.999)");
  }
  EXPECT_EQ(out, (Betas{0.5, 0.6})) << "a failed parse must leave the value alone";
}

TEST(OptionFromString, EpsMode) {
  EpsMode out = EpsMode::kPyTorch;
  OptionFromString("eps_mode", "tensorflow", out);
  EXPECT_EQ(out, EpsMode::kTensorFlow);
  OptionFromString("eps_mode", "pytorch", out);
  EXPECT_EQ(out, EpsMode::kPyTorch);
  OptionFromString("eps_mode", " tensorflow ", out);
  EXPECT_EQ(out, EpsMode::kTensorFlow);
  for (EpsMode m : {EpsMode::kPyTorch, EpsMode::kTensorFlow}) {
    EpsMode back = m == EpsMode::kPyTorch ? EpsMode::kTensorFlow : EpsMode::kPyTorch;
    OptionFromString("eps_mode", OptionToString(m), back);
    EXPECT_EQ(back, m);
  }
}

TEST(OptionFromString, EpsModeErrorsNameKeyAndText) {
  EpsMode out = EpsMode::kTensorFlow;
  EXPECT_EQ(ParseError("eps_mode", "keras", out),
            "invalid value for option 'eps_mode': 'keras' (expected pytorch or tensorflow)");
  for (const char* bad : {"", "torch", "tf", "0", "1"}) {
    EXPECT_EQ(ParseError("eps_mode", bad, out),
              std::string("invalid value for option 'eps_mode': '") + bad + "' (expected pytorch or tensorflow)");
  }
  EXPECT_EQ(out, EpsMode::kTensorFlow);
}

}  // namespace
}  // namespace adamant
