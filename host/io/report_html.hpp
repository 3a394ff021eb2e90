/*
 * report_html.hpp: DIR/report.html, the pipeline's self-contained report (inline CSS and
 * SVG, no scripts, no external URLs), drawn from the artifacts in DIR.
 */
#pragma once

#include <string>
#include <vector>

#include "cohort/backend.hpp"
#include "cohort/pipeline.hpp"

namespace cohort::detail {

/// out: the pipeline's output directory with a trailing '/'. Reads what exists there
/// (sections whose artifacts are missing, e.g. train/, are left out) and writes
/// out + "report.html" atomically.
void write_report_html(const PipelineConfig& config, const std::string& out,
                       const std::vector<PipelineStageResult>& stages, const GroundTruthScores& truth, Device device);

}  // namespace cohort::detail
