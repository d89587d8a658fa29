"""The data engine: generate, validate and store tasks and scenes (issue 7).

* ``offline``  -- the model-free generator (templates over the knowledge base);
* ``agents``   -- the LLM agents (social simulation, command, BDDL writer, scene planner), each a
                  prompt + parser + validator with feedback retries, on any completion backend;
* ``validate`` -- the validator stages (syntax, vocabulary, symbolic, physical);
* ``dataset``  -- the crash-safe dataset directory; ``scenes`` -- `emx gen scenes`;
* ``report``   -- quality figures (`emx gen report`).
"""

from .offline import GeneratedTask, generate, generate_tasks, write_dataset

__all__ = ["GeneratedTask", "generate", "generate_tasks", "write_dataset"]
