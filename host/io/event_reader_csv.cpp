/*
 * event_reader_csv.cpp: event records from a CSV file through CsvReader (chunked,
 * multi-threaded field splitting); one CsvChunk becomes one EventChunk. Columns are
 * looked up in the header once (an unknown name lists the header).
 */
#include <cstdint>
#include <optional>

#include "cohort/csv.hpp"
#include "host/io/event_reader_impl.hpp"

namespace cohort {
namespace {

constexpr std::size_t kNone = static_cast<std::size_t>(-1);

class CsvEventReader final : public EventReader::Impl {
 public:
  CsvEventReader(std::string path_, EventReaderOptions options_)
      : Impl(std::move(path_), std::move(options_)), reader_(path, csv_options()) {
    user_ = reader_.column(options.user_col);
    item_ = reader_.column(options.item_col);
    event_ = options.event_col.empty() ? kNone : reader_.column(options.event_col);
    time_ = options.time_col.empty() ? kNone : reader_.column(options.time_col);
    weight_ = options.weight_col.empty() ? kNone : reader_.column(options.weight_col);
    for (const auto& a : options.attr_cols) attrs_.push_back(reader_.column(a));
    bytes_total = reader_.bytes_total();
  }

  std::string format() const override { return "csv"; }

  // Ragged or badly quoted rows go through reject(), in file order, like every other bad record.
  CsvOptions csv_options() {
    CsvOptions o;
    o.chunk_bytes = options.chunk_bytes;
    o.keep_malformed = true;
    return o;
  }

  bool next(EventChunk& chunk) override {
    prepare(chunk);
    RawRecord record;
    record.attrs.resize(attrs_.size());
    while (chunk.size() == 0) {
      if (!reader_.next(csv_)) return false;
      bytes_consumed = reader_.bytes_consumed();
      std::size_t malformed = 0;  // csv_.malformed() rejected so far
      auto reject_malformed_before = [&](std::uint64_t line) {
        for (; malformed < csv_.malformed().size() && csv_.malformed()[malformed].first < line; ++malformed)
          reject(csv_.malformed()[malformed].first, "", csv_.malformed()[malformed].second);
      };
      for (std::size_t r = 0; r < csv_.rows(); ++r) {
        reject_malformed_before(csv_.line(r));
        record.user = csv_.field(r, user_);
        record.item = csv_.field(r, item_);
        if (event_ != kNone) record.event = csv_.field(r, event_);
        if (time_ != kNone) record.time = csv_.field(r, time_);
        if (weight_ != kNone) record.weight = csv_.field(r, weight_);
        for (std::size_t a = 0; a < attrs_.size(); ++a) record.attrs[a] = csv_.field(r, attrs_[a]);
        const std::string problem = add_record(chunk, record);
        if (!problem.empty()) reject(csv_.line(r), "", problem);
      }
      reject_malformed_before(UINT64_MAX);
    }
    return true;
  }

 private:
  CsvReader reader_;
  CsvChunk csv_;
  std::size_t user_ = kNone, item_ = kNone, event_ = kNone, time_ = kNone, weight_ = kNone;
  std::vector<std::size_t> attrs_;
};

}  // namespace

std::unique_ptr<EventReader::Impl> make_csv_event_reader(std::string path, EventReaderOptions options) {
  return std::make_unique<CsvEventReader>(std::move(path), std::move(options));
}

}  // namespace cohort
