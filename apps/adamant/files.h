// Output files of a run: written atomically, so a crash leaves the previous version or the new one, never
// half of one.
#ifndef ADAMANT_APPS_ADAMANT_FILES_H_
#define ADAMANT_APPS_ADAMANT_FILES_H_

#include <filesystem>
#include <string>
#include <string_view>
#include <vector>

namespace adamant::app {

// Creates `dir` if needed and checks that files can be created in it; throws std::runtime_error
// ("cannot write to output directory DIR: REASON") otherwise.
void PrepareOutputDir(const std::filesystem::path& dir);

// Writes `bytes` to `path` atomically (adamant::AtomicFile: a regular file or a new path; symlinks followed).
void WriteFileAtomically(const std::filesystem::path& path, std::string_view bytes);

std::string ReadFile(const std::filesystem::path& path);

// Runs `/usr/bin/python3 SCRIPT ARGS...` (a script shipped next to the executable, or in the source tree);
// returns false and sets `error` when it cannot run or fails.
bool RunPythonScript(const std::string& script, const std::vector<std::string>& args, std::string* error);

}  // namespace adamant::app

#endif  // ADAMANT_APPS_ADAMANT_FILES_H_
