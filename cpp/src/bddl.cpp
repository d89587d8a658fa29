// BDDL reader. Mirrors bddl.parsing.scan_tokens/parse_problem (comments, lower-
// casing, top-level (and ...) of :goal split into conditions) but keeps
// line/column on every node so errors point at the text.
#include "emx/bddl.hpp"

#include <cctype>
#include <fstream>
#include <sstream>

namespace emx {

std::string SourceLocation::str() const {
  return file + ":" + std::to_string(line) + ":" + std::to_string(column);
}

ParseError::ParseError(SourceLocation where, const std::string& message)
    : std::runtime_error(where.str() + ": " + message), where_(std::move(where)), message_(message) {}

namespace {

// Deep nesting is legal BDDL but a hostile file could blow the stack of the
// recursive consumers (compiler, printer); real activities nest < 15 levels.
constexpr int kMaxDepth = 256;
// Warnings are for people: a hostile file must not turn them into gigabytes.
constexpr size_t kMaxWarnings = 100;

struct Reader {
  std::string_view text;
  const std::string& file;
  size_t pos = 0;
  int32_t line = 1, column = 1;

  [[noreturn]] void fail(int32_t l, int32_t c, const std::string& msg) const {
    throw ParseError({file, l, c}, msg);
  }

  void advance() {
    if (text[pos] == '\n') { ++line; column = 1; } else { ++column; }
    ++pos;
  }

  void skip_space_and_comments() {
    while (pos < text.size()) {
      char ch = text[pos];
      if (ch == ';') {
        while (pos < text.size() && text[pos] != '\n') advance();
      } else if (std::isspace(static_cast<unsigned char>(ch))) {
        advance();
      } else {
        return;
      }
    }
  }

