/* atomic_file.cpp: temporary-then-rename writers and small text helpers. */
#include "cohort/atomic_file.hpp"

#include <unistd.h>

#include <atomic>
#include <cerrno>
#include <cstring>
#include <filesystem>
#include <fstream>

#include "cohort/error.hpp"

namespace cohort {
namespace {
std::atomic<unsigned> temp_counter{0};

std::string system_error(const std::string& what, const std::string& path) {
  return what + " '" + path + "': " + std::strerror(errno);
}
}  // namespace

AtomicFile::AtomicFile(std::string path) : path_(std::move(path)) {
  temp_path_ = path_ + ".tmp-" + std::to_string(::getpid()) + "-" + std::to_string(temp_counter++);
  file_ = std::fopen(temp_path_.c_str(), "wb");
  if (!file_) throw Error(system_error("cannot create", temp_path_));
  std::setvbuf(file_, nullptr, _IOFBF, std::size_t(1) << 20);
}

AtomicFile::~AtomicFile() {
  if (committed_) return;
  if (file_) std::fclose(file_);
  std::remove(temp_path_.c_str());
}

void AtomicFile::write(const void* data, std::size_t bytes) {
  if (bytes > 0 && std::fwrite(data, 1, bytes, file_) != bytes) throw Error(system_error("cannot write", temp_path_));
}

void AtomicFile::commit() {
  const bool flushed = std::fflush(file_) == 0;
  const bool closed = std::fclose(file_) == 0;
  file_ = nullptr;
  if (!flushed || !closed) throw Error(system_error("cannot finish writing", temp_path_));
  if (std::rename(temp_path_.c_str(), path_.c_str()) != 0) throw Error(system_error("cannot rename onto", path_));
  committed_ = true;
}

void write_text_file(const std::string& path, std::string_view text) {
  AtomicFile out(path);
  out.write(text);
  out.commit();
}

void write_lines(const std::string& path, const std::vector<std::string>& lines) {
  AtomicFile out(path);
  for (const auto& line : lines) {
    out.write(line);
    out.write("\n", 1);
  }
  out.commit();
}

std::vector<std::string> read_lines(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) throw InvalidInput(path, 0, "cannot open");
  std::vector<std::string> lines;
  std::string line;
  while (std::getline(in, line)) {
    if (!line.empty() && line.back() == '\r') line.pop_back();
    lines.push_back(std::move(line));
  }
  return lines;
}

void ensure_directory(const std::string& path) {
  std::error_code ec;
  std::filesystem::create_directories(path, ec);
  if (ec) throw Error("cannot create directory '" + path + "': " + ec.message());
}

}  // namespace cohort
