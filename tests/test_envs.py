"""emx as a Gymnasium environment (emx.make_env / emx.make_vec_env)."""

import numpy as np
import pytest

gym = pytest.importorskip("gymnasium")

import emx  # noqa: E402
from emx.episodes import plan_turns, run_closed_loop  # noqa: E402
from emx.policy import OraclePolicy  # noqa: E402
from emx.policy.oracle import oracle_plan  # noqa: E402

BOTTLING = "eai-behavior:bottling_fruit"
N_TASKS = 12


@pytest.fixture(scope="module")
def eai_tasks():
    return emx.load_tasks("eai-behavior")


def oracle_answers(task):
    plan, _ = oracle_plan(task)
    return plan_turns(plan or [])


def play(env, task_id, answers):
    """Feeds ``answers`` one a turn (then DONE); returns (summed reward, last info, turns)."""
    obs, info = env.reset(options={"task": task_id})
    assert info["task"] == task_id
    total, k = 0.0, 0
    while True:
        text = answers[k] if k < len(answers) else '[{"action": "DONE"}]'
        obs, r, term, trunc, info = env.step(text)
        total += r
        k += 1
        if term or trunc:
            return total, info, k


def test_check_env_passes():
    from gymnasium.utils.env_checker import check_env

    check_env(emx.make_env(BOTTLING, max_turns=5), skip_render_check=True)
    check_env(emx.make_env(BOTTLING, max_turns=3, observation="text+image"), skip_render_check=True)


@pytest.mark.parametrize("preset", ["default", "embomatrix"])
def test_oracle_rewards_equal_closed_loop_eval(eai_tasks, preset):
    """The oracle plan fed one action a turn: same reward per task as `emx eval --episode closed-loop`."""
    tasks = eai_tasks[:N_TASKS]
    report = run_closed_loop(tasks, OraclePolicy(), reward=preset, max_turns=64)
    env = emx.make_env(tasks, reward=preset, max_turns=64)
    for task, want in zip(tasks, report.results):
        total, info, _ = play(env, task.id, oracle_answers(task))
        assert total == pytest.approx(want.reward, abs=1e-12)
        assert info["components"]["success"] == want.success
        assert info["components"]["goal_fraction"] == pytest.approx(want.goal_fraction)
    assert sum(r.success for r in report.results) >= N_TASKS - 2


def test_success_terminates_and_budget_truncates(eai_tasks):
    task = emx.load_task(BOTTLING)
    answers = oracle_answers(task)
    env = emx.make_env(BOTTLING, max_turns=64)
    total, info, turns = play(env, task.id, answers)
    assert info["end_reason"] == "success" and info["components"]["success"]
    assert turns == len(answers) - 1          # the goal holds before the DONE turn
    env = emx.make_env(BOTTLING, max_turns=2)
    env.reset()
    _, r0, term, trunc, _ = env.step("nonsense")
    assert (r0, term, trunc) == (0.0, False, False)
    _, r1, term, trunc, info = env.step("more nonsense")
    assert not term and trunc and info["end_reason"] == "turn_budget"
    assert r1 == info["episode_reward"]
    with pytest.raises(RuntimeError, match="over"):
        env.step("again")


def test_progress_shaping_sums_to_turn_credit():
    env = emx.make_env(BOTTLING, max_turns=10, shaping="progress")
    env.reset()
    rewards = [env.step(a)[1] for a in ["nonsense", '[{"action": "OPEN", "object": "fridge_97"}]', "done"]]
    ep = env.unwrapped.session.episode
    assert rewards == pytest.approx(ep.turn_rewards(emx._core.reward_preset("default")))


def test_seeded_task_order_is_reproducible(eai_tasks):
    env = emx.make_env(eai_tasks[:20])
    a = [env.reset(seed=7)[1]["task"]] + [env.reset()[1]["task"] for _ in range(19)]
    b = [env.reset(seed=7)[1]["task"]] + [env.reset()[1]["task"] for _ in range(19)]
    assert a == b and sorted(a) == sorted(t.id for t in eai_tasks[:20])   # every task once a cycle
    c = [env.reset(seed=8)[1]["task"]] + [env.reset()[1]["task"] for _ in range(19)]
    assert c != a
    with pytest.raises(ValueError, match="unknown task"):
        env.reset(options={"task": "nope"})


def test_settings_are_checked_and_semantics_recorded():
    for bad in [dict(mode="dream"), dict(unit="word"), dict(reward="nope"), dict(semantics="x"),
                dict(max_turns=0), dict(observation="smell")]:
        with pytest.raises(ValueError):
            emx.make_env(BOTTLING, **bad)
    env = emx.make_env(BOTTLING, semantics="embomatrix")
    _, info = env.reset()
    assert info["semantics"] == "embomatrix"


def test_text_and_image_observation():
    env = emx.make_env(BOTTLING, observation="text+image", max_turns=3)
    obs, _ = env.reset(seed=0)
    assert set(obs) == {"text", "image"} and obs["image"].shape == (288, 512, 3)
    assert env.observation_space.contains(obs)
    obs2, *_ = env.step('[{"action": "OPEN", "object": "fridge_97"}]')
    assert "ok:" in obs2["text"] and obs2["image"].dtype == np.uint8


