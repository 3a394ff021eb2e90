/* join_grid.hpp: build_join_grid with an explicit bound on the records' size (tests). */
#pragma once

#include <cstdint>

#include "cohort/join.hpp"

namespace cohort {

/// build_join_grid whose records hold at most max_words doubles (build_join_grid: 2^32 - 1,
/// as cell_offsets are 32-bit). An automatic grid is coarsened until they fit; with an
/// explicit cell count, or when even one cell is too many, InvalidInput.
JoinGrid build_join_grid_capped(const PolygonSet& polygons, std::int64_t cells, std::uint64_t max_words);

}  // namespace cohort
