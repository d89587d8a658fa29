"""Adapters for training engines that scale past one process: TRL (``emx.integrations.trl``),
verl (``emx.integrations.verl``), and task export as Hugging Face datasets
(``emx.integrations.datasets``). Each imports its engine only when used."""
