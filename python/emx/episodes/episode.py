"""A closed-loop episode: the policy acts (one action, a few actions, or one sub-task), emx
executes it, and answers with what happened ("failed (missing_step): fridge_97 is closed") and
what changed, until the goal holds, the policy says it is done, or the turn budget is spent.

The conversation is kept as chat messages, so any chat policy can take part; the episode is
scored with the same reward presets as a whole plan (see ``EpisodeScore`` for how the components
are counted over turns). Symbolic episodes step the C++ executor on a copy of the initial state;
physics episodes step a SAPIEN ``PhysicsWorld`` (restored to its settled initial snapshot).
"""

from __future__ import annotations

import json
import re
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from .. import _core
from ..evaluation import Result, Step, to_actions
from ..observations import check_kinds, observe
from ..plans import parse_plan
from ..policy.answers import split_thinking
from ..task import Task
from .prompts import closed_loop_prompt, feedback_text

UNITS = ("action", "subtask")
# "DONE" as an action name, or an answer that is just the word: the policy ends the episode
_DONE_RE = re.compile(r"^\W*done\W*$", re.IGNORECASE)
_DONE_ITEM = re.compile(r"""\{\s*["']action["']\s*:\s*["']done["'][^{}]*\}\s*,?""", re.IGNORECASE)
_TRAILING_COMMA = re.compile(r",\s*\]")
_ACTION_KEY = re.compile(r"""["']action["']""")


@dataclass(frozen=True)
class Turn:
    """What one policy turn did."""

    text: str                       # the policy's raw answer
    feedback: str                   # what emx answered (the next user message)
    parsed: bool                    # the answer parsed (or was DONE)
    steps: tuple[Step, ...]         # the actions run this turn, the failing one last
    goal_fraction: float            # after the turn
    success: bool
    done: bool
    end_reason: str = ""            # "success" | "policy_done" | "turn_budget" | ""
    subgoal_holds: bool | None = None   # subtask unit: whether the named sub-goal holds afterwards


@dataclass
class EpisodeScore:
    """Reward components of a whole episode, counted over turns:

    * format_ok: at least one action was attempted (as an empty plan, an episode with no action
      is a format failure); unparseable turns count as failed steps in executability
    * executability: actions that ran ÷ (actions attempted + unparseable turns)
    * goal_fraction, success: of the final state
    * plan_length: actions attempted; objects_named / relevant_named: over every action
    """

    format_ok: bool
    executability: float
    goal_fraction: float
    success: bool
    plan_length: int
    objects_named: int
    relevant_named: int
    goal_objects: int
    turns: int

    def reward(self, config: _core.RewardConfig) -> float:
        return _core.compute_reward(config, self.format_ok, self.executability, self.goal_fraction, self.success,
                                    self.plan_length, self.objects_named, self.relevant_named, self.goal_objects)


