"""Model code that MLflow copies into logged models (models from code); no sandbox imports."""
