/*
 * string_dictionary.hpp: string -> dense id (0, 1, 2, ... in first-seen order), with
 * string_view lookups (no allocation per lookup) and names kept in a stable arena;
 * find() is read-only, so a chunk can be looked up in parallel and only the misses
 * inserted in order afterwards (same ids as inserting one by one).
 * Open addressing, linear probing, string_hash (kernels/dictionary_element.hpp, which
 * the device grouping shares); a slot holds the id and the hash's high bits.
 */
#pragma once

#include <cstdint>
#include <cstring>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "kernels/dictionary_element.hpp"

namespace cohort {

class StringDictionary {
 public:
  StringDictionary() : slots_(1024, kEmptySlot) {}

  static constexpr std::uint32_t kMissing = 0xffffffffu;

  std::uint32_t encode(std::string_view s) { return encode(s, hash(s)); }

  /// Id of s, or kMissing; const, so many threads may look up at once (no inserts then).
  std::uint32_t find(std::string_view s, std::uint64_t h) const {
    const std::size_t mask = slots_.size() - 1;
    for (std::size_t i = h & mask; slots_[i] != kEmptySlot; i = (i + 1) & mask)
      if (matches(slots_[i], s, h)) return slot_id(slots_[i]);
    return kMissing;
  }

  /// Starts loading the slot where a lookup of hash h begins (lookups miss the cache
  /// once the dictionary holds hundreds of thousands of names).
  void prefetch(std::uint64_t h) const { __builtin_prefetch(slots_.data() + (h & (slots_.size() - 1))); }

  std::uint32_t encode(std::string_view s, std::uint64_t h) {
    const std::size_t mask = slots_.size() - 1;
    std::size_t i = h & mask;
    for (; slots_[i] != kEmptySlot; i = (i + 1) & mask)
      if (matches(slots_[i], s, h)) return slot_id(slots_[i]);
    const auto id = static_cast<std::uint32_t>(names_.size());
    names_.push_back(store(s));
    hashes_.push_back(h);
    slots_[i] = make_slot(id, h);
    if (names_.size() * 2 > slots_.size()) grow();
    return id;
  }
  std::size_t size() const { return names_.size(); }
  std::string_view name(std::uint32_t id) const { return names_[id]; }
  const std::vector<std::string_view>& names() const { return names_; }

 private:
  // A slot holds the id and the hash's high 32 bits, so a probe rejects other names
  // without touching their hashes or bytes (each one another cache miss).
  static constexpr std::uint64_t kEmptySlot = ~std::uint64_t(0);
  static std::uint64_t make_slot(std::uint32_t id, std::uint64_t h) { return (h & ~std::uint64_t(0xffffffffu)) | id; }
  static std::uint32_t slot_id(std::uint64_t slot) { return static_cast<std::uint32_t>(slot); }
  bool matches(std::uint64_t slot, std::string_view s, std::uint64_t h) const {
    if ((slot ^ h) >> 32) return false;
    const std::string_view name = names_[slot_id(slot)];
    if (name.size() != s.size()) return false;
    if (s.size() > 16) return std::memcmp(name.data(), s.data(), s.size()) == 0;
    for (std::size_t k = 0; k < s.size(); ++k)  // short ids: inline, no library call
      if (name[k] != s[k]) return false;
    return true;
  }

 public:
  static std::uint64_t hash(std::string_view s) { return string_hash(s.data(), s.size()); }

 private:
  std::string_view store(std::string_view s) {
    if (s.size() > block_left_) {
      const std::size_t size = std::max<std::size_t>(s.size(), 1 << 20);
      blocks_.emplace_back(new char[size]);
      block_ptr_ = blocks_.back().get();
      block_left_ = size;
    }
    if (!s.empty()) std::memcpy(block_ptr_, s.data(), s.size());
    std::string_view stored(block_ptr_, s.size());
    block_ptr_ += s.size();
    block_left_ -= s.size();
    return stored;
  }
  void grow() {
    std::vector<std::uint64_t> slots(slots_.size() * 2, kEmptySlot);
    const std::size_t mask = slots.size() - 1;
    for (std::uint32_t id = 0; id < names_.size(); ++id) {
      std::size_t i = hashes_[id] & mask;
      while (slots[i] != kEmptySlot) i = (i + 1) & mask;
      slots[i] = make_slot(id, hashes_[id]);
    }
    slots_.swap(slots);
  }
  std::vector<std::uint64_t> slots_;
  std::vector<std::string_view> names_;
  std::vector<std::uint64_t> hashes_;  ///< full hashes, to re-place the ids when growing
  std::vector<std::unique_ptr<char[]>> blocks_;
  char* block_ptr_ = nullptr;
  std::size_t block_left_ = 0;
};

}  // namespace cohort