@dataclass
class ClosedLoopEpisode:
    task: Task
    mode: str = "symbolic"
    unit: str = "action"
    max_turns: int = 30
    prompt_format: str = "eai"
    observations: Sequence[str] = ("text",)
    world: Any = None                                  # physics: a PhysicsWorld (default: the thread's cached one)
    messages: list[dict[str, Any]] = field(default_factory=list, init=False)
    turns: list[Turn] = field(default_factory=list, init=False)

    def __post_init__(self) -> None:
        if self.unit not in UNITS:
            raise ValueError(f"unknown episode unit {self.unit!r} (expected one of {', '.join(UNITS)})")
        if self.mode not in ("symbolic", "physics"):
            raise ValueError(f"unknown mode {self.mode!r} (expected 'symbolic' or 'physics')")
        if self.max_turns < 1:
            raise ValueError(f"max_turns must be at least 1, got {self.max_turns}")
        self.observations = check_kinds(self.observations)
        self.reset()

    # ------------------------------------------------------------------ state
    def reset(self) -> list[dict[str, Any]]:
        """Back to the initial state; returns the conversation's first message(s)."""
        if self.mode == "physics":
            if self.world is None:
                from ..sim.evaluate import world_for

                self.world = world_for(self.task)
            else:
                self.world.reset()
        self.state = self.task.core.initial_state.copy() if self.mode == "symbolic" else None
        self._run: list = []          # symbolic: the actions run so far (the wrong-order rule replays them)
        self.turns = []
        self.done = False
        self.end_reason = ""
        self._attempted = 0
        self._executed = 0
        self._unparsed = 0
        self._named: set[int] = set()
        self._steps: list[Step] = []
        self._first_error = "none"
        intro = closed_loop_prompt(self.task, self.prompt_format, self.unit)
        self.messages = [{"role": "user", "content": self._content(intro, first=True)}]
        return list(self.messages)

    def current_state(self):
        return self.world.shadow if self.mode == "physics" else self.state

    def _content(self, text: str, first: bool = False) -> Any:
        kinds = [k for k in self.observations if k != "text"]
        if not kinds:
            return text
        obs = observe(self.task, kinds, state=self.current_state(), world=self.world)
        return [p for p in obs.parts() if p["type"] == "image"] + [{"type": "text", "text": text}]

    def _facts(self) -> set:
        return set(self.task.core.true_atoms(self.current_state()))

    def _apply(self, action) -> tuple[bool, str, str]:
        if self.mode == "physics":
            out = self.world.step(action)
            return out.ok, out.error, out.message
        # the executor's step with its wrong-order rule, as emx.evaluate runs a plan
        ok, error, message = self.task.core.step(self.state, self.task.core.initial_state, self._run, action)
        if ok:
            self._run.append(action)
        return bool(ok), error, message

    # ------------------------------------------------------------------ one turn
    def step(self, text: Any) -> Turn:
        """Executes the policy's answer ``text`` and appends both turns to the conversation."""
        if self.done:
            raise RuntimeError("the episode is over; call reset() to start again")
        text = text if isinstance(text, str) else ("" if text is None else str(text))
        self.messages.append({"role": "assistant", "content": text})
        # the facts that changed are only reported outside the compact format: read them only then
        facts = self._facts if self.prompt_format != "compact" else (lambda: set())
        before = facts()
        _, answer, _ = split_thinking(text)
        steps: list[Step] = []
        parsed, said_done, subgoal, subgoal_holds, problem = True, False, None, None, ""
        if self.unit == "subtask":
            from ..hierarchy.next_subtask import parse_next_subtask

            nxt = parse_next_subtask(answer)
            said_done = bool(nxt.done)
            if nxt.error and not said_done:
                parsed, problem = False, nxt.error
            plan = nxt.actions
            subgoal = nxt.subgoal
            if parsed and not said_done and (plan is None or not plan.ok or not plan.actions):
                parsed, problem = False, (plan.error if plan is not None and plan.error else "no actions for the sub-task")
        else:
            # {"action": "DONE"} (alone or after the last actions) or the bare word ends the episode
            cleaned, n_done = _DONE_ITEM.subn("", answer)
            said_done = n_done > 0 or bool(_DONE_RE.match(answer[:256]))
            cleaned = _TRAILING_COMMA.sub("]", cleaned)
            plan = None
            if not said_done or _ACTION_KEY.search(cleaned):
                plan = parse_plan(cleaned)
                if not plan.ok or not plan.actions:
                    parsed, problem = False, plan.error or "no action in the answer"
        if parsed and plan is not None and plan.ok:
            for action in to_actions(self.task, plan):
                self._attempted += 1
                self._named.update(int(i) for i in action.objects if 0 <= int(i) < self.task.core.num_objects)
                ok, error, message = self._apply(action)
                name = self.task.core.describe(action) if action.name else (action.detail or "invalid action")
                step = Step(name, ok, error, message)
                steps.append(step)
                self._steps.append(step)
                if not ok:
                    if self._first_error == "none":
                        self._first_error = error
                    break
                self._executed += 1
        elif not parsed:
            self._unparsed += 1
            if self._first_error == "none":
                self._first_error = "format"
        if subgoal and parsed:
            subgoal_holds = self._subgoal_holds(subgoal)
        success, fraction, _ = self.task.core.check(self.current_state())
        end = ""
        if success:
            end = "success"
        elif said_done:
            end = "policy_done"
        elif len(self.turns) + 1 >= self.max_turns:
            end = "turn_budget"
        after = facts()
        feedback = feedback_text(self.task, steps, parsed, problem, before, after, self.prompt_format,
                                 subgoal=subgoal, subgoal_holds=subgoal_holds, done=bool(end))
        turn = Turn(text, feedback, parsed or said_done, tuple(steps), float(fraction), bool(success), bool(end),
                    end, subgoal_holds)
        self.turns.append(turn)
        if end:
            self.done, self.end_reason = True, end
        else:
            self.messages.append({"role": "user", "content": self._content(feedback)})
        return turn

    def _subgoal_holds(self, literal: str) -> bool | None:
        from ..hierarchy.subgoals import compile_subgoal

        sg = compile_subgoal(self.task, literal)
        holds = getattr(sg, "holds", None)
        return bool(holds(self.current_state())) if callable(holds) else None

    # ------------------------------------------------------------------ scoring
    def score(self) -> EpisodeScore:
        success, fraction, _ = self.task.core.check(self.current_state())
        goal_objs = set(self.task.core.goal_objects)
        denominator = self._attempted + self._unparsed
        return EpisodeScore(
            format_ok=self._attempted > 0,
            executability=self._executed / denominator if denominator else 0.0,
            goal_fraction=float(fraction), success=bool(success), plan_length=self._attempted,
            objects_named=len(self._named), relevant_named=len(self._named & goal_objs),
            goal_objects=len(goal_objs), turns=len(self.turns))

    def turn_rewards(self, config: _core.RewardConfig, failure_penalty: float = 0.1) -> list[float]:
        """Per-turn credit: the goal-fraction gained by each turn, minus ``failure_penalty`` for a
        turn that failed or did not parse; the episode's reward is added to the last turn."""
        out, prev = [], float(self.task.core.check(self.task.core.initial_state)[1])
        for t in self.turns:
            failed = (not t.parsed) or any(not s.ok for s in t.steps)
            out.append(t.goal_fraction - prev - (failure_penalty if failed else 0.0))
            prev = t.goal_fraction
        if out:
            out[-1] += self.score().reward(config)
        return out

    def result(self, reward: str | _core.RewardConfig = "default") -> Result:
        """The episode as an ``emx.Result`` (what ``emx eval`` aggregates)."""
        config = reward if isinstance(reward, _core.RewardConfig) else _core.reward_preset(reward)
        s = self.score()
        _, _, truth = self.task.core.check(self.current_state())
        return Result(
            task_id=self.task.id, reward=s.reward(config), format_ok=s.format_ok,
            format_error=None if s.format_ok else "no action in any turn",
            executability=s.executability, goal_fraction=s.goal_fraction, success=s.success,
            plan_length=s.plan_length, executed=self._executed, objects_named=s.objects_named,
            relevant_named=s.relevant_named,
            first_error=self._first_error,
            trace=tuple(self._steps), condition_truth=tuple(truth))

    def transcript(self) -> list[dict[str, Any]]:
        """The conversation with images left out (for logs and JSON)."""
        out = []
        for m in self.messages:
            c = m["content"]
            if not isinstance(c, str):
                c = "".join(p["text"] if p["type"] == "text" else "<image>" for p in c)
            out.append({"role": m["role"], "content": c})
        return out


def plan_turns(plan: Any) -> list[str]:
    """A whole plan (EAI dicts, or text that parses) as one answer per turn, then DONE: how fixed
    plans (oracle, plans file) take part in closed-loop episodes."""
    parsed = parse_plan(plan) if not isinstance(plan, list) else None
    if parsed is not None and (not parsed.ok or parsed.format == "native"):
        # unparseable text is replayed as is (one failed turn); native plans go as one turn
        return [plan if isinstance(plan, str) else json.dumps(plan)]
    actions = plan if isinstance(plan, list) else [{"action": a.name, "object": ",".join(a.args)} for a in parsed.actions]
    return [json.dumps([a]) for a in actions] + ['[{"action": "DONE"}]']
