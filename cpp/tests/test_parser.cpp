// BDDL reader: S-expressions, comments, lower-casing, goal splitting, and
// errors that name file:line:col.
#include <string>

#include "fixtures.hpp"

using namespace emx;
using fixtures::data;

namespace {

const char* kSmall =
    "(define (problem Put_The_Apple_Away-0)\n"   // 1
    "  (:domain omnigibson)\n"                   // 2
    "  (:objects\n"                              // 3
    "    apple.n.01_1 Apple.N.01_2 - apple.n.01\n"  // 4
    "    bowl.n.01_1 - BOWL.n.01\n"              // 5
    "    loose_1 loose_2)\n"                     // 6  untyped -> "object"
    "  (:init (ontop apple.n.01_1 bowl.n.01_1) ; a comment (with parens\n"  // 7
    "         (NOT (Open bowl.n.01_1)))\n"       // 8
    "  (:goal (and (inside ?apple.n.01_1 ?bowl.n.01_1)\n"  // 9
    "              (not (open ?bowl.n.01_1)))))\n";        // 10

Problem parse(const std::string& text) { return parse_problem(text, "t.bddl"); }

}  // namespace

TEST(read_sexpr_builds_a_tree_with_locations) {
  SExpr e = read_sexpr("(a (B c)\n  dE)", "f");
  CHECK(e.is_list);
  CHECK_EQ(e.children.size(), 3u);
  CHECK(e.children[0].is_atom("a"));
  CHECK(e.children[1].is_list);
  CHECK(e.children[1].children[0].is_atom("b"));  // lower-cased
  CHECK_EQ(e.children[2].atom, std::string("de"));
  CHECK_EQ(e.children[2].line, 2);
  CHECK_EQ(e.children[2].column, 3);
  CHECK_EQ(e.children[1].line, 1);
  CHECK_EQ(e.children[1].column, 4);
  CHECK_EQ(to_string(e), std::string("(a (b c) de)"));
}

TEST(comments_are_skipped_everywhere) {
  SExpr e = read_sexpr("; leading (comment\n(a ; inside ) a list\n b);trailing with no newline", "f");
  CHECK_EQ(to_string(e), std::string("(a b)"));
  CHECK_EQ(e.children[1].line, 3);
  CHECK_EQ(e.children[1].column, 2);
  // a ';' ends a token
  CHECK_EQ(to_string(read_sexpr("(ab;c\n d)", "f")), std::string("(ab d)"));
}

TEST(crlf_and_tabs_count_as_whitespace) {
  SExpr e = read_sexpr("(a\r\n\tb)", "f");
  CHECK_EQ(to_string(e), std::string("(a b)"));
  CHECK_EQ(e.children[1].line, 2);
  CHECK_EQ(e.children[1].column, 2);  // the tab is one column
}

TEST(problem_sections) {
  Problem p = parse(kSmall);
  CHECK_EQ(p.name, std::string("Put_The_Apple_Away-0"));  // the name keeps its spelling
  CHECK_EQ(p.domain, std::string("omnigibson"));
  CHECK_EQ(p.filename, std::string("t.bddl"));
  CHECK_EQ(p.objects.size(), 5u);
  CHECK_EQ(p.objects[1].name, std::string("apple.n.01_2"));  // everything else is lower-cased
  CHECK_EQ(p.objects[1].type, std::string("apple.n.01"));
  CHECK_EQ(p.objects[1].line, 4);
  CHECK_EQ(p.objects[1].column, 18);
  CHECK_EQ(p.objects[2].type, std::string("bowl.n.01"));
  CHECK_EQ(p.objects[3].name, std::string("loose_1"));
  CHECK_EQ(p.objects[3].type, std::string("object"));  // untyped, as in bddl.parsing
  CHECK_EQ(p.init.size(), 2u);
  CHECK_EQ(to_string(p.init[0]), std::string("(ontop apple.n.01_1 bowl.n.01_1)"));
  CHECK_EQ(to_string(p.init[1]), std::string("(not (open bowl.n.01_1))"));
  CHECK_EQ(p.init[1].line, 8);
  CHECK_EQ(p.init[1].column, 10);
  CHECK(p.warnings.empty());
}

