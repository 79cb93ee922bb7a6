#pragma once
// Reports for a run, from its run store: result.json, report.md, a self-contained report.html
// and chart.svg (the metric over attempts against the baseline).
#include <mlrcopilot/error.hpp>  // first: declares mlrc::detail (see error.hpp)
#include <mlrcopilot/session.hpp>

#include "session/run_store.hpp"

#include <filesystem>

namespace mlrc::detail {
void write_reports(const RunStore& store, const std::filesystem::path& folder, const RunSummary& summary);
// The chart alone (sans-io, tested directly): attempts (step, score) and the baseline.
std::string metric_chart_svg(const std::vector<std::pair<int, double>>& attempts, std::optional<double> baseline,
                             const std::string& metric, bool higher_is_better);
}  // namespace mlrc::detail
