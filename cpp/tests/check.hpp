// A tiny test harness: no external framework.
//
//   TEST(parses_comments) { CHECK(x == 1); CHECK_EQ(a, b); CHECK_THROWS(f(), std::runtime_error); }
//   int main(int argc, char** argv) { return check::run_all(argc, argv); }
//
// A failed CHECK records the failure, prints file:line and the expression (and
// both values for CHECK_EQ / CHECK_NEAR), and the test goes on. An exception
// escaping a test is a failure too. main returns nonzero when anything failed.
// argv[1], when given, runs only the tests whose name contains it.
#pragma once

#include <cmath>
#include <cstdio>
#include <cstring>
#include <exception>
#include <sstream>
#include <string>
#include <type_traits>
#include <utility>
#include <vector>

namespace check {

struct State {
  int failures = 0;
  int checks = 0;
  const char* current = "";
  std::vector<std::pair<const char*, void (*)()>> tests;
};

inline State& state() {
  static State s;
  return s;
}

struct Register {
  Register(const char* name, void (*fn)()) { state().tests.emplace_back(name, fn); }
};

inline void fail(const char* file, int line, const std::string& what) {
  ++state().failures;
  std::fprintf(stderr, "%s:%d: FAILED in %s: %s\n", file, line, state().current, what.c_str());
}

template <class T, class = void>
struct printable : std::false_type {};
template <class T>
struct printable<T, std::void_t<decltype(std::declval<std::ostream&>() << std::declval<const T&>())>> : std::true_type {};

template <class T>
std::string show(const T& v) {
  if constexpr (std::is_enum_v<T>) {
    return std::to_string(static_cast<long long>(v));
  } else if constexpr (printable<T>::value) {
    std::ostringstream os;
    os.precision(17);
    os << v;
    return os.str();
  } else {
    return "<value>";
  }
}

inline int run_all(int argc, char** argv) {
  const char* filter = argc > 1 ? argv[1] : nullptr;
  int ran = 0;
  for (const auto& [name, fn] : state().tests) {
    if (filter && !std::strstr(name, filter)) continue;
    state().current = name;
    const int before = state().failures;
    try {
      fn();
    } catch (const std::exception& e) {
      fail(__FILE__, __LINE__, std::string("uncaught exception: ") + e.what());
    } catch (...) {
      fail(__FILE__, __LINE__, "uncaught non-standard exception");
    }
    ++ran;
    std::fprintf(stderr, "[%s] %s\n", state().failures == before ? "  ok  " : "FAILED", name);
  }
  std::fprintf(stderr, "%d test(s), %d check(s), %d failure(s)\n", ran, state().checks, state().failures);
  if (ran == 0) return 2;  // a filter that matches nothing is a mistake
  return state().failures == 0 ? 0 : 1;
}

}  // namespace check

#define TEST(name)                                                  \
  static void name();                                               \
  static const ::check::Register name##_registration(#name, &name); \
  static void name()

#define CHECK(cond)                                                        \
  do {                                                                     \
    ++::check::state().checks;                                             \
    if (!(cond)) ::check::fail(__FILE__, __LINE__, "CHECK(" #cond ")");    \
  } while (0)

#define CHECK_EQ(a, b)                                                                            \
  do {                                                                                            \
    ++::check::state().checks;                                                                    \
    const auto& check_a_ = (a);                                                                   \
    const auto& check_b_ = (b);                                                                   \
    if (!(check_a_ == check_b_))                                                                  \
      ::check::fail(__FILE__, __LINE__,                                                           \
                    "CHECK_EQ(" #a ", " #b "): " + ::check::show(check_a_) + " != " + ::check::show(check_b_)); \
  } while (0)

#define CHECK_NEAR(a, b, eps)                                                                      \
  do {                                                                                             \
    ++::check::state().checks;                                                                     \
    const double check_a_ = (a), check_b_ = (b);                                                   \
    if (!(std::fabs(check_a_ - check_b_) <= (eps)))                                                \
      ::check::fail(__FILE__, __LINE__,                                                            \
                    "CHECK_NEAR(" #a ", " #b "): " + ::check::show(check_a_) + " vs " + ::check::show(check_b_)); \
  } while (0)

// Checks that `expr` throws `type`; the exception is available as `e` in `then`.
#define CHECK_THROWS_AS(expr, type, then)                                             \
  do {                                                                                \
    ++::check::state().checks;                                                        \
    bool check_threw_ = false;                                                        \
    try {                                                                             \
      (void)(expr);                                                                   \
    } catch (const type& e) {                                                         \
      check_threw_ = true;                                                            \
      then;                                                                           \
    } catch (const std::exception& other) {                                           \
      ::check::fail(__FILE__, __LINE__, "CHECK_THROWS(" #expr ", " #type "): threw " + \
                                            std::string(other.what()));               \
      check_threw_ = true;                                                            \
    }                                                                                 \
    if (!check_threw_) ::check::fail(__FILE__, __LINE__, "CHECK_THROWS(" #expr ", " #type "): did not throw"); \
  } while (0)

#define CHECK_THROWS(expr, type) CHECK_THROWS_AS(expr, type, (void)e)

#define CHECK_NOTHROW(expr)                                                                  \
  do {                                                                                       \
    ++::check::state().checks;                                                               \
    try {                                                                                    \
      (void)(expr);                                                                          \
    } catch (const std::exception& e) {                                                      \
      ::check::fail(__FILE__, __LINE__, "CHECK_NOTHROW(" #expr "): threw " + std::string(e.what())); \
    }                                                                                        \
  } while (0)