def test_vec_env_steps_a_batch_with_oracle_rewards(eai_tasks):
    tasks = eai_tasks[:4]
    report = run_closed_loop(tasks, OraclePolicy(), reward="default", max_turns=64)
    venv = emx.make_vec_env(4, tasks, max_turns=64)
    obs, infos = venv.reset(options={"tasks": [t.id for t in tasks]})
    assert len(obs) == 4 and list(infos["task"]) == [t.id for t in tasks]
    answers = [oracle_answers(t) for t in tasks]
    totals, done = np.zeros(4), np.zeros(4, dtype=bool)
    for k in range(70):
        acts = [a[k] if k < len(a) else '[{"action": "DONE"}]' for a in answers]
        obs, r, term, trunc, infos = venv.step(acts)
        totals += np.where(done, 0.0, r)
        done |= term | trunc
        if done.all():
            break
    assert done.all()
    assert totals == pytest.approx([r.reward for r in report.results], abs=1e-12)
    ended = term | trunc
    obs, r, *_ = venv.step(["x"] * 4)          # autoreset: a slot that just ended starts a new episode
    assert ended.any() and all(r[i] == 0 and len(obs[i]) > 1000 for i in np.flatnonzero(ended))
    venv.close()


def _mixed_answers(task, k):
    """A turn of a scripted policy: oracle actions with failing, unparseable and DONE turns mixed in."""
    answers = oracle_answers(task)
    if k % 5 == 3:
        return "no json here"
    if k % 7 == 4:
        return '[{"action": "RIGHT_PLACE_INSIDE", "object": "nothing_0"}]'
    return answers[k] if k < len(answers) else '[{"action": "DONE"}]'


def _same(a, b):
    if isinstance(a, dict):
        return a.keys() == b.keys() and all(_same(a[k], b[k]) for k in a)
    if isinstance(a, (list, tuple)):
        return len(a) == len(b) and all(_same(x, y) for x, y in zip(a, b))
    if isinstance(a, np.ndarray):
        return np.array_equal(a, b)
    return a == b


@pytest.mark.parametrize("workers,steps,kwargs", [
    (2, 30, {}), (0, 30, {}),
    (2, 5, {"shaping": "progress", "observation": "text+image", "max_turns": 3}),   # images: ~0.2 s each
])
def test_vec_env_equals_n_single_envs(eai_tasks, workers, steps, kwargs):
    _vec_equals_singles(eai_tasks[:N_TASKS], workers, steps, kwargs)


def test_physics_vec_env_equals_single_envs():
    """Physics slots in worker processes: each holds its SAPIEN world, reset from its snapshot."""
    pytest.importorskip("sapien")
    _vec_equals_singles(emx.load_tasks(BOTTLING), 2, 12, {"mode": "physics", "max_turns": 8})


def _vec_equals_singles(tasks, workers, steps, kwargs):
    """Slot i of a vector env (its slots in worker processes, or in process) gives exactly what a
    single env with seed+i gives: observations, rewards, ends, infos; seeded task order and
    autoreset included."""
    n = 4 if len(tasks) > 1 else 2
    kwargs = {"max_turns": 12, **kwargs}
    venv = emx.make_vec_env(n, tasks, workers=workers, **kwargs)
    singles = [emx.make_env(tasks, **kwargs) for _ in range(n)]
    by_id = {t.id: t for t in tasks}
    try:
        obs, infos = venv.reset(seed=7)
        want = [env.reset(seed=7 + i) for i, env in enumerate(singles)]
        assert _same(venv._batch([o for o, _ in want]), obs)
        assert [i["task"] for _, i in want] == list(infos["task"])
        turn = [0] * n
        current = [i["task"] for _, i in want]
        ended = [False] * n
        for _ in range(steps):
            acts = [_mixed_answers(by_id[current[i]], turn[i]) for i in range(n)]
            obs, r, term, trunc, infos = venv.step(acts)
            want_infos = {}
            for i, env in enumerate(singles):
                if ended[i]:                              # NEXT_STEP autoreset: the slot starts again
                    o, info = env.reset()
                    want_r, want_end = 0.0, (False, False)
                    current[i], turn[i] = info["task"], 0
                else:
                    o, want_r, *want_end, info = env.step(acts[i])
                    turn[i] += 1
                assert _same(o, {"text": obs["text"][i], "image": obs["image"][i]} if isinstance(obs, dict) else obs[i])
                assert r[i] == want_r and (term[i], trunc[i]) == tuple(want_end)
                want_infos = venv._add_info(want_infos, info, i)   # Gymnasium's own batching of infos
                ended[i] = bool(term[i] or trunc[i])
            assert _same(infos, want_infos)
        assert sum(turn) > 0
    finally:
        venv.close()


def test_vec_env_worker_death_is_an_error_not_a_hang(eai_tasks):
    venv = emx.make_vec_env(2, eai_tasks[:2], workers=2)
    try:
        venv.reset(seed=0)
        venv._slots.procs[1].kill()
        venv._slots.procs[1].wait()
        with pytest.raises(RuntimeError, match="worker 1 died"):
            venv.step(["x", "x"])
    finally:
        venv.close()


def test_physics_oracle_episode_matches_eval():
    pytest.importorskip("sapien")
    task = emx.load_task(BOTTLING)
    report = run_closed_loop([task], OraclePolicy(), reward="default", mode="physics", max_turns=64)
    env = emx.make_env(BOTTLING, mode="physics", max_turns=64)
    total, info, _ = play(env, task.id, oracle_answers(task))
    assert info["components"]["success"] and total == pytest.approx(report.results[0].reward, abs=1e-12)
