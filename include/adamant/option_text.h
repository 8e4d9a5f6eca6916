// Options as text: how the factory, the command line and the state inspection read and print values.
#ifndef ADAMANT_OPTION_TEXT_H_
#define ADAMANT_OPTION_TEXT_H_

#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "adamant/options.h"

namespace adamant {

// (key, value) pairs of options as text, in order: what the factory, Optimizer::SetOptions and
// checkpoints take.
using OptionList = std::vector<std::pair<std::string, std::string>>;

// Shortest text that reads back to the same value, in Python's repr style ("0.001", "1e-08", "-1.0").
std::string FormatNumber(double value);

std::string OptionToString(double value);
std::string OptionToString(int64_t value);
std::string OptionToString(bool value);                // "true" / "false"
std::string OptionToString(const Betas& value);        // "0.9,0.999"
std::string OptionToString(EpsMode value);             // "pytorch" / "tensorflow"
std::string OptionToString(const StateDTypes& value);  // "float32", "exp_avg:bfloat16,exp_avg_sq:float32"

// Parse `text` into `out`; on failure throw std::invalid_argument naming `key` and the text, e.g.
//   invalid value for option 'lr': 'fast' (expected a number)
void OptionFromString(std::string_view key, std::string_view text, double& out);
void OptionFromString(std::string_view key, std::string_view text, int64_t& out);   // a decimal integer
void OptionFromString(std::string_view key, std::string_view text, bool& out);      // true/false/1/0/yes/no/on/off
void OptionFromString(std::string_view key, std::string_view text, Betas& out);     // "0.9,0.999"
void OptionFromString(std::string_view key, std::string_view text, EpsMode& out);   // pytorch|tensorflow
// "float32", "bfloat16", "bfloat16_stochastic" or "int8" for every buffer, or "name:dtype,..." per buffer (the
// others float32). Which
// names an algorithm has is checked where the options meet it (ValidateStateDTypes, optimizer.h).
void OptionFromString(std::string_view key, std::string_view text, StateDTypes& out);

}  // namespace adamant

#endif  // ADAMANT_OPTION_TEXT_H_
