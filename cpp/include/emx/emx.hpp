// emx: the embeddable C++ API in one include.
//
//   Problem p  = emx::parse_problem_file("task.bddl");
//   TaskPtr t  = emx::compile_task(p, kb);                 // immutable, shareable
//   Action  a  = emx::make_eai_action(*t, "RIGHT_GRASP", {"apple_0"});
//   Evaluation e = emx::evaluate(*t, plan, true, emx::reward_preset("default"));
#pragma once

#include "emx/actions.hpp"
#include "emx/backend.hpp"
#include "emx/bddl.hpp"
#include "emx/evaluate.hpp"
#include "emx/executor.hpp"
#include "emx/semantics.hpp"
#include "emx/geometry.hpp"
#include "emx/goal.hpp"
#include "emx/oracle.hpp"
#include "emx/reward.hpp"
#include "emx/scheduler.hpp"
#include "emx/task.hpp"
#include "emx/vocabulary.hpp"
#include "emx/world_state.hpp"
