// A secret key kept in a file of the data dir: made once from the kernel's random source
// (mode 0600, written to a temporary name, synced and renamed, so a crash never leaves half
// a key), then read back on every start, so what was signed before a restart still verifies.
#pragma once

#include <filesystem>
#include <string>

namespace sonic::util {

// Creates `path` with `bytes` random bytes as lower-case hex when it does not exist yet.
// Throws Error(internal) when the folder or the file cannot be written.
void create_key_file_if_missing(const std::filesystem::path& path, std::size_t bytes = 32);
// The file's contents without a trailing newline; Error(internal) when unreadable or empty.
std::string read_key_file(const std::filesystem::path& path);

}  // namespace sonic::util
