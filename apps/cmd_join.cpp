/* cmd_join.cpp: `cohort join`, points in polygons (see include/cohort/join.hpp). */
#include <cstdio>

#include "apps/command.hpp"
#include "cohort/join.hpp"

namespace cohort::app {
namespace {

CommonOptions common;
JoinFileOptions options;
std::size_t gpu_memory_mib = 0;

void run_join() {
  options.device = apply_common(common);
  options.gpu_memory = gpu_memory_mib << 20;
  options.progress = !common.quiet;
  const JoinSummary s = join_files(options);
  if (!common.quiet) {
    std::printf(
        "join: %llu points read, %llu matched, %llu unmatched, %llu invalid; %llu pairs; %llu polygons (%llu "
        "invalid); %.3f s, %.3g points/s on %s\n",
        static_cast<unsigned long long>(s.points), static_cast<unsigned long long>(s.matched),
        static_cast<unsigned long long>(s.unmatched), static_cast<unsigned long long>(s.invalid_points),
        static_cast<unsigned long long>(s.pairs), static_cast<unsigned long long>(s.features),
        static_cast<unsigned long long>(s.invalid_polygons), s.seconds,
        s.seconds > 0 ? static_cast<double>(s.points) / s.seconds : 0.0, device_name(s.device));
  }
}

void setup(CLI::App& app) {
  auto* c = app.add_subcommand("join", "Assign points to the polygons that contain them");
  c->add_option("--polygons", options.polygons, "Polygons: .csv with a WKT column, or .geojson")->required();
  c->add_option("--polygon-id-col", options.polygon_id_column,
                "Polygon id column/property (default: id, else the first *_id column)");
  c->add_option("--wkt-col", options.wkt_column, "WKT column of a polygon CSV (default: wkt)");
  c->add_option("--points", options.points, "Points: .csv or .npy (n x 2)")->required();
  c->add_option("--point-id-col", options.point_id_column,
                "Point id column (default: id, else the first *_id column, else the row number)");
  c->add_option("--x-col", options.x_column, "Point x column (default: x, else lon/lng/longitude)");
  c->add_option("--y-col", options.y_column, "Point y column (default: y, else lat/latitude)");
  c->add_option("--out", options.out, "Output: .csv (point_id,polygon_id) or .npy (int64 pairs: the point's and the polygon's 0-based "
                 "records in their files, skipped ones counted)")
      ->required();
  c->add_option("--counts", options.counts, "Also write polygon_id,count for every polygon id (.csv)");
  c->add_flag("--first", options.first, "Keep one polygon per point: the smallest id (integers by value, then other ids by bytes)");
  c->add_flag("--skip-invalid", options.skip_invalid, "Skip and count invalid polygons and points");
  c->add_option("--grid-cells", options.grid_cells, "Grid cells (default: chosen from the edge count)");
  c->add_option("--chunk-points", options.chunk_points, "Points per chunk (memory bound)")->capture_default_str();
  c->add_option("--gpu-memory", gpu_memory_mib, "Device memory budget in MiB (default: half the free memory)");
  add_common_flags(c, common);
  c->callback(run_join);
}

}  // namespace
COHORT_REGISTER_COMMAND(20, setup);
}  // namespace cohort::app
