#include "session/report.hpp"

#include <mlrcopilot/executor.hpp>
#include <mlrcopilot/workspace.hpp>

#include <boost/json.hpp>

#include <algorithm>
#include <cstdio>
#include <fstream>
#include <sstream>

namespace mlrc::detail {

namespace json = boost::json;
namespace fs = std::filesystem;

namespace {

std::string html_escape(std::string_view s) {
  std::string o;
  for (char c : s) {
    switch (c) {
      case '&': o += "&amp;"; break;
      case '<': o += "&lt;"; break;
      case '>': o += "&gt;"; break;
      case '"': o += "&quot;"; break;
      default: o += c;
    }
  }
  return o;
}

std::string fmt(double v) {
  char b[32];
  std::snprintf(b, sizeof b, "%.4g", v);
  return b;
}

std::string one_line(std::string s, std::size_t n) {
  for (auto& c : s)
    if (c == '\n' || c == '|') c = ' ';
  return s.size() > n ? s.substr(0, n) + "…" : s;
}

json::value parse_or_null(const std::optional<std::string>& s) {
  if (!s) return nullptr;
  try {
    return json::parse(*s);
  } catch (...) {
    return nullptr;
  }
}

std::string str(const json::value& v, const char* k) {
  if (!v.is_object() || !v.as_object().contains(k)) return {};
  auto& x = v.as_object().at(k);
  if (x.is_string()) return std::string(x.as_string());
  if (x.is_double()) return fmt(x.as_double());
  return json::serialize(x);
}

}  // namespace

std::string metric_chart_svg(const std::vector<std::pair<int, double>>& attempts, std::optional<double> baseline,
                             const std::string& metric, bool higher) {
  const int W = 640, H = 320, L = 60, R = 20, T = 30, B = 40;
  std::vector<double> ys;
  for (auto& a : attempts) ys.push_back(a.second);
  if (baseline) ys.push_back(*baseline);
  std::ostringstream o;
  o << "<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"" << W << "\" height=\"" << H << "\" viewBox=\"0 0 " << W << " " << H
    << "\" font-family=\"sans-serif\" font-size=\"12\">\n<rect width=\"100%\" height=\"100%\" fill=\"white\"/>\n";
  o << "<text x=\"" << L << "\" y=\"18\">" << html_escape(metric) << " over attempts (" << (higher ? "higher" : "lower")
    << " is better)</text>\n";
  if (ys.empty()) {
    o << "<text x=\"" << L << "\" y=\"" << H / 2 << "\">no scored attempts</text>\n</svg>\n";
    return o.str();
  }
  double lo = *std::min_element(ys.begin(), ys.end()), hi = *std::max_element(ys.begin(), ys.end());
  if (hi - lo < 1e-9) lo -= 0.5, hi += 0.5;
  double pad = (hi - lo) * 0.1;
  lo -= pad, hi += pad;
  int n = attempts.empty() ? 1 : attempts.back().first;
  auto X = [&](int step) { return L + (W - L - R) * (n <= 1 ? 0.5 : static_cast<double>(step - 1) / (n - 1)); };
  auto Y = [&](double v) { return T + (H - T - B) * (1 - (v - lo) / (hi - lo)); };
  o << "<line x1=\"" << L << "\" y1=\"" << H - B << "\" x2=\"" << W - R << "\" y2=\"" << H - B << "\" stroke=\"#333\"/>\n";
  o << "<line x1=\"" << L << "\" y1=\"" << T << "\" x2=\"" << L << "\" y2=\"" << H - B << "\" stroke=\"#333\"/>\n";
  for (double v : {lo + pad, hi - pad})
    o << "<text x=\"4\" y=\"" << Y(v) + 4 << "\">" << fmt(v) << "</text>\n";
  o << "<text x=\"" << (W / 2) << "\" y=\"" << H - 10 << "\">step</text>\n";
  if (baseline)
    o << "<line x1=\"" << L << "\" y1=\"" << Y(*baseline) << "\" x2=\"" << W - R << "\" y2=\"" << Y(*baseline)
      << "\" stroke=\"#c33\" stroke-dasharray=\"6 4\"/>\n<text x=\"" << W - R - 120 << "\" y=\"" << Y(*baseline) - 6
      << "\" fill=\"#c33\">baseline " << fmt(*baseline) << "</text>\n";
  if (!attempts.empty()) {
    o << "<polyline fill=\"none\" stroke=\"#36c\" stroke-width=\"2\" points=\"";
    for (auto& [s, v] : attempts) o << X(s) << "," << Y(v) << " ";
    o << "\"/>\n";
    for (auto& [s, v] : attempts)
      o << "<circle cx=\"" << X(s) << "\" cy=\"" << Y(v) << "\" r=\"4\" fill=\"#36c\"><title>step " << s << ": " << fmt(v)
        << "</title></circle>\n";
  }
  o << "</svg>\n";
  return o.str();
}

void write_reports(const RunStore& store, const fs::path& folder, const RunSummary& sum) {
  std::ofstream(folder / "result.json") << sum.to_json() << "\n";
  json::value paper = parse_or_null(store.get("paper"));
  json::value ideas = parse_or_null(store.get("ideas"));
  json::value reviews = parse_or_null(store.get("reviews"));
  json::value chosen = parse_or_null(store.get("chosen_idea"));
  std::vector<AgentStep> steps;
  for (auto& s : store.steps()) steps.push_back(agent_step_from_json(s));
  std::vector<std::pair<int, double>> attempts;
  for (auto& s : steps)
    if (s.score) attempts.emplace_back(s.index, *s.score);
  if (sum.final_score && (attempts.empty() || attempts.back().second != *sum.final_score))
    attempts.emplace_back(steps.empty() ? 1 : steps.back().index + 1, *sum.final_score);
  std::string svg = metric_chart_svg(attempts, sum.baseline, sum.metric, sum.direction != "lower");
  std::ofstream(folder / "chart.svg") << svg;

  // Code changes: first snapshot → last, from the snapshot store.
  std::string diffs;
  try {
    WorkspaceOptions wo;
    wo.store = folder / "snapshots";
    if (fs::exists(folder / "workspace") && fs::exists(wo.store)) {
      Workspace ws(folder / "workspace", wo);
      auto ids = ws.snapshots();
      if (ids.size() >= 2)
        for (auto& c : ws.diff(ids.front(), ids.back()))
          if (!c.binary && c.path.find("submission") == std::string::npos) diffs += c.diff;
    }
  } catch (const std::exception& e) {
    diffs = std::string("(diff unavailable: ") + e.what() + ")\n";
  }

  std::ostringstream md;
  md << "# mlrcopilot run " << sum.run_id << "\n\n";
  md << "- status: **" << sum.status << "**, success: **" << (sum.success ? "yes" : "no") << "** (decided by the task's evaluator)\n";
  md << "- metric: " << sum.metric << " (" << sum.direction << " is better)\n";
  if (sum.baseline) md << "- baseline: " << fmt(*sum.baseline) << "\n";
  if (sum.final_score) md << "- final: " << fmt(*sum.final_score) << "\n";
  if (sum.best) md << "- best attempt: " << fmt(*sum.best) << "\n";
  if (!sum.error.empty()) md << "- stopped because: " << sum.error << "\n";
  if (!paper.is_null()) md << "\n## Paper\n\n**" << str(paper, "title") << "**\n\n" << one_line(str(paper, "abstract"), 1200) << "\n";
  json::value related = parse_or_null(store.get("related"));
  if (related.is_array() && !related.as_array().empty()) {
    md << "\n## Related work retrieved\n\n";
    for (auto& r : related.as_array()) md << "- `" << str(r, "id") << "` " << str(r, "title") << " (" << str(r, "year") << ")\n";
  }
  if (ideas.is_array() && !ideas.as_array().empty()) {
    md << "\n## Ideas (ranked by review score)\n\n| idea | title | review score | round |\n|---|---|---|---|\n";
    for (auto& i : ideas.as_array())
      md << "| " << str(i, "id") << " | " << one_line(str(i, "title"), 100) << " | " << str(i, "score") << " | " << str(i, "round") << " |\n";
  }
  if (reviews.is_array() && !reviews.as_array().empty()) {
    md << "\n### Reviews\n\n";
    for (auto& r : reviews.as_array())
      md << "- " << str(r, "idea_id") << ": hypothesis " << str(r, "hypothesis_scores") << ", plan " << str(r, "plan_scores")
         << ", novelty " << str(r, "novelty") << "\n";
  }
  if (!chosen.is_null()) {
    md << "\n## Chosen plan\n\n**" << str(chosen, "title") << "**\n\n" << str(chosen, "hypothesis") << "\n";
    auto plan = chosen.as_object().contains("plan") ? chosen.as_object().at("plan") : json::value();
    if (plan.is_object() && plan.as_object().contains("steps") && plan.as_object().at("steps").is_array()) {
      int k = 1;
      for (auto& s : plan.as_object().at("steps").as_array()) md << "\n" << k++ << ". " << (s.is_string() ? std::string(s.as_string()) : "");
      md << "\n";
    }
  }
  md << "\n## Metric over attempts\n\n![chart](chart.svg)\n";
  md << "\n## Steps\n\n| # | tool | result | score |\n|---|---|---|---|\n";
  for (auto& s : steps)
    md << "| " << s.index << " | " << (s.tool.empty() ? "(none)" : s.tool) << " | " << (s.tool_error ? "**error** " : "")
       << one_line(s.observation, 140) << " | " << (s.score ? fmt(*s.score) : "") << " |\n";
  md << "\n## Code changes\n\n```diff\n" << (diffs.empty() ? "(none)\n" : diffs) << "```\n";
  md << "\n## Cost and tokens by phase\n\n| phase | LLM calls | input tokens | cached | output tokens |\n|---|---|---|---|---|\n";
  for (auto& u : store.usage_by_phase())
    md << "| " << u.phase << " | " << u.calls << " | " << u.input << " | " << u.cached << " | " << u.output << " |\n";
  auto sup = LocalExecutor::support();
  md << "\n## Sandbox\n\nExperiments ran in the local sandbox with: process group, rlimits, scrubbed environment"
     << (sup.user_namespace ? ", user namespace" : "") << (sup.pid_namespace ? ", PID namespace" : "")
     << (sup.network_namespace ? ", no network" : "") << (sup.read_only_root ? ", read-only file system outside the workspace, task folder hidden" : "")
     << (sup.cgroup_pids ? ", pids cgroup" : "") << (sup.cgroup_memory ? ", memory cgroup" : "") << ".\n";
  if (!sup.notes.empty()) md << "Unavailable: " << sup.notes << "\n";
  std::string report = md.str();
  std::ofstream(folder / "report.md") << report;

  // A self-contained HTML version: the markdown shown as preformatted text with the chart inline.
  std::ostringstream html;
  html << "<!doctype html><html><head><meta charset=\"utf-8\"><title>mlrcopilot run " << html_escape(sum.run_id)
       << "</title><style>body{font-family:sans-serif;max-width:60em;margin:2em auto}pre{white-space:pre-wrap;background:#f6f6f6;padding:1em}</style></head><body>\n";
  html << "<h1>mlrcopilot run " << html_escape(sum.run_id) << "</h1>\n" << svg << "\n<pre>" << html_escape(report) << "</pre>\n</body></html>\n";
  std::ofstream(folder / "report.html") << html.str();
}

}  // namespace mlrc::detail
