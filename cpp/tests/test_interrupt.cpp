// Interrupting batch calls (emx/interrupt.hpp): an installed check that says
// stop makes evaluate_batch throw emx::Interrupted on one thread and on many;
// a check that never says stop changes nothing; without a check nothing is polled.
#include <atomic>
#include <chrono>
#include <thread>

#include "emx/interrupt.hpp"
#include "fixtures.hpp"

using namespace emx;
using fixtures::act;

namespace {

std::vector<PlanInput> many_plans(size_t n) {
  static TaskPtr t = fixtures::load("kitchen.bddl");
  std::vector<Action> plan = {act(*t, "OPEN", {"electric_refrigerator.n.01_1"}),
                              act(*t, "RIGHT_GRASP", {"apple.n.01_1"})};
  return std::vector<PlanInput>(n, PlanInput{t, plan, true});
}

}  // namespace

TEST(a_check_that_says_stop_interrupts_the_batch) {
  for (int threads : {1, 4}) {
    std::atomic<int> calls{0};
    ScopedInterruptCheck guard([&] { return ++calls >= 2; }, std::chrono::milliseconds(0));
    CHECK_THROWS(evaluate_batch(many_plans(20000), reward_preset("default"), threads), Interrupted);
    CHECK(calls.load() == 2);   // polled until it said stop, then never again
  }
}

TEST(a_check_that_never_stops_changes_nothing) {
  std::vector<PlanInput> in = many_plans(2000);
  std::vector<Evaluation> plain = evaluate_batch(in, reward_preset("default"), 4);
  std::atomic<int> calls{0};
  ScopedInterruptCheck guard([&] { ++calls; return false; }, std::chrono::milliseconds(0));
  std::vector<Evaluation> polled = evaluate_batch(in, reward_preset("default"), 4);
  CHECK(calls.load() > 0);
  CHECK_EQ(plain.size(), polled.size());
  for (size_t i = 0; i < in.size(); ++i) CHECK_EQ(plain[i].reward, polled[i].reward);
}

TEST(guards_nest_and_belong_to_their_thread) {
  std::atomic<int> outer{0}, inner{0};
  ScopedInterruptCheck a([&] { ++outer; return false; }, std::chrono::milliseconds(0));
  {
    ScopedInterruptCheck b([&] { ++inner; return true; }, std::chrono::milliseconds(0));
    CHECK_THROWS(evaluate_batch(many_plans(1000), reward_preset("default"), 1), Interrupted);
  }
  CHECK(inner.load() == 1);
  evaluate_batch(many_plans(1000), reward_preset("default"), 1);   // the outer one again: no throw
  CHECK(outer.load() > 0);
  // Another thread has no check installed: its batch runs to the end.
  bool thrown = false;
  std::thread other([&] {
    try {
      evaluate_batch(many_plans(1000), reward_preset("default"), 1);
    } catch (const Interrupted&) {
      thrown = true;
    }
  });
  other.join();
  CHECK(!thrown);
}

int main(int argc, char** argv) { return check::run_all(argc, argv); }
