// BDDL problem parsing: text -> S-expression tree -> Problem (objects, :init, :goal).
//
// The parser follows the bddl package's own reader (bddl.parsing.scan_tokens /
// parse_problem): ';' comments, case-insensitive tokens (everything is
// lower-cased), the top-level (and ...) of :goal split into a list of
// conditions. Unlike that reader, every node remembers where it came from, so
// errors name file:line:column.
#pragma once

#include <cstdint>
#include <stdexcept>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace emx {

/// Where a token or node starts in its source text (1-based).
struct SourceLocation {
  std::string file;  // "<string>" when parsed from memory
  int32_t line = 0;
  int32_t column = 0;
  std::string str() const;  // "file:line:col"
};

/// Every user-facing error from parsing or compiling BDDL. what() starts with
/// "file:line:col: ".
class ParseError : public std::runtime_error {
 public:
  ParseError(SourceLocation where, const std::string& message);
  const SourceLocation& where() const { return where_; }
  const std::string& message() const { return message_; }

 private:
  SourceLocation where_;
  std::string message_;
};

/// A node of an S-expression: an atom (token) or a list of nodes.
struct SExpr {
  bool is_list = false;
  std::string atom;             // lower-cased token when !is_list
  std::vector<SExpr> children;  // when is_list
  int32_t line = 0, column = 0;

  bool is_atom(std::string_view s) const { return !is_list && atom == s; }
};

/// Reads exactly one top-level S-expression. Throws ParseError on unbalanced
/// parentheses, empty input or trailing tokens.
SExpr read_sexpr(std::string_view text, const std::string& filename = "<string>");

/// A BDDL problem as written: nothing resolved yet.
struct Problem {
  std::string name;         // as written (case kept): EmboMatrix-style names are sentences
  std::string domain;
  std::string filename;
  /// Declared objects in declaration order, with their type (a synset such as
  /// "apple.n.01").
  struct Object {
    std::string name;
    std::string type;
    int32_t line = 0, column = 0;
  };
  std::vector<Object> objects;
  std::vector<SExpr> init;   // one literal per entry: (pred a [b]) or (not (pred a [b]))
  std::vector<SExpr> goal;   // top-level conditions (the (and ...) around them removed)
  /// Oddities the bddl package tolerates and so do we (a stray token between
  /// sections, an object declared twice, two formulas in :goal), each with
  /// file:line:col.
  std::vector<std::string> warnings;
  /// emx directives written as comments, so any BDDL reader ignores them:
  /// ";@emx KEY VALUE" lines (e.g. ";@emx semantics eai", ";@emx volume apple_0 0.0003").
  /// They carry a task's semantics profile and object volumes to rollout workers
  /// together with the BDDL text.
  std::vector<std::pair<std::string, std::string>> pragmas;
};

/// Parses a BDDL problem file's text. Checks structure only (balanced parens,
/// sections present, object declarations well formed); predicate names,
/// arities and object references are checked by compile_task, which knows the
/// predicate vocabulary.
Problem parse_problem(std::string_view text, const std::string& filename = "<string>");

/// Reads a file and parses it. Throws ParseError naming the file if it cannot be read.
Problem parse_problem_file(const std::string& path);

/// Prints an S-expression back in BDDL syntax (used by tests and by the data engine).
std::string to_string(const SExpr& e);

}  // namespace emx