TEST(goal_and_is_split_into_conditions) {
  Problem p = parse(kSmall);
  CHECK_EQ(p.goal.size(), 2u);
  CHECK_EQ(to_string(p.goal[0]), std::string("(inside ?apple.n.01_1 ?bowl.n.01_1)"));
  CHECK_EQ(to_string(p.goal[1]), std::string("(not (open ?bowl.n.01_1))"));
  CHECK_EQ(p.goal[1].line, 10);
  CHECK_EQ(p.goal[1].column, 15);
}

TEST(goal_without_and_is_one_condition) {
  Problem p = parse("(define (problem p) (:objects a - t) (:init) (:goal (or (open a) (and (open a)))))");
  CHECK_EQ(p.goal.size(), 1u);
  CHECK_EQ(to_string(p.goal[0]), std::string("(or (open a) (and (open a)))"));
  // only the top-level and is split
  Problem q = parse("(define (problem p) (:objects a - t) (:init) (:goal (and (and (open a)) (open a))))");
  CHECK_EQ(q.goal.size(), 2u);
  CHECK_EQ(to_string(q.goal[0]), std::string("(and (open a))"));
}

TEST(two_goal_formulas_are_a_conjunction_with_a_warning) {
  Problem p = parse("(define (problem p) (:objects a - t) (:init)\n (:goal (and (open a) (cooked a)) (not (hot a))))");
  CHECK_EQ(p.goal.size(), 3u);
  CHECK_EQ(to_string(p.goal[2]), std::string("(not (hot a))"));
  CHECK_EQ(p.warnings.size(), 1u);
  if (!p.warnings.empty())
    CHECK_EQ(p.warnings[0], std::string("t.bddl:2:2: :goal holds 2 formulas; read as their conjunction"));
}

TEST(stray_tokens_are_ignored_with_a_warning) {
  Problem p = parse("(define (problem p) (:objects a - t)\n  \\ (:init) (:goal (open a)))");
  CHECK_EQ(p.warnings.size(), 1u);
  if (!p.warnings.empty()) CHECK_EQ(p.warnings[0], std::string("t.bddl:2:3: ignored stray token '\\'"));
  CHECK_EQ(p.goal.size(), 1u);
}

TEST(requirements_are_accepted) {
  Problem p = parse("(define (problem p) (:requirements :strips) (:objects a - t) (:init) (:goal (open a)))");
  CHECK_EQ(p.objects.size(), 1u);
}

TEST(parse_file) {
  Problem p = parse_problem_file(data("kitchen.bddl"));
  CHECK_EQ(p.name, std::string("Stow_The_Apple-0"));
  CHECK_EQ(p.filename, data("kitchen.bddl"));
  CHECK_EQ(p.objects.size(), 14u);
  CHECK_EQ(p.objects[2].name, std::string("electric_refrigerator.n.01_1"));
  CHECK_EQ(p.goal.size(), 3u);
  CHECK_EQ(to_string(p.init.back()), std::string("(ontop agent.n.01_1 floor.n.01_1)"));
}

TEST(parse_file_that_does_not_exist) {
  const std::string path = data("no_such_file.bddl");
  CHECK_THROWS_AS(parse_problem_file(path), ParseError, {
    CHECK_EQ(e.where().file, path);
    CHECK(std::string(e.what()).rfind(path + ":", 0) == 0);
  });
}

// ---------------------------------------------------------------------------- errors

