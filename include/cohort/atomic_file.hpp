/*
 * atomic_file.hpp: output files that appear whole or not at all.
 *
 * AtomicFile writes to "<path>.tmp-<pid>-<n>" beside the target and renames it onto
 * the target in commit(). If commit() is never reached (an exception, a crash of the
 * engine before the end), the destructor removes the temporary file, so a failed run
 * leaves no half-written output and never clobbers an older complete one.
 */
#pragma once

#include <cstddef>
#include <cstdio>
#include <string>
#include <string_view>
#include <vector>

namespace cohort {

class AtomicFile {
 public:
  explicit AtomicFile(std::string path);
  ~AtomicFile();
  AtomicFile(const AtomicFile&) = delete;
  AtomicFile& operator=(const AtomicFile&) = delete;

  void write(const void* data, std::size_t bytes);
  void write(std::string_view text) { write(text.data(), text.size()); }
  std::FILE* stream() { return file_; }
  /// Flushes, closes and renames onto the target; throws Error on any failure.
  void commit();
  const std::string& path() const { return path_; }

 private:
  std::string path_, temp_path_;
  std::FILE* file_ = nullptr;
  bool committed_ = false;
};

/// Writes whole text atomically.
void write_text_file(const std::string& path, std::string_view text);
/// Writes one string per line atomically (e.g. ids.txt, users.txt).
void write_lines(const std::string& path, const std::vector<std::string>& lines);
/// Reads one entry per line (a trailing CR is dropped); throws InvalidInput if unreadable.
std::vector<std::string> read_lines(const std::string& path);
/// Creates a directory (and parents) if missing; throws Error naming it on failure.
void ensure_directory(const std::string& path);

}  // namespace cohort
