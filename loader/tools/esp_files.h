// File operations on an ESP for install/remove: whole-file reads, a copy
// that never leaves a half-written loader (written beside, synced, then
// renamed over: rename is atomic on FAT as Linux's vfat driver does it,
// and the old loader stays until the new one is complete). Each returns
// "" or one message naming the path.
#pragma once
#include <string>

namespace kho::tools::install {

bool exists(const std::string& path);
bool is_dir(const std::string& path);
std::string read_file(const std::string& path, std::string* out);
std::string write_file_atomic(const std::string& path, const std::string& data);
std::string make_dir(const std::string& path);
// Removes a directory if it is empty; a non-empty one is kept ("").
std::string remove_dir_if_empty(const std::string& path);
std::string remove_file(const std::string& path);

}  // namespace kho::tools::install