  SExpr read(int depth) {
    skip_space_and_comments();
    if (pos >= text.size()) fail(line, column, "unexpected end of input (missing ')')");
    SExpr node;
    node.line = line;
    node.column = column;
    char ch = text[pos];
    if (ch == ')') fail(line, column, "unexpected ')' (missing '(')");
    if (ch == '(') {
      if (depth >= kMaxDepth) fail(line, column, "expression nested too deeply");
      node.is_list = true;
      advance();
      for (;;) {
        skip_space_and_comments();
        if (pos >= text.size())
          fail(node.line, node.column, "unbalanced parentheses: '(' is never closed");
        if (text[pos] == ')') { advance(); break; }
        node.children.push_back(read(depth + 1));
      }
      return node;
    }
    size_t start = pos;
    while (pos < text.size()) {
      char c = text[pos];
      if (c == '(' || c == ')' || c == ';' || std::isspace(static_cast<unsigned char>(c))) break;
      advance();
    }
    node.atom.reserve(pos - start);
    for (size_t i = start; i < pos; ++i)
      node.atom.push_back(static_cast<char>(std::tolower(static_cast<unsigned char>(text[i]))));
    return node;
  }
};

[[noreturn]] void fail_at(const std::string& file, const SExpr& e, const std::string& msg) {
  throw ParseError({file, e.line, e.column}, msg);
}

std::string raw_problem_name(std::string_view text, const SExpr& name_node) {
  // Names are lower-cased like every token, but EmboMatrix-style problem names
  // are whole command sentences: keep the original spelling for people.
  int32_t line = 1, col = 1;
  for (size_t i = 0; i < text.size(); ++i) {
    if (line == name_node.line && col == name_node.column) {
      size_t j = i;
      while (j < text.size() && text[j] != ')' && text[j] != '(' && !std::isspace(static_cast<unsigned char>(text[j]))) ++j;
      return std::string(text.substr(i, j - i));
    }
    if (text[i] == '\n') { ++line; col = 1; } else { ++col; }
  }
  return name_node.atom;
}

}  // namespace

SExpr read_sexpr(std::string_view text, const std::string& filename) {
  Reader r{text, filename};
  r.skip_space_and_comments();
  if (r.pos >= text.size()) r.fail(1, 1, "empty input: expected '(define ...)'");
  SExpr root = r.read(0);
  r.skip_space_and_comments();
  if (r.pos < text.size()) {
    if (text[r.pos] == ')') r.fail(r.line, r.column, "unbalanced parentheses: extra ')'");
    r.fail(r.line, r.column, "unexpected text after the end of the expression");
  }
  return root;
}

Problem parse_problem(std::string_view text, const std::string& filename) {
  SExpr root = read_sexpr(text, filename);
  if (!root.is_list || root.children.empty() || !root.children[0].is_atom("define"))
    fail_at(filename, root, "expected '(define (problem NAME) ...)'");
  Problem p;
  p.filename = filename;
  for (size_t i = 0; i < text.size();) {
    size_t j = text.find('\n', i);
    if (j == std::string_view::npos) j = text.size();
    std::string_view line = text.substr(i, j - i);
    i = j + 1;
    while (!line.empty() && (line.front() == ' ' || line.front() == '\t')) line.remove_prefix(1);
    while (!line.empty() && (line.back() == '\r' || line.back() == ' ')) line.remove_suffix(1);
    constexpr std::string_view kTag = ";@emx ";
    if (line.substr(0, kTag.size()) != kTag || p.pragmas.size() >= 100000) continue;
    line.remove_prefix(kTag.size());
    size_t sp = line.find(' ');
    p.pragmas.emplace_back(std::string(line.substr(0, sp)), sp == std::string_view::npos ? std::string() : std::string(line.substr(sp + 1)));
  }
  bool have_objects = false, have_init = false, have_goal = false;
  for (size_t i = 1; i < root.children.size(); ++i) {
    const SExpr& group = root.children[i];
    if (!group.is_list) {
      // bddl.parsing prints "... is not recognized" and goes on (one shipped
      // activity has a stray '\\' between sections); so do we, but say where.
      if (p.warnings.size() < kMaxWarnings)
        p.warnings.push_back(SourceLocation{filename, group.line, group.column}.str() + ": ignored stray token '" + group.atom + "'");
      continue;
    }
    if (group.children.empty() || group.children[0].is_list)
      fail_at(filename, group, "expected a section such as (:objects ...), (:init ...) or (:goal ...)");
    const std::string& head = group.children[0].atom;
    if (head == "problem") {
      if (group.children.size() != 2 || group.children[1].is_list)
        fail_at(filename, group, "expected (problem NAME)");
      p.name = raw_problem_name(text, group.children[1]);
    } else if (head == ":domain") {
      if (group.children.size() != 2 || group.children[1].is_list)
        fail_at(filename, group, "expected (:domain NAME)");
      p.domain = group.children[1].atom;
    } else if (head == ":requirements") {
      // accepted and ignored, as the bddl package does
    } else if (head == ":objects") {
      have_objects = true;
      std::vector<const SExpr*> pending;
      for (size_t k = 1; k < group.children.size(); ++k) {
        const SExpr& t = group.children[k];
        if (t.is_list) fail_at(filename, t, "unexpected '(' in :objects (expected 'name ... - type')");
        if (t.atom == "-") {
          if (k + 1 >= group.children.size() || group.children[k + 1].is_list)
            fail_at(filename, t, "expected a type after '-' in :objects");
          if (pending.empty()) fail_at(filename, t, "'-' with no object names before it");
          const std::string& type = group.children[++k].atom;
          for (const SExpr* o : pending) p.objects.push_back({o->atom, type, o->line, o->column});
          pending.clear();
        } else {
          pending.push_back(&t);
        }
      }
      // Untyped trailing names get type "object", as in bddl.parsing.
      for (const SExpr* o : pending) p.objects.push_back({o->atom, "object", o->line, o->column});
    } else if (head == ":init") {
      have_init = true;
      for (size_t k = 1; k < group.children.size(); ++k) {
        if (!group.children[k].is_list) fail_at(filename, group.children[k], "expected a literal '(pred args...)' in :init");
        p.init.push_back(group.children[k]);
      }
    } else if (head == ":goal") {
      have_goal = true;
      if (group.children.size() < 2) fail_at(filename, group, "expected a formula in (:goal ...)");
      if (group.children.size() > 2)
        // The bddl package silently keeps only the first formula; we keep all
        // of them as one conjunction, which is what the author meant.
        p.warnings.push_back(SourceLocation{filename, group.line, group.column}.str() + ": :goal holds " +
                             std::to_string(group.children.size() - 1) + " formulas; read as their conjunction");
      for (size_t f = 1; f < group.children.size(); ++f) {
        const SExpr& g = group.children[f];
        if (!g.is_list) fail_at(filename, g, "expected a formula '(...)' in :goal, got '" + g.atom + "'");
        if (!g.children.empty() && g.children[0].is_atom("and")) {
          for (size_t k = 1; k < g.children.size(); ++k) p.goal.push_back(g.children[k]);
        } else {
          p.goal.push_back(g);
        }
      }
    } else {
      fail_at(filename, group, "unknown section '" + head + "'");
    }
  }
  if (!have_objects) fail_at(filename, root, "missing (:objects ...) section");
  if (!have_init) fail_at(filename, root, "missing (:init ...) section");
  if (!have_goal) fail_at(filename, root, "missing (:goal ...) section");
  return p;
}

Problem parse_problem_file(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) throw ParseError({path, 0, 0}, "cannot read file");
  std::ostringstream ss;
  ss << in.rdbuf();
  return parse_problem(ss.str(), path);
}

std::string to_string(const SExpr& e) {
  if (!e.is_list) return e.atom;
  std::string out = "(";
  for (size_t i = 0; i < e.children.size(); ++i) {
    if (i) out += ' ';
    out += to_string(e.children[i]);
  }
  return out + ")";
}

}  // namespace emx
