"""The names of the models in a comparison: the registry aliases and the noise-floor copy.

A module of its own so that the analytics can name the roles without importing MLflow.
"""

CHAMPION = "champion"
CHALLENGER = "challenger"
ROLES = (CHAMPION, CHALLENGER)
REPLICA = "champion_replica"  # a second copy of the champion: the noise floor