TEST(error_unbalanced_parentheses) {
  EXPECT_PARSE_ERROR([] { parse("(define (problem p)\n  (:objects a - t)"); }, 1, 1, "'(' is never closed");
  EXPECT_PARSE_ERROR([] { parse("(define (problem p)\n  (:objects a - t) (:init (open a"); }, 2, 27,
                     "'(' is never closed");  // the innermost open list at the end
  EXPECT_PARSE_ERROR([] { parse("(define (problem p) (:objects a - t) (:init) (:goal (open a)))\n )"); }, 2, 2,
                     "extra ')'");
  EXPECT_PARSE_ERROR([] { parse("  )(define)"); }, 1, 3, "unexpected ')'");
}

TEST(error_empty_input) {
  EXPECT_PARSE_ERROR([] { parse(""); }, 1, 1, "empty input");
  EXPECT_PARSE_ERROR([] { parse("; nothing but a comment\n\n"); }, 1, 1, "empty input");
}

TEST(error_structure) {
  EXPECT_PARSE_ERROR([] { parse("(problem p)"); }, 1, 1, "expected '(define (problem NAME) ...)'");
  EXPECT_PARSE_ERROR([] { parse("(define (problem p) (:objects a - t) (:init) (:goal (open a)) (:extra))"); }, 1, 63,
                     "unknown section ':extra'");
  EXPECT_PARSE_ERROR([] { parse("(define (problem p) (:init) (:goal (open a)))"); }, 1, 1,
                     "missing (:objects ...) section");
  EXPECT_PARSE_ERROR([] { parse("(define (problem p) (:objects a - t) (:goal (open a)))"); }, 1, 1,
                     "missing (:init ...) section");
  EXPECT_PARSE_ERROR([] { parse("(define (problem p) (:objects a - t) (:init))"); }, 1, 1,
                     "missing (:goal ...) section");
  EXPECT_PARSE_ERROR([] { parse("(define (problem p) (:objects a - t) (:init)\n  (:goal))"); }, 2, 3,
                     "expected a formula in (:goal ...)");
  EXPECT_PARSE_ERROR([] { parse("(define (problem p) (:objects a - t) (:init x) (:goal (open a)))"); }, 1, 45,
                     "expected a literal");
}

TEST(error_objects) {
  EXPECT_PARSE_ERROR([] { parse("(define (problem p)\n (:objects a -) (:init) (:goal (open a)))"); }, 2, 14,
                     "expected a type after '-'");
  EXPECT_PARSE_ERROR([] { parse("(define (problem p)\n (:objects - t) (:init) (:goal (open a)))"); }, 2, 12,
                     "'-' with no object names before it");
  EXPECT_PARSE_ERROR([] { parse("(define (problem p)\n (:objects a (b) - t) (:init) (:goal (open a)))"); }, 2, 14,
                     "unexpected '(' in :objects");
}

TEST(error_nesting_depth) {
  // Levels: (define 1, (:goal 2, then the nots; the limit is 256 levels.
  auto goal = [](int nots) {
    std::string g;
    for (int i = 0; i < nots; ++i) g += "(not ";
    g += "(open a)";
    for (int i = 0; i < nots; ++i) g += ")";
    return "(define (problem p) (:objects a - t) (:init)\n(:goal " + g + "))";
  };
  CHECK_NOTHROW(parse(goal(253)));  // (open a) at level 256
  // (open a) at level 257: line 2, after "(:goal " (7 chars) and 254 "(not "s
  EXPECT_PARSE_ERROR([&] { parse(goal(254)); }, 2, 8 + 5 * 254, "nested too deeply");
  EXPECT_PARSE_ERROR([&] { parse(goal(300)); }, 2, 8 + 5 * 254, "nested too deeply");
  EXPECT_PARSE_ERROR([] { parse(std::string(100000, '(')); }, 1, 257, "nested too deeply");
}

TEST(parse_error_text_and_parts_agree) {
  try {
    parse_problem("(define", "dir/my file.bddl");
    CHECK(false);
  } catch (const ParseError& e) {
    CHECK_EQ(e.where().str(), std::string("dir/my file.bddl:1:1"));
    CHECK_EQ(std::string(e.what()), e.where().str() + ": " + e.message());
  }
}

int main(int argc, char** argv) { return check::run_all(argc, argv); }
