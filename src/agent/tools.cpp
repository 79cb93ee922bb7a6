// The built-in tools (MLAgentBench's action set, with exact edits and snapshots added).
#include "agent/tools.hpp"

#include <mlrcopilot/error.hpp>

#include <simdjson.h>

#include <sstream>

namespace mlrc {
inline namespace v1 {
namespace detail {

namespace {

namespace asio = boost::asio;

// Arguments as the model gave them, with errors the model can act on.
struct Args {
  simdjson::dom::parser parser;
  simdjson::dom::element doc;
  std::string tool;
  Args(const std::string& json, std::string t) : tool(std::move(t)) {
    if (parser.parse(json).get(doc) || !doc.is_object())
      throw Error(errc::invalid_argument, tool + ": arguments must be a JSON object, got: " + json.substr(0, 200));
  }
  std::string str(const char* k) const {
    std::string_view v;
    if (doc[k].get_string().get(v)) throw Error(errc::invalid_argument, tool + ": argument '" + k + "' (a string) is required");
    return std::string(v);
  }
  std::string str_or(const char* k, std::string def) const {
    std::string_view v;
    return doc[k].get_string().get(v) ? def : std::string(v);
  }
  std::size_t num_or(const char* k, std::size_t def) const {
    std::int64_t v;
    if (doc[k].get_int64().get(v)) return def;
    if (v < 0) throw Error(errc::invalid_argument, tool + ": argument '" + k + "' must be >= 0");
    return static_cast<std::size_t>(v);
  }
  bool flag(const char* k) const {
    bool v = false;
    return !doc[k].get_bool().get(v) && v;
  }
};

std::string schema(std::initializer_list<std::tuple<const char*, const char*, const char*, bool>> props) {
  // {name, type, description, required}
  std::string p, req;
  for (auto& [name, type, desc, required] : props) {
    p += (p.empty() ? "" : ",") + std::string("\"") + name + "\":{\"type\":\"" + type + "\",\"description\":\"" + desc + "\"}";
    if (required) req += (req.empty() ? "" : ",") + std::string("\"") + name + "\"";
  }
  return "{\"type\":\"object\",\"properties\":{" + p + "},\"required\":[" + req + "]}";
}

using Fn = std::function<asio::awaitable<ToolOutput>(Args&, ToolContext&)>;

class FnTool final : public Tool {
 public:
  FnTool(ToolSpec spec, Fn fn) : spec_(std::move(spec)), fn_(std::move(fn)) {}
  ToolSpec spec() const override { return spec_; }
  asio::awaitable<ToolOutput> call(const std::string& arguments, ToolContext& ctx) override {
    Args a(arguments, spec_.name);
    co_return co_await fn_(a, ctx);
  }

 private:
  ToolSpec spec_;
  Fn fn_;
};

std::shared_ptr<Tool> make(const char* name, const char* desc, std::string params, Fn fn) {
  return std::make_shared<FnTool>(ToolSpec{name, desc, std::move(params)}, std::move(fn));
}

std::string score_line(ToolContext& ctx, double score) {
  const Task& t = ctx.harness.task();
  std::ostringstream o;
  o << t.metric << " = " << score;
  if (auto b = ctx.agent.baseline()) {
    o << " (baseline " << *b << ", " << (t.relative_improvement(*b, score) >= 0 ? "+" : "") << t.relative_improvement(*b, score) * 100
      << "% relative; " << direction_name(t.direction) << " is better; the goal is at least "
      << t.success.min_relative_improvement * 100 << "%)";
  }
  return o.str();
}

}  // namespace

std::vector<std::shared_ptr<Tool>> builtin_tools() {
  std::vector<std::shared_ptr<Tool>> t;
  t.push_back(make("list_files", "List files in a workspace folder.",
                   schema({{"dir", "string", "folder relative to the workspace (default: .)", false},
                           {"recursive", "boolean", "include subfolders", false}}),
                   [](Args& a, ToolContext& c) -> asio::awaitable<ToolOutput> {
                     std::string out;
                     for (auto& e : c.workspace.list(a.str_or("dir", "."), a.flag("recursive")))
                       out += e.path + (e.is_dir ? "/" : "  (" + std::to_string(e.size) + " bytes)") + (e.read_only ? "  [read-only]" : "") + "\n";
                     co_return ToolOutput{out.empty() ? "(empty)" : out};
                   }));
  t.push_back(make("read_file", "Read a text file, optionally only lines start_line..end_line (1-based).",
                   schema({{"path", "string", "file relative to the workspace", true},
                           {"start_line", "integer", "first line (default 1)", false},
                           {"end_line", "integer", "last line (default: end)", false}}),
                   [](Args& a, ToolContext& c) -> asio::awaitable<ToolOutput> {
                     auto r = c.workspace.read(a.str("path"), a.num_or("start_line", 0), a.num_or("end_line", 0));
                     if (r.binary) co_return ToolOutput{a.str("path") + " is a binary file (" + std::to_string(r.size) + " bytes)"};
                     std::string head = "lines " + std::to_string(r.first_line) + "-" + std::to_string(r.last_line) + " of " +
                                        std::to_string(r.total_lines) + (r.truncated ? " (cut at the read limit)" : "") + ":\n";
                     co_return ToolOutput{head + r.text};
                   }));
  t.push_back(make("write_file", "Create or overwrite a file with the given content.",
                   schema({{"path", "string", "file relative to the workspace", true}, {"content", "string", "the whole new content", true}}),
                   [](Args& a, ToolContext& c) -> asio::awaitable<ToolOutput> {
                     std::string path = a.str("path"), content = a.str("content");
                     std::string before;
                     try {
                       before = c.workspace.read(path).text;
                     } catch (const Error&) {
                     }
                     c.workspace.write(path, content);
                     co_return ToolOutput{"wrote " + path + " (" + std::to_string(content.size()) + " bytes)\n" + c.workspace.diff_text(path, before, content)};
                   }));
  t.push_back(make("append_file", "Append text to a file.",
                   schema({{"path", "string", "file relative to the workspace", true}, {"content", "string", "text to append", true}}),
                   [](Args& a, ToolContext& c) -> asio::awaitable<ToolOutput> {
                     c.workspace.append(a.str("path"), a.str("content"));
                     co_return ToolOutput{"appended to " + a.str("path")};
                   }));
  t.push_back(make("copy_file", "Copy a file inside the workspace.",
                   schema({{"source", "string", "file to copy", true}, {"destination", "string", "new file", true}}),
                   [](Args& a, ToolContext& c) -> asio::awaitable<ToolOutput> {
                     c.workspace.copy(a.str("source"), a.str("destination"));
                     co_return ToolOutput{"copied " + a.str("source") + " to " + a.str("destination")};
                   }));
  t.push_back(make("edit_file", "Replace exact text in a file (old_text must occur exactly once unless replace_all). Shows the diff.",
                   schema({{"path", "string", "file relative to the workspace", true},
                           {"old_text", "string", "exact text to replace", true},
                           {"new_text", "string", "replacement", true},
                           {"replace_all", "boolean", "replace every occurrence", false}}),
                   [](Args& a, ToolContext& c) -> asio::awaitable<ToolOutput> {
                     auto r = c.workspace.edit(a.str("path"), a.str("old_text"), a.str("new_text"), a.flag("replace_all"));
                     co_return ToolOutput{"edited " + a.str("path") + " (" + std::to_string(r.replacements) + " replacement(s)):\n" + r.diff};
                   }));
  t.push_back(make("undo_edit", "Restore a file to its previous recorded state.",
                   schema({{"path", "string", "file relative to the workspace", true}}),
                   [](Args& a, ToolContext& c) -> asio::awaitable<ToolOutput> {
                     std::string id = c.workspace.undo(a.str("path"));
                     co_return ToolOutput{"restored " + a.str("path") + " from snapshot " + id.substr(0, 12)};
                   }));
  t.push_back(make("ai_edit_script", "Have an assistant rewrite a whole script from an instruction; shows the diff.",
                   schema({{"path", "string", "script relative to the workspace", true},
                           {"instruction", "string", "what to change, precisely", true}}),
                   [](Args& a, ToolContext& c) -> asio::awaitable<ToolOutput> {
                     std::string path = a.str("path");
                     std::string before = c.workspace.read(path).text;
                     std::string after = co_await c.agent.ask(
                         "You edit code. Reply with the complete new file content only, no explanations, no code fences.",
                         "Instruction: " + a.str("instruction") + "\n\nCurrent content of " + path + ":\n" + before);
                     if (after.rfind("```", 0) == 0) {  // models fence code anyway
                       auto nl = after.find('\n');
                       auto end = after.rfind("```");
                       if (nl != std::string::npos && end > nl) after = after.substr(nl + 1, end - nl - 1);
                     }
                     c.workspace.write(path, after);
                     co_return ToolOutput{"rewrote " + path + ":\n" + c.workspace.diff_text(path, before, after)};
                   }));
  t.push_back(make("understand_file", "Ask a question about a file; an assistant reads it and answers.",
                   schema({{"path", "string", "file relative to the workspace", true}, {"question", "string", "what to look for", true}}),
                   [](Args& a, ToolContext& c) -> asio::awaitable<ToolOutput> {
                     auto r = c.workspace.read(a.str("path"));
                     std::string answer = co_await c.agent.ask("You read files for a researcher and answer concisely and factually.",
                                                               "Question: " + a.str("question") + "\n\nFile " + a.str("path") + ":\n" + r.text);
                     co_return ToolOutput{answer};
                   }));
  t.push_back(make("reflection", "Reflect on the research so far (uses the research log).",
                   schema({{"question", "string", "what to reflect on", true}}),
                   [](Args& a, ToolContext& c) -> asio::awaitable<ToolOutput> {
                     std::string log;
                     for (auto& e : c.agent.research_log()) log += "- " + e + "\n";
                     co_return ToolOutput{co_await c.agent.ask("You are a careful ML researcher. Reflect briefly and concretely.",
                                                               "Research log:\n" + log + "\nQuestion: " + a.str("question"))};
                   }));
  t.push_back(make("execute_script", "Run a script in the sandbox (no network) and show its output.",
                   schema({{"script", "string", "script relative to the workspace, e.g. train.py", true}}),
                   [](Args& a, ToolContext& c) -> asio::awaitable<ToolOutput> {
                     std::string script = a.str("script");
                     c.workspace.resolve(script, false);  // confined
                     std::string command = "python " + script;
                     bool approved = co_await c.agent.approve_execution(command);
                     if (!approved)
                       co_return ToolOutput{"The human did not approve running " + script + ". Revise the plan or ask with request_help.", true};
                     Task t = c.harness.task();
                     t.run = {"{python}", script};
                     TaskHarness h(t, c.harness.executor(), c.harness.state_dir());
                     auto ev = co_await h.run_and_evaluate(c.workspace.root(), &c.workspace, c.agent.output_observer());
                     if (!ev.run) co_return ToolOutput{ev.error, true};
                     std::string out = "The script " + ev.run->summary() + ". Output:\n" + ev.run->output_excerpt(6000);
                     if (ev.ok()) {
                       c.agent.record_score(*ev.score, ev.snapshot);
                       out += "\nEvaluation by the task's evaluator: " + score_line(c, *ev.score);
                     } else if (ev.run->ok()) {
                       out += "\nEvaluation failed: " + ev.error;
                     }
                     co_return ToolOutput{out, !ev.run->ok()};
                   }));
  t.push_back(make("request_help", "Ask the human researcher a question (when stuck or when a decision needs them).",
                   schema({{"question", "string", "the question, with the context needed to answer it", true}}),
                   [](Args& a, ToolContext& c) -> asio::awaitable<ToolOutput> {
                     std::string question = a.str("question");
                     std::string answer = co_await c.agent.request_help(question);
                     co_return ToolOutput{answer};
                   }));
  t.push_back(make("research_log_append", "Add a note to the research log (kept across the whole run).",
                   schema({{"entry", "string", "the note", true}}),
                   [](Args& a, ToolContext& c) -> asio::awaitable<ToolOutput> {
                     c.agent.log_append(a.str("entry"));
                     co_return ToolOutput{"noted"};
                   }));
  t.push_back(make("research_log_read", "Read the research log.", schema({}),
                   [](Args&, ToolContext& c) -> asio::awaitable<ToolOutput> {
                     std::string log;
                     for (auto& e : c.agent.research_log()) log += "- " + e + "\n";
                     co_return ToolOutput{log.empty() ? "(the log is empty)" : log};
                   }));
  t.push_back(make("final_answer", "Finish: summarise what you changed and what you measured.",
                   schema({{"summary", "string", "what was done and the measured result", true}}),
                   [](Args& a, ToolContext&) -> asio::awaitable<ToolOutput> { co_return ToolOutput{a.str("summary")}; }));
  return t;
}

}  // namespace detail
}  // namespace v1
}  // namespace mlrc
